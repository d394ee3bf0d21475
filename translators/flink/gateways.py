"""Warm gateway JVMs for Flink job processes: submission in about a second, not five.

Every Flink job process needs PyFlink's gateway JVM. Launched by the job itself it costs ~0.6 s
to start and, being cold, ~3 s more to create a TableEnvironment, plan the job and submit it
(class loading and JIT of the planner, its code generation, the REST client), most of the
5-8 s from submission to RUNNING measured in docs/benchmarks.md. A **gateway pool** — one small
daemon per user and launch environment — keeps ``flink.warm_gateways`` (default 1) JVMs
started and warmed: ``gateway_warmup`` plans and submits a job shaped like aiflow's on each,
in batch and stream mode, to a stub REST endpoint. A job process *adopts* one: it connects to
it as PyFlink's own ``PYFLINK_GATEWAY_PORT`` mechanism does, and the JVM is its alone.

What stays as it was:

* one JVM per job process, never reused: the pool ends it when its job process has exited
  (it watches the process through a pidfd), and starts a fresh spare in its place;
* the JVM's log goes to the job attempt's directory (log4j is reconfigured on adoption);
* nothing waits for the pool: no spare ready, no pool, a different launch environment (another
  ``JAVA_HOME``, Hadoop classpath...) — the job launches its own JVM, as before; the first job
  the local deployer starts without a pool starts one for the next jobs (jobs in containers or
  pods never do: a pool outlives the process that started it).

Unlike a JVM the job launches, an adopted one is not in the job's process group, so the group
SIGTERM of a stop does not take it away while the job still cancels its Flink job through it.
The pool exits after ``IDLE`` seconds without a request and with no adopted JVM alive; its JVMs
exit with it (their stdin is the pool's pipe).
"""

from __future__ import annotations

import contextlib
import getpass
import hashlib
import json
import logging
import os
import socket
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aiflow.config import start_user_daemon, user_run_dir

if TYPE_CHECKING:
    from aiflow.translators.flink.settings import FlinkSettings

log = logging.getLogger(__name__)

# Set by the local deployer in its jobs' environment: only a job it started starts a pool (a
# pool outlives its starter; in a YARN container or a pod it would outlive the container).
DEPLOYER_ENV = "AIFLOW_DEPLOYER"
PORT_ENV = "PYFLINK_GATEWAY_PORT"  # PyFlink connects to a running gateway when it is set
# Not part of how a JVM is launched: per-job variables, and those the job sets for its JVM
# (its log directory; the worker mode is read on the Python side).
_NOT_LAUNCH_ENV = (
    "AIFLOW",
    "PYTEST_CURRENT_TEST",
    PORT_ENV,
    "FLINK_LOG_DIR",
    "LOG4J_PROPERTIES",
    "_python_worker_execution_mode",
    "_PYFLINK_CONN_INFO_PATH",
    "PWD",
    "OLDPWD",
    "SHLVL",
)
_ASK_TIMEOUT = 2.0  # s; a pool answers from memory, in well under a millisecond
_adopted: dict[str, Any] = {}  # this process's adoption: {"port", "socket", "pid"}
_asked: dict[str, str] = {}  # the pool this process asked, if it asked one


def launch_env(environ: dict[str, str] | None = None) -> dict[str, str]:
    """The environment a gateway JVM is launched with, from ``environ`` (default: ours)."""
    env = dict(os.environ if environ is None else environ)
    return {k: v for k, v in env.items() if not k.startswith(_NOT_LAUNCH_ENV)}


def socket_path(env: dict[str, str]) -> Path:
    """Where the pool for this launch environment and interpreter listens (per user)."""
    key = json.dumps([sys.executable, sorted(env.items())])
    digest = hashlib.sha256(key.encode()).hexdigest()[:16]
    return user_run_dir() / f"flink-gateways-{digest}.sock"


# -- the job's side -------------------------------------------------------------------------------


def adopt(flink: FlinkSettings) -> bool:
    """Before PyFlink's gateway exists: take a warm JVM from the pool for this environment
    (``PYFLINK_GATEWAY_PORT`` set), or start the pool for the next jobs and return False."""
    if flink.warm_gateways <= 0 or PORT_ENV in os.environ or _has_gateway():
        return False
    env = launch_env()
    path = socket_path(env)
    _asked["pool"] = str(path)
    try:
        reply = ask(path, {"op": "adopt", "pid": os.getpid()})
    except OSError:
        if os.environ.get(DEPLOYER_ENV) == "local":  # not in a container, nor a notebook
            start_pool(env, path, flink.warm_gateways)
        return False
    port = reply.get("port")
    if not port:
        return False  # none ready: this job launches its own
    os.environ[PORT_ENV] = str(port)
    _adopted.update(port=int(port), socket=str(path), pid=reply.get("pid"))
    return True


def adopted() -> bool:
    return bool(_adopted)


def describe() -> dict[str, Any]:
    """What a Flink job's result says of its JVM: ``warm`` (adopted from the pool, whose
    socket is named) or ``launched`` (its own)."""
    found: dict[str, Any] = {"gateway": "warm" if _adopted else "launched"}
    if _adopted.get("pid"):
        found["gateway_pid"] = _adopted["pid"]  # the pool's child, not this process's
    if "pool" in _asked:
        found["gateway_pool"] = _asked["pool"]
    return found


def give_up() -> None:
    """The adopted JVM did not answer: launch one of our own instead (PyFlink reads the
    variable again when its gateway is created)."""
    os.environ.pop(PORT_ENV, None)
    _adopted.clear()
    import pyflink.java_gateway as gateway

    gateway._gateway = None


def log_to(directory: str | None, config: str | None) -> None:
    """Point the adopted JVM's log4j at the job attempt's directory (``jvm_logs_to``), as a
    JVM the job launched would have been from the start."""
    if not (_adopted and directory and config):
        return
    from pyflink.java_gateway import get_gateway

    jvm = get_gateway().jvm
    name = f"flink-{getpass.getuser()}-python-{socket.gethostname()}.log"  # PyFlink's name
    jvm.java.lang.System.setProperty("log.file", str(Path(directory) / name))
    uri = jvm.java.io.File(config).toURI()
    jvm.org.apache.logging.log4j.core.config.Configurator.reconfigure(uri)


def _has_gateway() -> bool:
    gateway = sys.modules.get("pyflink.java_gateway")
    return gateway is not None and getattr(gateway, "_gateway", None) is not None


def ask(path: Path, request: dict[str, Any], timeout: float = _ASK_TIMEOUT) -> dict[str, Any]:
    """One request to a pool, one JSON line each way; ``OSError`` when no pool answers."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        sock.connect(str(path))
        sock.sendall(json.dumps(request).encode() + b"\n")
        data = b""
        while not data.endswith(b"\n"):
            chunk = sock.recv(4096)
            if not chunk:
                raise ConnectionResetError(f"the Flink gateway pool at {path} hung up")
            data += chunk
    answer: dict[str, Any] = json.loads(data)
    return answer


def start_pool(env: dict[str, str], path: Path, size: int) -> None:
    """Start the pool for ``env`` in the background, detached from this process (a second
    one started meanwhile finds the first's lock and exits)."""
    command = [sys.executable, "-P", "-m", "aiflow.translators.flink.gateway_pool"]
    command += ["--socket", str(path), "--size", str(size)]
    start_user_daemon(command, env, path.with_suffix(".log"))
    log.info("started the Flink gateway pool for the next jobs (%s)", path)


def stop_pools() -> int:
    """Ask every pool of this user to end with its JVMs (a test session's teardown, an
    operator); how many answered. Pools start again on demand."""
    stopped = 0
    for path in user_run_dir().glob("flink-gateways-*.sock"):
        with contextlib.suppress(OSError):
            ask(path, {"op": "stop"})
            stopped += 1
    return stopped
