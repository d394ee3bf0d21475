"""MariaDB (MySQL dialect) for the meta store contract tests: a private throwaway server.

``AIFLOW_TEST_MYSQL_URL`` (a server URL whose user may create databases) is used if set;
otherwise ``mariadbd`` from Debian's ``mariadb-server`` package is started on a free loopback
port with its data in a temp dir (``scripts/ensure_databases.sh`` installs it). Missing server:
skip, or fail under ``CI=true`` / ``AIFLOW_REQUIRE_SERVICES=1`` like PostgreSQL.

Unlike PostgreSQL, MariaDB cannot copy a database from a template, and migrating one per test
costs seconds; so one database is migrated per session and emptied between tests
(``TRUNCATE`` also resets AUTO_INCREMENT, so each test starts from id 1 as on a fresh store).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.services import NotReady, free_port, unavailable, wait_ready

MYSQL_URL_ENV = "AIFLOW_TEST_MYSQL_URL"
_START_TIMEOUT = 60.0


def _connect(url: str):  # type: ignore[no-untyped-def]
    import pymysql
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    return pymysql.connect(
        host=parsed.host,
        port=parsed.port or 3306,
        user=parsed.username,
        password=parsed.password or "",
        autocommit=True,
    )


def _ping(url: str) -> None:
    _connect(url).close()


@pytest.fixture(scope="session")
def mariadb_server() -> Iterator[str]:
    """SQLAlchemy URL of the server (no database selected)."""
    url = os.environ.get(MYSQL_URL_ENV)
    if url:
        yield url.rstrip("/")
        return
    daemon = shutil.which("mariadbd") or "/usr/sbin/mariadbd"
    install = shutil.which("mariadb-install-db")
    if not os.path.exists(daemon) or install is None:
        unavailable("MariaDB not available: mariadbd not found (scripts/ensure_databases.sh)")
    root = Path(tempfile.mkdtemp(prefix="aiflow-mariadb-"))
    data, port = root / "data", free_port()
    done = subprocess.run(
        [
            install,
            "--no-defaults",
            f"--datadir={data}",
            "--auth-root-authentication-method=normal",
            "--skip-test-db",
            "--user=root",
        ],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        unavailable(f"mariadb-install-db failed: {done.stderr[-500:]}")
    log = (root / "server.log").open("w")
    proc = subprocess.Popen(
        [
            daemon,
            "--no-defaults",
            f"--datadir={data}",
            f"--socket={root / 'sock'}",
            f"--port={port}",
            "--bind-address=127.0.0.1",
            "--user=root",
            "--skip-grant-tables",
            "--skip-name-resolve",
            "--skip-log-bin",
            "--innodb-flush-log-at-trx-commit=0",
            "--innodb-buffer-pool-size=64M",
            f"--pid-file={root / 'pid'}",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"mysql+pymysql://root@127.0.0.1:{port}"
    try:
        wait_ready(lambda: _ping(url), timeout=_START_TIMEOUT, process=proc, interval=0.2)
    except NotReady as exc:
        proc.kill()
        unavailable(f"MariaDB did not start: {exc.last_error}; see {root / 'server.log'}")
    try:
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
        shutil.rmtree(root, ignore_errors=True)


def create_mysql_database(server: str) -> str:
    name = f"aiflow_{uuid.uuid4().hex[:12]}"
    with _connect(server) as conn, conn.cursor() as cur:
        cur.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin")
    return f"{server}/{name}"


def drop_mysql_database(url: str) -> None:
    from aiflow.store import db

    db.dispose_engine(url)
    server, name = url.rsplit("/", 1)
    with _connect(server) as conn, conn.cursor() as cur:
        cur.execute(f"DROP DATABASE IF EXISTS `{name}`")


@pytest.fixture
def mysql_url(mariadb_server: str) -> Iterator[str]:
    """URL of a fresh, empty database (no schema), dropped after the test."""
    url = create_mysql_database(mariadb_server)
    yield url
    drop_mysql_database(url)


@pytest.fixture(scope="session")
def _mysql_migrated(mariadb_server: str) -> Iterator[str]:
    from aiflow.store import migrations

    url = create_mysql_database(mariadb_server)
    migrations.upgrade(url)
    yield url
    drop_mysql_database(url)


@pytest.fixture
def migrated_mysql_url(_mysql_migrated: str) -> Iterator[str]:
    """URL of a database at the head revision with every table empty."""
    from sqlalchemy import text

    from aiflow.store import db, orm

    engine = db.get_engine(_mysql_migrated)
    with engine.begin() as conn:
        conn.execute(text("SET FOREIGN_KEY_CHECKS=0"))
        for table in orm.Base.metadata.sorted_tables:
            conn.execute(text(f"TRUNCATE TABLE `{table.name}`"))
        conn.execute(text("SET FOREIGN_KEY_CHECKS=1"))
    yield _mysql_migrated
