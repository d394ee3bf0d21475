"""Airflow driver of ``benchmarks/job_chain_peers.py``: run by the Airflow venv's python.

    <airflow-venv>/bin/python airflow_chain.py --tasks 20 --work DIR --port P --timeout S

Standalone-style Airflow 3 in ``DIR``: SQLite, LocalExecutor, ``airflow db migrate``, then a
scheduler, a dag-processor and an api-server (the tasks report to its execution API, so it is
needed; the triggerer is left out: no task defers). A DAG of N chained PythonOperator tasks,
each writing its start/end time, is triggered once through the REST API. Prints one JSON line:
setup times, the trigger time, each task instance's recorded start/end and the tasks' own marks.

Standard library only, so it runs in any venv; the daemons are children of this process, in its
process group (the caller kills the group as a last resort), and stopped in a ``finally``.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from datetime import datetime
from pathlib import Path
from typing import Any

DAG_ID = "chain_bench"

DAG_FILE = """\
import json
import time
from pathlib import Path

import pendulum
from airflow.providers.standard.operators.python import PythonOperator
from airflow.sdk import DAG

MARKS = {marks!r}


def mark(i):
    start = time.time()
    Path(MARKS, f"{{i}}.json").write_text(json.dumps({{"start": start, "end": time.time()}}))


with DAG(
    {dag_id!r},
    schedule=None,
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,
    is_paused_upon_creation=False,
):
    previous = None
    for i in range({tasks}):
        task = PythonOperator(task_id=f"t{{i:03d}}", python_callable=mark, op_kwargs={{"i": i}})
        if previous is not None:
            previous >> task
        previous = task
"""


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def api(base: str, path: str, body: dict[str, Any] | None = None) -> Any:
    """One REST call (all-admins auth: no token); raises ``urllib.error.URLError`` if down."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        base + path, data=data, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def wait_for(what: str, probe: Any, deadline: float, daemons: dict[str, subprocess.Popen]) -> Any:
    """Poll ``probe()`` until it returns a truthy value; fail naming ``what`` at the deadline or
    as soon as a daemon died (its log is in the work dir)."""
    while time.time() < deadline:
        for name, proc in daemons.items():
            if proc.poll() is not None:
                raise RuntimeError(f"airflow {name} exited ({proc.returncode}) waiting for {what}")
        try:
            value = probe()
        except (urllib.error.URLError, OSError, ValueError):
            value = None
        if value:
            return value
        time.sleep(0.25)
    raise TimeoutError(f"timed out waiting for {what}")


def scheduler_healthy(base: str) -> bool:
    """The scheduler heartbeats: triggering before would time its start-up, not the chain."""
    health = api(base, "/api/v2/monitor/health")
    return bool(health["scheduler"]["status"] == "healthy")


def epoch(stamp: str) -> float:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


def stop(daemons: dict[str, subprocess.Popen]) -> None:
    """SIGTERM every daemon (the scheduler then stops its executor's workers), SIGKILL the
    ones still alive after 20 s."""
    for proc in daemons.values():
        if proc.poll() is None:
            proc.terminate()
    deadline = time.time() + 20
    for proc in daemons.values():
        try:
            proc.wait(timeout=max(0.1, deadline - time.time()))
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tasks", type=int, required=True)
    parser.add_argument("--work", type=Path, required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--timeout", type=float, required=True)
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, _interrupt)
    deadline = time.time() + args.timeout
    home, marks, logs = args.work / "airflow-home", args.work / "marks", args.work / "logs"
    for folder in (home / "dags", marks, logs):
        folder.mkdir(parents=True, exist_ok=True)
    (home / "dags" / f"{DAG_ID}.py").write_text(
        DAG_FILE.format(marks=str(marks), dag_id=DAG_ID, tasks=args.tasks)
    )
    base = f"http://127.0.0.1:{args.port}"
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_FOLDER": str(home / "dags"),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home}/airflow.db",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{base}/execution/",
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__PORT": str(args.port),
        "AIRFLOW__API__BASE_URL": base,
        "AIRFLOW__API__WORKERS": "1",
        "AIRFLOW__API__SECRET_KEY": secrets.token_hex(16),
        "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_hex(32),
    }
    airflow = str(Path(sys.executable).parent / "airflow")
    daemons: dict[str, subprocess.Popen] = {}
    try:
        t = time.time()
        with open(logs / "db-migrate.log", "wb") as log:
            subprocess.run(
                [airflow, "db", "migrate"],
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                check=True,
                timeout=max(1.0, deadline - time.time()),
            )
        migrate_s = time.time() - t
        t = time.time()
        for name in ("scheduler", "dag-processor", "api-server"):
            with open(logs / f"{name}.log", "wb") as log:
                # the scheduler's log server is for the UI, and would bind a fixed port (8793)
                extra = ["--skip-serve-logs"] if name == "scheduler" else []
                daemons[name] = subprocess.Popen(
                    [airflow, name, *extra],
                    env=env,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
        dag = f"/api/v2/dags/{DAG_ID}"
        wait_for(f"DAG {DAG_ID} parsed", lambda: api(base, dag), deadline, daemons)
        wait_for("a healthy scheduler", lambda: scheduler_healthy(base), deadline, daemons)
        ready_s = time.time() - t
        trigger = time.time()
        run = api(base, f"{dag}/dagRuns", {"logical_date": None})
        run_path = f"{dag}/dagRuns/{run['dag_run_id']}"
        state = wait_for(
            "the DAG run to finish",
            lambda: (
                api(base, run_path)["state"] in ("success", "failed")
                and api(base, run_path)["state"]
            ),
            deadline,
            daemons,
        )
        instances = api(base, f"{run_path}/taskInstances?limit=1000")["task_instances"]
        instances.sort(key=lambda ti: ti["task_id"])
        if state != "success":
            failed = [ti["task_id"] for ti in instances if ti["state"] != "success"]
            raise RuntimeError(f"DAG run {state}; tasks not succeeded: {failed}")
        result = {
            "version": api(base, "/api/v2/version")["version"],
            "setup": {
                "db migrate": migrate_s,
                "daemons up, DAG parsed, scheduler healthy": ready_s,
            },
            "trigger": trigger,
            "recorded": [[epoch(ti["start_date"]), epoch(ti["end_date"])] for ti in instances],
            "marks": [json.loads((marks / f"{i}.json").read_text()) for i in range(args.tasks)],
        }
        print(json.dumps(result), flush=True)
    finally:
        stop(daemons)


if __name__ == "__main__":
    main()
