"""The node agent's containers: one local process group per container run.

A container here is its ``command`` + ``args`` started with ``start_new_session`` (its own
process group, which stands in for the container's cgroup), stdin closed, stdout and stderr in
one pipe pumped into a CRI-format log file (:mod:`tests.k8s.agent_logs`). When the main process
exits, what is left of its group is killed, as a runtime tears down a container whose PID 1
ended. Every started group is registered in the :class:`Context`, so the agent can kill them all
when it exits.

What a real runtime would enforce and the agent only emulates: ``resources.limits.memory`` is
checked once a second against the group's resident memory and exceeding it kills the group
(``OOMKilled``); readiness probes are not run: a container with a ``readinessProbe`` (or
``startupProbe``) counts as ready once its process has run for ``max(1 s, initialDelaySeconds)``;
volumes are not mounted (a ``workingDir`` that exists on this machine is used as is, else each
container gets a scratch directory).
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.k8s import agent_status as st
from tests.k8s.agent_env import EnvError, container_argv, container_environment, parse_quantity
from tests.k8s.agent_logs import pump, read_text

log = logging.getLogger("node_agent.pods")
PULL_FAILS = "does-not-exist"  # an image whose name contains this cannot be pulled
MEMORY_CHECK_INTERVAL = 1.0  # s
MAX_BACKOFF = 20.0  # s between restarts (the kubelet's 5 min would stall tests)


@dataclass
class Context:
    """What every pod worker shares: the API, the node, the work dir and the live groups."""

    core: Any  # kubernetes.client.CoreV1Api
    node: str
    workdir: Path
    lock: threading.Lock = field(default_factory=threading.Lock)
    groups: dict[int, subprocess.Popen[bytes]] = field(default_factory=dict)
    stopping: bool = False

    def spawn(self, argv: list[str], cwd: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
        """Start a process group, unless the agent is stopping (then its kill-all has already
        run and a group started now would outlive the agent)."""
        with self.lock:
            if self.stopping:
                raise OSError("the node agent is stopping")
            process = subprocess.Popen(
                argv,
                cwd=cwd,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                close_fds=True,
            )
            self.groups[process.pid] = process
            return process

    def release(self, process: subprocess.Popen[bytes]) -> None:
        """The container ended: kill what is left of its group and forget it."""
        signal_group(process.pid, signal.SIGKILL)
        with self.lock:
            self.groups.pop(process.pid, None)

    def kill_all(self, grace: float) -> None:
        """SIGTERM every group, wait up to ``grace`` s for their leaders, SIGKILL them all."""
        with self.lock:
            self.stopping = True
            groups = dict(self.groups)
        for pgid in groups:
            signal_group(pgid, signal.SIGTERM)
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline and any(p.poll() is None for p in groups.values()):
            time.sleep(0.05)
        for pgid in groups:
            signal_group(pgid, signal.SIGKILL)


def signal_group(pgid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signum)


def group_memory(pid: int) -> int:
    """Resident bytes of a process and its descendants (the container's cgroup usage)."""
    import psutil

    try:
        root = psutil.Process(pid)
        processes = [root, *root.children(recursive=True)]
    except psutil.Error:
        return 0
    total = 0
    for process in processes:
        with contextlib.suppress(psutil.Error):
            total += process.memory_info().rss
    return total


@dataclass
class Run:
    """One run of a container: its process, log pump and start times."""

    process: subprocess.Popen[bytes]
    pump: threading.Thread
    log_path: Path
    started_at: str
    started: float = field(default_factory=time.monotonic)
    memory_checked: float = 0.0
    oom_killed: bool = False


class Container:
    """One container of a pod: its spec, state (API form), runs and log files."""

    def __init__(self, spec: dict[str, Any], pod_dir: Path, uid: str) -> None:
        self.spec = spec
        self.name: str = spec["name"]
        self.uid = uid
        self.log_dir = pod_dir / "logs"
        self.restart_count = 0
        self.state: dict[str, Any] = st.waiting("ContainerCreating")
        self.last_state: dict[str, Any] = {}
        self.run: Run | None = None
        self.ready = False
        self.next_start = 0.0
        self.failures = 0
        self.pull_failed_at: float | None = None
        logs = sorted(self.log_dir.glob(f"{self.name}-*.log"), key=_log_number)
        self.current_log: Path | None = logs[-1] if logs else None  # an adopted pod's logs
        self.previous_log: Path | None = logs[-2] if len(logs) > 1 else None

    @property
    def container_id(self) -> str:
        return f"aiflow://{self.uid[:8]}-{self.name}-{self.restart_count}"

    @property
    def terminated(self) -> dict[str, Any] | None:
        return self.state.get("terminated")

    def succeeded(self) -> bool:
        ended = self.terminated
        return ended is not None and ended.get("exitCode") == 0

    def startable(self) -> bool:
        """Waiting to (re)start and past its back-off (not terminated, not running)."""
        return self.run is None and not self.terminated and time.monotonic() >= self.next_start

    def live_log(self, path: Path) -> bool:
        """Whether ``path`` may still grow (its run's pump is still copying)."""
        return self.run is not None and self.run.log_path == path and self.run.pump.is_alive()

    def status(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "image": self.spec.get("image", ""),
            "imageID": "",
            "containerID": self.container_id if self.current_log else None,
            "ready": self.ready,
            "started": self.run is not None,
            "restartCount": self.restart_count,
            "state": st.state_patch(self.state),
            "lastState": st.state_patch(self.last_state),
        }

    # -- lifecycle -------------------------------------------------------------------------

    def pull(self) -> bool:
        """Whether the image "pulls": a name containing ``does-not-exist`` never does, and
        the state goes ErrImagePull, then ImagePullBackOff, as on a node."""
        image = self.spec.get("image", "")
        if PULL_FAILS not in image:
            return True
        if self.pull_failed_at is None:
            self.pull_failed_at = time.monotonic()
            reason = "ErrImagePull"
            message = f'failed to pull image "{image}": {image}: not found'
        elif time.monotonic() - self.pull_failed_at < 2.0:
            return False
        else:
            reason = "ImagePullBackOff"
            message = f'Back-off pulling image "{image}"'
        self.state = st.waiting(reason, message)
        return False

    def adopt(self, status: dict[str, Any]) -> None:
        """Take over the state the API has (a pod the agent finds after it restarted)."""
        self.state = status.get("state") or self.state
        self.last_state = status.get("lastState") or {}
        self.restart_count = int(status.get("restartCount") or 0)

    def start(self, ctx: Context, pod: dict[str, Any], pod_dir: Path) -> bool:
        """Resolve the environment and start a run; failures become the kubelet's states.
        True when the container ended at once (StartError: the command could not start)."""
        try:
            env = container_environment(ctx.core, pod, self.spec)
            argv = container_argv(self.spec, env)
        except Exception as exc:  # EnvError, or the API server unreachable for a moment
            message = str(exc) if isinstance(exc, EnvError) else f"reading the environment: {exc}"
            self.state = st.waiting("CreateContainerConfigError", message)
            self.next_start = time.monotonic() + 2.0
            return False
        working_dir = self.spec.get("workingDir")
        cwd = Path(working_dir) if working_dir and Path(working_dir).is_dir() else None
        if cwd is None:
            cwd = pod_dir / "scratch" / self.name
            cwd.mkdir(parents=True, exist_ok=True)
        if self.current_log is not None:
            self.previous_log = self.current_log
            self.restart_count += 1
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.current_log = self.log_dir / f"{self.name}-{self.restart_count}.log"
        self.current_log.touch()  # served (empty) from now on, before any output arrives
        started_at = st.now()
        try:
            process = ctx.spawn(argv, cwd, env)
        except OSError as exc:
            message = f"failed to start container {self.name!r}: {argv[0]}: {exc.strerror or exc}"
            self.state = st.terminated(
                st.SIGNAL_BASE, "StartError", None, message=message, container_id=self.container_id
            )
            return True
        assert process.stdout is not None
        copier = threading.Thread(
            target=pump, args=(process.stdout, self.current_log), daemon=True,
            name=f"pump-{pod['metadata']['name']}-{self.name}",
        )  # fmt: skip
        copier.start()
        self.run = Run(process, copier, self.current_log, started_at)
        self.state = st.running(started_at)
        log.info("started %s/%s %s: %s", pod["metadata"]["name"], self.name, process.pid, argv)
        return False

    def check(self, ctx: Context) -> bool:
        """Update from the process; True when this run just ended."""
        run = self.run
        if run is None:
            return False
        if run.process.poll() is None:
            self._check_memory(run)
            self.ready = self._ready(run)
            return False
        ctx.release(run.process)
        run.pump.join(timeout=2.0)
        code = st.exit_code_of(run.process.returncode)
        message = None
        if code != 0 and self.spec.get("terminationMessagePolicy") == "FallbackToLogsOnError":
            message = read_text(run.log_path, 80, 2048) or None
        reason = st.exit_reason(code, run.oom_killed)
        self.state = st.terminated(
            code, reason, run.started_at, message=message, container_id=self.container_id
        )
        self.run = None
        self.ready = False
        return True

    def stop(self, signum: int) -> None:
        if self.run is not None:
            signal_group(self.run.process.pid, signum)

    def wait_restart(self, pod_name: str) -> None:
        """After a run ended and the policy restarts it: back off, then start again."""
        self.last_state = self.state
        self.failures += 1
        backoff = min(MAX_BACKOFF, 2.0 ** (self.failures - 1))
        self.next_start = time.monotonic() + backoff
        message = f"back-off {backoff:g}s restarting failed container={self.name} pod={pod_name}"
        self.state = st.waiting("CrashLoopBackOff", message)

    def _ready(self, run: Run) -> bool:
        probe = self.spec.get("readinessProbe") or self.spec.get("startupProbe")
        if not probe:
            return True
        delay = max(1.0, float(probe.get("initialDelaySeconds") or 0))
        return time.monotonic() - run.started >= delay

    def _check_memory(self, run: Run) -> None:
        limit = ((self.spec.get("resources") or {}).get("limits") or {}).get("memory")
        if limit is None or time.monotonic() - run.memory_checked < MEMORY_CHECK_INTERVAL:
            return
        run.memory_checked = time.monotonic()
        if group_memory(run.process.pid) > parse_quantity(limit):
            run.oom_killed = True
            signal_group(run.process.pid, signal.SIGKILL)


def _log_number(path: Path) -> int:
    suffix = path.stem.rpartition("-")[2]
    return int(suffix) if suffix.isdigit() else -1
