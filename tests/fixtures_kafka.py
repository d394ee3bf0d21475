"""A real Kafka broker for the tests: KRaft mode, one node, loopback, random ports.

The broker runs from the pinned Maven jars (``ensure_jars("kafka-broker")``: Kafka 4.1 plus an
SLF4J binding so it logs), not from a downloaded tarball and not a mock: the Flink engine's Kafka
source and sink must be tested against the real wire protocol. One broker per session, because
the two JVM starts (storage format, then the broker) cost seconds on a 2-core machine.

Readiness is a real metadata request (``aiflow.translators.flink.kafka.check_reachable``), not
an open TCP port: the port opens before the broker can serve requests. Missing Java, jars or
client library: skip, or fail under ``CI=true`` / ``AIFLOW_REQUIRE_SERVICES=1`` like the
database fixtures.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from aiflow.errors import AiflowError
from tests.services import NotReady, free_ports, unavailable, wait_ready

_START_TIMEOUT = 90.0  # a cold JVM on 2 busy cores; a typical start is well under that
_STOP_TIMEOUT = 15.0
_CLIENT_TIMEOUT = 15.0

_LOG4J2 = """\
status = warn
appender.out.type = Console
appender.out.name = OUT
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.out.ref = OUT
logger.state.name = state.change.logger
logger.state.level = WARN
"""


def _cluster_id() -> str:
    """What ``kafka-storage.sh random-uuid`` prints (a base64url UUID that does not start with
    '-'), made here to save a JVM start."""
    while True:
        value = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not value.startswith("-"):
            return value


def _java() -> str | None:
    home = os.environ.get("JAVA_HOME")
    if home and os.access(Path(home) / "bin" / "java", os.X_OK):
        return str(Path(home) / "bin" / "java")
    return shutil.which("java")


@dataclass
class KafkaBroker:
    """A running broker: ``bootstrap`` ("127.0.0.1:PORT") plus small client helpers."""

    bootstrap: str
    log_file: Path

    def _config(self, **extra: Any) -> dict[str, Any]:
        import logging

        return {"bootstrap.servers": self.bootstrap, "logger": logging.getLogger("kafka"), **extra}

    def create_topic(self, name: str | None = None, partitions: int = 1) -> str:
        """Create a topic (a fresh unique name by default) and return its name."""
        from confluent_kafka.admin import AdminClient, NewTopic

        name = name or f"t_{uuid.uuid4().hex[:10]}"
        admin = AdminClient(self._config())  # keep a reference: a collected client cancels
        futures = admin.create_topics(
            [NewTopic(name, num_partitions=partitions, replication_factor=1)],
            operation_timeout=_CLIENT_TIMEOUT,
        )
        futures[name].result(timeout=_CLIENT_TIMEOUT)
        return name

    def topics(self) -> set[str]:
        from confluent_kafka.admin import AdminClient

        metadata = AdminClient(self._config()).list_topics(timeout=_CLIENT_TIMEOUT)
        return {name for name in metadata.topics if not name.startswith("__")}

    def produce(self, topic: str, records: Iterable[Any]) -> int:
        """Send records and wait until the broker acknowledged all of them. ``str`` is sent as
        UTF-8 text, ``bytes`` as is, anything else as JSON. Returns how many were sent."""
        from confluent_kafka import Producer

        failures: list[str] = []

        def delivered(err: Any, _msg: Any) -> None:
            if err is not None:
                failures.append(str(err))

        producer = Producer(self._config(acks="all", **{"linger.ms": 0}))
        count = 0
        for record in records:
            value = _encode(record)
            producer.produce(topic, value=value, on_delivery=delivered)
            producer.poll(0)
            count += 1
        left = producer.flush(_CLIENT_TIMEOUT)
        if left or failures:
            raise AssertionError(f"{left} record(s) not delivered to {topic}: {failures[:3]}")
        return count

    def consume(self, topic: str, count: int, timeout: float = _CLIENT_TIMEOUT) -> list[bytes]:
        """The first ``count`` record values of ``topic`` (all partitions, from the beginning);
        fails if fewer arrive within ``timeout``. No consumer group join: partitions are
        assigned directly, which is faster and leaves no group state behind."""
        from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

        consumer = Consumer(
            self._config(
                **{"group.id": f"aiflow-test-{uuid.uuid4().hex[:8]}", "enable.auto.commit": False}
            )
        )
        try:
            partitions = consumer.list_topics(topic, timeout=_CLIENT_TIMEOUT).topics[topic]
            consumer.assign(
                [TopicPartition(topic, p, OFFSET_BEGINNING) for p in partitions.partitions]
            )
            values: list[bytes] = []
            deadline = time.monotonic() + timeout
            while len(values) < count and time.monotonic() < deadline:
                message = consumer.poll(0.2)
                if message is None or message.error() is not None:
                    continue
                values.append(message.value())
        finally:
            consumer.close()
        if len(values) < count:
            raise AssertionError(f"{len(values)} of {count} record(s) from {topic} in {timeout} s")
        return values

    def consume_text(self, topic: str, count: int, timeout: float = _CLIENT_TIMEOUT) -> list[str]:
        return [value.decode() for value in self.consume(topic, count, timeout)]

    def consume_json(self, topic: str, count: int, timeout: float = _CLIENT_TIMEOUT) -> list[Any]:
        return [json.loads(value) for value in self.consume(topic, count, timeout)]

    def log_tail(self, chars: int = 3000) -> str:
        """The broker log's ERROR/FATAL lines (with the line after each, which names the cause),
        then its last ``chars`` characters: after a failed start, the tail is shutdown noise."""
        try:
            lines = self.log_file.read_text(errors="replace").splitlines()
        except OSError:
            return ""
        errors = [
            "\n".join(line[:300] for line in lines[i : i + 2])
            for i, line in enumerate(lines)
            if " ERROR " in line or " FATAL " in line
        ]
        tail = "\n".join(lines)[-chars:]
        return "\n".join([*errors[:8], "...", tail]) if errors else tail


def _encode(record: Any) -> bytes:
    if isinstance(record, bytes):
        return record
    if isinstance(record, str):
        return record.encode()
    return json.dumps(record).encode()


def _server_properties(root: Path, broker_port: int, controller_port: int) -> str:
    """KRaft, one node that is broker and controller, both listeners on loopback; replication
    settings brought down to 1 so internal topics (offsets, transactions, share state) work."""
    settings = {
        "process.roles": "broker,controller",
        "node.id": "1",
        "controller.quorum.voters": f"1@127.0.0.1:{controller_port}",
        "listeners": f"PLAINTEXT://127.0.0.1:{broker_port},CONTROLLER://127.0.0.1:{controller_port}",
        "advertised.listeners": f"PLAINTEXT://127.0.0.1:{broker_port}",
        "controller.listener.names": "CONTROLLER",
        "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
        "inter.broker.listener.name": "PLAINTEXT",
        "log.dirs": str(root / "data"),
        "num.partitions": "1",
        "offsets.topic.replication.factor": "1",
        "offsets.topic.num.partitions": "1",
        "transaction.state.log.replication.factor": "1",
        "transaction.state.log.min.isr": "1",
        "share.coordinator.state.topic.replication.factor": "1",
        "share.coordinator.state.topic.min.isr": "1",
        "group.initial.rebalance.delay.ms": "0",
    }
    return "".join(f"{key}={value}\n" for key, value in settings.items())


@dataclass
class _Process:
    proc: subprocess.Popen[bytes]
    broker: KafkaBroker

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(_STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(_STOP_TIMEOUT)


def _start(java: str, classpath: list[Path], root: Path) -> _Process:
    """Format the log dir, start the broker, wait for a metadata answer; on failure the broker
    is killed and the error carries its log tail."""
    from aiflow.translators.flink.kafka import check_reachable

    broker_port, controller_port = free_ports(2)
    config, log4j = root / "server.properties", root / "log4j2.properties"
    config.write_text(_server_properties(root, broker_port, controller_port))
    log4j.write_text(_LOG4J2)
    jvm = [
        java, "-Xms64m", "-Xmx512m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
        "-Djava.awt.headless=true", f"-Dlog4j2.configurationFile={log4j}",
        f"-Dkafka.logs.dir={root / 'logs'}", "-cp", os.pathsep.join(map(str, classpath)),
    ]  # fmt: skip
    formatted = subprocess.run(
        [*jvm, "kafka.tools.StorageTool", "format", "-t", _cluster_id(), "-c", str(config)],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=_START_TIMEOUT,
    )
    if formatted.returncode != 0:
        output = (formatted.stdout + formatted.stderr)[-3000:]
        raise RuntimeError(f"kafka-storage format failed ({formatted.returncode}):\n{output}")
    log_file = root / "broker.log"
    with log_file.open("wb") as log:
        proc = subprocess.Popen(
            [*jvm, "kafka.Kafka", str(config)],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    running = _Process(proc, KafkaBroker(f"127.0.0.1:{broker_port}", log_file))
    try:
        try:
            wait_ready(
                lambda: check_reachable(running.broker.bootstrap, timeout=1.0),
                timeout=_START_TIMEOUT,
                errors=(AiflowError,),
                process=proc,
                interval=0,  # the probe itself waits up to 1 s
            )
            return running
        except NotReady as exc:
            last = exc.last_error
            message = last.message if isinstance(last, AiflowError) else str(last)
            why = f"exited with {exc.exit_code}" if exc.exit_code is not None else message
            raise RuntimeError(
                f"the Kafka broker did not start ({why}); log tail of {log_file}:\n"
                f"{running.broker.log_tail()}"
            ) from last
    except BaseException:  # also Ctrl-C or a test timeout: never leave the JVM behind
        running.stop()
        raise


@pytest.fixture(scope="session")
def kafka_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KafkaBroker]:
    """A broker for the whole session; stopped (SIGTERM, then SIGKILL) at the end."""
    try:
        import confluent_kafka  # noqa: F401
    except ImportError:
        unavailable("confluent-kafka is not installed (pip install 'aiflow[flink]')")
    java = _java()
    if java is None:
        unavailable("Kafka broker not available: no java on PATH or in $JAVA_HOME")
    from aiflow.translators.flink.jars import ensure_jars

    try:
        classpath = ensure_jars("kafka-broker")
    except AiflowError as exc:
        unavailable(f"Kafka broker jars not available: {exc.message}")
    for attempt in (1, 2):
        try:
            running = _start(java, classpath, tmp_path_factory.mktemp("kafka"))
            break
        except (RuntimeError, OSError, subprocess.SubprocessError) as exc:
            # another process may take a "free" port between choosing it and the bind: retry once
            if attempt == 1 and "Address already in use" in str(exc):
                continue
            unavailable(str(exc))
    try:
        yield running.broker
    finally:
        running.stop()
