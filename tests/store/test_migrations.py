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
from sqlalchemy import insert, inspect, select

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


def test_the_stage_deployed_becomes_production(empty_uri: str) -> None:
    """0004: versions at stage ``deployed`` (a name the serving alias keeps) move to
    ``production``, and event rules waiting for ``MODEL_DEPLOYED`` keep firing."""
    migrations.upgrade(empty_uri, "0003")
    now = orm.utcnow()
    with db.get_engine(empty_uri).begin() as connection:
        connection.execute(insert(orm.SqlModel), {"id": 1, "name": "m", "created_at": now})
        connection.execute(
            insert(orm.SqlModelVersion),
            [
                {"model_id": 1, "version": v, "artifact_uri": "a", "flavor": "f", "stage": s}
                | {"created_at": now}
                for v, s in ((1, "deployed"), (2, "validated"))
            ],
        )
        connection.execute(insert(orm.SqlWorkflow), {"id": 1, "name": "w", "created_at": now})
        connection.execute(
            insert(orm.SqlTrigger),
            {"name": "t", "workflow_id": 1, "kind": "event", "event_type": "MODEL_DEPLOYED"}
            | {"mode": "batch", "enabled": True, "created_at": now, "updated_at": now},
        )
    migrations.upgrade(empty_uri, "0004")  # 0006 renames it again: see test_model_center
    assert _stages(empty_uri) == ["production", "validated"]
    assert _event_types(empty_uri) == ["MODEL_PRODUCTION"]
    migrations.downgrade(empty_uri, "0003")
    assert _stages(empty_uri) == ["deployed", "validated"]
    assert _event_types(empty_uri) == ["MODEL_DEPLOYED"]


def _stages(uri: str) -> list[str]:
    with db.get_engine(uri).connect() as connection:
        return list(connection.scalars(select(orm.SqlModelVersion.stage).order_by("version")))


def _event_types(uri: str) -> list[str | None]:
    with db.get_engine(uri).connect() as connection:
        return list(connection.scalars(select(orm.SqlTrigger.event_type)))


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


def _migrated_by_a_newer_aiflow(uri: str, revision: str = "0099_from_a_newer_aiflow") -> None:
    """A store at a revision this code does not ship, as a newer aiflow would leave it."""
    migrations.upgrade(uri)
    with db.get_engine(uri).begin() as connection:
        connection.exec_driver_sql(
            f"UPDATE {migrations.VERSION_TABLE} SET version_num = '{revision}'"
        )


NEWER = (
    r"at revision 0099_from_a_newer_aiflow, which this aiflow \(.*schema \w+\) does not know: "
    r"a newer aiflow migrated it.*upgrade aiflow.*`aiflow db downgrade \w+`"
)


def test_store_migrated_by_a_newer_aiflow_says_so(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path / 'meta.db'}"
    _migrated_by_a_newer_aiflow(uri)
    for store in (MetaStore(uri), MetaStore(uri, auto_upgrade=False)):
        with pytest.raises(MetaStoreError, match=NEWER):
            store.list_models()
        with pytest.raises(MetaStoreError, match=NEWER):
            store.check_ready()
    for change in (migrations.upgrade, migrations.downgrade):
        with pytest.raises(MetaStoreError, match=NEWER):
            change(uri)
    assert migrations.current(uri) == "0099_from_a_newer_aiflow"  # left as it was

    done = _aiflow_db("upgrade", "--uri", uri)
    assert done.returncode == 1
    assert "does not know: a newer aiflow migrated it" in done.stderr
    assert "CommandError" not in done.stderr and "Traceback" not in done.stderr
    current = _aiflow_db("current", "--uri", uri)
    assert current.returncode == 0 and "newer than this aiflow" in current.stdout


def _aiflow_db(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "aiflow", "db", *args],
        input=stdin,
        stdin=None if stdin is not None else subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_downgrade_without_a_terminal_needs_yes(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path / 'meta.db'}"
    migrations.upgrade(uri)
    refused = _aiflow_db("downgrade", "base", "--uri", uri)  # CI: no terminal to ask on
    assert refused.returncode != 0
    assert "drops" in refused.stderr and "--yes" in refused.stderr, refused.stderr
    assert migrations.is_at_head(uri)

    done = _aiflow_db("downgrade", "base", "--uri", uri, "--yes")
    assert done.returncode == 0, done.stderr
    assert migrations.current(uri) is None


def test_downgrade_asks_on_a_terminal(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from aiflow.cli import db as db_cli

    uri = f"sqlite:///{tmp_path / 'meta.db'}"
    migrations.upgrade(uri)
    monkeypatch.setattr(db_cli, "_interactive", lambda: True)
    runner = CliRunner()
    declined = runner.invoke(db_cli.app, ["downgrade", "--uri", uri], input="n\n")
    assert declined.exit_code == 1 and "drops" in declined.output
    assert migrations.is_at_head(uri)
    accepted = runner.invoke(db_cli.app, ["downgrade", "--uri", uri], input="y\n")
    assert accepted.exit_code == 0, accepted.output
    assert migrations.current(uri) not in (None, migrations.head())
