"""Schema migrations of the meta store: a thin API over Alembic used by ``MetaStore`` and the CLI.

No ``alembic.ini`` is needed at runtime: the Alembic ``Config`` is built here, pointing at the
migration scripts shipped inside the package (``aiflow.metastore_migrations``), and the
migration runs on a connection of the store's own engine so it gets the same SQLite settings
(``BEGIN IMMEDIATE`` serializes two processes that both auto-upgrade a fresh file: the second
waits, then finds the schema at head and does nothing).

A store at a revision this code does not ship was migrated by a newer aiflow: every entry point
here (and the store's schema check) says so and what to do, instead of Alembic's "Can't locate
revision". Nothing here asks for confirmation; the CLI does before a downgrade.
"""

from __future__ import annotations

from functools import lru_cache
from importlib import metadata, resources

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, text
from sqlalchemy.exc import DBAPIError

from aiflow.errors import MetaStoreError
from aiflow.store import db

# Not Alembic's default "alembic_version": the meta store may share a database (schema) with an
# application that has its own Alembic history.
VERSION_TABLE = "aiflow_alembic_version"
_VERSION_QUERY = text(f"SELECT version_num FROM {VERSION_TABLE}")


def make_config(uri: str | None = None) -> Config:
    """An Alembic config for the packaged migrations, optionally bound to ``uri``."""
    config = Config()
    config.set_main_option("script_location", str(resources.files("aiflow.metastore_migrations")))
    if uri is not None:
        # Config values go through ConfigParser interpolation: a literal % must be doubled
        # (URL-encoded passwords are full of them).
        config.set_main_option("sqlalchemy.url", uri.replace("%", "%%"))
    return config


def upgrade(uri: str, revision: str = "head") -> None:
    """Migrate the store at ``uri`` up to ``revision`` (an empty database gets the full schema)."""
    with db.get_engine(uri).begin() as connection:
        _check_known(uri, connection)
        config = make_config(uri)
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def downgrade(uri: str, revision: str = "-1") -> None:
    """Migrate down to ``revision``: relative (``-1``), an id, or ``base`` (drops everything)."""
    with db.get_engine(uri).begin() as connection:
        _check_known(uri, connection)
        config = make_config(uri)
        config.attributes["connection"] = connection
        command.downgrade(config, revision)


def _check_known(uri: str, connection: Connection) -> None:
    context = MigrationContext.configure(connection, opts={"version_table": VERSION_TABLE})
    found = context.get_current_revision()
    if is_newer(found):
        raise schema_error(uri, found)


def current(uri: str) -> str | None:
    """The revision the store at ``uri`` is at; ``None`` for an empty (never migrated) one."""
    engine = db.get_engine(uri).execution_options(**{db.READ_ONLY_OPTION: True})
    with engine.connect() as connection:
        # Every job process asks this first: one SELECT, not Alembic's MigrationContext
        # (dialect set-up and a table inspection, ~5 ms of a job's start). Alembic answers
        # whenever the table is missing or holds several heads, and says it as it does.
        try:
            found = connection.execute(_VERSION_QUERY).scalars().all()
        except DBAPIError:
            connection.rollback()
        else:
            if len(found) <= 1:
                return found[0] if found else None
        context = MigrationContext.configure(connection, opts={"version_table": VERSION_TABLE})
        return context.get_current_revision()


@lru_cache(maxsize=1)
def head() -> str:
    """The newest revision this code ships (the schema ``orm`` describes)."""
    revision = ScriptDirectory.from_config(make_config()).get_current_head()
    if revision is None:  # pragma: no cover - the package always ships revisions
        raise RuntimeError("no meta store migrations found in aiflow.metastore_migrations")
    return revision


@lru_cache(maxsize=1)
def known() -> frozenset[str]:
    """Every revision this code ships."""
    script = ScriptDirectory.from_config(make_config())
    return frozenset(r.revision for r in script.walk_revisions())


def is_newer(revision: str | None) -> bool:
    """Whether ``revision`` (a store's) is one this code does not ship: a newer aiflow's."""
    return revision is not None and revision not in known()


def is_at_head(uri: str) -> bool:
    return current(uri) == head()


def schema_error(uri: str, revision: str | None) -> MetaStoreError:
    """Why the store at ``uri``, at ``revision``, cannot be used by this code, and the fix."""
    where = f"meta store {db.display_url(uri)}"
    if is_newer(revision):
        return MetaStoreError(
            f"{where} is at revision {revision}, which this aiflow ({_version()}, schema "
            f"{head()}) does not know: a newer aiflow migrated it. Run the newer aiflow (upgrade "
            f"aiflow here) to use this store; or, to come back to this version, run `aiflow db "
            f"downgrade {head()}` with the newer aiflow first (it drops what newer features "
            "stored)"
        )
    return MetaStoreError(
        f"{where} at revision {revision or 'none (empty)'}, code expects {head()}: "
        "run `aiflow db upgrade`"
    )


def _version() -> str:
    try:
        return metadata.version("aiflow")
    except metadata.PackageNotFoundError:  # a source checkout that was never installed
        return "version unknown"
