"""A private PostgreSQL cluster for the chaos soak: started from the local binaries in a temp
directory on a free loopback port, and restartable with ``pg_ctl restart -m immediate`` (the
server processes are killed without a checkpoint and the next start recovers from the WAL:
what a crash of the database host's server looks like to aiflow).

It follows the test suite's private server (``tests/conftest.py``), with one difference that
matters here: ``synchronous_commit`` stays on. With it off, a transaction's commit may return
before its WAL is written, and an immediate restart would drop commits aiflow was told had
happened; the soak would then count PostgreSQL's lost writes as aiflow's duplicates.
``fsync=off`` is kept: the WAL a killed server wrote is still in the OS page cache.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

START_TIMEOUT = 60.0


class PostgresUnavailable(RuntimeError):
    """No PostgreSQL binaries, or the server would not start."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class PrivatePostgres:
    root: Path
    bin_dir: Path
    port: int
    as_postgres: list[str]  # ``runuser -u postgres --`` when running as root

    @property
    def data(self) -> Path:
        return self.root / "data"

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    @classmethod
    def start(cls, saved: Path | None = None) -> PrivatePostgres:
        """A new cluster, or one on a copy of ``saved`` (a data directory ``save`` wrote)."""
        bin_dir = _find_bin()
        root = Path(tempfile.mkdtemp(prefix="aiflow-pg-"))
        as_postgres: list[str] = []
        if os.geteuid() == 0:  # PostgreSQL refuses to run as root
            if shutil.which("runuser") is None:
                raise PostgresUnavailable("running as root and `runuser` is not available")
            shutil.chown(root, user="postgres", group="postgres")
            as_postgres = ["runuser", "-u", "postgres", "--"]
        server = cls(root, bin_dir, free_port(), as_postgres)
        try:
            if saved is None:
                server._run("initdb", "-D", str(server.data), "-U", "postgres", "-A", "trust",
                            "-E", "UTF8", "--locale=C", "--no-sync")  # fmt: skip
            else:
                subprocess.run(["cp", "-a", str(saved), str(server.data)], check=True)
            server._pg_ctl("start")
            server.wait_ready()
        except BaseException:
            server.stop()
            raise
        return server

    def save(self, target: Path) -> None:
        """Copy the data directory to ``target`` with the server stopped (a clean copy)."""
        self._run("pg_ctl", "stop", "-D", str(self.data), "-m", "fast")
        subprocess.run(["cp", "-a", str(self.data), str(target)], check=True)
        self._pg_ctl("start")
        self.wait_ready()

    def create_database(self, name: str) -> str:
        import psycopg

        with psycopg.connect(_libpq(self.url()), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def restart_immediate(self) -> float:
        """Kill the server (no checkpoint), start it again; return the seconds it was down."""
        began = time.monotonic()
        self._pg_ctl("restart", "-m", "immediate")
        self.wait_ready()
        return time.monotonic() - began

    def wait_ready(self) -> None:
        import psycopg

        deadline = time.monotonic() + START_TIMEOUT
        while True:
            try:
                psycopg.connect(_libpq(self.url()), connect_timeout=2).close()
                return
            except psycopg.OperationalError as exc:
                if time.monotonic() > deadline:
                    log = (self.root / "server.log").read_text(errors="replace")[-2000:]
                    raise PostgresUnavailable(f"not accepting connections: {exc}\n{log}") from exc
                time.sleep(0.05)

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            self._run("pg_ctl", "stop", "-D", str(self.data), "-m", "fast", check=False)
        shutil.rmtree(self.root, ignore_errors=True)

    def _pg_ctl(self, action: str, *args: str) -> None:
        options = f"-h 127.0.0.1 -p {self.port} -k {self.root} -c fsync=off -c full_page_writes=off"
        self._run("pg_ctl", action, "-D", str(self.data), "-W", "-l", str(self.root / "server.log"),
                  "-o", options, *args)  # fmt: skip

    def _run(self, tool: str, *args: str, check: bool = True) -> None:
        command = [*self.as_postgres, str(self.bin_dir / tool), *args]
        done = subprocess.run(command, capture_output=True, text=True, timeout=START_TIMEOUT)
        if check and done.returncode != 0:
            raise PostgresUnavailable(f"{tool} failed ({done.returncode}): {done.stderr.strip()}")


def _libpq(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


def _find_bin() -> Path:
    on_path = shutil.which("pg_ctl")
    if on_path and shutil.which("initdb"):
        return Path(on_path).parent
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=_version)
    if not found:
        raise PostgresUnavailable(
            "no initdb/pg_ctl on PATH or under /usr/lib/postgresql "
            "(scripts/ensure_databases.sh installs them)"
        )
    return Path(found[-1]).parent


def _version(pg_ctl: str) -> tuple[int, ...]:  # /usr/lib/postgresql/<version>/bin/pg_ctl
    return tuple(int(part) for part in Path(pg_ctl).parts[-3].split(".") if part.isdigit())
