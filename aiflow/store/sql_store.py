"""``MetaStore``: the only way the rest of aiflow reads or writes the meta store.

Rules every method follows:

* one call is one transaction (read-only calls never take SQLite's write lock);
* it returns frozen entities from ``aiflow.schemas.entities``, never ORM rows, so no session or
  lazy load escapes, and takes the inputs of ``aiflow.schemas.inputs``;
* ``get_*`` of something missing raises ``NotFound`` naming it and the command that lists valid
  ones; methods whose result is optional (``latest_model_version``, ``serving_version``, ...)
  return ``None`` instead, including when the model itself does not exist yet;
* bad arguments raise ``InvalidInput`` before anything is written; an unreachable store or one at
  the wrong schema revision raises ``MetaStoreError``.

* its name is the one ``aiflow.client.Client`` uses for the same operation over the REST API
  (``list_*`` whole lists, ``page_*`` keyset pages, ``get_*``, ``set_model_alias``,
  ``roll_back_alias``, ...), so the CLI runs the same code on either.

The methods live in one mixin per domain: ``_workflows`` (workflows, versions, examples),
``_runs`` (executions), ``_jobs``, ``_registry`` (models, versions), ``_aliases`` (aliases,
promotion, rollback and what to serve), ``_history`` (stages, tags, and each version's history,
lineage and comparison), ``_metrics``, ``tokens`` (API tokens), ``job_tokens`` (jobs'
credentials for the job API), ``_triggers`` and ``_stats``
(monitoring); events and the stream ledger are here.
"""

from __future__ import annotations

from sqlalchemy import select

from aiflow.errors import InvalidInput
from aiflow.schemas.entities import SERVING_ALIAS, STAGES, Event
from aiflow.schemas.inputs import ExampleCreate, JobCreate, JobFields
from aiflow.schemas.limits import NAME_LENGTH
from aiflow.store._aliases import AliasStore
from aiflow.store._base import UNSET, Unset, add_event, check_limit, insert_ignore
from aiflow.store._history import HistoryStore
from aiflow.store._jobs import JobStore
from aiflow.store._metrics import MetricStore
from aiflow.store._registry import ModelStore
from aiflow.store._runs import MODES, RunStore
from aiflow.store._stats import StatsStore
from aiflow.store._triggers import TriggerStore
from aiflow.store._workflows import WorkflowStore
from aiflow.store.job_tokens import JobTokenStore
from aiflow.store.orm import STREAM_FILE_LENGTH, SqlEvent, SqlStreamOffset, utcnow
from aiflow.store.tokens import TokenStore

__all__ = [
    "MODES",
    "SERVING_ALIAS",
    "STAGES",
    "UNSET",
    "ExampleCreate",
    "JobCreate",
    "JobFields",
    "MetaStore",
    "Unset",
]

_EVENT_COLUMNS = (SqlEvent.seq, SqlEvent.key, SqlEvent.type, SqlEvent.value, SqlEvent.created_at)


class MetaStore(
    WorkflowStore,
    RunStore,
    JobStore,
    ModelStore,
    AliasStore,
    HistoryStore,
    MetricStore,
    TokenStore,
    JobTokenStore,
    TriggerStore,
    StatsStore,
):
    """The meta store at ``uri`` (default: ``get_settings().metastore_uri``).

    Nothing is opened in the constructor. On first use an SQLite store is migrated to the
    current schema (``auto_upgrade``, default on for SQLite only); any other store is checked
    and must be upgraded with ``aiflow db upgrade``. Safe to share between threads.
    """

    # -- events -------------------------------------------------------------------------------

    def emit_event(self, key: str, type: str, value: str = "") -> Event:
        if not key or len(key) > NAME_LENGTH or not type or len(type) > 64:
            raise InvalidInput(
                f"event key {key!r} (1 to {NAME_LENGTH} characters) "
                f"or type {type!r} (1 to 64 characters) is invalid"
            )
        with self._write() as session:
            return add_event(session, key, type, value).to_entity()

    def list_events(
        self,
        after_seq: int = 0,
        key: str | None = None,
        type: str | None = None,
        limit: int = 100,
        *,
        before_seq: int | None = None,
        newest_first: bool = False,
    ) -> list[Event]:
        """Events with ``after_seq < seq < before_seq`` in seq order (``newest_first``: the
        newest ones, newest first -- a tail): poll with the last seq seen.

        On one Core connection, without an ORM session: pollers (the scheduler, every ``aiflow
        serve`` watcher) call it many times a second, and the session cost three times the
        query (measured: ~1.6 vs ~0.5 ms idle on SQLite)."""
        check_limit(limit)
        order = SqlEvent.seq.desc() if newest_first else SqlEvent.seq
        stmt = (select(*_EVENT_COLUMNS).where(SqlEvent.seq > after_seq).order_by(order)).limit(
            limit
        )
        if before_seq is not None:
            stmt = stmt.where(SqlEvent.seq < before_seq)
        if key is not None:
            stmt = stmt.where(SqlEvent.key == key)
        if type is not None:
            stmt = stmt.where(SqlEvent.type == type)
        with self._read_connection() as connection:
            return [Event(**row._asdict()) for row in connection.execute(stmt)]

    # -- stream ledger ------------------------------------------------------------------------

    def consumed_files(self, consumer: str) -> set[str]:
        """Files ``consumer`` already processed; a restarted stream job skips them."""
        with self._read() as session:
            return set(
                session.scalars(
                    select(SqlStreamOffset.file).where(SqlStreamOffset.consumer == consumer)
                )
            )

    def mark_consumed(self, consumer: str, file: str) -> None:
        """Record that ``consumer`` processed ``file``; marking it again is a no-op."""
        if not consumer or len(consumer) > NAME_LENGTH:
            raise InvalidInput(f"stream consumer {consumer!r} must be 1 to {NAME_LENGTH} chars")
        if not file or len(file) > STREAM_FILE_LENGTH:
            raise InvalidInput(
                f"stream file {file!r} must be 1 to {STREAM_FILE_LENGTH} characters long"
            )
        with self._write() as session:
            values = {"consumer": consumer, "file": file, "consumed_at": utcnow()}
            insert_ignore(session, SqlStreamOffset, values, ["consumer", "file"])
