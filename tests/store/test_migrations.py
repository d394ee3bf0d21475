"""Alembic migrations of the meta store, on SQLite, PostgreSQL and MariaDB."""

from __future__ import annotations

import os
import pprint
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from aiflow.errors import MetaStoreError
from aiflow.store import db, migrations, orm
from aiflow.store.sql_store import MetaStore

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(
    params=[
        "sqlite",
        pytest.param("postgres", marks=pytest.mark.postgres),
        pytest.param("mysql", marks=pytest.mark.mysql),
    ]
)
def empty_uri(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """URL of an empty database (no schema, no revision)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'meta.db'}"
    url: str = request.getfixturevalue(f"{request.param}_url")
    return url


def schema_diff(uri: str) -> list:
    with db.get_engine(uri).connect() as connection:
        context = MigrationContext.configure(
            connection,
            opts={"compare_type": True, "version_table": migrations.VERSION_TABLE},
        )
        return compare_metadata(context, orm.Base.metadata)


def tables(uri: str) -> set[str]:
    with db.get_engine(uri).connect() as connection:
        return set(inspect(connection).get_table_names())


def test_upgrade_downgrade_upgrade(empty_uri: str) -> None:
    assert migrations.current(empty_uri) is None
    migrations.upgrade(empty_uri)
    assert migrations.current(empty_uri) == migrations.head()
    assert migrations.is_at_head(empty_uri)
    assert tables(empty_uri) == set(orm.Base.metadata.tables) | {migrations.VERSION_TABLE}

    migrations.downgrade(empty_uri, "base")
    assert migrations.current(empty_uri) is None
    assert tables(empty_uri) <= {migrations.VERSION_TABLE}

    migrations.upgrade(empty_uri)
    migrations.upgrade(empty_uri)  # at head already: a no-op
    assert migrations.is_at_head(empty_uri)
    migrations.downgrade(empty_uri)  # default: one step back, to the previous revision
    assert migrations.current(empty_uri) not in (None, migrations.head())


def test_migrated_schema_matches_the_orm(empty_uri: str) -> None:
    migrations.upgrade(empty_uri)
    diff = schema_diff(empty_uri)
    assert diff == [], "migrations and aiflow/store/orm.py differ:\n" + pprint.pformat(diff)


def test_server_store_at_wrong_revision_is_refused(postgres_url: str) -> None:
    store = MetaStore(postgres_url)
    with pytest.raises(MetaStoreError, match=r"at revision none.*run `aiflow db upgrade`"):
        store.list_models()
    assert migrations.current(postgres_url) is None  # checked, never migrated behind our back
    migrations.upgrade(postgres_url)
    assert MetaStore(postgres_url).list_models() == []


def test_sqlite_store_auto_upgrades_unless_told_not_to(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path / 'nested' / 'dir' / 'meta.db'}"  # parent dirs are created
    with pytest.raises(MetaStoreError, match="aiflow db upgrade"):
        MetaStore(uri, auto_upgrade=False).list_workflows()
    assert MetaStore(uri).list_workflows() == []
    assert migrations.is_at_head(uri)


def test_concurrent_first_use_migrates_once(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path / 'meta.db'}"
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda _: MetaStore(uri).list_models(), range(4)))
    assert results == [[]] * 4 and migrations.is_at_head(uri)


def test_url_with_percent_sign(tmp_path: Path) -> None:
    # Alembic config values are interpolated: a literal % (URL-encoded passwords) must survive.
    uri = f"sqlite:///{tmp_path / 'odd%20name.db'}"
    migrations.upgrade(uri)
    assert migrations.is_at_head(uri)


def test_unreachable_server_is_a_meta_store_error() -> None:
    store = MetaStore("postgresql+psycopg://aiflow:secret@127.0.0.1:9/aiflow?connect_timeout=2")
    with pytest.raises(MetaStoreError, match=r"cannot open meta store .*127\.0\.0\.1") as caught:
        store.get_model("m")
    assert "secret" not in str(caught.value)


def test_alembic_cli_for_developers(tmp_path: Path) -> None:
    """``alembic -c metastore_migrations/alembic.ini`` upgrades and finds no pending change."""
    ini = REPO / "metastore_migrations" / "alembic.ini"
    uri = f"sqlite:///{tmp_path / 'dev.db'}"
    for command in (["upgrade", "head"], ["check"]):
        done = subprocess.run(
            [sys.executable, "-m", "alembic", "-c", str(ini), *command],
            env={**os.environ, "AIFLOW__METASTORE__URI": uri},
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
    assert migrations.is_at_head(uri)
