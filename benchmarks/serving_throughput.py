"""Online prediction throughput: ``aiflow serve`` beside ``mlflow models serve``, same model.

    .venv/bin/python benchmarks/serving_throughput.py [--duration 10] [--warmup 2]
        [--connections 1,50] [--instances 1,100] [--no-mlflow]

In a private ``AIFLOW_HOME``: a LogisticRegression fitted on scikit-learn's wine data (13
numeric features), registered and promoted as ``wine`` version 1; a viewer token.

* **aiflow**: ``aiflow serve wine`` (one process, uvicorn), ``POST /v1/models/wine:predict``
  ``{"instances": [{field: value, ...}, ...]}`` with the token (checked on every request: a
  cache hit after the first);
* **MLflow**: the *same pickled model* (the bytes of aiflow's artifact, loaded in MLflow's venv
  and written with ``mlflow.sklearn.save_model`` with a signature inferred from the training
  frame, so MLflow checks the columns as aiflow does), served with ``mlflow models serve -m DIR
  --env-manager local`` and its default worker count (printed), ``POST /invocations``
  ``{"dataframe_split": {"columns": [...], "data": [[...], ...]}}``, no authentication.

Both get the same records (the first ``n`` rows of the data) and are checked to answer the same
predictions before any load. MLflow runs in its own venv, ``~/.cache/aiflow-bench/mlflow-venv``
(as ``registry_read.py``), with this venv's scikit-learn version so the pickle loads.

Load: ``wrk`` (one thread, N keep-alive connections, a Lua script for the POST; ``scripts/
ensure_bench_tools.sh`` installs it). Both services run at once; for each (connections,
instances) cell the peers are loaded one after the other (a warm-up run, then the measured
run), so a change of the shared machine's load hits both. Each cell: requests/s, p50 and p99
latency, failed requests (socket errors + non-2xx), the service's CPU time per request (user +
system of its process and children over the run / requests: the cost of a request whatever the
machine's load) and the 1-minute load average at the end.

Goal (issue: ``aiflow serve``): >= 3x ``mlflow models serve`` requests per second; p50 <= 2 ms
at one connection and one instance.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from registry_read import (
    MLFLOW_VENV,
    MLFLOW_VERSION,
    cpu_seconds,
    free_port,
    mlflow_venv,
    process,
    wait_http,
)

MODEL = "wine"

# Run in MLflow's venv: the aiflow artifact's pickle -> an MLflow model directory.
MLFLOW_SAVE = """\
import pickle, sys
import pandas as pd
import mlflow.sklearn
from mlflow.models import infer_signature
with open(sys.argv[1], "rb") as f:
    model = pickle.load(f)
frame = pd.read_csv(sys.argv[2])
signature = infer_signature(frame, model.predict(frame))
mlflow.sklearn.save_model(model, sys.argv[3], signature=signature)
"""


@dataclass
class Cell:
    rps: float
    p50: float
    p99: float
    failed: int
    cpu_ms: float
    load: float


@dataclass
class Peer:
    name: str
    url: str
    headers: dict[str, str]
    pid: int
    body: Any  # instances -> request body (JSON text)


# -- the model ----------------------------------------------------------------------------------


def seed(home: Path) -> tuple[str, Any, Path]:
    """Train, register and promote version 1 of ``wine``; return a viewer token, the feature
    frame and the path of the registered pickle."""
    os.environ["AIFLOW_HOME"] = str(home)
    from sklearn.datasets import load_wine
    from sklearn.linear_model import LogisticRegression

    from aiflow.config import get_settings
    from aiflow.store.artifacts import artifact_checksum, save_model
    from aiflow.store.sql_store import MetaStore

    frame = load_wine(as_frame=True).frame.rename(columns=lambda c: c.replace("/", "_"))
    features = frame.drop(columns=["target"])
    model = LogisticRegression(max_iter=5000).fit(features, frame["target"])
    store = MetaStore()
    uri, flavor = save_model(model, MODEL, get_settings().artifacts_uri)
    version = store.register_model_version(MODEL, uri, flavor, checksum=artifact_checksum(uri))
    store.promote_model_version(MODEL, version.version)
    _, token = store.create_token("bench", "viewer")
    return token, features, Path(uri.removeprefix("file://")) / "model.pkl"


def aiflow_body(features: Any, n: int) -> str:
    rows = features.head(n).to_dict(orient="records")
    return json.dumps({"instances": [{k: float(v) for k, v in r.items()} for r in rows]})


def mlflow_body(features: Any, n: int) -> str:
    head = features.head(n)
    data = [[float(v) for v in row] for row in head.itertuples(index=False)]
    return json.dumps({"dataframe_split": {"columns": list(head.columns), "data": data}})


# -- MLflow -------------------------------------------------------------------------------------


def mlflow_ready_venv() -> Path:
    """MLflow's venv (``registry_read.mlflow_venv``) with this venv's scikit-learn version."""
    import sklearn

    bin_dir = mlflow_venv()
    probe = [str(bin_dir / "python"), "-c", "import sklearn; print(sklearn.__version__)"]
    found = subprocess.run(probe, capture_output=True, text=True, timeout=120).stdout.strip()
    if found != sklearn.__version__:
        print(f"installing scikit-learn=={sklearn.__version__} into {MLFLOW_VENV} ...")
        subprocess.run(
            [str(bin_dir / "pip"), "install", "-q", f"scikit-learn=={sklearn.__version__}"],
            check=True,
            timeout=1800,
        )
    return bin_dir


def mlflow_workers(bin_dir: Path) -> str:
    """The default of ``mlflow models serve --workers``, from its help text."""
    out = subprocess.run(
        [str(bin_dir / "mlflow"), "models", "serve", "--help"],
        capture_output=True,
        text=True,
        timeout=120,
    ).stdout
    match = re.search(r"--workers \w+ [^()]*\(default:? (\d+)\)", " ".join(out.split()))
    return match.group(1) if match else "unknown"


def mlflow_model(bin_dir: Path, pickle: Path, features: Any, root: Path) -> Path:
    sample, script, target = root / "features.csv", root / "save.py", root / "mlflow-model"
    features.to_csv(sample, index=False)
    script.write_text(MLFLOW_SAVE)
    env = {**os.environ, "MLFLOW_TRACKING_URI": (root / "mlruns").as_uri()}
    subprocess.run(
        [str(bin_dir / "python"), str(script), str(pickle), str(sample), str(target)],
        check=True,
        env=env,
        cwd=root,
        timeout=300,
    )
    return target


# -- load ---------------------------------------------------------------------------------------

_UNIT_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def _ms(text: str) -> float:
    value, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text).groups()  # type: ignore[union-attr]
    return float(value) * _UNIT_MS[unit]


def wrk_post(peer: Peer, body: str, seconds: float, connections: int, work: Path) -> dict[str, Any]:
    script = work / "post.lua"
    lines = ['wrk.method = "POST"', f"wrk.body = {json.dumps(body)}"]
    lines += [f"wrk.headers[{json.dumps(k)}] = {json.dumps(v)}" for k, v in peer.headers.items()]
    script.write_text("\n".join(lines) + "\n")
    command = ["wrk", "-t1", f"-c{connections}", f"-d{seconds:g}s", "--latency"]
    command += ["--timeout", "10s", "-s", str(script), peer.url]
    out = subprocess.run(
        command, capture_output=True, text=True, check=True, timeout=seconds + 60
    ).stdout
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = sum(int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", out))
    return {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),  # type: ignore[union-attr]
        "p50": _ms(re.search(r"^\s*50%\s+(\S+)", out, re.M).group(1)),  # type: ignore[union-attr]
        "p99": _ms(re.search(r"^\s*99%\s+(\S+)", out, re.M).group(1)),  # type: ignore[union-attr]
        "requests": int(re.search(r"(\d+) requests in", out).group(1)),  # type: ignore[union-attr]
        "failed": errors + (int(non2xx.group(1)) if non2xx else 0),
    }


def measure(
    peer: Peer, instances: int, connections: int, args: argparse.Namespace, work: Path
) -> Cell:
    body = peer.body(instances)
    wrk_post(peer, body, args.warmup, connections, work)
    before = cpu_seconds(peer.pid)
    m = wrk_post(peer, body, args.duration, connections, work)
    cpu_ms = 1000 * (cpu_seconds(peer.pid) - before) / max(m["requests"], 1)
    cell = Cell(m["rps"], m["p50"], m["p99"], m["failed"], cpu_ms, os.getloadavg()[0])
    print(
        f"  {peer.name:<7} c={connections:<3} n={instances:<4} {cell.rps:8.0f} req/s  "
        f"p50 {cell.p50:8.2f} ms  p99 {cell.p99:8.2f} ms  failed {cell.failed}  "
        f"cpu/req {cell.cpu_ms:6.2f} ms  load {cell.load:.2f}",
        flush=True,
    )
    return cell


def predictions(peer: Peer, instances: int) -> list[Any]:
    headers = {**peer.headers, "Content-Type": "application/json"}
    response = httpx.post(peer.url, content=peer.body(instances), headers=headers, timeout=30)
    response.raise_for_status()
    return [int(p) for p in response.json()["predictions"]]


# -- main ---------------------------------------------------------------------------------------


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _ints(text: str) -> list[int]:
    return [int(x) for x in text.split(",") if x.strip()]


def report(
    cells: dict[tuple[str, int, int], Cell], shapes: list[tuple[int, int]], mlflow: bool
) -> None:
    def side(c: Cell | None) -> str:
        if c is None:
            return f"{'-':>12} | {'-':>7} | {'-':>7} | {'-':>6} | {'-':>6}"
        return f"{c.rps:12.0f} | {c.p50:7.2f} | {c.p99:7.2f} | {c.failed:6d} | {c.cpu_ms:6.2f}"

    half = ["req/s", "p50 ms", "p99 ms", "failed", "CPU ms"]
    heads = ["conns", "inst", *(f"aiflow {h}" if i == 0 else h for i, h in enumerate(half))]
    heads += [*(f"mlflow {h}" if i == 0 else h for i, h in enumerate(half)), "ratio", "load"]
    widths = [5, 4, 12, 7, 7, 6, 6, 12, 7, 7, 6, 6, 6, 5]
    print("\n| " + " | ".join(h.rjust(w) for h, w in zip(heads, widths, strict=True)) + " |")
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for connections, instances in shapes:
        a = cells[("aiflow", connections, instances)]
        m = cells.get(("mlflow", connections, instances))
        ratio = f"{a.rps / m.rps:5.1f}x" if m is not None and m.rps > 0 else "     -"
        load = max(a.load, m.load) if m is not None else a.load
        print(
            f"| {connections:5d} | {instances:4d} | {side(a)} | {side(m)} | {ratio} | {load:5.2f} |"
        )
    first = cells.get(("aiflow", 1, 1))
    if first is not None:
        print(f"\ngoal p50 <= 2 ms at 1 connection, 1 instance: aiflow p50 {first.p50:.2f} ms")
    if mlflow:
        ratios = [
            cells[("aiflow", c, n)].rps / cells[("mlflow", c, n)].rps
            for c, n in shapes
            if cells[("mlflow", c, n)].rps > 0
        ]
        if ratios:
            print(f"goal >= 3x MLflow's req/s: {min(ratios):.1f}x to {max(ratios):.1f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per measured run")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds per warm-up run")
    parser.add_argument("--connections", default="1,50")
    parser.add_argument("--instances", default="1,100", help="instances per request")
    parser.add_argument("--no-mlflow", action="store_true")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk not found: scripts/ensure_bench_tools.sh (apt-get install -y wrk)")
    signal.signal(signal.SIGTERM, _interrupt)
    shapes = [(c, n) for n in _ints(args.instances) for c in _ints(args.connections)]
    for key in [k for k in os.environ if k.startswith("AIFLOW__")]:
        del os.environ[key]  # the developer's settings must not leak in

    bin_dir: Path | None = None
    workers = "-"
    if not args.no_mlflow:
        try:
            bin_dir = mlflow_ready_venv()
            workers = mlflow_workers(bin_dir)
        except (OSError, subprocess.SubprocessError) as exc:
            print(f"MLflow unavailable, aiflow only: {exc}", flush=True)

    root = Path(tempfile.mkdtemp(prefix="aiflow-bench-serving-"))
    cells: dict[tuple[str, int, int], Cell] = {}
    try:
        with ExitStack() as stack:
            token, features, pickle = seed(root / "home")
            env = {**os.environ, "AIFLOW_HOME": str(root / "home")}
            port = free_port()
            command = [sys.executable, "-m", "aiflow", "serve", MODEL, "--port", str(port)]
            log = root / "serve.log"
            proc = stack.enter_context(process(command, env=env, cwd=root, log=log))
            wait_http(f"http://127.0.0.1:{port}/v1/models/{MODEL}", log)
            peers = [
                Peer(
                    "aiflow",
                    f"http://127.0.0.1:{port}/v1/models/{MODEL}:predict",
                    {"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
                    proc.pid,
                    lambda n: aiflow_body(features, n),
                )
            ]
            if bin_dir is not None:
                model_dir = mlflow_model(bin_dir, pickle, features, root)
                port = free_port()
                command = [str(bin_dir / "mlflow"), "models", "serve", "-m", str(model_dir)]
                command += ["--env-manager", "local", "-h", "127.0.0.1", "-p", str(port)]
                log = root / "mlflow.log"
                m_env = {  # it execs `uvicorn` from PATH, as in an activated venv
                    **env,
                    "PATH": f"{bin_dir}{os.pathsep}{env.get('PATH', '')}",
                    "MLFLOW_TRACKING_URI": (root / "mlruns").as_uri(),
                }
                proc = stack.enter_context(process(command, env=m_env, cwd=root, log=log))
                wait_http(f"http://127.0.0.1:{port}/ping", log)
                peers.append(
                    Peer(
                        "mlflow",
                        f"http://127.0.0.1:{port}/invocations",
                        {"Content-Type": "application/json"},
                        proc.pid,
                        lambda n: mlflow_body(features, n),
                    )
                )
            most = max(n for _, n in shapes)
            answers = {p.name: predictions(p, most) for p in peers}
            if len({json.dumps(a) for a in answers.values()}) != 1:
                sys.exit(f"the peers predict differently on the same records: {answers}")
            print(
                f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs; wrk -t1, warm-up "
                f"{args.warmup:g} s + {args.duration:g} s per cell; load average at start "
                f"{os.getloadavg()[0]:.2f}\naiflow serve: 1 process, viewer token"
                + (
                    f"\nmlflow {MLFLOW_VERSION} models serve --env-manager local: "
                    f"--workers default {workers}, dataframe_split, no auth"
                    if bin_dir is not None
                    else ""
                ),
                flush=True,
            )
            for connections, instances in shapes:
                for peer in peers:
                    cells[(peer.name, connections, instances)] = measure(
                        peer, instances, connections, args, root
                    )
    finally:
        shutil.rmtree(root, ignore_errors=True)
    report(cells, shapes, bin_dir is not None)


if __name__ == "__main__":
    main()
