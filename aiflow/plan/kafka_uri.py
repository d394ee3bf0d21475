"""``kafka://host:port[,host:port...]/topic``: the one URI form for Kafka examples.

Parsed where a workflow is defined (the DSL checks examples as they are declared) and where an
engine connects, so the rule lives here, below both. Checking that a broker answers is the
engine's business (``aiflow.translators.flink.kafka``).
"""

from __future__ import annotations

import re
from typing import NamedTuple
from urllib.parse import urlsplit

from aiflow.errors import InvalidInput

URI_FORM = "kafka://host:port[,host:port...]/topic"
# Kafka's own rule (kafka.common.internals.Topic): 1-249 of [a-zA-Z0-9._-], not "." or "..".
_TOPIC = re.compile(r"[a-zA-Z0-9._-]{1,249}")
_HOST = re.compile(r"\[[0-9a-fA-F:.]+\]|[a-zA-Z0-9.-]+")


class KafkaTarget(NamedTuple):
    """What a ``kafka://`` URI names: ``bootstrap`` is librdkafka's/Flink's
    ``bootstrap.servers`` form ("host:port,host:port")."""

    bootstrap: str
    topic: str


def parse_kafka_uri(uri: str) -> KafkaTarget:
    """Split ``kafka://host:port[,host:port]/topic`` into (bootstrap servers, topic).

    Every broker needs an explicit port (Kafka has no single default worth guessing), and the
    topic must be one Kafka accepts, so a typo fails here and not minutes later in a job.
    """

    def bad(reason: str) -> InvalidInput:
        return InvalidInput(f"invalid Kafka URI '{uri}': {reason}; expected {URI_FORM}")

    parts = urlsplit(uri.strip())
    if parts.scheme != "kafka":
        raise bad(f"the scheme must be 'kafka', not '{parts.scheme}'")
    if parts.query or parts.fragment or "@" in parts.netloc:
        raise bad("user info, '?' and '#' are not supported")
    if not parts.netloc:
        raise bad("no broker address")
    try:
        servers = [_server(entry.strip()) for entry in parts.netloc.split(",")]
    except ValueError as exc:
        raise bad(str(exc)) from None
    topic = parts.path[1:] if parts.path.startswith("/") else parts.path
    if not topic:
        raise bad("no topic")
    if not _TOPIC.fullmatch(topic) or topic in {".", ".."}:
        raise bad(f"'{topic}' is not a valid topic name (1-249 of letters, digits, '.', '_', '-')")
    return KafkaTarget(",".join(servers), topic)


def _server(entry: str) -> str:
    """Normalise one ``host:port`` (``[v6]:port`` for IPv6), or raise ValueError saying why."""
    if not entry:
        raise ValueError("an empty broker address in the list")
    host, sep, port = entry.rpartition(":")
    if not sep or not host or not _HOST.fullmatch(host):
        raise ValueError(f"'{entry}' is not host:port")
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"'{entry}' has no valid port (1-65535)")
    return f"{host}:{int(port)}"
