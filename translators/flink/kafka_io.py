"""Kafka tables for the flink engine: ``Example(stream_uri="kafka://host:port/topic")``.

A Kafka source delivers each message's value as one line, with ``kafka://…/topic`` plus
partition and offset as its "path", to the same parse function as files — so bad records are
reported, skipped or dead-lettered the same way, naming where they came from. In stream mode the
source continues from the offsets in the job's checkpoint (or the consumer group's committed
offsets, else the earliest); in batch mode it reads what the topic holds when the job starts.

A Kafka sink writes json or csv values; in stream mode with ``exactly-once`` delivery
(transactions committed on checkpoints), which is why the source reads ``read_committed``.

Every broker address is checked before the job is submitted, so an unreachable broker fails in
seconds with its address instead of a Flink job that retries forever.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiflow.translators.flink.engine import quote, sql_columns
from aiflow.translators.flink.kafka import check_reachable, parse_kafka_uri

if TYPE_CHECKING:
    from aiflow.translators.flink.engine import FlinkOperator

REACHABLE_TIMEOUT = 10.0


def is_kafka(uri: str | None) -> bool:
    return bool(uri) and str(uri).startswith("kafka://")


def _with(operator: FlinkOperator, uri: str) -> str:
    target = parse_kafka_uri(uri)
    check_reachable(target.bootstrap, timeout=REACHABLE_TIMEOUT)
    return (
        f"'connector' = 'kafka', 'topic' = '{target.topic}', "
        f"'properties.bootstrap.servers' = '{target.bootstrap}'"
    )


def create_source(operator: FlinkOperator, table: str, uri: str) -> str:
    """A table of (line, path) over the topic; returns the query selecting them."""
    job, ctx = operator.job, operator.ctx
    group = f"aiflow.{ctx.spec.workflow}.{operator.node.id}"
    if ctx.mode == "stream":
        scan = "'scan.startup.mode' = 'group-offsets', 'properties.auto.offset.reset' = 'earliest'"
    else:
        scan = "'scan.startup.mode' = 'earliest-offset', 'scan.bounded.mode' = 'latest-offset'"
    job.t_env.execute_sql(
        f"CREATE TEMPORARY TABLE {quote(table)} (`line` STRING, "
        "`partition` INT METADATA VIRTUAL, `offset` BIGINT METADATA VIRTUAL) WITH ("
        f"{_with(operator, uri)}, 'properties.group.id' = '{group}', "
        f"'properties.isolation.level' = 'read_committed', {scan}, 'format' = 'raw')"
    )
    where = uri.rstrip("/")
    return (
        f"SELECT `line`, CONCAT('{where}#', CAST(`partition` AS STRING), '@', "
        f"CAST(`offset` AS STRING)) AS `path` FROM {quote(table)}"
    )


def create_sink(
    operator: FlinkOperator, table: str, columns: dict[str, str], uri: str, fmt: str
) -> None:
    ctx = operator.ctx
    if ctx.mode == "stream":
        prefix = f"aiflow-{ctx.spec.workflow}-{ctx.spec.name}-{operator.node.id}"
        delivery = (
            "'sink.delivery-guarantee' = 'exactly-once', "
            f"'sink.transactional-id-prefix' = '{prefix}', "
            # below the broker's transaction.max.timeout.ms (15 min by default)
            "'properties.transaction.timeout.ms' = '600000'"
        )
    else:
        delivery = "'sink.delivery-guarantee' = 'at-least-once'"
    operator.job.t_env.execute_sql(
        f"CREATE TEMPORARY TABLE {quote(table)} ({sql_columns(columns, operator.node.id)}) "
        f"WITH ({_with(operator, uri)}, {delivery}, 'format' = '{fmt}')"
    )
