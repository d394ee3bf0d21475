"""A server killed with SIGKILL in the middle of an execution: the execution's detached driver
carries on, its jobs wait for the server's job API to come back, a restarted server sees the
execution complete, and every job ran exactly once."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from aiflow.client import Client
from aiflow.store.sql_store import MetaStore
from tests.chain import chain_workflow
from tests.server.conftest import _wait_healthy, free_port, server_env

pytestmark = pytest.mark.slow


def _start(
    env: dict[str, str], log: Path, port: int | None = None
) -> tuple[subprocess.Popen[bytes], str]:
    port = port or free_port()
    url = f"http://127.0.0.1:{port}"
    with log.open("ab") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "aiflow", "server", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    _wait_healthy(process, url, log)
    return process, url


def test_server_kill9_mid_execution_then_restart(tmp_path: Path) -> None:
    home, runs = tmp_path / "home", tmp_path / "runs.txt"
    store_uri = f"sqlite:///{tmp_path / 'meta.db'}"
    token = MetaStore(store_uri).create_token("editor", "editor")[1]
    wf = chain_workflow(tmp_path / "wf", "resilient", runs, sleep=1.0)
    env = server_env(home, store_uri, AIFLOW__SERVER__SCHEDULER="true")

    first, url = _start(env, tmp_path / "server1.log")
    try:
        with Client(url, token) as client:
            execution = client.submit(wf)
            deadline = time.monotonic() + 60
            while not any(j.status.value == "running" for j in client.list_jobs(execution.id)):
                assert time.monotonic() < deadline, "no job started"
                time.sleep(0.05)
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait()

    # back on the same address, as a restarted server is: its jobs reach it there (job API)
    second, url = _start(env, tmp_path / "server2.log", port=int(url.rsplit(":", 1)[1]))
    try:
        with Client(url, token) as client:
            final = client.wait_for_execution(execution.id, timeout=90)
            jobs = client.list_jobs(execution.id)
    finally:
        second.terminate()
        second.wait(30)
    assert final.status.value == "succeeded", final
    assert [j.attempt for j in jobs] == [1, 1, 1]
    assert sorted(runs.read_text().split()) == ["s0", "s1", "s2"]  # nothing ran twice


def test_embedded_scheduler_starts_orphaned_executions(tmp_path: Path) -> None:
    """An execution recorded but never given a driver (its submitter died in between) is
    picked up by the scheduler service the server runs."""
    from aiflow.scheduler import service
    from aiflow.scheduler.submit import submit_workflow

    runs, store_uri = tmp_path / "runs.txt", f"sqlite:///{tmp_path / 'meta.db'}"
    store = MetaStore(store_uri)
    token = store.create_token("viewer", "viewer")[1]
    wf = chain_workflow(tmp_path / "orphan", "orphan", runs, steps=1)
    execution, _ = submit_workflow(wf, mode="batch", store=store)
    time.sleep(service.ORPHAN_AFTER)  # now it counts as orphaned, not as being started
    env = server_env(tmp_path / "home", store_uri, AIFLOW__SERVER__SCHEDULER="true")
    server, url = _start(env, tmp_path / "server.log")
    try:
        with Client(url, token) as client:
            final = client.wait_for_execution(execution.id, timeout=60)
    finally:
        server.terminate()
        server.wait(30)
    assert final.status.value == "succeeded"
    assert runs.read_text() == "s0\n"
