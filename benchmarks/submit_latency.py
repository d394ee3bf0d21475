"""Submit latency: ``Client.submit(wf)`` -> the first job RUNNING, against a local server.

    .venv/bin/python benchmarks/submit_latency.py [--runs 20]

Starts ``aiflow server`` on 127.0.0.1 with a fresh SQLite meta store and an editor token, then
submits a one-job workflow (a user operation touching a file at an absolute path) ``--runs``
times, one after the other (each execution finishes before the next submission). Per run:

* submit: ``Client.submit`` called -> returned, i.e. snapshot tar + upload + plan + execution
  and jobs created (the 201 response);
* to running: submit returned -> the first ``GET /api/v1/executions/{id}/jobs`` (polled
  every 10 ms) where the job has a ``started_at`` (is running, or already finished);
* total: the sum, as the client sees it.

Also the server's own view from the stored timestamps: execution ``created_at`` -> job
``started_at`` (no polling granularity, same clock).
"""

from __future__ import annotations

import argparse
import os
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from aiflow.client import Client
from aiflow.translators.usercode import load_workflow_file

POLL = 0.01
RUN_TIMEOUT = 120.0  # per submission: to running, then to finished

WORKFLOW = """\
from pathlib import Path

import aiflow as af


def touch(out: str) -> None:
    Path(out).write_text("ok")


with af.workflow("submit_bench") as wf:
    af.user_operation(touch, params={{"out": {out!r}}}, name="touch")
"""


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, _interrupt)
    home = Path(tempfile.mkdtemp(prefix="aiflow-bench-submit-"))
    uri = f"sqlite:///{home}/aiflow.db"
    env = {
        **os.environ,
        "AIFLOW_HOME": str(home),
        "AIFLOW__METASTORE__URI": uri,
        "AIFLOW__SERVER__SECRET_KEY": secrets.token_urlsafe(48),
    }
    env.pop("AIFLOW__CLIENT__TOKEN", None)
    os.environ.update(AIFLOW_HOME=str(home), AIFLOW__METASTORE__URI=uri)

    from aiflow.store import db
    from aiflow.store.sql_store import MetaStore

    _, token = MetaStore(uri).create_token("bench", "editor")
    db.dispose_engine(uri)
    project = home / "project"  # the snapshot is this directory: the workflow file alone
    project.mkdir()
    (project / "workflow.py").write_text(WORKFLOW.format(out=str(home / "touched")))
    wf = load_workflow_file(project / "workflow.py").wf

    port = free_port()
    log = home / "server.log"
    cmd = [sys.executable, "-m", "aiflow", "server", "--host", "127.0.0.1", "--port", str(port)]
    with log.open("ab") as out:
        server = subprocess.Popen(
            cmd, env=env, cwd=home, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    submit_ms, running_ms, total_ms, server_ms = [], [], [], []
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                sys.exit(f"server did not start:\n{log.read_text(errors='replace')[-3000:]}")
            time.sleep(0.1)
        with Client(base, token) as client:
            for i in range(args.runs + 1):  # run 0 warms up (imports, first plan): not counted
                t0 = time.perf_counter()
                execution = client.submit(wf)
                t1 = time.perf_counter()
                seen = None
                while time.perf_counter() - t1 < RUN_TIMEOUT:
                    jobs = client.list_jobs(execution.id)
                    if jobs and jobs[0].started_at is not None:
                        seen = time.perf_counter()
                        break
                    time.sleep(POLL)
                if seen is None:
                    sys.exit(f"execution {execution.id}: no job running after {RUN_TIMEOUT} s")
                done = client.wait_for_execution(execution.id, timeout=RUN_TIMEOUT, poll=0.05)
                if done.status.value != "succeeded":
                    sys.exit(f"execution {execution.id} ended {done.status.value}; see {log}")
                if i == 0:
                    continue  # the warm-up submission's execution
                job = client.list_jobs(execution.id)[0]
                assert job.started_at is not None
                submit_ms.append((t1 - t0) * 1000)
                running_ms.append((seen - t1) * 1000)
                total_ms.append((seen - t0) * 1000)
                server_ms.append((job.started_at - done.created_at).total_seconds() * 1000)
    finally:
        for sig, wait in ((signal.SIGTERM, 15), (signal.SIGKILL, 5)):
            if server.poll() is not None:
                break
            try:
                os.killpg(server.pid, sig)
                server.wait(wait)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                continue

    print(
        f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs; SQLite meta store, local "
        f"deployer; {len(total_ms)} submissions of a one-job workflow, polled every "
        f"{POLL * 1000:.0f} ms"
    )
    for label, values in (
        ("submit -> first job running (client)", total_ms),
        ("  submit call (upload + plan + create)", submit_ms),
        ("  created -> job running seen", running_ms),
        ("execution created_at -> job started_at", server_ms),
    ):
        print(
            f"{label:<40} median {statistics.median(values):7.1f} ms   "
            f"p95 {pct(values, 0.95):7.1f} ms   max {max(values):7.1f} ms"
        )


if __name__ == "__main__":
    main()
