"""Registry read: "GET the latest deployed version of a model", aiflow beside MLflow.

    .venv/bin/python benchmarks/registry_read.py [--backends sqlite,postgres] [--duration 10]
        [--connections 50] [--versions 20] [--no-mlflow]

For each meta store backend, starts on 127.0.0.1:

* ``aiflow server`` (uvicorn, 1 process), read: ``GET /api/v1/models/{name}/serving`` with a
  viewer token;
* ``mlflow server --workers 1``, and MLflow with its default number of workers if that differs,
  read: ``GET /api/2.0/mlflow/registered-models/alias?name=..&alias=deployed``.

Both are seeded the same: one model with ``--versions`` versions, alias ``deployed`` on one of
them. Load: ``wrk`` (one thread, ``--connections`` keep-alive connections), a warm-up run, then
a fixed-duration run per target. PostgreSQL is a private throwaway cluster (initdb/pg_ctl as
the ``postgres`` OS user when run as root) with one database per server.

MLflow is installed into its own venv, never the project's: ``~/.cache/aiflow-bench/
mlflow-venv`` (``MLFLOW_VERSION`` below, with psycopg2-binary for PostgreSQL).

Besides wrk's figures each row has the server's CPU time per request (user + system seconds of
the server process and its worker processes over the measured run, divided by the requests
served: the cost a request has whatever the machine's load) and the 1-minute load average at
the end of the run (how busy the shared machine was).
"""

from __future__ import annotations

import argparse
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import httpx
import psutil

MLFLOW_VERSION = "3.17.2"
MLFLOW_VENV = Path.home() / ".cache" / "aiflow-bench" / "mlflow-venv"
MODEL = "bench_model"
DEPLOYED = 7  # the version the alias points at: not the newest, so "latest" is no shortcut
START_TIMEOUT = 120.0
REPO = Path(__file__).resolve().parent.parent


@dataclass
class Result:
    target: str
    backend: str
    rps: float
    p50_ms: float
    p99_ms: float
    requests: int
    errors: int
    cpu_ms: float  # server CPU (all its processes) per request
    load: float  # 1-minute load average when the run ended
    note: str = ""


# -- processes ------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def process(
    cmd: list[str], *, env: dict[str, str], cwd: Path, log: Path
) -> Iterator[subprocess.Popen[bytes]]:
    """Run ``cmd`` in its own process group; on exit, SIGTERM (then SIGKILL) that group."""
    with log.open("ab") as out:
        proc = subprocess.Popen(
            cmd, env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        yield proc
    finally:
        for sig, wait in ((signal.SIGTERM, 15), (signal.SIGKILL, 5)):
            if proc.poll() is not None:
                break
            try:
                os.killpg(proc.pid, sig)
            except ProcessLookupError:
                break
            try:
                proc.wait(wait)
            except subprocess.TimeoutExpired:
                continue
        # workers (gunicorn/uvicorn children) share the group: make sure none is left
        with suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)


def wait_http(url: str, log: Path, headers: dict[str, str] | None = None) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, headers=headers, timeout=2).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    tail = log.read_text(errors="replace")[-3000:] if log.exists() else ""
    raise RuntimeError(f"{url} did not answer within {START_TIMEOUT:.0f} s\n{tail}")


# -- PostgreSQL -----------------------------------------------------------------------------


@contextmanager
def private_postgres(root: Path) -> Iterator[int]:
    """A throwaway cluster like tests/conftest.py's: loopback, random port, no durability."""
    bin_dir = Path(shutil.which("pg_ctl") or "")
    if not bin_dir.name:
        found = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"))
        if not found:
            raise RuntimeError("no pg_ctl on PATH or under /usr/lib/postgresql")
        bin_dir = found[-1]
    bin_dir = bin_dir.parent
    pg = Path(tempfile.mkdtemp(prefix="aiflow-bench-pg-"))  # not under root: mode 0700
    as_postgres: list[str] = []
    if os.geteuid() == 0:  # PostgreSQL refuses to run as root
        shutil.chown(pg, user="postgres", group="postgres")
        as_postgres = ["runuser", "-u", "postgres", "--"]
    port = free_port()
    data = pg / "data"

    def run(tool: str, *args: str) -> None:
        subprocess.run(
            [*as_postgres, str(bin_dir / tool), *args],
            check=True,
            capture_output=True,
            timeout=START_TIMEOUT,
        )

    run(
        "initdb",
        "-D",
        str(data),
        "-U",
        "postgres",
        "-A",
        "trust",
        "-E",
        "UTF8",
        "--locale=C",
        "--no-sync",
    )
    options = (
        f"-h 127.0.0.1 -p {port} -k {pg} -c max_connections=200 "
        "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
    )
    try:
        run("pg_ctl", "start", "-D", str(data), "-W", "-l", str(pg / "server.log"), "-o", options)
        import psycopg

        deadline = time.monotonic() + START_TIMEOUT
        while True:
            try:
                with psycopg.connect(
                    f"postgresql://postgres@127.0.0.1:{port}/postgres",
                    autocommit=True,
                    connect_timeout=2,
                ) as conn:
                    conn.execute("CREATE DATABASE aiflow")
                    conn.execute("CREATE DATABASE mlflow")
                break
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        yield port
    finally:
        if (data / "postmaster.pid").exists():
            subprocess.run(
                [*as_postgres, str(bin_dir / "pg_ctl"), "stop", "-D", str(data), "-m", "immediate"],
                capture_output=True,
                timeout=60,
            )
        shutil.rmtree(pg, ignore_errors=True)


# -- load -----------------------------------------------------------------------------------

_UNIT_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def _ms(text: str) -> float:
    value, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text).groups()  # type: ignore[union-attr]
    return float(value) * _UNIT_MS[unit]


def wrk(url: str, headers: dict[str, str], seconds: float, connections: int) -> dict[str, float]:
    cmd = ["wrk", "-t1", f"-c{connections}", f"-d{seconds:g}s", "--latency", "--timeout", "10s"]
    for key, value in headers.items():
        cmd += ["-H", f"{key}: {value}"]
    out = subprocess.run(
        [*cmd, url], capture_output=True, text=True, check=True, timeout=seconds + 60
    ).stdout
    errors = sum(int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", out))
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),  # type: ignore[union-attr]
        "p50": _ms(re.search(r"^\s*50%\s+(\S+)", out, re.M).group(1)),  # type: ignore[union-attr]
        "p99": _ms(re.search(r"^\s*99%\s+(\S+)", out, re.M).group(1)),  # type: ignore[union-attr]
        "requests": int(re.search(r"(\d+) requests in", out).group(1)),  # type: ignore[union-attr]
        "errors": errors + (int(non2xx.group(1)) if non2xx else 0),
    }


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of ``pid`` and its live descendants (uvicorn/gunicorn workers)."""
    total = 0.0
    root = psutil.Process(pid)
    for proc in [root, *root.children(recursive=True)]:
        with suppress(psutil.NoSuchProcess):
            times = proc.cpu_times()
            total += times.user + times.system
    return total


def measure(
    target: str,
    backend: str,
    url: str,
    headers: dict[str, str],
    args: argparse.Namespace,
    pid: int,
    note: str = "",
) -> Result:
    check = httpx.get(url, headers=headers, timeout=10)
    check.raise_for_status()
    # Warm up until every worker answers (a multi-worker server may still be importing when
    # /health first answers): at most 10 warm-up runs.
    for _ in range(10):
        w = wrk(url, headers, args.warmup, args.connections)
        if w["requests"] >= 2 * args.connections and w["errors"] == 0:
            break
    else:
        note = "warm-up never steady"
    cpu_before = cpu_seconds(pid)
    m = wrk(url, headers, args.duration, args.connections)
    cpu_ms = 1000 * (cpu_seconds(pid) - cpu_before) / max(m["requests"], 1)
    load = os.getloadavg()[0]
    result = Result(
        target,
        backend,
        m["rps"],
        m["p50"],
        m["p99"],
        int(m["requests"]),
        int(m["errors"]),
        cpu_ms,
        load,
        note,
    )
    print(
        f"  {target:<28} {backend:<9} {m['rps']:8.0f} req/s  p50 {m['p50']:7.2f} ms  "
        f"p99 {m['p99']:7.2f} ms  errors {int(m['errors'])}  cpu/req {cpu_ms:5.2f} ms  "
        f"load {load:.2f}",
        flush=True,
    )
    if m["requests"] == 0:
        result.note = "no request completed: figures meaningless"
    if result.note:
        print(f"    ! {result.note}", flush=True)
    return result


# -- aiflow ---------------------------------------------------------------------------------


def bench_aiflow(backend: str, uri: str, root: Path, args: argparse.Namespace) -> Result:
    home = root / f"aiflow-{backend}"
    home.mkdir()
    env = {
        **os.environ,
        "AIFLOW_HOME": str(home),
        "AIFLOW__METASTORE__URI": uri,
        "AIFLOW__SERVER__SECRET_KEY": secrets.token_urlsafe(48),
    }
    env.pop("AIFLOW__CLIENT__TOKEN", None)
    if backend != "sqlite":
        subprocess.run(
            [sys.executable, "-m", "aiflow", "db", "upgrade", "--uri", uri],
            env=env,
            check=True,
            capture_output=True,
            timeout=120,
        )
    from aiflow.store import db
    from aiflow.store.sql_store import MetaStore

    store = MetaStore(uri)
    for v in range(1, args.versions + 1):
        store.register_model_version(MODEL, f"s3://bench-bucket/models/{MODEL}/{v}", "sklearn")
    store.set_model_alias(MODEL, "deployed", DEPLOYED)
    _, token = store.create_token("bench", "viewer")
    db.dispose_engine(uri)

    port = free_port()
    log = home / "server.log"
    cmd = [sys.executable, "-m", "aiflow", "server", "--host", "127.0.0.1", "--port", str(port)]
    with process(cmd, env=env, cwd=home, log=log) as proc:
        base = f"http://127.0.0.1:{port}"
        wait_http(f"{base}/health", log)
        url = f"{base}/api/v1/models/{MODEL}/serving"
        headers = {"Authorization": f"Bearer {token}"}
        body = httpx.get(url, headers=headers, timeout=10).json()
        assert body["version"] == DEPLOYED, body
        return measure("aiflow (1 process)", backend, url, headers, args, proc.pid)


# -- MLflow ---------------------------------------------------------------------------------


def mlflow_venv() -> Path:
    """The MLflow venv's bin directory, created and installed on first use."""
    bin_dir = MLFLOW_VENV / "bin"
    probe = [str(bin_dir / "python"), "-c", "import mlflow, psycopg2; print(mlflow.__version__)"]
    try:
        found = subprocess.run(probe, capture_output=True, text=True, timeout=120)
        if found.returncode == 0 and found.stdout.strip() == MLFLOW_VERSION:
            return bin_dir
    except OSError:
        pass
    print(f"installing mlflow=={MLFLOW_VERSION} into {MLFLOW_VENV} ...", flush=True)
    if not (bin_dir / "python").exists():
        subprocess.run(["python3", "-m", "venv", str(MLFLOW_VENV)], check=True, timeout=300)
    subprocess.run(
        [str(bin_dir / "pip"), "install", "-q", f"mlflow=={MLFLOW_VERSION}", "psycopg2-binary"],
        check=True,
        timeout=1800,
    )
    return bin_dir


def mlflow_default_workers(bin_dir: Path) -> int | None:
    """The default of ``mlflow server --workers``, from its help text (None: unknown)."""
    out = subprocess.run(
        [str(bin_dir / "mlflow"), "server", "--help"], capture_output=True, text=True, timeout=120
    ).stdout
    text = " ".join(out.split())
    match = re.search(r"--workers \w+ [^()]*\(default:? (\d+)\)", text)
    return int(match.group(1)) if match else None


def seed_mlflow(base: str, versions: int) -> None:
    api = f"{base}/api/2.0/mlflow"
    with httpx.Client(timeout=30) as http:
        http.post(f"{api}/registered-models/create", json={"name": MODEL}).raise_for_status()
        for v in range(1, versions + 1):
            http.post(
                f"{api}/model-versions/create",
                json={"name": MODEL, "source": f"s3://bench-bucket/models/{MODEL}/{v}"},
            ).raise_for_status()
        http.post(
            f"{api}/registered-models/alias",
            json={"name": MODEL, "alias": "deployed", "version": str(DEPLOYED)},
        ).raise_for_status()


def bench_mlflow(
    backend: str,
    uri: str,
    root: Path,
    args: argparse.Namespace,
    bin_dir: Path,
    workers: list[int | None],
) -> list[Result]:
    home = root / f"mlflow-{backend}"
    home.mkdir()
    env = {**os.environ, "MLFLOW_HOME": str(home)}
    results = []
    for i, n in enumerate(workers):
        port = free_port()
        log = home / f"server-{i}.log"
        cmd = [
            str(bin_dir / "mlflow"),
            "server",
            "--backend-store-uri",
            uri,
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--artifacts-destination",
            str(home / "artifacts"),
        ]
        if n is not None:
            cmd += ["--workers", str(n)]
        with process(cmd, env=env, cwd=home, log=log) as proc:
            base = f"http://127.0.0.1:{port}"
            wait_http(f"{base}/health", log)
            if i == 0:
                seed_mlflow(base, args.versions)
            url = f"{base}/api/2.0/mlflow/registered-models/alias?name={MODEL}&alias=deployed"
            body = httpx.get(url, timeout=10).json()
            assert body["model_version"]["version"] == str(DEPLOYED), body
            label = f"mlflow --workers {n}" if n is not None else "mlflow (default workers)"
            if i > 0:
                label += " *"
            results.append(measure(label, backend, url, {}, args, proc.pid))
    return results


# -- main -----------------------------------------------------------------------------------


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per target")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds per target")
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--versions", type=int, default=20)
    parser.add_argument("--no-mlflow", action="store_true")
    args = parser.parse_args()
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    if not set(backends) <= {"sqlite", "postgres"}:
        parser.error("--backends: sqlite and/or postgres")
    if shutil.which("wrk") is None:
        sys.exit("wrk not found: apt-get install -y wrk")
    signal.signal(signal.SIGTERM, _interrupt)

    bin_dir: Path | None = None
    workers: list[int | None] = [1]
    if not args.no_mlflow:
        try:
            bin_dir = mlflow_venv()
            default = mlflow_default_workers(bin_dir)
            if default != 1:
                workers.append(default)
        except (OSError, subprocess.SubprocessError) as exc:
            print(f"MLflow unavailable, aiflow only: {exc}", flush=True)
            bin_dir = None

    print(
        f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs; wrk -t1 -c{args.connections}"
        f", warm-up {args.warmup:g} s, {args.duration:g} s per target; model with "
        f"{args.versions} versions, alias 'deployed' -> v{DEPLOYED}; load average at start "
        f"{os.getloadavg()[0]:.2f}"
    )
    if bin_dir is not None:
        print(
            f"mlflow {MLFLOW_VERSION} (venv {MLFLOW_VENV}); default --workers: "
            f"{workers[-1] if len(workers) > 1 else 1}"
        )
    results: list[Result] = []
    root = Path(tempfile.mkdtemp(prefix="aiflow-bench-registry-"))
    try:
        with ExitStack() as stack:
            for backend in backends:
                if backend == "sqlite":
                    a_uri = f"sqlite:///{root}/aiflow.db"
                    m_uri = f"sqlite:///{root}/mlflow.db"
                else:
                    port = stack.enter_context(private_postgres(root))
                    a_uri = f"postgresql+psycopg://postgres@127.0.0.1:{port}/aiflow"
                    m_uri = f"postgresql+psycopg2://postgres@127.0.0.1:{port}/mlflow"
                print(f"{backend}:", flush=True)
                results.append(bench_aiflow(backend, a_uri, root, args))
                if bin_dir is not None:
                    results += bench_mlflow(backend, m_uri, root, args, bin_dir, workers)
    finally:
        shutil.rmtree(root, ignore_errors=True)

    print()
    print(
        f"| {'target':<28} | {'backend':<8} | {'req/s':>7} | {'p50 ms':>7} | {'p99 ms':>7} "
        f"| {'requests':>8} | {'errors':>6} | {'CPU ms/req':>10} | {'load':>5} |"
    )
    print(
        f"|{'-' * 30}|{'-' * 10}|{'-' * 9}|{'-' * 9}|{'-' * 9}|{'-' * 10}|{'-' * 8}"
        f"|{'-' * 12}|{'-' * 7}|"
    )
    for r in results:
        print(
            f"| {r.target:<28} | {r.backend:<8} | {r.rps:7.0f} | {r.p50_ms:7.2f} | "
            f"{r.p99_ms:7.2f} | {r.requests:8d} | {r.errors:6d} | {r.cpu_ms:10.2f} | "
            f"{r.load:5.2f} |"
        )
    for r in results:
        if r.note:
            print(f"! {r.target}, {r.backend}: {r.note}")
    if len(workers) > 1:
        print("* MLflow's default worker count: more server processes than aiflow's one.")


if __name__ == "__main__":
    main()
