"""Job chain beside Airflow and Dagster: the same chain of N trivial tasks on each.

    .venv/bin/python benchmarks/job_chain_peers.py [--tasks 20] [--peers aiflow,airflow,dagster]

Each task writes its start/end time and nothing else; each runs in its own process:

* aiflow: ``job_latency.build_chain`` run with ``af.run`` (batch, local deployer);
* Airflow 3: standalone-style (SQLite, LocalExecutor, scheduler + dag-processor + api-server),
  a DAG of chained PythonOperator tasks triggered once through its REST API;
* Dagster: a job of chained ops, ``execute_job`` with the multiprocess executor.

Each peer runs as a driver script (``benchmarks/_peers/<peer>_chain.py``) under its own
interpreter, in a private temp dir, printing JSON. Airflow and Dagster are installed on first
use into their own venvs, ``~/.cache/aiflow/bench-venvs/<peer>-<version>`` (python3.11, pinned
by ``_peers/<peer>-<version>.constraints.txt``), never into the project's venv.

Figures, per peer: the chain's wall time (trigger -> the last task's recorded end: job
``ended_at``, task instance ``end_date``, STEP_SUCCESS event), per task (wall / N), the median
gap between a task's code ending and the next task's code starting (from the tasks' own marks,
so the same clock and the same point for every peer), and aiflow's speed-up against each peer.
Setup (venv install, DB migrate, daemons up) is reported apart and is not in the figures.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
PEERS_DIR = HERE / "_peers"
VENVS = Path.home() / ".cache" / "aiflow" / "bench-venvs"
MARKER = ".aiflow-bench.json"  # written once the install finished: a venv without it is redone
INSTALL_TIMEOUT = 1800.0


@dataclass(frozen=True)
class Peer:
    name: str
    label: str
    package: str  # installed into its own venv; "" for aiflow (the project's venv)
    version: str
    goal: float = 0.0  # aiflow's speed-up goal against it (issue #14)


PEERS = {
    "aiflow": Peer("aiflow", "aiflow", "", ""),
    "airflow": Peer("airflow", "Airflow", "apache-airflow", "3.3.2", goal=20),
    "dagster": Peer("dagster", "Dagster", "dagster", "1.13.29", goal=10),
}


@dataclass
class Outcome:
    peer: Peer
    version: str = ""
    setup: dict[str, str] = field(default_factory=dict)
    figures: dict[str, float] = field(default_factory=dict)
    error: str = ""


class PeerUnavailable(Exception):
    """The peer cannot be installed or run here; the message says why."""


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def tail(path: Path, lines: int = 12) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def peer_env() -> dict[str, str]:
    """The environment of a peer's interpreter: none of this venv's path settings."""
    return {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}


def ensure_venv(peer: Peer, logs: Path) -> tuple[Path, str]:
    """The peer's venv python, created and installed on first use, and what its install cost
    (this time, or when it was made: a cached venv costs nothing now)."""
    venv = VENVS / f"{peer.name}-{peer.version}"
    python = venv / "bin" / "python"
    marker = venv / MARKER
    if marker.exists():
        made = json.loads(marker.read_text())
        return python, f"venv install {made['install_s']:.0f} s (cached since {made['at']})"
    base = shutil.which("python3.11")
    if base is None:
        raise PeerUnavailable("python3.11 is not on PATH (the peers' venvs are made with it)")
    if venv.exists():  # an install that did not finish
        shutil.rmtree(venv)
    VENVS.mkdir(parents=True, exist_ok=True)
    constraints = PEERS_DIR / f"{peer.name}-{peer.version}.constraints.txt"
    pins = ["-c", str(constraints)] if constraints.exists() else []
    log = logs / f"{peer.name}-install.log"
    print(f"installing {peer.package}=={peer.version} into {venv} (once) ...", flush=True)
    t = time.time()
    steps = [
        [base, "-m", "venv", str(venv)],
        [str(python), "-m", "pip", "install", "--disable-pip-version-check", "-q", *pins,
         f"{peer.package}=={peer.version}"],
    ]  # fmt: skip
    with open(log, "wb") as out:
        for step in steps:
            try:
                done = subprocess.run(
                    step,
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    timeout=INSTALL_TIMEOUT,
                    env=peer_env(),
                )
            except subprocess.TimeoutExpired:
                raise PeerUnavailable(f"install timed out after {INSTALL_TIMEOUT:.0f} s") from None
            if done.returncode != 0:
                raise PeerUnavailable(f"`{' '.join(step[:5])} ...` failed:\n{tail(log)}")
    install_s = time.time() - t
    at = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    marker.write_text(json.dumps({"install_s": install_s, "at": at}))
    return python, f"venv install {install_s:.0f} s (now)"


def kill_group(pgid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def run_driver(cmd: list[str], work: Path, env: dict[str, str], timeout: float) -> Any:
    """Run a driver in its own process group (its daemons and job processes with it) and
    return its JSON; whatever way it ends, nothing of its group survives."""
    log = work / "driver.log"
    with open(log, "wb") as err:
        proc = subprocess.Popen(
            cmd,
            cwd=work,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=err,
            start_new_session=True,
        )
        stdout, timed_out = b"", False
        try:
            stdout, _ = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
        finally:
            if proc.poll() is None:  # timed out or interrupted: let it clean up, then kill
                kill_group(proc.pid, signal.SIGTERM)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(timeout=30)
            kill_group(proc.pid, signal.SIGKILL)  # stragglers of its group
            proc.wait()
    if timed_out:
        raise PeerUnavailable(f"timed out after {timeout:.0f} s:\n{tail(log)}")
    if proc.returncode != 0:
        raise PeerUnavailable(f"driver exited {proc.returncode}:\n{tail(log)}")
    lines = [line for line in stdout.decode().splitlines() if line.startswith("{")]
    if not lines:
        raise PeerUnavailable(f"driver printed no JSON:\n{tail(log)}")
    return json.loads(lines[-1])


def figures(result: dict[str, Any], tasks: int) -> dict[str, float]:
    recorded, marks = result["recorded"], result["marks"]
    if len(recorded) != tasks or len(marks) != tasks:
        raise PeerUnavailable(f"{len(recorded)} tasks recorded, {len(marks)} marks; {tasks} run")
    wall = max(end for _, end in recorded) - result["trigger"]
    gaps = [b["start"] - a["end"] for a, b in itertools.pairwise(marks)]
    return {
        "wall": wall,
        "per_task": wall / tasks,
        "gap": statistics.median(gaps) if gaps else 0.0,
        "first": marks[0]["start"] - result["trigger"],
    }


def measure(peer: Peer, tasks: int, work: Path, timeout: float) -> Outcome:
    outcome = Outcome(peer)
    work.mkdir(parents=True)
    driver = str(PEERS_DIR / f"{peer.name}_chain.py")
    args = ["--tasks", str(tasks), "--work", str(work)]
    try:
        if peer.name == "aiflow":
            python, env = Path(sys.executable), dict(os.environ)
            outcome.setup["venv"] = "the project's venv"
        else:
            python, installed = ensure_venv(peer, work)
            env = peer_env()
            outcome.setup["venv"] = installed
        if peer.name == "airflow":  # its own deadline first, so it stops its daemons itself
            args += ["--port", str(free_port()), "--timeout", str(max(timeout - 45, timeout * 0.8))]
        print(f"running the chain on {peer.label} ...", flush=True)
        result = run_driver([str(python), driver, *args], work, env, timeout)
        outcome.version = result["version"]
        outcome.setup.update({k: f"{v:.1f} s" for k, v in result["setup"].items()})
        outcome.figures = figures(result, tasks)
    except (PeerUnavailable, OSError) as exc:  # OSError: e.g. the venvs' folder unwritable
        outcome.error = str(exc)
    return outcome


def report(outcomes: list[Outcome], tasks: int) -> None:
    names = [f"{o.peer.label} {o.version or o.peer.version}".strip() for o in outcomes]
    width = max(24, *(len(n) + 2 for n in names))
    rows: list[tuple[str, list[str]]] = []

    def row(label: str, key: str, fmt: str) -> None:
        rows.append((label, [fmt.format(o.figures[key]) if o.figures else "-" for o in outcomes]))

    row("chain wall time (trigger -> last task end)", "wall", "{:.2f} s")
    row("per task (wall / tasks)", "per_task", "{:.3f} s")
    row("gap: task code end -> next task code start", "gap", "{:.3f} s (median)")
    row("trigger -> first task code start", "first", "{:.2f} s")
    ours = next((o for o in outcomes if o.peer.name == "aiflow" and o.figures), None)
    speedups = []
    for o in outcomes:
        if o.peer.name == "aiflow" or not o.figures or ours is None:
            speedups.append("-")
        else:
            speedups.append(
                f"{o.figures['wall'] / ours.figures['wall']:.2f}x (goal >= {o.peer.goal:.0f}x)"
            )
    rows.append(("aiflow's speed-up (peer wall / aiflow wall)", speedups))
    label_width = max(len(label) for label, _ in rows)
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(
        f"\nchain of {tasks} trivial tasks, each its own process, one run"
        f" ({os.cpu_count()} CPUs, load average now {load})\n"
    )
    print(" " * label_width + "".join(n.rjust(width) for n in names))
    for label, cells in rows:
        print(label.ljust(label_width) + "".join(c.rjust(width) for c in cells))
    print("\nsetup, once (not in the figures above):")
    for o, name in zip(outcomes, names, strict=True):
        steps = [f"{k} {v}" if k != "venv" else v for k, v in o.setup.items()]
        print(f"  {name}: {', '.join(steps) or 'not set up'}")
    for o, name in zip(outcomes, names, strict=True):
        if o.error:
            print(f"\n{name} not measured: {o.error}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", type=int, default=20)
    parser.add_argument("--peers", default="aiflow,airflow,dagster")
    parser.add_argument("--timeout", type=float, default=900.0, help="per peer's run, seconds")
    args = parser.parse_args()
    chosen = [p.strip() for p in args.peers.split(",") if p.strip()]
    unknown = [p for p in chosen if p not in PEERS]
    if unknown or not chosen or args.tasks < 2:
        parser.error(f"--peers takes {', '.join(PEERS)} (got {unknown or 'none'}); --tasks >= 2")
    signal.signal(signal.SIGTERM, _interrupt)
    work = Path(tempfile.mkdtemp(prefix="aiflow-bench-chain-"))
    outcomes: list[Outcome] = []
    try:
        for name in chosen:
            outcomes.append(measure(PEERS[name], args.tasks, work / name, args.timeout))
        report(outcomes, args.tasks)
    except KeyboardInterrupt:
        print("\ninterrupted: the running peer was stopped", file=sys.stderr)
        sys.exit(130)
    finally:
        if any(o.error for o in outcomes):
            print(f"\nlogs kept in {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
