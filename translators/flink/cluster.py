"""A standalone Flink session cluster on this machine, under ``$AIFLOW_HOME/flink/``.

``FlinkCluster(home).start()`` runs the ``apache-flink`` wheel's ``jobmanager.sh start`` and
``taskmanager.sh start`` against a private conf and lib tree (``clusterconf.py``), waits
until ``GET /overview`` shows a TaskManager, and records the ports and the two daemon pids in
``flink/cluster.json``. Not ``start-cluster.sh``: that reads ``conf/workers`` and may ssh.

* Idempotent: a running cluster is reported, not started again. A half-running one (a daemon
  died) is stopped and started afresh.
* ``flink/cluster.lock`` (``flock``) is held while starting or stopping, so two concurrent
  starts never make two clusters: the second waits and then finds the first running.
* Stopping signals the two recorded pids, after checking from their command lines that they
  are our daemons (pids get reused), never anything found by name.
* Ports (``flink.rest_port``/``rpc_port``, 0 = free) are reused on the next start when free, so
  an exported ``AIFLOW__FLINK__REST_URL`` keeps working.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from contextlib import AbstractContextManager
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from aiflow.config import aiflow_home
from aiflow.errors import FlinkUnavailable
from aiflow.translators.flink import clusterconf
from aiflow.translators.flink.clusterconf import HOST, IDENT
from aiflow.translators.flink.settings import FlinkSettings, flink_settings
from aiflow.translators.flink.tableenv import find_java_home, pyflink_home

_SCRIPTS = ("jobmanager.sh", "taskmanager.sh")
_DAEMON_NAMES = {"standalonesession": "JobManager", "taskexecutor": "TaskManager"}
_DAEMONS = {  # flink-daemon.sh name -> main class, the marker we look for in a pid's cmdline
    "standalonesession": "StandaloneSessionClusterEntrypoint",
    "taskexecutor": "TaskManagerRunner",
}


@dataclass(frozen=True)
class StartResult:
    rest_url: str
    web_ui_url: str
    already_running: bool
    seconds: float  # start to ready (0 when it was already running)


@dataclass(frozen=True)
class ClusterStatus:
    """What ``aiflow flink status`` shows. ``error`` is set when the daemons run but their REST
    endpoint does not answer (still starting, or wedged)."""

    running: bool
    home: str
    rest_url: str | None = None
    web_ui_url: str | None = None
    flink_version: str | None = None
    taskmanagers: int = 0
    slots_total: int = 0
    slots_available: int = 0
    running_jobs: int = 0
    jobmanager_pid: int | None = None
    taskmanager_pid: int | None = None
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class FlinkCluster:
    """One session cluster (one JobManager, one TaskManager) rooted at ``<home>/flink``."""

    def __init__(self, home: Path | None = None, settings: FlinkSettings | None = None) -> None:
        # resolved: the conf dir's path is how we recognise our daemons' command lines
        self.root = (Path(home) if home else aiflow_home()).expanduser().resolve() / "flink"
        self.settings = settings or flink_settings()
        self.conf_dir = self.root / "conf"
        self.log_dir = self.root / "log"
        self.pid_dir = self.root / "pid"
        self.state_file = self.root / "cluster.json"

    # -- public ------------------------------------------------------------------------------

    def start(self, timeout: float = 120.0) -> StartResult:
        """Start the daemons and wait until a TaskManager has registered; idempotent.

        A half-running cluster (one daemon died) is stopped and started afresh. On a timeout
        or a daemon dying during start-up, whatever was started is stopped again and the
        error carries the end of the JobManager's log."""
        with self._locked(timeout + 60):
            state = self._read_state()
            jm, tm = self._pid(state, "standalonesession"), self._pid(state, "taskexecutor")
            if jm and tm:
                url = _rest_url(state["rest_port"])
                return StartResult(url, _web_ui(url), already_running=True, seconds=0.0)
            self._terminate([p for p in (jm, tm) if p], grace=15.0)
            self._terminate(self._orphaned_workers(), grace=5.0)  # of a TaskManager that died
            java_home = find_java_home(self.settings.java_home)
            flink_home = pyflink_home()
            rest_port = clusterconf.pick_port(
                self.settings.rest_port, state.get("rest_port"), set()
            )
            rpc_port = clusterconf.pick_port(
                self.settings.rpc_port, state.get("rpc_port"), {rest_port}
            )
            self._forget_pid_files()  # the scripts number log files by the lines in them
            clusterconf.prepare(self.root, self.settings, flink_home, rest_port, rpc_port)
            env = clusterconf.daemon_env(self.root, java_home)
            began = time.monotonic()
            state = {"rest_port": rest_port, "rpc_port": rpc_port, "python": sys.executable}
            try:
                errors = _run_scripts([flink_home / "bin" / s for s in _SCRIPTS], env)
                for daemon in _DAEMONS:
                    state[f"{daemon}_pid"] = self._pid_from_file(daemon)
                self._write_state(state)  # a stop() after a failure below still finds them
                if errors:
                    raise FlinkUnavailable("; ".join(errors))
                self._wait_ready(state, began + timeout)
            except BaseException:
                self._terminate([p for p in self._pids(state) if p], grace=10.0)
                self._write_state({k: state[k] for k in ("rest_port", "rpc_port")})
                raise
            state["started_at"] = time.time()
            self._write_state(state)
            url = _rest_url(rest_port)
            return StartResult(url, _web_ui(url), False, round(time.monotonic() - began, 1))

    def status(self) -> ClusterStatus:
        """Daemon liveness from the recorded pids, the rest from ``GET /overview``."""
        from aiflow.translators.flink.rest import FlinkRest

        state = self._read_state()
        jm, tm = self._pid(state, "standalonesession"), self._pid(state, "taskexecutor")
        if not jm:
            return ClusterStatus(running=False, home=str(self.root), taskmanager_pid=tm)
        url = _rest_url(state["rest_port"])
        base = ClusterStatus(
            True, str(self.root), url, _web_ui(url), jobmanager_pid=jm, taskmanager_pid=tm
        )
        try:
            overview = FlinkRest(url, timeout=5.0).overview()
        except FlinkUnavailable as exc:
            return replace(base, error=str(exc))
        return replace(
            base,
            flink_version=overview.flink_version,
            taskmanagers=overview.taskmanagers,
            slots_total=overview.slots_total,
            slots_available=overview.slots_available,
            running_jobs=overview.jobs_running,
        )

    def stop(self, timeout: float = 30.0) -> bool:
        """Stop both daemons (TERM, then KILL after ``timeout``) and wait for them to exit.

        Returns whether anything was running. Jobs still running go down with the cluster
        (there is no HA store to recover them from): cancel them first for a clean end state."""
        with self._locked(timeout + 30):
            state = self._read_state()
            pids = [p for p in self._pids(state) if p]
            self._terminate(pids, grace=timeout)
            self._terminate(self._orphaned_workers(), grace=5.0)
            self._forget_pid_files()
            if state:
                self._write_state({k: state[k] for k in ("rest_port", "rpc_port") if k in state})
            return bool(pids)

    def log_tail(self, daemon: str = "standalonesession", lines: int = 25) -> str:
        """The last lines of a daemon's log (and its ``.out``, where JVM start errors land)."""
        parts = []
        for suffix in (".out", ".log"):
            pattern = f"flink-{IDENT}-{daemon}-*{suffix}"
            files = sorted(self.log_dir.glob(pattern), key=lambda p: p.stat().st_mtime)
            if files and files[-1].stat().st_size:
                text = [
                    line[:300]
                    for line in files[-1].read_text(errors="replace").splitlines()[-lines:]
                ]
                parts.append(f"--- {files[-1]} (last {len(text)} lines)\n" + "\n".join(text))
        return "\n".join(parts) or f"(no {daemon} log in {self.log_dir})"

    # -- start-up ------------------------------------------------------------------------------

    def _wait_ready(self, state: dict[str, Any], deadline: float) -> None:
        from aiflow.translators.flink.rest import FlinkRest

        url = _rest_url(state["rest_port"])
        rest = FlinkRest(url, timeout=2.0)
        missing = dict.fromkeys(_DAEMON_NAMES, 0)
        while True:
            for daemon, name in _DAEMON_NAMES.items():
                # a daemon just forked may not be findable yet: only a daemon missing on
                # several checks in a row (about 1.5 s) has exited
                missing[daemon] = 0 if self._pid(state, daemon) else missing[daemon] + 1
                if missing[daemon] >= 5:
                    raise FlinkUnavailable(
                        f"the Flink {name} exited during start-up (REST {url}):\n"
                        + self.log_tail(daemon)
                    )
            try:
                overview = rest.overview()
                # registered *and* offering its slots (reported a moment later): a job
                # submitted before that would wait for resources
                if overview.taskmanagers >= 1 and overview.slots_total >= 1:
                    return
            except FlinkUnavailable:
                pass  # not listening yet
            if time.monotonic() > deadline:
                raise FlinkUnavailable(
                    f"the Flink cluster at {url} had no TaskManager after the start timeout; "
                    f"the JobManager log ends with:\n{self.log_tail()}"
                )
            time.sleep(0.3)

    # -- pids and state --------------------------------------------------------------------------

    def _pid(self, state: dict[str, Any], daemon: str) -> int | None:
        """The recorded pid of ``daemon`` if that process is alive and is our daemon (its
        command line has the daemon's main class and our conf dir: pids get reused)."""
        import psutil

        pid = state.get(f"{daemon}_pid")
        if isinstance(pid, int) and self._is_ours(pid, daemon):
            return pid
        # No (or a stale) recorded pid: find the daemon by its command line, so a daemon whose
        # pid file was not read in time is still seen, and stopped, instead of leaked.
        for proc in psutil.process_iter(["pid"]):
            if proc.info["pid"] != pid and self._is_ours(proc.info["pid"], daemon):
                return int(proc.info["pid"])
        return None

    def _is_ours(self, pid: int, daemon: str) -> bool:
        import psutil

        try:
            proc = psutil.Process(pid)
            if proc.status() == psutil.STATUS_ZOMBIE:
                return False
            cmdline = " ".join(proc.cmdline())
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            return False
        return _DAEMONS[daemon] in cmdline and f"--configDir {self.conf_dir}" in cmdline

    def _pids(self, state: dict[str, Any]) -> list[int | None]:
        return [self._pid(state, "taskexecutor"), self._pid(state, "standalonesession")]

    def _forget_pid_files(self) -> None:
        for daemon in _DAEMONS:
            (self.pid_dir / f"flink-{IDENT}-{daemon}.pid").unlink(missing_ok=True)

    def _pid_from_file(self, daemon: str) -> int | None:
        path = self.pid_dir / f"flink-{IDENT}-{daemon}.pid"
        lines = path.read_text().split() if path.exists() else []
        return int(lines[-1]) if lines and lines[-1].isdigit() else None

    def _orphaned_workers(self) -> list[int]:
        """Python UDF workers (``pyflink-udf-runner.sh``, ``beam_boot``, their log ``tee``)
        whose TaskManager is gone: a TaskManager that is killed (OOM, ``kill -9``) leaves them
        running forever, reparented to init. Ours are the ones whose environment names this
        cluster's conf dir, which the TaskManager passed on; checked after the daemons are
        down, so no live TaskManager's worker is among them."""
        import psutil

        conf = str(self.conf_dir)
        found = []
        for proc in psutil.process_iter(["pid"]):
            try:
                if proc.environ().get("FLINK_CONF_DIR") == conf:
                    found.append(proc.info["pid"])
            except (psutil.Error, OSError):
                continue  # gone, or another user's
        return found

    @staticmethod
    def _terminate(pids: list[int], grace: float) -> None:
        """TERM the pids (TaskManager first: it then does not try to reconnect), wait up to
        ``grace`` seconds for them to exit, KILL what is left."""
        import psutil

        procs = []
        for pid in pids:
            try:
                proc = psutil.Process(pid)
                proc.send_signal(signal.SIGTERM)
                procs.append(proc)
            except psutil.NoSuchProcess:
                continue
        _, alive = psutil.wait_procs(procs, timeout=grace)
        for proc in alive:
            proc.kill()
        psutil.wait_procs(alive, timeout=5)

    def _read_state(self) -> dict[str, Any]:
        try:
            data = json.loads(self.state_file.read_text())
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def _write_state(self, state: dict[str, Any]) -> None:
        tmp = self.state_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(state, indent=2) + "\n")
        tmp.replace(self.state_file)

    def _locked(self, timeout: float) -> AbstractContextManager[None]:
        return clusterconf.locked(self.root / "cluster.lock", timeout)


# -- shortcuts for the cluster under $AIFLOW_HOME, with the configured settings -------------------


def start(home: Path | None = None, timeout: float = 120.0) -> StartResult:
    return FlinkCluster(home).start(timeout)


def status(home: Path | None = None) -> ClusterStatus:
    return FlinkCluster(home).status()


def stop(home: Path | None = None, timeout: float = 30.0) -> bool:
    return FlinkCluster(home).stop(timeout)


# -- helpers ------------------------------------------------------------------------------------


def _run_scripts(scripts: list[Path], env: dict[str, str]) -> list[str]:
    """Run ``<script> start`` for each script, one after the other (as Flink's own
    start-cluster.sh does: starting both at once saved seconds but once left a JobManager
    that never wrote a line on a loaded machine); the failures, described.

    Each runs in its own session, so Ctrl-C on ``aiflow`` does not reach the daemon it forks."""
    errors = []
    for script in scripts:
        proc = subprocess.Popen(
            ["bash", str(script), "start"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        try:
            output, _ = proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            output, _ = proc.communicate()
            errors.append(f"{script.name} start did not return within 60 s")
            continue
        if proc.returncode != 0:
            errors.append(
                f"{script.name} start failed ({proc.returncode}): {output.strip()[-1500:]}"
            )
    return errors


def _rest_url(port: int) -> str:
    return f"http://{HOST}:{port}"


def _web_ui(rest_url: str) -> str:
    return f"{rest_url}/#/overview"
