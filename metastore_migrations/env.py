"""Alembic environment of the meta store.

Runs in two ways:

* from ``aiflow.store.migrations`` (``MetaStore`` auto-upgrade, ``aiflow db upgrade``, tests),
  which passes an open connection in ``config.attributes["connection"]`` and owns its
  transaction;
* by hand, ``alembic -c metastore_migrations/alembic.ini upgrade head`` (or ``revision
  --autogenerate`` when changing ``aiflow/store/orm.py``), which connects to
  ``sqlalchemy.url`` from the ini file or, when that is unset, aiflow's configured meta store.

``render_as_batch`` makes ALTERs work on SQLite by rebuilding tables. Note that SQLite connections
run with ``PRAGMA foreign_keys=ON``: a batch rebuild of a table other tables reference with
``ON DELETE CASCADE`` would cascade-delete their rows, so such a migration must switch foreign
keys off around the rebuild (outside the transaction).
"""

from __future__ import annotations

from logging.config import fileConfig
from typing import Any

from alembic import context
from sqlalchemy.engine import Connection

from aiflow.config import get_settings
from aiflow.store import db, orm
from aiflow.store.migrations import VERSION_TABLE

config = context.config
if config.config_file_name is not None and "connection" not in config.attributes:
    fileConfig(config.config_file_name)  # only when run by hand: leave the host app's logging be

target_metadata = orm.Base.metadata

_OPTIONS: dict[str, Any] = {
    "target_metadata": target_metadata,
    "compare_type": True,
    "render_as_batch": True,
    "version_table": VERSION_TABLE,
}


def _url() -> str:
    return config.get_main_option("sqlalchemy.url") or get_settings().metastore_uri


def run_migrations_offline() -> None:
    """``alembic upgrade --sql``: print the DDL instead of running it."""
    url = db.normalize_url(_url())
    context.configure(url=url, literal_binds=True, **_OPTIONS)
    with context.begin_transaction():
        context.run_migrations()


def _run(connection: Connection) -> None:
    context.configure(connection=connection, **_OPTIONS)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    # The store's engine, so SQLite gets WAL, foreign keys and BEGIN IMMEDIATE here too.
    with db.get_engine(_url()).begin() as connection:
        _run(connection)


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
