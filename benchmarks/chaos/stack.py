"""The system under test: a private PostgreSQL, an ``aiflow server`` (with its scheduler) on
it, and the online-learning project the soak submits; plus finding and killing its processes.

Everything lives under one run directory: ``home/`` (the server's ``AIFLOW_HOME``: logs,
artifacts, snapshots), ``project/`` (the workflow, ``data/`` with the history, the hold-out
and the stream directory, ``out/`` with the scores), ``events.txt`` (what the rule's job
records). Processes are found by their command line and by the ``AIFLOW_HOME`` in their
environment (this stack's home, so no other aiflow process on the machine is ever touched):
``python -m aiflow.runtime --job-id N`` for a job attempt (ids from the store), ``python -m
aiflow.scheduler --execution-id N`` for an execution's driver.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psutil

from benchmarks.chaos.postgres import PrivatePostgres, free_port

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
EXAMPLE = ROOT / "examples" / "online_learning"
SECRET_KEY = "chaos-soak-secret-key-0123456789-abcdefghijklmnop"
START_TIMEOUT = 60.0
JOB_NAMES = {"train": "train_ctr", "validate": "validate_ctr", "predict": "write_ctr_scores"}


def clean_env() -> dict[str, str]:
    """This process's environment without any ``AIFLOW*`` setting (a developer's shell)."""
    return {k: v for k, v in os.environ.items() if not k.startswith("AIFLOW")}


@dataclass
class Stack:
    run_dir: Path
    window: int
    postgres: PrivatePostgres | None = None
    store_uri: str = ""
    port: int = 0
    token: str = ""
    server: subprocess.Popen[bytes] | None = None
    server_starts: int = 0
    _store: Any = field(default=None, repr=False)
    _workflow: Any = field(default=None, repr=False)

    # -- paths ----------------------------------------------------------------------------------

    @property
    def home(self) -> Path:
        return self.run_dir / "home"

    @property
    def project(self) -> Path:
        return self.run_dir / "project"

    @property
    def stream_dir(self) -> Path:
        return self.project / "data" / "stream"

    @property
    def scores_dir(self) -> Path:
        return self.project / "out" / "scores"

    @property
    def events_file(self) -> Path:
        return self.run_dir / "events.txt"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # -- start and stop -------------------------------------------------------------------------

    def start(self) -> None:
        """PostgreSQL, the migrated meta store, an editor token, the project, the server."""
        self.home.mkdir(parents=True)
        self.postgres = PrivatePostgres.start()
        self.store_uri = self.postgres.create_database("aiflow")
        from aiflow.schemas.entities import Role
        from aiflow.store import migrations

        migrations.upgrade(self.store_uri)
        self.token = self.store.create_token("chaos", Role.EDITOR)[1]
        self._write_project()
        self.port = free_port()
        self.start_server()

    def close(self) -> None:
        """Stop everything this stack started (whatever state it is in)."""
        if self.server is not None and self.server.poll() is None:
            self.server.send_signal(signal.SIGTERM)
            try:
                self.server.wait(15)
            except subprocess.TimeoutExpired:
                self.server.kill()
                self.server.wait()
        for _ in range(2):  # drivers and jobs left over (a driver may start a job meanwhile)
            for proc in self.aiflow_processes():
                _kill(proc)
        if self._store is not None:
            self._store.dispose()
        if self.postgres is not None:
            self.postgres.stop()

    def _write_project(self) -> None:
        sys.path.insert(0, str(EXAMPLE))
        import clicks  # the example's seeded, drifting click generator

        self.project.mkdir(parents=True, exist_ok=True)
        shutil.copy(HERE / "workflow.py", self.project / "workflow.py")
        clicks.write_history(self.project / "data")
        self.stream_dir.mkdir(parents=True)
        (self.project / "out").mkdir()

    def server_env(self) -> dict[str, str]:
        return clean_env() | {
            "AIFLOW_HOME": str(self.home),
            "AIFLOW__METASTORE__URI": self.store_uri,
            "AIFLOW__SERVER__SECRET_KEY": SECRET_KEY,
            "CHAOS_WINDOW": str(self.window),  # the workflow's training window
            "CHAOS_EVENTS": str(self.events_file),  # where its rule's job writes
        }

    def start_server(self) -> float:
        """Start ``aiflow server`` on this stack's port (the same one after a kill: jobs reach
        its job API there); return the seconds until ``/health`` answered."""
        began = time.monotonic()
        self.server_starts += 1
        log = self.home / f"server-{self.server_starts}.log"
        command = [sys.executable, "-m", "aiflow", "server", "--host", "127.0.0.1",
                   "--port", str(self.port)]  # fmt: skip
        with log.open("ab") as out:
            self.server = subprocess.Popen(
                command,
                env=self.server_env(),
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=self.run_dir,
            )
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if self.server.poll() is not None:
                raise RuntimeError(
                    f"the server exited with {self.server.returncode}:\n{log.read_text()}"
                )
            try:
                if httpx.get(f"{self.url}/health", timeout=1).status_code == 200:
                    return time.monotonic() - began
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"the server was not healthy after {START_TIMEOUT}s")
            time.sleep(0.05)

    def kill_server(self) -> None:
        assert self.server is not None
        self.server.send_signal(signal.SIGKILL)
        self.server.wait()

    # -- submitting, through the REST API as ``aiflow --server URL run`` does -----------------

    def client(self) -> Any:
        from aiflow.client import Client

        return Client(self.url, self.token, timeout=60)

    @property
    def workflow(self) -> Any:
        if self._workflow is None:
            from aiflow.translators.usercode import load_workflow_file

            self._workflow = load_workflow_file(self.project / "workflow.py").wf
        return self._workflow

    def run_batch(self, timeout: float = 600) -> None:
        """The batch run: version 1 trained on the history, validated, deployed."""
        with self.client() as client:
            execution = client.submit(self.workflow, mode="batch")
            final = client.wait_for_execution(execution.id, timeout=timeout)
        if final.status.value != "succeeded":
            raise RuntimeError(f"the batch run {final.id} ended {final.status}: {final.error}")

    def submit_stream(self) -> int:
        """Start the stream execution (detached: its driver runs it); return its id."""
        with self.client() as client:
            return int(client.submit(self.workflow, mode="stream").id)

    def stop_execution(self, execution: int) -> str:
        with self.client() as client:
            return str(client.stop_execution(execution, wait=120).status.value)

    # -- the store, as an operator reads it -----------------------------------------------------

    @property
    def store(self) -> Any:
        """The meta store (``MetaStore``), read directly by the soak for its figures."""
        if self._store is None:
            from aiflow.store.sql_store import MetaStore

            self._store = MetaStore(self.store_uri)
        return self._store

    # -- processes ------------------------------------------------------------------------------

    def aiflow_processes(self, *, jobs: bool = True) -> list[psutil.Process]:
        """Drivers and job processes of this stack (other aiflow processes on the machine, a
        test suite's, are never touched): drivers by their environment, which names this
        home; jobs by their handles in the store. A job forked from a warm worker shows the
        fork server's environment, not its own, so only its handle says whose it is."""
        found = []
        for proc in psutil.process_iter(["cmdline", "environ", "status"]):
            cmdline = " ".join(proc.info.get("cmdline") or []).split()
            if proc.info.get("status") == psutil.STATUS_ZOMBIE:
                continue
            if "aiflow.runtime" not in cmdline and "aiflow.scheduler" not in cmdline:
                continue
            environ = proc.info.get("environ") or {}
            if environ.get("AIFLOW_HOME") == str(self.home):
                found.append(proc)
        if jobs:
            with contextlib.suppress(Exception):  # PostgreSQL restarting: drivers only
                for execution in self.store.list_executions(limit=1000):
                    for job in self.store.list_jobs(execution.id):
                        proc = self.job_process(job)
                        if proc is not None and proc not in found:
                            found.append(proc)
        return found

    def job_process(self, job: Any) -> psutil.Process | None:
        """The live process of a job's current attempt, from its handle (pid + create time)."""
        handle = job.handle or {}
        try:
            proc = psutil.Process(int(handle["pid"]))
            if abs(proc.create_time() - float(handle["create_time"])) > 1.0:
                return None
            return None if proc.status() == psutil.STATUS_ZOMBIE else proc
        except (KeyError, TypeError, ValueError, psutil.Error):
            return None

    def driver_process(self, execution_id: int) -> psutil.Process | None:
        """This stack's ``python -m aiflow.scheduler ... --execution-id N`` process, if one runs."""
        for proc in self.aiflow_processes(jobs=False):
            cmdline = " ".join(proc.info["cmdline"] or []).split()
            flag = "--execution-id"
            after = cmdline[cmdline.index(flag) + 1 :] if flag in cmdline else []
            if "aiflow.scheduler" in cmdline and after[:1] == [str(execution_id)]:
                return proc
        return None


def kill9(proc: psutil.Process) -> bool:
    """SIGKILL one process (not its group: its children are left as a crash leaves them)."""
    try:
        proc.send_signal(signal.SIGKILL)
        return True
    except psutil.NoSuchProcess:
        return False


def _kill(proc: psutil.Process) -> None:
    with contextlib.suppress(psutil.NoSuchProcess):
        proc.kill()
