"""Engines and transactions for the meta store.

One engine per URI per process: engines own connection pools, and the store is used from many
short-lived objects (CLI commands, job runtimes, the scheduler loop), so pools are shared through
a module-level cache instead of being rebuilt per ``MetaStore``. After ``fork`` the child drops
the inherited pools without closing them (the parent still uses those sockets/file handles).

SQLite needs the most care because job runtimes, the scheduler and the CLI write to the same
file concurrently:

* WAL journal, so readers never block the writer and vice versa;
* ``busy_timeout``, so a writer waits for the lock instead of failing at once;
* write transactions begin with ``BEGIN IMMEDIATE``. With pysqlite's default (deferred) BEGIN a
  transaction that reads first and writes later must *upgrade* its lock, and in WAL mode that
  upgrade fails immediately with "database is locked" (SQLITE_BUSY_SNAPSHOT) when another
  connection committed in between -- ``busy_timeout`` cannot help there. Taking the write lock
  up front makes writers queue on ``busy_timeout`` instead. Read-only transactions keep a
  deferred ``BEGIN`` so that frequent polling never holds the write lock.

To control BEGIN ourselves pysqlite's own transaction handling is switched off
(``isolation_level = None``) and a ``begin`` event emits the statement, as described in the
SQLAlchemy SQLite documentation ("Serializable isolation / Savepoints / Transactional DDL").
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.orm import Session
from sqlalchemy.pool import ConnectionPoolEntry, StaticPool

from aiflow.config import get_settings
from aiflow.errors import MetaStoreError

# Execution option that marks a read-only transaction; the SQLite ``begin`` hook reads it.
READ_ONLY_OPTION = "aiflow_read_only"

_BACKENDS = ("sqlite", "postgresql", "mysql", "mariadb")
_EXPECTED_URLS = "sqlite:///path, postgresql+psycopg://... or mysql+pymysql://..."

_engines: dict[str, Engine] = {}
_engines_lock = threading.Lock()
_busy_timeouts: dict[str, int] = {}  # the setting a SQLite engine was made with, by URI


def normalize_url(uri: str) -> URL:
    """Parse ``uri`` and pin the driver aiflow ships support for.

    ``postgresql://`` would otherwise select psycopg2 and ``mysql://`` mysqlclient, neither of
    which is a dependency; the ``postgres`` / ``mysql`` extras install psycopg 3 and PyMySQL.
    """
    try:
        url = make_url(uri)
    except ArgumentError:
        # Not echoed: an unparsable URL may still contain a password.
        raise MetaStoreError(f"invalid meta store URL; expected {_EXPECTED_URLS}") from None
    backend = url.get_backend_name()
    if backend in ("postgresql", "postgres") and url.drivername in ("postgresql", "postgres"):
        url = url.set(drivername="postgresql+psycopg")
    elif backend in ("mysql", "mariadb") and "+" not in url.drivername:
        url = url.set(drivername=f"{backend}+pymysql")
    if url.get_backend_name() not in _BACKENDS:
        shown = url.render_as_string(hide_password=True)
        raise MetaStoreError(f"unsupported meta store URL {shown}: expected {_EXPECTED_URLS}")
    return url


def display_url(uri: str) -> str:
    """``uri`` with the password masked, for error messages and logs."""
    try:
        return normalize_url(uri).render_as_string(hide_password=True)
    except Exception:  # an unparsable URL has no structure to mask; show nothing secret
        return "<unparsable meta store URL>"


def is_sqlite(uri: str) -> bool:
    return normalize_url(uri).get_backend_name() == "sqlite"


def get_engine(uri: str) -> Engine:
    """The process-wide engine for ``uri`` (created on first use, and again when the settings
    it was made with changed: a job forked with its parent's engine may have others)."""
    engine = _engines.get(uri)
    if engine is None or not _made_with_current_settings(uri):
        with _engines_lock:
            engine = _engines.get(uri)
            if engine is None or not _made_with_current_settings(uri):
                if engine is not None:
                    engine.dispose()
                engine = _create_engine(uri)
                _engines[uri] = engine
    return engine


def _made_with_current_settings(uri: str) -> bool:
    made_with = _busy_timeouts.get(uri)
    return made_with is None or made_with == get_settings().metastore.busy_timeout_ms


def dispose_engine(uri: str) -> None:
    """Close the pooled connections of ``uri``'s engine and forget it."""
    with _engines_lock:
        engine = _engines.pop(uri, None)
    if engine is not None:
        engine.dispose()


def _forget_engines_after_fork() -> None:
    # The child must not touch connections the parent keeps using: close=False gives each
    # engine a new, empty pool and only drops the references to the parent's connections
    # (SQLAlchemy's "Using Connection Pools with Multiprocessing or os.fork()"). The engines
    # themselves stay: a job forked from a fork server that warmed its store's engine
    # (``aiflow.runtime.forkserver``) skips creating it and initializing its dialect.
    # The lock is replaced too: another parent thread may have held it at the fork.
    global _engines_lock
    _engines_lock = threading.Lock()
    for engine in _engines.values():
        engine.dispose(close=False)


os.register_at_fork(after_in_child=_forget_engines_after_fork)


@contextmanager
def session_scope(engine: Engine, *, write: bool = True) -> Iterator[Session]:
    """One transaction: commit when the block succeeds, roll back when it raises.

    ``write=False`` marks the transaction read-only, which on SQLite keeps a deferred BEGIN
    (no write lock). Read-only transactions must not write: on SQLite a write there could fail
    with "database is locked" without waiting.
    """
    bind = engine if write else engine.execution_options(**{READ_ONLY_OPTION: True})
    with Session(bind, expire_on_commit=False) as session, session.begin():
        yield session


def _create_engine(uri: str) -> Engine:
    url = normalize_url(uri)
    backend = url.get_backend_name()
    if backend == "sqlite":
        return _sqlite_engine(url, uri)
    if backend == "postgresql":
        return create_engine(url, pool_pre_ping=True)
    # MySQL / MariaDB (normalize_url admits nothing else). MySQL closes idle connections after
    # wait_timeout (8 h by default): recycle them before that.
    return create_engine(url, pool_pre_ping=True, pool_recycle=3600)


def _sqlite_engine(url: URL, uri: str) -> Engine:
    busy_timeout_ms = get_settings().metastore.busy_timeout_ms
    _busy_timeouts[uri] = busy_timeout_ms
    database = url.database or ""
    in_memory = database in ("", ":memory:") or database.startswith("file::memory:")
    kwargs: dict[str, Any] = {"connect_args": {"timeout": busy_timeout_ms / 1000}}
    if in_memory:
        # Every connection to :memory: is a separate database; share one connection so the
        # store behaves like one database (single-threaded use only: tests, experiments).
        kwargs["poolclass"] = StaticPool
        kwargs["connect_args"]["check_same_thread"] = False
    elif url.query.get("uri") != "true":  # a file: URI is the user's business
        Path(database).expanduser().resolve().parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, **kwargs)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
        dbapi_connection.isolation_level = None  # we emit BEGIN ourselves, see module doc
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
            if not in_memory:
                cursor.execute("PRAGMA journal_mode = WAL")
            cursor.execute("PRAGMA foreign_keys = ON")
            cursor.execute("PRAGMA synchronous = NORMAL")  # durable enough with WAL, much faster
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        read_only = connection.get_execution_options().get(READ_ONLY_OPTION, False)
        connection.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")

    return engine
