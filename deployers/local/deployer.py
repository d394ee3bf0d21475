"""Run each job attempt as an OS process on this machine (POSIX only).

Each attempt gets its own session and so its own process group, with the group id equal to the
attempt's pid. That is what makes ``stop`` reliable: one signal reaches every process the job
started (a Spark driver's JVM, a data loader's workers), and Ctrl-C in the terminal that runs the
driver does not hit the jobs behind the driver's back; the driver decides how to stop them.

For the processes this instance started, the instance itself reaps them, and only after
waiting *without* reaping (``WNOWAIT``): while the zombie exists its pid, and therefore its
process group id, cannot be reused, so killing the group's stragglers then can never hit an
unrelated process. ``wait_for_change`` sleeps on the children's pidfds (Linux), so the driver
wakes the moment a job ends without a thread per job: starting a thread costs milliseconds on a
busy machine, right on the job-end -> successor-start path.

Processes started by another driver (after a driver restart, or from ``aiflow stop``) are found
from the handle alone: pid plus psutil create time, so a recycled pid is never mistaken for the
job.

Logs are read only from regular files inside the logs directory (``settings.logs_dir``, where
the driver puts them) or that this instance itself wrote, whatever a log URI or handle from the
meta store says: see ``logfile`` for why and how.
"""

from __future__ import annotations

import contextlib
import functools
import os
import select
import shlex
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

import psutil

from aiflow.deployers.base import Deployer, Handle, JobLaunch, JobState, LogRange, describe_exit
from aiflow.deployers.logfile import LogFiles
from aiflow.errors import DeploymentError, InvalidInput
from aiflow.runtime.forkserver import boot_clock
from aiflow.translators.job_store import without_credentials

from . import processes, warm
from .processes import descendants, find, identity, killpg, pidfd_open, signal_all, wait_gone
from .warm import Unavailable, warm_argv
from .warm import servers as forkservers

if TYPE_CHECKING:
    from aiflow.config import Settings

DEPLOYER_ENV = "AIFLOW_DEPLOYER"  # which deployer started the job: "local" here
_REAP_INTERVAL = 0.005  # when waiting for an exit without a pidfd to sleep on
_WARMING_WAIT = 10.0  # s a first job waits for a fork server still importing, then starts cold


@dataclass
class _Started:
    """An attempt this instance started: cold (``proc``, its own child) or warm (``server``,
    a child of the fork server, which reaps it and reports its exit code)."""

    pid: int
    create_time: float
    proc: subprocess.Popen[bytes] | None = None
    server: warm.ForkServer | None = None
    pidfd: int | None = None  # cold: readable once the process ended; None without pidfds
    reaped: bool = False  # ``returncode`` is final and the group's stragglers are gone
    returncode: int | None = None
    status_lost: bool = False  # something else reaped it first, or its fork server died


class LocalDeployer(Deployer):
    """Jobs as local process groups.

    Handle: ``{"pid", "create_time", "host", "log_path"}``; ``log_path`` lets ``logs`` work from
    the handle alone. A warm job's handle is the same: only this instance knows it was forked.
    """

    name = "local"
    host_bound = True
    supports_follow_logs = True
    supports_log_ranges = True
    supports_wait = True

    def __init__(self, settings: Settings | None = None, *, warm: bool | None = None) -> None:
        super().__init__(settings)
        self._warm = warm  # None: ``scheduler.warm_workers``
        self._host = socket.gethostname()
        self._files = LogFiles(lambda: self.settings.logs_dir)
        self._started: dict[int, _Started] = {}  # pid -> attempt; pids stay reserved until reaped
        # poll, stop and wait_for_change may run in different threads (the driver stops jobs
        # in parallel); one lock makes reaping and the pidfd bookkeeping atomic.
        self._lock = threading.Lock()
        # A pidfd that wait_for_change is sleeping on is closed only once it woke up: closing
        # it under its feet could leave it polling a reused descriptor number.
        self._polling = False
        self._closable: list[int] = []

    # -- Deployer API -----------------------------------------------------------------------

    def prepare(self, env: dict[str, str] | None = None, timeout: float = 0.0) -> bool:
        """Start this process's fork server for jobs of ``env`` (warm job workers), waiting
        up to ``timeout`` s for it to be ready; whether it is."""
        if not self._warm_enabled():
            return False
        server = self._fork_server(self._job_env(env or {}))
        return server.wait_ready(timeout) if timeout > 0 else server.check_ready()

    def submit(self, launch: JobLaunch) -> Handle:
        if not launch.command:
            raise InvalidInput(f"job '{launch.job_name}': empty command")
        where = f"job '{launch.job_name}' attempt {launch.attempt}"
        env = self._job_env(launch.env)
        try:
            launch.log_path.parent.mkdir(parents=True, exist_ok=True)
            launch.workdir.mkdir(parents=True, exist_ok=True)
            server = self._warm_server(launch, env)
            with open(launch.log_path, "ab") as log:
                self._files.wrote(launch.log_path)
                log.write(_header(launch, self._host, warm=server is not None).encode())
                log.flush()
                started = None if server is None else self._fork(server, launch, env, log, where)
                if started is None:
                    started = self._popen(launch, env, log)
        except OSError as exc:
            raise DeploymentError(f"{where}: cannot start {launch.command[0]!r}: {exc}") from exc
        with self._lock:
            self._started[started.pid] = started
        return {
            "pid": started.pid,
            "create_time": started.create_time,
            "host": self._host,
            "log_path": str(launch.log_path),
        }

    def poll(self, handle: Handle) -> JobState:
        pid, create_time = identity(handle)
        started = self._own(pid, create_time)
        if started is not None:
            if not self._reap(started):
                return JobState(running=True)
            if started.status_lost:
                return JobState(running=False, error="ended; its exit status was lost")
            code = started.returncode
            error = describe_exit(code) if code else None
            return JobState(running=False, exit_code=code, error=error)
        self._check_host(handle)
        if find(pid, create_time) is not None:
            return JobState(running=True)
        return JobState(
            running=False,
            error="process ended; its exit code is unknown because another driver started it",
        )

    def stop(self, handle: Handle, grace: float) -> None:
        pid, create_time = identity(handle)
        started = self._own(pid, create_time)
        if started is None or (started.server is not None and started.server.dead):
            self._check_host(handle)
            processes.stop_foreign(pid, create_time, grace)
            if started is not None:
                self._reap(started)
            return
        if self._reap(started):
            return  # reaping already killed what was left in the group
        tree = descendants(find(pid, create_time))
        self._signal_group(started, signal.SIGTERM)  # safe: unreaped, the group is the job's
        signal_all(tree, signal.SIGTERM)  # also the ones that left the group
        deadline = time.monotonic() + max(grace, 0.0)
        self._wait_reaped(started, grace)
        alive = wait_gone(tree, deadline - time.monotonic())
        if not self._reap(started):
            self._signal_group(started, signal.SIGKILL)
        signal_all(alive, signal.SIGKILL)
        wait_gone(alive, 1.0)
        if not self._wait_reaped(started, 5.0):
            raise DeploymentError(f"process {pid} did not end 5 s after SIGKILL")

    def logs(
        self,
        handle_or_log_uri: Handle | str,
        *,
        follow: bool = False,
        tail: int | None = None,
        offset: int | None = None,
        until: Callable[[], bool] | None = None,
    ) -> Iterator[str]:
        path, attempt_ended = self._source(handle_or_log_uri)
        ended = attempt_ended if until is None else _either(until, attempt_ended)
        return self._files.lines(path, follow=follow, tail=tail, offset=offset, ended=ended)

    def read_log(
        self,
        handle_or_log_uri: Handle | str,
        *,
        offset: int | None = None,
        length: int | None = None,
        tail: int | None = None,
    ) -> LogRange:
        path, _ = self._source(handle_or_log_uri)
        return self._files.range(path, offset=offset, length=length, tail=tail)

    def wait_for_change(self, timeout: float) -> None:
        """Sleep until a job started here ends, or ``timeout``; reaps the ones that ended.

        Meant for one thread at a time (the driver's loop). Cold jobs are waited for on their
        pidfds, warm ones on their fork server's socket (it reports exits).
        """
        with self._lock:
            pending = [s for s in self._started.values() if not s.reaped]
            cold = {s.pidfd: s for s in pending if s.proc is not None and s.pidfd is not None}
            servers = {s.server for s in pending if s.server is not None and not s.server.dead}
            watched = len(cold) + sum(s.server is not None for s in pending)
            self._polling = bool(pending) and watched == len(pending)
        if not pending:
            time.sleep(max(timeout, 0.0))
            return
        if not self._polling:  # no pidfds on this system, or a fork server died
            self._sleep_until_reaped(pending, timeout)
            return
        try:
            poller = select.poll()
            for fd in [*cold, *(fd for server in servers for fd in server.fds())]:
                poller.register(fd, select.POLLIN)
            # Wake-ups so far are stale; an exit read from now on (here, or by another
            # thread) leaves a new one, so none is lost between this check and the poll.
            for server in servers:
                server.drain_wakeups()
            if not any([self._reap(s) for s in pending if s.server is not None]):
                poller.poll(max(timeout, 0.0) * 1000)
        finally:
            with self._lock:
                self._polling = False
                for fd in self._closable:
                    os.close(fd)
                self._closable.clear()
        for started in pending:
            self._reap(started)

    # -- internals --------------------------------------------------------------------------

    def _warm_enabled(self) -> bool:
        # The fork server waits for its children on pidfds (Linux 5.3+); elsewhere jobs start
        # cold, as they always did.
        if not pidfds_work():
            return False
        return self.settings.scheduler.warm_workers if self._warm is None else self._warm

    def _preload(self) -> tuple[str, ...]:
        return tuple(self.settings.scheduler.warm_preload)

    def _fork_server(self, env: dict[str, str]) -> warm.ForkServer:
        scheduler = self.settings.scheduler
        return forkservers.get(env, self._preload(), scheduler.warm_shared_idle)

    @staticmethod
    def _job_env(extra: dict[str, str]) -> dict[str, str]:
        # The driver's environment minus credentials (a server's secret, the store URL): the
        # job gets its own, if any, through launch.env. DEPLOYER_ENV tells the job it runs on
        # this machine's deployer (a Flink job may start the machine's gateway pool).
        return {**without_credentials(os.environ), DEPLOYER_ENV: "local", **extra}

    def _warm_server(self, launch: JobLaunch, env: dict[str, str]) -> warm.ForkServer | None:
        """The fork server to start this job from, if the job is one it can run and it is
        warm; None: start it cold (the server may still be importing: the next jobs go warm)."""
        if warm_argv(launch.command) is None or not self._warm_enabled():
            return None
        server = self._fork_server(env)
        if server.check_ready():
            return server
        # Still importing, as it is for the first job of a driver: the fork server started
        # first (``prepare``) and imports what a cold job would, so waiting for it is not
        # slower and halves the work. Only while the driver has nothing else to watch.
        with self._lock:
            idle = all(s.reaped for s in self._started.values())
        return server if idle and server.wait_ready(_WARMING_WAIT) else None

    def _fork(
        self,
        server: warm.ForkServer,
        launch: JobLaunch,
        env: dict[str, str],
        log: BinaryIO,
        where: str,
    ) -> _Started | None:
        argv = warm_argv(launch.command)
        assert argv is not None
        try:
            pid, created = server.spawn(argv, env, str(launch.workdir), log.fileno())
        except Unavailable as exc:
            log.write(f"===== aiflow: warm worker unavailable ({exc}): starting cold\n".encode())
            log.flush()
            return None
        except DeploymentError as exc:
            raise DeploymentError(f"{where}: {exc}") from exc
        create_time = created if created is not None else psutil.Process(pid).create_time()
        return _Started(pid, create_time, server=server)

    def _popen(self, launch: JobLaunch, env: dict[str, str], log: BinaryIO) -> _Started:
        started_before = boot_clock()
        proc = subprocess.Popen(
            launch.command,
            cwd=launch.workdir,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        pid = proc.pid
        return _Started(pid, _create_time(pid, started_before), proc=proc, pidfd=pidfd_open(pid))

    def _signal_group(self, started: _Started, sig: signal.Signals) -> None:
        """Signal the job's process group; only while it is unreaped (its id is the job's)."""
        if started.server is None:
            killpg(started.pid, sig)
            return
        with contextlib.suppress(Unavailable):
            started.server.signal_group(started.pid, sig)

    def _source(self, handle_or_log_uri: Handle | str) -> tuple[Path, Callable[[], bool] | None]:
        """The log file behind a handle or URI, and (for a handle) whether its attempt ended."""
        if not isinstance(handle_or_log_uri, dict):
            return self._files.path(handle_or_log_uri), None
        handle = handle_or_log_uri
        identity(handle)
        if "log_path" not in handle:
            raise InvalidInput(f"handle has no log_path: {handle!r}")

        def attempt_ended() -> bool:
            return not self.poll(handle).running

        return self._files.path(str(handle["log_path"])), attempt_ended

    def _reap(self, started: _Started) -> bool:
        """Reap the job if it ended (never blocks); True once reaped."""
        with self._lock:
            if started.reaped:
                return True
            if started.server is not None:
                return self._collect_warm(started, started.server)
            assert started.proc is not None
            pid = started.pid
            try:
                if os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is None:
                    return False
                # The zombie still holds pid == group id: kill the stragglers, then reap.
                killpg(pid, signal.SIGKILL)
                started.returncode = started.proc.wait()
            except ChildProcessError:  # reaped behind our back (os.wait() in user code)
                started.status_lost = True
            started.reaped = True
            if started.pidfd is not None:
                if self._polling:
                    self._closable.append(started.pidfd)
                else:
                    os.close(started.pidfd)
            return True

    @staticmethod
    def _collect_warm(started: _Started, server: warm.ForkServer) -> bool:
        """A warm job ended once its server reported it (the server reaped it and its
        group); if the server died, once the process is gone (its exit code is lost)."""
        code = server.exit_code(started.pid)
        if code is not None:
            server.collect(started.pid)
            started.returncode = code
        elif not server.dead or find(started.pid, started.create_time) is not None:
            return False
        else:
            started.status_lost = True
        started.reaped = True
        return True

    def _wait_reaped(self, started: _Started, timeout: float) -> bool:
        deadline = time.monotonic() + max(timeout, 0.0)
        while not self._reap(started):
            if time.monotonic() >= deadline:
                return False
            time.sleep(_REAP_INTERVAL)
        return True

    def _sleep_until_reaped(self, started: list[_Started], timeout: float) -> None:
        deadline = time.monotonic() + max(timeout, 0.0)
        while not any([self._reap(s) for s in started]):  # a list: reap all, not the first
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            time.sleep(min(remaining, _REAP_INTERVAL))

    def _own(self, pid: int, create_time: float) -> _Started | None:
        started = self._started.get(pid)
        if started is not None and started.create_time == create_time:
            return started
        return None

    def _check_host(self, handle: Handle) -> None:
        host = handle.get("host")
        if host and host != self._host:
            raise DeploymentError(
                f"job process {handle.get('pid')} runs on host '{host}', not on '{self._host}'; "
                "run the command on that host"
            )


def _either(a: Callable[[], bool], b: Callable[[], bool] | None) -> Callable[[], bool]:
    return a if b is None else lambda: a() or b()


def _header(launch: JobLaunch, host: str, *, warm: bool) -> str:
    when = datetime.now(UTC).isoformat(timespec="milliseconds")
    # One line whatever the command holds, so headers split the log cleanly by attempt.
    command = shlex.join(launch.command).replace("\n", "\\n")
    how = " (warm worker)" if warm else ""
    return (
        f"===== aiflow: job '{launch.job_name}' (id {launch.job_id}, execution "
        f"{launch.execution_id}) attempt {launch.attempt} on {host} at {when}{how}: {command}\n"
    )


@functools.cache
def pidfds_work() -> bool:
    """Whether this system has pidfds, which the fork server waits for its children on."""
    fd = processes.pidfd_open(os.getpid())
    if fd is None:
        return False
    os.close(fd)
    return True


def _create_time(pid: int, started_before: float | None) -> float:
    """The child's psutil create time, without reading ``/proc/<pid>/stat`` where the boot
    clock read just before ``Popen`` stands for it (``boot_clock``): that read blocks for
    milliseconds while the child is still exec'ing, right on the job-end -> successor-start
    path. (``time.time()`` would not do: psutil's boot time is truncated to whole seconds.)
    """
    if started_before is not None:
        return started_before
    # The child cannot have been reaped yet (only our watcher reaps it), so this succeeds
    # even if it already exited.
    return psutil.Process(pid).create_time()
