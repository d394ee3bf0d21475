"""Kafka for the Flink engine: a bounded reachability check of a ``kafka://`` URI's brokers.

A Flink job pointed at a broker nobody answers does not fail: the Kafka source keeps retrying
and the job sits in RUNNING with no output. So the engine checks the address itself, before it
submits, with one metadata request that has a deadline, and reports the address it tried.

``confluent_kafka`` (librdkafka; the ``flink`` extra installs it) is imported inside the
function that needs it, so importing this module stays cheap.
"""

from __future__ import annotations

import logging
from typing import Any

from aiflow.errors import InvalidInput
from aiflow.plan.kafka_uri import KafkaTarget, parse_kafka_uri

__all__ = ["KafkaTarget", "check_reachable", "parse_kafka_uri"]

log = logging.getLogger(__name__)


def check_reachable(bootstrap: str, timeout: float = 10.0) -> None:
    """Raise ``InvalidInput`` naming ``bootstrap`` unless a broker there answers a metadata
    request within ``timeout`` seconds.

    A TCP connect would not do: a port can be open while the broker is still starting (or is not
    Kafka at all); a metadata answer means clients can actually work with it.
    """
    from confluent_kafka import KafkaException
    from confluent_kafka.admin import AdminClient

    config: dict[str, Any] = {
        "bootstrap.servers": bootstrap,
        "socket.connection.setup.timeout.ms": max(1000, int(timeout * 1000)),
        "reconnect.backoff.max.ms": 500,
        # librdkafka prints every failed connect to stderr; send it to Python logging.
        "logger": log,
    }
    client = AdminClient(config)
    try:
        metadata = client.list_topics(timeout=timeout)
    except KafkaException as exc:
        reason = exc.args[0].str() if exc.args and hasattr(exc.args[0], "str") else str(exc)
        raise InvalidInput(
            f"no Kafka broker answered at {bootstrap} within {timeout:g} s ({reason}); "
            "check the address in the kafka:// URI and that the broker is running"
        ) from exc
    if not metadata.brokers:
        raise InvalidInput(f"the Kafka cluster at {bootstrap} reported no brokers")
