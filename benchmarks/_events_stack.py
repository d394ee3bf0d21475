"""What ``benchmarks/events.py`` runs against: a meta store (SQLite file or a PostgreSQL
database), ``aiflow server`` with an editor token, the scheduler, and the workflow whose rule
the events fire.

Run as a script (``python _events_stack.py INTERVAL``) it is the scheduler service exactly as
``aiflow scheduler --interval INTERVAL`` builds it, except that it does not start the driver
of the executions its fires record: a sustained burst of thousands of events would otherwise
start thousands of driver and job processes, and measure the local deployer on two cores, not
the events. Every fire still goes through the product's path (cursor compare-and-set,
execution and job rows, the ``TRIGGER_FIRED`` event).
"""

from __future__ import annotations

import logging
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

import httpx

START_TIMEOUT = 60.0
KEY = "bench"  # the key the rule fires on
RULE = "events_bench.on_event.0"  # <workflow>.<job>.<index>: the rule's trigger name

WORKFLOW = f"""\
import aiflow as af


def noop() -> None:
    pass


with af.workflow("events_bench") as wf:
    job = af.user_operation(noop, name="on_event")
    af.action_on_event(job, key={KEY!r}, event_type="user", action="start")
"""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Stack:
    """One backend's home, store URL, editor token and the processes started on them."""

    home: Path
    uri: str
    token: str = ""
    base: str = ""
    server: subprocess.Popen[bytes] | None = None
    scheduler: subprocess.Popen[bytes] | None = None
    env: dict[str, str] = field(default_factory=dict)

    @classmethod
    def create(cls, home: Path, uri: str) -> Stack:
        """Make the store (migrated), an editor token, and point this process at them."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("AIFLOW")}
        env.update(
            AIFLOW_HOME=str(home),
            AIFLOW__METASTORE__URI=uri,
            AIFLOW__SERVER__SECRET_KEY=secrets.token_urlsafe(48),
        )
        for name in [n for n in os.environ if n.startswith("AIFLOW")]:
            del os.environ[name]
        os.environ.update(AIFLOW_HOME=str(home), AIFLOW__METASTORE__URI=uri)
        from aiflow.config import get_settings
        from aiflow.store.sql_store import MetaStore

        get_settings.cache_clear()  # af.send_event reads the store URL from the settings
        _, token = MetaStore(uri, auto_upgrade=True).create_token("bench", "editor")
        return cls(home, uri, token, env=env)

    def start_server(self, *, scheduler: bool) -> None:
        """``aiflow server`` on a free loopback port, its own scheduler inside or not."""
        self.stop_server()
        port = free_port()
        env = {**self.env, "AIFLOW__SERVER__SCHEDULER": str(scheduler).lower()}
        cmd = ["-m", "aiflow", "server", "--host", "127.0.0.1", "--port", str(port)]
        self.server = self._spawn(cmd, env, "server.log")
        self.base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            try:
                if httpx.get(f"{self.base}/health", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or self.server.poll() is not None:
                log = (self.home / "server.log").read_text(errors="replace")[-3000:]
                raise RuntimeError(f"aiflow server did not start:\n{log}")
            time.sleep(0.1)

    def start_scheduler(self, interval: float, *, drivers: bool) -> None:
        """``aiflow scheduler`` beside the server (its jobs reach the server's job API, as
        the docs say to set up), or this module's copy of it that starts no drivers."""
        self.stop_scheduler()
        env = {**self.env, "AIFLOW_JOB_API": self.base}
        if drivers:
            cmd = ["-m", "aiflow", "scheduler", "--interval", str(interval)]
        else:
            cmd = [__file__, str(interval)]
        self.scheduler = self._spawn(cmd, env, "scheduler.log")

    def submit(self) -> None:
        """Submit the workflow through the server: records its rule (and an execution with
        no jobs, which succeeds at once)."""
        from aiflow.client import Client
        from aiflow.translators.usercode import load_workflow_file

        project = self.home / "project"
        project.mkdir(exist_ok=True)
        (project / "workflow.py").write_text(WORKFLOW)
        with Client(self.base, self.token) as client:
            client.submit(load_workflow_file(project / "workflow.py").wf)

    def stop_server(self) -> None:
        _stop(self.server)
        self.server = None

    def stop_scheduler(self) -> None:
        _stop(self.scheduler)
        self.scheduler = None

    def close(self) -> None:
        from aiflow.store import db

        self.stop_scheduler()
        self.stop_server()
        db.dispose_engine(self.uri)

    def _spawn(self, args: list[str], env: dict[str, str], log: str) -> subprocess.Popen[bytes]:
        with (self.home / log).open("ab") as out:
            return subprocess.Popen(
                [sys.executable, *args],
                env=env,
                cwd=self.home,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )


def _stop(proc: subprocess.Popen[bytes] | None) -> None:
    for sig, wait in ((signal.SIGTERM, 15), (signal.SIGKILL, 5)):
        if proc is None or proc.poll() is not None:
            return
        try:
            os.killpg(proc.pid, sig)
            proc.wait(wait)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            continue


@contextmanager
def postgres_database() -> Iterator[str]:
    """A fresh database: on ``AIFLOW_TEST_POSTGRES_URL``'s server if set (as the tests do),
    else on a private throwaway cluster (``benchmarks/chaos/postgres.py``). Raises
    ``PostgresUnavailable`` saying why when neither is possible."""
    import psycopg
    from chaos.postgres import PostgresUnavailable, PrivatePostgres
    from sqlalchemy.engine import make_url

    private = None
    admin = os.environ.get("AIFLOW_TEST_POSTGRES_URL")
    if not admin:
        try:
            private = PrivatePostgres.start()
        except (OSError, subprocess.SubprocessError) as exc:
            raise PostgresUnavailable(str(exc)) from exc
        admin = private.url()
    url = make_url(admin).set(drivername="postgresql+psycopg")
    libpq = url.set(drivername="postgresql").render_as_string(hide_password=False)
    name = f"aiflow_events_{secrets.token_hex(4)}"
    created = False
    try:
        try:
            with psycopg.connect(libpq, autocommit=True) as conn:
                conn.execute(f'CREATE DATABASE "{name}"')
            created = True
        except psycopg.Error as exc:
            raise PostgresUnavailable(f"cannot create a database on {url!r}: {exc}") from exc
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        if created:
            with suppress(psycopg.Error), psycopg.connect(libpq, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if private is not None:
            private.stop()


def _scheduler_without_drivers(interval: float) -> None:
    from aiflow.deployers import get_deployer
    from aiflow.scheduler.service import SchedulerService
    from aiflow.store.sql_store import MetaStore

    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(message)s")
    logging.getLogger("aiflow").setLevel(logging.INFO)  # one line per fire, as the product
    service = SchedulerService(
        MetaStore(), get_deployer, interval=interval, start_driver=lambda *a, **k: None
    )
    signal.signal(signal.SIGTERM, lambda signum, frame: service.stop())
    service.run()


if __name__ == "__main__":
    _scheduler_without_drivers(float(sys.argv[1]))
