"""Fixtures shared by the whole test suite.

Sections:

* environment isolation (autouse): every test gets its own ``AIFLOW_HOME``;
* PostgreSQL: a session-wide server (``AIFLOW_TEST_POSTGRES_URL``, or a private throwaway
  server started from the local PostgreSQL binaries) and a fresh database per test.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from aiflow.config import reset_settings
from tests.services import NotReady, free_port, unavailable, wait_ready

pytest_plugins = [
    "tests.fixtures_mariadb",
    "tests.fixtures_kafka",
    "tests.fixtures_flink",
    "tests.k8s.fixtures",
    "tests.yarn.fixtures",
]

if TYPE_CHECKING:
    from psycopg.sql import Composable

# -- environment isolation ---------------------------------------------------------------------


@pytest.fixture(autouse=True)
def aiflow_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A private ``AIFLOW_HOME`` (and no ``AIFLOW__*`` overrides from the developer's shell),
    so no test reads or writes ``~/aiflow`` or sees another test's settings."""
    home = tmp_path / "aiflow-home"
    monkeypatch.setenv("AIFLOW_HOME", str(home))
    for name in list(os.environ):
        if name.startswith("AIFLOW__"):
            monkeypatch.delenv(name)
    reset_settings()
    yield home
    reset_settings()


@pytest.fixture(scope="session", autouse=True)
def _zygotes_end_with_the_session() -> Iterator[None]:
    """Drivers of the local deployer start shared fork servers (``aiflow.runtime.zygote``)
    that outlive them by design; the test session does not leave them behind."""
    yield
    from aiflow.deployers.local.zygotes import stop_zygotes

    stop_zygotes()


# -- PostgreSQL ---------------------------------------------------------------------------------

POSTGRES_URL_ENV = "AIFLOW_TEST_POSTGRES_URL"
_START_TIMEOUT = 30.0


@dataclass(frozen=True)
class PostgresServer:
    """A reachable server; ``url`` is a SQLAlchemy URL to its maintenance database."""

    url: str

    def database_url(self, name: str) -> str:
        from sqlalchemy.engine import make_url

        return make_url(self.url).set(database=name).render_as_string(hide_password=False)

    def create_database(self, template: str = "template0") -> str:
        from psycopg import sql

        name = f"aiflow_test_{uuid.uuid4().hex[:12]}"
        statement = sql.SQL("CREATE DATABASE {} TEMPLATE {}")
        self._admin(statement.format(sql.Identifier(name), sql.Identifier(template)))
        return name

    def drop_database(self, name: str) -> None:
        from psycopg import sql

        # FORCE ends connections a failed test left open (pools, threads).
        statement = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)")
        self._admin(statement.format(sql.Identifier(name)))

    def _admin(self, statement: Composable) -> None:
        # CREATE/DROP DATABASE cannot run inside a transaction: autocommit.
        import psycopg

        with psycopg.connect(_libpq_url(self.url), autocommit=True) as conn:
            conn.execute(statement)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """``AIFLOW_TEST_POSTGRES_URL`` if set, else a private server for this test session.

    When neither works the test is skipped, or failed under CI (``CI=true``) or
    ``AIFLOW_REQUIRE_SERVICES=1``, where a silently skipped dialect would hide regressions.
    """
    url = os.environ.get(POSTGRES_URL_ENV)
    if url:
        yield PostgresServer(_sqlalchemy_url(url))
        return
    try:
        private = _PrivatePostgres.start()
    except (_Unavailable, OSError, subprocess.SubprocessError) as exc:
        unavailable(f"PostgreSQL not available: {exc}")
    try:
        yield PostgresServer(private.url)
    finally:
        private.stop()


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> Iterator[str]:
    """URL of a fresh, empty database, dropped after the test."""
    name = postgres_server.create_database()
    yield postgres_server.database_url(name)
    _dispose(postgres_server.database_url(name))
    postgres_server.drop_database(name)


@pytest.fixture(scope="session")
def postgres_template(postgres_server: PostgresServer) -> Iterator[str]:
    """A database migrated to head once per session; copying it is much faster than
    migrating every test's database."""
    from aiflow.store import migrations

    name = postgres_server.create_database()
    url = postgres_server.database_url(name)
    migrations.upgrade(url)
    _dispose(url)  # CREATE DATABASE ... TEMPLATE needs the template without connections
    yield name
    postgres_server.drop_database(name)


@pytest.fixture
def migrated_postgres_url(postgres_server: PostgresServer, postgres_template: str) -> Iterator[str]:
    """URL of a fresh database already at the head schema revision, dropped after the test."""
    name = postgres_server.create_database(template=postgres_template)
    yield postgres_server.database_url(name)
    _dispose(postgres_server.database_url(name))
    postgres_server.drop_database(name)


class _Unavailable(Exception):
    pass


def _dispose(url: str) -> None:
    from aiflow.store import db

    db.dispose_engine(url)


def _sqlalchemy_url(url: str) -> str:
    from aiflow.store import db

    return db.normalize_url(url).render_as_string(hide_password=False)


def _libpq_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


@dataclass
class _PrivatePostgres:
    """A throwaway cluster in a temp dir: loopback only, random port, no durability."""

    root: Path
    bin_dir: Path
    port: int
    as_postgres: list[str]

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    @classmethod
    def start(cls) -> _PrivatePostgres:
        bin_dir = _find_postgres_bin()
        root = Path(tempfile.mkdtemp(prefix="aiflow-pg-"))
        as_postgres: list[str] = []
        if os.geteuid() == 0:
            # PostgreSQL refuses to run as root: hand the directory to the postgres OS user.
            if shutil.which("runuser") is None:
                raise _Unavailable("running as root and `runuser` is not available")
            try:
                shutil.chown(root, user="postgres", group="postgres")
            except (LookupError, OSError) as exc:
                shutil.rmtree(root, ignore_errors=True)
                raise _Unavailable(f"cannot hand {root} to the postgres user: {exc}") from exc
            as_postgres = ["runuser", "-u", "postgres", "--"]
        server = cls(root, bin_dir, free_port(), as_postgres)
        try:
            server._run("initdb", "-D", str(server.data), "-U", "postgres", "-A", "trust",
                        "-E", "UTF8", "--locale=C", "--no-sync")  # fmt: skip
            options = (
                f"-h 127.0.0.1 -p {server.port} -k {root} "
                "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
            )
            server._run("pg_ctl", "start", "-D", str(server.data), "-W",
                        "-l", str(root / "server.log"), "-o", options)  # fmt: skip
            server._wait_ready()
        except BaseException:
            server.stop()
            raise
        return server

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            self._run("pg_ctl", "stop", "-D", str(self.data), "-m", "fast", check=False)
        shutil.rmtree(self.root, ignore_errors=True)

    def _run(self, tool: str, *args: str, check: bool = True) -> None:
        command = [*self.as_postgres, str(self.bin_dir / tool), *args]
        done = subprocess.run(command, capture_output=True, text=True, timeout=_START_TIMEOUT)
        if check and done.returncode != 0:
            raise _Unavailable(f"{tool} failed ({done.returncode}): {done.stderr.strip()}")

    def _wait_ready(self) -> None:
        import psycopg

        def connect() -> None:
            psycopg.connect(_libpq_url(self.url), connect_timeout=2).close()

        try:
            wait_ready(connect, timeout=_START_TIMEOUT, errors=(psycopg.OperationalError,))
        except NotReady as exc:
            log = (self.root / "server.log").read_text(errors="replace")[-2000:]
            why = exc.last_error
            raise _Unavailable(f"server did not accept connections: {why}\n{log}") from why


def _find_postgres_bin() -> Path:
    on_path = shutil.which("pg_ctl")
    if on_path and shutil.which("initdb"):
        return Path(on_path).parent
    candidates = glob.glob("/usr/lib/postgresql/*/bin/pg_ctl")
    if not candidates:
        raise _Unavailable(
            f"no initdb/pg_ctl on PATH or under /usr/lib/postgresql (install postgresql, "
            f"or set {POSTGRES_URL_ENV})"
        )

    def version(path: str) -> tuple[int, ...]:  # /usr/lib/postgresql/<version>/bin/pg_ctl
        return tuple(int(part) for part in Path(path).parts[-3].split(".") if part.isdigit())

    return Path(max(candidates, key=version)).parent
