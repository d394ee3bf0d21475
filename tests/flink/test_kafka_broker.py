"""The session Kafka broker (tests/fixtures_kafka.py) and aiflow.translators.flink.kafka's helpers.

The broker tests share one broker per session and each uses its own topic.
"""

from __future__ import annotations

import time

import pytest

from aiflow.errors import InvalidInput
from aiflow.translators.flink.kafka import KafkaTarget, check_reachable, parse_kafka_uri
from tests.fixtures_kafka import KafkaBroker
from tests.services import free_port

# -- kafka:// URIs ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("kafka://127.0.0.1:9092/wine", KafkaTarget("127.0.0.1:9092", "wine")),
        ("kafka://a.example:9092,b:9093/wine.v2", KafkaTarget("a.example:9092,b:9093", "wine.v2")),
        ("kafka://[::1]:9092/my_topic-1", KafkaTarget("[::1]:9092", "my_topic-1")),
        (" kafka://h:09092/t ", KafkaTarget("h:9092", "t")),
    ],
)  # fmt: skip
def test_parse_kafka_uri(uri: str, expected: KafkaTarget) -> None:
    assert parse_kafka_uri(uri) == expected
    bootstrap, topic = parse_kafka_uri(uri)  # unpacks like the (bootstrap, topic) pair it is
    assert (bootstrap, topic) == tuple(expected)


@pytest.mark.parametrize(
    ("uri", "reason"),
    [
        ("http://h:9092/t", "scheme must be 'kafka'"),
        ("kafka:///t", "no broker address"),
        ("kafka://h/t", "'h' is not host:port"),
        ("kafka://h:0/t", "no valid port"),
        ("kafka://h:99999/t", "no valid port"),
        ("kafka://h:x/t", "no valid port"),
        ("kafka://h:1,/t", "empty broker address"),
        ("kafka://h:9092", "no topic"),
        ("kafka://h:9092/", "no topic"),
        ("kafka://h:9092/a/b", "'a/b' is not a valid topic name"),
        ("kafka://h:9092/..", "not a valid topic name"),
        ("kafka://h:9092/t?group=x", "'?' and '#' are not supported"),
        ("kafka://user@h:9092/t", "user info"),
    ],
)
def test_parse_kafka_uri_rejects_malformed(uri: str, reason: str) -> None:
    with pytest.raises(InvalidInput) as raised:
        parse_kafka_uri(uri)
    assert reason in raised.value.message
    assert uri.strip() in raised.value.message
    assert "kafka://host:port" in raised.value.message  # says what the form is


# -- reachability -------------------------------------------------------------------------------


def test_check_reachable_fails_within_the_timeout_naming_the_address() -> None:
    pytest.importorskip("confluent_kafka")
    address = f"127.0.0.1:{free_port()}"  # a port that was just free: nothing listens on it
    started = time.monotonic()
    with pytest.raises(InvalidInput, match=f"no Kafka broker answered at {address} within 1.5 s"):
        check_reachable(address, timeout=1.5)
    assert time.monotonic() - started < 10  # bounded: the timeout plus client teardown


# -- the broker fixture -------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.kafka
def test_broker_answers_metadata_and_logs(kafka_broker: KafkaBroker) -> None:
    assert kafka_broker.bootstrap.startswith("127.0.0.1:")
    check_reachable(kafka_broker.bootstrap, timeout=10)
    target = parse_kafka_uri(f"kafka://{kafka_broker.bootstrap}/anything")
    check_reachable(target.bootstrap, timeout=10)
    # the SLF4J binding in the pinned classpath makes the broker log (the probe's NOP pitfall)
    assert "Kafka Server started" in kafka_broker.log_file.read_text(errors="replace")


@pytest.mark.slow
@pytest.mark.kafka
def test_create_topic_with_partitions(kafka_broker: KafkaBroker) -> None:
    from confluent_kafka.admin import AdminClient

    name = kafka_broker.create_topic(partitions=3)
    assert name in kafka_broker.topics()
    metadata = AdminClient({"bootstrap.servers": kafka_broker.bootstrap}).list_topics(
        name, timeout=10
    )
    assert len(metadata.topics[name].partitions) == 3
    assert kafka_broker.create_topic("explicit_name") == "explicit_name"
    assert "explicit_name" in kafka_broker.topics()


@pytest.mark.slow
@pytest.mark.kafka
def test_produce_and_consume_json(kafka_broker: KafkaBroker) -> None:
    topic = kafka_broker.create_topic()
    records = [{"alcohol": 13.2, "label": 1}, {"alcohol": 12.4, "label": 0}, {"alcohol": None}]
    assert kafka_broker.produce(topic, records) == 3
    assert kafka_broker.consume_json(topic, 3) == records


@pytest.mark.slow
@pytest.mark.kafka
def test_produce_and_consume_text_and_bytes(kafka_broker: KafkaBroker) -> None:
    topic = kafka_broker.create_topic()
    kafka_broker.produce(topic, ["13.2,1", "12.4,0", "héllo"])
    kafka_broker.produce(topic, [b"\x00raw"])
    assert kafka_broker.consume_text(topic, 3) == ["13.2,1", "12.4,0", "héllo"]
    assert kafka_broker.consume(topic, 4)[3] == b"\x00raw"


@pytest.mark.slow
@pytest.mark.kafka
def test_consume_fails_when_fewer_records_arrive(kafka_broker: KafkaBroker) -> None:
    topic = kafka_broker.create_topic()
    kafka_broker.produce(topic, ["only one"])
    with pytest.raises(AssertionError, match="1 of 2 record"):
        kafka_broker.consume(topic, 2, timeout=1.0)
