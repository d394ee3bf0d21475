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
import os
import select
import shlex
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import psutil

from aiflow.errors import DeploymentError, InvalidInput
from aiflow.translators.job_store import without_credentials

from .base import Deployer, Handle, JobLaunch, JobState, LogRange, describe_exit
from .logfile import LogFiles

if TYPE_CHECKING:
    from aiflow.config import Settings

# psutil computes create_time from the boot time, which two processes can read up to a second
# apart; a recycled pid within that second is not a realistic risk.
_CREATE_TIME_TOLERANCE = 1.0
_REAP_INTERVAL = 0.005  # when waiting for an exit without a pidfd to sleep on


@dataclass
class _Started:
    proc: subprocess.Popen[bytes]
    create_time: float
    pidfd: int | None  # readable once the process ended; None where pidfds do not exist
    reaped: bool = False  # ``proc.returncode`` is final and the group's stragglers are gone
    status_lost: bool = False  # something else in this process reaped it first


class LocalDeployer(Deployer):
    """Jobs as local process groups.

    Handle: ``{"pid", "create_time", "host", "log_path"}``; ``log_path`` lets ``logs`` work from
    the handle alone.
    """

    name = "local"
    host_bound = True
    supports_follow_logs = True
    supports_log_ranges = True
    supports_wait = True

    def __init__(self, settings: Settings | None = None) -> None:
        super().__init__(settings)
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

    def submit(self, launch: JobLaunch) -> Handle:
        if not launch.command:
            raise InvalidInput(f"job '{launch.job_name}': empty command")
        where = f"job '{launch.job_name}' attempt {launch.attempt}"
        try:
            launch.log_path.parent.mkdir(parents=True, exist_ok=True)
            launch.workdir.mkdir(parents=True, exist_ok=True)
            with open(launch.log_path, "ab") as log:
                self._files.wrote(launch.log_path)
                log.write(_header(launch, self._host).encode())
                log.flush()
                started_before = _boot_clock()
                proc = subprocess.Popen(
                    launch.command,
                    cwd=launch.workdir,
                    # The driver's environment minus credentials (a server's secret, the
                    # store URL): the job gets its own, if any, through launch.env.
                    env={**without_credentials(os.environ), **launch.env},
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
        except OSError as exc:
            raise DeploymentError(f"{where}: cannot start {launch.command[0]!r}: {exc}") from exc
        create_time = _create_time(proc.pid, started_before)
        with self._lock:
            self._started[proc.pid] = _Started(proc, create_time, _pidfd_open(proc.pid))
        return {
            "pid": proc.pid,
            "create_time": create_time,
            "host": self._host,
            "log_path": str(launch.log_path),
        }

    def poll(self, handle: Handle) -> JobState:
        pid, create_time = _identity(handle)
        started = self._own(pid, create_time)
        if started is not None:
            if not self._reap(started):
                return JobState(running=True)
            if started.status_lost:
                return JobState(running=False, error="ended; its exit status was lost")
            code = started.proc.returncode
            error = describe_exit(code) if code else None
            return JobState(running=False, exit_code=code, error=error)
        self._check_host(handle)
        if _find(pid, create_time) is not None:
            return JobState(running=True)
        return JobState(
            running=False,
            error="process ended; its exit code is unknown because another driver started it",
        )

    def stop(self, handle: Handle, grace: float) -> None:
        pid, create_time = _identity(handle)
        started = self._own(pid, create_time)
        if started is None:
            self._check_host(handle)
            _stop_foreign(pid, create_time, grace)
            return
        if self._reap(started):
            return  # reaping already killed what was left in the group
        descendants = _descendants(_find(pid, create_time))
        _killpg(pid, signal.SIGTERM)  # safe: unreaped, so the group id is still this job's
        _signal_all(descendants, signal.SIGTERM)  # also the ones that left the group
        deadline = time.monotonic() + max(grace, 0.0)
        self._wait_reaped(started, grace)
        alive = _wait_gone(descendants, deadline - time.monotonic())
        if not self._reap(started):
            _killpg(pid, signal.SIGKILL)
        _signal_all(alive, signal.SIGKILL)
        _wait_gone(alive, 1.0)
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
        """Sleep until a child started here ends, or ``timeout``; reaps the ones that ended.

        Meant for one thread at a time (the driver's loop).
        """
        with self._lock:
            pending = [s for s in self._started.values() if not s.reaped]
            waiting = {s.pidfd: s for s in pending if s.pidfd is not None}
            self._polling = bool(pending) and len(waiting) == len(pending)
        if not pending:
            time.sleep(max(timeout, 0.0))
            return
        if not self._polling:  # no pidfds on this system
            self._sleep_until_reaped(pending, timeout)
            return
        try:
            poller = select.poll()
            for fd in waiting:
                poller.register(fd, select.POLLIN)
            ready = poller.poll(max(timeout, 0.0) * 1000)
        finally:
            with self._lock:
                self._polling = False
                for fd in self._closable:
                    os.close(fd)
                self._closable.clear()
        for fd, _ in ready:
            self._reap(waiting[fd])

    # -- internals --------------------------------------------------------------------------

    def _source(self, handle_or_log_uri: Handle | str) -> tuple[Path, Callable[[], bool] | None]:
        """The log file behind a handle or URI, and (for a handle) whether its attempt ended."""
        if not isinstance(handle_or_log_uri, dict):
            return self._files.path(handle_or_log_uri), None
        handle = handle_or_log_uri
        _identity(handle)
        if "log_path" not in handle:
            raise InvalidInput(f"handle has no log_path: {handle!r}")

        def attempt_ended() -> bool:
            return not self.poll(handle).running

        return self._files.path(str(handle["log_path"])), attempt_ended

    def _reap(self, started: _Started) -> bool:
        """Reap the child if it ended (never blocks); True once reaped."""
        with self._lock:
            if started.reaped:
                return True
            pid = started.proc.pid
            try:
                if os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is None:
                    return False
                # The zombie still holds pid == group id: kill the stragglers, then reap.
                _killpg(pid, signal.SIGKILL)
                started.proc.wait()
            except ChildProcessError:  # reaped behind our back (os.wait() in user code)
                started.status_lost = True
            started.reaped = True
            if started.pidfd is not None:
                if self._polling:
                    self._closable.append(started.pidfd)
                else:
                    os.close(started.pidfd)
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


def _header(launch: JobLaunch, host: str) -> str:
    when = datetime.now(UTC).isoformat(timespec="milliseconds")
    # One line whatever the command holds, so headers split the log cleanly by attempt.
    command = shlex.join(launch.command).replace("\n", "\\n")
    return (
        f"===== aiflow: job '{launch.job_name}' (id {launch.job_id}, execution "
        f"{launch.execution_id}) attempt {launch.attempt} on {host} at {when}: {command}\n"
    )


def _pidfd_open(pid: int) -> int | None:
    try:
        return os.pidfd_open(pid)
    except (AttributeError, OSError):  # not Linux, a kernel before 5.3, or a seccomp filter
        return None


def _boot_clock() -> float | None:
    """Now on the clock psutil derives Linux create times from (boot time + CLOCK_BOOTTIME),
    or None where that is not how psutil computes them."""
    if sys.platform != "linux":
        return None
    return psutil.boot_time() + time.clock_gettime(time.CLOCK_BOOTTIME)


def _create_time(pid: int, started_before: float | None) -> float:
    """The child's psutil create time, without reading ``/proc/<pid>/stat``.

    That read blocks for milliseconds while the child is still exec'ing (measured 1-5 ms for
    a Python child), which would sit on the job-end -> successor-start path. On Linux the
    create time is boot time + the fork's CLOCK_BOOTTIME truncated to a clock tick, so the
    clock just before ``Popen`` is within a tick of it, far inside the identity tolerance.
    (``time.time()`` is not: psutil's boot time is truncated to whole seconds.)
    """
    if started_before is not None:
        return started_before
    # The child cannot have been reaped yet (only our watcher reaps it), so this succeeds
    # even if it already exited.
    return psutil.Process(pid).create_time()


def _identity(handle: Handle) -> tuple[int, float]:
    try:
        return int(handle["pid"]), float(handle["create_time"])
    except (KeyError, TypeError, ValueError) as exc:
        raise InvalidInput(f"not a local deployer handle: {handle!r}") from exc


def _find(pid: int, create_time: float) -> psutil.Process | None:
    """The live process behind a handle, or None if it ended or its pid now belongs to another."""
    try:
        proc = psutil.Process(pid)
        if abs(proc.create_time() - create_time) > _CREATE_TIME_TOLERANCE:
            return None
        if proc.status() == psutil.STATUS_ZOMBIE:
            return None
    except psutil.NoSuchProcess:
        return None
    except psutil.AccessDenied:
        pass  # it exists and matched as far as we could see: count it as alive
    return proc


def _descendants(proc: psutil.Process | None) -> list[psutil.Process]:
    """All descendants, collected *before* signalling: once a parent dies its children are
    re-parented and can no longer be found through it."""
    if proc is None:
        return []
    try:
        return proc.children(recursive=True)
    except psutil.NoSuchProcess:
        return []


def _alive(proc: psutil.Process) -> bool:
    try:
        return proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False
    except psutil.AccessDenied:
        return True


def _wait_gone(procs: list[psutil.Process], timeout: float) -> list[psutil.Process]:
    """Wait until the processes ended; return the ones still alive at the deadline.

    Not ``psutil.wait_procs``: for a child of this process it reaps with ``waitpid``, which
    would steal the exit status from the ``Popen`` that owns the child.
    """
    deadline = time.monotonic() + max(timeout, 0.0)
    while True:
        procs = [p for p in procs if _alive(p)]
        if not procs or time.monotonic() >= deadline:
            return procs
        time.sleep(0.01)


def _group_members(pgid: int, not_before: float) -> list[psutil.Process]:
    """Processes still in the job's group after its leader ended. Only ones created after the
    leader count: older ones cannot be the job's, whatever their group id says."""
    members = []
    for proc in psutil.process_iter():
        try:
            if (
                os.getpgid(proc.pid) == pgid
                and proc.create_time() >= not_before - _CREATE_TIME_TOLERANCE
            ):
                members.append(proc)
        except (psutil.Error, ProcessLookupError, PermissionError):
            continue
    return members


def _stop_foreign(pid: int, create_time: float, grace: float) -> None:
    leader = _find(pid, create_time)
    procs = [leader, *_descendants(leader)] if leader is not None else []
    procs += [p for p in _group_members(pid, create_time) if p not in procs]
    if not procs:
        return
    _signal_all(procs, signal.SIGTERM)
    alive = _wait_gone(procs, grace)
    _signal_all(alive, signal.SIGKILL)
    alive = _wait_gone(alive, 5.0)
    if alive:
        raise DeploymentError(f"processes {[p.pid for p in alive]} survived SIGKILL")


def _signal_all(procs: list[psutil.Process], sig: signal.Signals) -> None:
    for proc in procs:
        # psutil re-checks the create time before signalling, so a recycled pid is skipped.
        with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied):
            proc.send_signal(sig)


def _killpg(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)
