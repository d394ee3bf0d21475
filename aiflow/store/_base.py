"""Plumbing shared by the parts of ``MetaStore``: transactions, schema check, dialect SQL, and
the rules more than one part follows (version numbering, counting, limits, metric values, and
how a change of a model version is recorded: ``Audit``, ``Changes``).

``MetaStore`` is assembled from one mixin per domain (see ``sql_store``) so that no module grows
past a readable size; they all build on ``StoreBase``.
"""

from __future__ import annotations

import math
import numbers
import random
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Final, TypeVar

from sqlalchemy import Connection, CursorResult, Engine, Select, func, insert, inspect, select
from sqlalchemy.dialects import mysql, postgresql, sqlite
from sqlalchemy.exc import IntegrityError, InterfaceError, OperationalError
from sqlalchemy.orm import InstrumentedAttribute, Session

from aiflow.config import get_settings
from aiflow.errors import InvalidInput, MetaStoreError, MetaStoreUnavailable
from aiflow.schemas.entities import ChangeKind
from aiflow.schemas.limits import NAME_LENGTH
from aiflow.store import db, migrations
from aiflow.store.orm import ACTOR_LENGTH, Base, SqlEvent, SqlModel, SqlModelHistory, utcnow

T = TypeVar("T")

# Transaction-scoped PostgreSQL advisory lock taken before inserting an event (see add_event).
_EVENT_LOCK_KEY: Final = 0x6169_666C_6F77  # "aiflow"
_CONFLICT_RETRIES: Final = 10
DEFAULT_ACTOR: Final = "aiflow"  # who changes a model version when the caller names no one


class Unset(Enum):
    """Marks a keyword argument that was not passed, where ``None`` is a legal new value."""

    UNSET = "UNSET"


UNSET: Final = Unset.UNSET


class StoreBase:
    """Owns the URI and runs every public method as one transaction.

    ``actor`` is who model-center changes are recorded as when a call names no one (the CLI's
    local backend sets the OS user; a server passes each token's name per call)."""

    actor: str = DEFAULT_ACTOR

    def __init__(self, uri: str | None = None, *, auto_upgrade: bool | None = None) -> None:
        self._uri = uri or get_settings().metastore_uri
        db.normalize_url(self._uri)  # fail early on a malformed URL; connect lazily
        # Embedded SQLite is zero-setup: migrate it on first use. A server database is shared
        # and upgraded deliberately (`aiflow db upgrade`), never as a side effect of a command.
        self._auto_upgrade = db.is_sqlite(self._uri) if auto_upgrade is None else auto_upgrade
        self._schema_checked = False
        self._schema_lock = threading.Lock()

    @property
    def uri(self) -> str:
        return self._uri

    def dispose(self) -> None:
        """Close this process's pooled connections to the store (the engine is shared per URI)."""
        db.dispose_engine(self._uri)

    def __repr__(self) -> str:
        return f"MetaStore({db.display_url(self._uri)!r})"

    # -- transactions -------------------------------------------------------------------------

    @contextmanager
    def _read(self) -> Iterator[Session]:
        with self._session(write=False) as session:
            yield session

    @contextmanager
    def _write(self) -> Iterator[Session]:
        with self._session(write=True) as session:
            yield session

    def _write_retrying(self, work: Callable[[Session], T]) -> T:
        """Run ``work`` in a write transaction, retrying when a unique constraint fires.

        Version allocation (max + 1) is serialized by a row lock, but the unique constraint is
        the real guarantee: if two writers still collide (e.g. MySQL's repeatable-read
        snapshot) the loser rolls back and recomputes in a fresh transaction.
        """
        for attempt in range(_CONFLICT_RETRIES):
            try:
                with self._write() as session:
                    return work(session)
            except IntegrityError as exc:
                if attempt == _CONFLICT_RETRIES - 1:
                    raise MetaStoreError(
                        f"gave up after {_CONFLICT_RETRIES} conflicting concurrent writes: "
                        f"{exc.orig}"
                    ) from exc
                time.sleep(random.uniform(0, 0.005 * 2**attempt))  # jitter: don't collide again
        raise AssertionError("unreachable")

    @contextmanager
    def _session(self, *, write: bool) -> Iterator[Session]:
        engine = self._engine()
        try:
            with db.session_scope(engine, write=write) as session:
                yield session
        except (OperationalError, InterfaceError) as exc:
            raise MetaStoreUnavailable(
                f"meta store {db.display_url(self._uri)} failed: {exc.orig or exc}"
            ) from exc

    @contextmanager
    def _read_connection(self) -> Iterator[Connection]:
        """A read-only Core connection (one transaction) for hot read paths.

        No ORM session, identity map or entity loading: with a statement built once, a lookup
        costs a fraction of a session's (measured: ~60 vs ~160 us on SQLite, see
        docs/benchmarks.md). Same read-only marker and error mapping as ``_read``.
        """
        engine = self._engine().execution_options(**{db.READ_ONLY_OPTION: True})
        try:
            with engine.connect() as connection:
                yield connection
        except (OperationalError, InterfaceError) as exc:
            raise MetaStoreUnavailable(
                f"meta store {db.display_url(self._uri)} failed: {exc.orig or exc}"
            ) from exc

    def _engine(self) -> Engine:
        if not self._schema_checked:
            with self._schema_lock:
                if not self._schema_checked:
                    self._check_schema()
                    self._schema_checked = True
        return db.get_engine(self._uri)

    def _check_schema(self) -> None:
        try:
            if self._auto_upgrade:
                if not migrations.is_at_head(self._uri):
                    migrations.upgrade(self._uri)
                return
            current, head = migrations.current(self._uri), migrations.head()
        except (OperationalError, InterfaceError) as exc:
            raise MetaStoreUnavailable(
                f"cannot open meta store {db.display_url(self._uri)}: {exc.orig or exc}"
            ) from exc
        if current != head:
            raise migrations.schema_error(self._uri, current)


def rowcount(result: object) -> int:
    """Rows an UPDATE/DELETE matched (``Session.execute`` is typed as returning a plain
    ``Result``, but DML always yields a ``CursorResult``)."""
    assert isinstance(result, CursorResult)
    return result.rowcount


def check_limit(limit: int) -> None:
    if limit < 1:
        raise InvalidInput(f"limit must be at least 1, got {limit}")


def count_rows(session: Session, ids: Select[Any]) -> int:
    """How many rows ``ids`` selects (one ``COUNT``; pages never count, callers ask for it)."""
    return session.scalar(select(func.count()).select_from(ids.subquery())) or 0


def next_version(
    session: Session,
    version: InstrumentedAttribute[int],
    owner: InstrumentedAttribute[int],
    owner_id: int,
) -> int:
    """The number of the next version of what ``owner_id`` names (a workflow, a model): the
    highest ``version`` among its rows plus one, 1 for the first, so versions have no gaps.

    Call it under a lock on the owner's row, inside ``_write_retrying``: the lock queues
    concurrent writers, and the unique (owner, version) constraint plus the retry cover the
    races a lock cannot (MySQL's repeatable-read snapshot).
    """
    latest = session.scalar(select(func.max(version)).where(owner == owner_id))
    return (latest or 0) + 1


def reject_duplicates(names: Sequence[str], what: str) -> None:
    """Raise ``InvalidInput`` naming the first repeated name (before any transaction starts)."""
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise InvalidInput(f"{what} '{name}' appears twice: {what} names must be unique")
        seen.add(name)


# -- SQL that differs per dialect ---------------------------------------------------------------


def insert_ignore(
    session: Session, model: type[Base], values: dict[str, Any], conflict: Sequence[str]
) -> None:
    """INSERT that silently does nothing when a row with the same ``conflict`` key exists.

    Unlike select-then-insert this is race-free: a concurrent insert of the same key waits for
    the other transaction and then does nothing, instead of failing the whole transaction.
    """
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        pg_stmt = postgresql.insert(model).values(values)
        session.execute(pg_stmt.on_conflict_do_nothing(index_elements=list(conflict)))
    elif dialect == "sqlite":
        lite_stmt = sqlite.insert(model).values(values)
        session.execute(lite_stmt.on_conflict_do_nothing(index_elements=list(conflict)))
    elif dialect in ("mysql", "mariadb"):
        # Not INSERT IGNORE: that would also swallow foreign-key and truncation errors.
        my_stmt = mysql.insert(model).values(values)
        pk = inspect(model).primary_key[0]
        session.execute(my_stmt.on_duplicate_key_update({pk.name: pk}))
    else:  # pragma: no cover - db.get_engine rejects other dialects
        session.execute(insert(model).values(values))


def upsert(
    session: Session,
    model: type[Base],
    values: dict[str, Any],
    conflict: Sequence[str],
    update: Sequence[str],
) -> None:
    """INSERT, or UPDATE the ``update`` columns of the row with the same ``conflict`` key."""
    session.execute(upsert_statement(session, model, conflict, update), values)


def upsert_statement(
    session: Session, model: type[Base], conflict: Sequence[str], update: Sequence[str]
) -> Any:
    """``upsert``'s statement without its values: executed with a list of rows, it upserts
    them all in one executemany."""
    dialect = session.get_bind().dialect.name
    if dialect in ("postgresql", "sqlite"):
        ins = (postgresql if dialect == "postgresql" else sqlite).insert(model)
        return ins.on_conflict_do_update(
            index_elements=list(conflict), set_={c: ins.excluded[c] for c in update}
        )
    if dialect in ("mysql", "mariadb"):
        my_ins = mysql.insert(model)
        return my_ins.on_duplicate_key_update({c: my_ins.inserted[c] for c in update})
    raise MetaStoreError(f"upsert not supported on {dialect}")  # pragma: no cover


def add_event(session: Session, key: str, type: str, value: str = "") -> SqlEvent:
    """Insert an event; call it as the *last* statement of a transaction.

    Readers follow the feed with ``seq > last_seen``, so events must become visible in seq
    order. PostgreSQL hands out sequence values at insert time but transactions commit in any
    order, so a reader could see seq 8 committed, move its mark past 7, and miss 7 when it
    commits a moment later. A transaction-scoped advisory lock held from the insert to the
    commit serializes event writers and makes commit order equal seq order. Taking it last keeps
    it short and keeps lock ordering acyclic (no deadlocks). SQLite writers are serialized by
    BEGIN IMMEDIATE already. (MySQL is not covered: auto-increment has the same gap there.)
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(select(func.pg_advisory_xact_lock(_EVENT_LOCK_KEY)))
    event = SqlEvent(key=key, type=type, value=value)
    session.add(event)
    session.flush()
    return event


def checked_metrics(metrics: Mapping[str, float] | None) -> dict[str, float]:
    """Metric values as stored: finite numbers only. A NaN would poison "best version"
    comparisons and is not valid JSON for the API, so it is refused, naming the metric."""
    checked: dict[str, float] = {}
    for name, value in (metrics or {}).items():
        if not name or len(name) > NAME_LENGTH:
            raise InvalidInput(f"metric name {name!r} must be 1 to {NAME_LENGTH} characters")
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise InvalidInput(f"metric '{name}': {value!r} is not a number")
        if not math.isfinite(value):
            raise InvalidInput(f"metric '{name}': {value!r} is not a finite number")
        checked[name] = float(value)
    return checked


# -- recording a change of a model version -------------------------------------------------------


@dataclass(frozen=True)
class Audit:
    """Who makes a change, why, and on which metrics: written on each history row it causes."""

    actor: str = DEFAULT_ACTOR
    reason: str | None = None
    metrics: dict[str, float] = field(default_factory=dict)

    @classmethod
    def of(
        cls,
        actor: str | None,
        reason: str | None = None,
        metrics: Mapping[str, float] | None = None,
    ) -> Audit:
        """Checked before any transaction starts; ``None`` actor: ``DEFAULT_ACTOR``."""
        actor = DEFAULT_ACTOR if actor is None else actor
        if not isinstance(actor, str) or not actor or len(actor) > ACTOR_LENGTH:
            raise InvalidInput(f"actor {actor!r} must be 1 to {ACTOR_LENGTH} characters")
        if reason is not None and not isinstance(reason, str):
            raise InvalidInput(f"reason {reason!r} must be text")
        return cls(actor, reason or None, checked_metrics(metrics))


class Changes:
    """The history rows and events of one change of a model, in the caller's transaction.

    Rows are added as the change proceeds; ``finish`` emits the events, which must be the
    transaction's last statements (``add_event``). Callers hold the lock on the model row
    (``model_row(..., lock=True)``), so a model's rows are numbered in the order its changes
    commit and an alias's rows chain (each ``from_value`` the previous ``to_value``).
    """

    def __init__(self, session: Session, model: SqlModel, audit: Audit) -> None:
        self.session, self.model, self.audit = session, model, audit
        self._events: list[tuple[str, str]] = []

    def record(
        self,
        version: int,
        kind: ChangeKind,
        field: str,
        from_value: str | None,
        to_value: str | None,
        *,
        reason: str | None = None,
    ) -> None:
        """A history row with the audit's actor and metrics, and ``reason`` or the audit's."""
        self.session.add(
            SqlModelHistory(
                model_id=self.model.id,
                version=version,
                kind=kind,
                field=field,
                from_value=from_value,
                to_value=to_value,
                actor=self.audit.actor,
                reason=reason or self.audit.reason,
                metrics=self.audit.metrics,
                created_at=utcnow(),
            )
        )

    def event(self, type: str, value: str) -> None:
        """An event to emit at ``finish``, in the order given."""
        self._events.append((type, value))

    def finish(self) -> None:
        self.session.flush()
        for type, value in self._events:
            add_event(self.session, self.model.name, type, value)
        self._events.clear()
