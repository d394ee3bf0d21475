"""Run each job attempt as an OS process on this machine (POSIX only).

Each attempt gets its own session and so its own process group, with the group id equal to the
attempt's pid. That is what makes ``stop`` reliable: one signal reaches every process the job
started (a Spark driver's JVM, a data loader's workers), and Ctrl-C in the terminal that runs the
driver does not hit the jobs behind the driver's back; the driver decides how to stop them.

For the processes this instance started, one daemon thread per attempt is the only thing that
ever reaps it. It first waits *without* reaping (``WNOWAIT``): while the zombie exists its pid,
and therefore its process group id, cannot be reused, so killing the group's stragglers at that
point can never hit an unrelated process. The same thread then wakes the driver
(``wait_for_change``), which keeps job-end -> successor-start latency to a few milliseconds.

Processes started by another driver (after a driver restart, or from ``aiflow stop``) are found
from the handle alone: pid plus psutil create time, so a recycled pid is never mistaken for the
job.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

import psutil

from aiflow.errors import DeploymentError, InvalidInput, NotFound

from .base import Deployer, Handle, JobLaunch, JobState, describe_exit

# psutil computes create_time from the boot time, which two processes can read up to a second
# apart; a recycled pid within that second is not a realistic risk.
_CREATE_TIME_TOLERANCE = 1.0
_FOLLOW_INTERVAL = 0.05
_READ_SIZE = 64 * 1024


@dataclass
class _Started:
    proc: subprocess.Popen[bytes]
    create_time: float
    reaped: threading.Event  # set by the watcher thread once ``proc.returncode`` is final


class LocalDeployer(Deployer):
    """Jobs as local process groups.

    Handle: ``{"pid", "create_time", "host", "log_path"}``; ``log_path`` lets ``logs`` work from
    the handle alone.
    """

    name = "local"
    supports_follow_logs = True
    supports_wait = True

    def __init__(self) -> None:
        self._host = socket.gethostname()
        self._started: dict[int, _Started] = {}  # pid -> attempt; pids stay reserved until reaped
        self._changed = threading.Event()

    # -- Deployer API -----------------------------------------------------------------------

    def submit(self, launch: JobLaunch) -> Handle:
        if not launch.command:
            raise InvalidInput(f"job '{launch.job_name}': empty command")
        where = f"job '{launch.job_name}' attempt {launch.attempt}"
        try:
            launch.log_path.parent.mkdir(parents=True, exist_ok=True)
            launch.workdir.mkdir(parents=True, exist_ok=True)
            with open(launch.log_path, "ab") as log:
                log.write(_header(launch, self._host).encode())
                log.flush()
                proc = subprocess.Popen(
                    launch.command,
                    cwd=launch.workdir,
                    env={**os.environ, **launch.env},
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
        except OSError as exc:
            raise DeploymentError(f"{where}: cannot start {launch.command[0]!r}: {exc}") from exc
        # The child cannot have been reaped yet (only our watcher reaps it), so this succeeds
        # even if it already exited.
        create_time = psutil.Process(proc.pid).create_time()
        started = _Started(proc, create_time, threading.Event())
        self._started[proc.pid] = started
        threading.Thread(
            target=self._watch, args=(started,), name=f"aiflow-job-{proc.pid}", daemon=True
        ).start()
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
            if not started.reaped.is_set():
                return JobState(running=True)
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
        if started.reaped.is_set():
            return  # the watcher already killed what was left in the group before reaping
        descendants = _descendants(_find(pid, create_time))
        _killpg(pid, signal.SIGTERM)  # safe: unreaped, so the group id is still this job's
        _signal_all(descendants, signal.SIGTERM)  # also the ones that left the group
        deadline = time.monotonic() + max(grace, 0.0)
        started.reaped.wait(max(grace, 0.0))
        alive = _wait_gone(descendants, deadline - time.monotonic())
        if not started.reaped.is_set():
            _killpg(pid, signal.SIGKILL)
        _signal_all(alive, signal.SIGKILL)
        _wait_gone(alive, 1.0)
        if not started.reaped.wait(5.0):
            raise DeploymentError(f"process {pid} did not end 5 s after SIGKILL")

    def logs(
        self, handle_or_log_uri: Handle | str, *, follow: bool = False, tail: int | None = None
    ) -> Iterator[str]:
        handle: Handle | None = None
        if isinstance(handle_or_log_uri, dict):
            handle = handle_or_log_uri
            _identity(handle)
            if "log_path" not in handle:
                raise InvalidInput(f"handle has no log_path: {handle!r}")
            path = Path(str(handle["log_path"]))
        else:
            path = _path_from_uri(handle_or_log_uri)
        if not follow and not path.exists():
            raise NotFound(f"log file {path} does not exist; has the job started yet?")
        return self._read(path, handle, follow=follow, tail=tail)

    def wait_for_change(self, timeout: float) -> None:
        # Clear before the caller polls: an exit that lands after the clear sets the event
        # again, so it is seen by this poll or wakes the next wait; none is lost.
        if self._changed.wait(max(timeout, 0.0)):
            self._changed.clear()

    # -- internals --------------------------------------------------------------------------

    def _watch(self, started: _Started) -> None:
        pid = started.proc.pid
        with contextlib.suppress(ChildProcessError):
            os.waitid(os.P_PID, pid, os.WEXITED | os.WNOWAIT)
        # The zombie still holds pid == group id: kill the job's stragglers, then reap.
        _killpg(pid, signal.SIGKILL)
        started.proc.wait()
        started.reaped.set()
        self._changed.set()

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

    def _read(
        self, path: Path, handle: Handle | None, *, follow: bool, tail: int | None
    ) -> Iterator[str]:
        while not path.exists():  # follow only: the job may not have written anything yet
            if handle is not None and not self.poll(handle).running:
                return
            time.sleep(_FOLLOW_INTERVAL)
        with open(path, "rb") as f:
            if tail is not None:
                _seek_last_lines(f, tail)
            pending = b""
            while True:
                chunk = f.read(_READ_SIZE)
                if chunk:
                    *lines, pending = (pending + chunk).split(b"\n")
                    for line in lines:
                        yield _decode(line)
                    continue
                if not follow:
                    break
                if handle is not None and not self.poll(handle).running:
                    # Anything written before the end is on disk now; one more pass drains it.
                    rest = f.read()
                    *lines, pending = (pending + rest).split(b"\n")
                    for line in lines:
                        yield _decode(line)
                    break
                time.sleep(_FOLLOW_INTERVAL)
            if pending:
                yield _decode(pending)


def _header(launch: JobLaunch, host: str) -> str:
    when = datetime.now(UTC).isoformat(timespec="milliseconds")
    # One line whatever the command holds, so headers split the log cleanly by attempt.
    command = shlex.join(launch.command).replace("\n", "\\n")
    return (
        f"===== aiflow: job '{launch.job_name}' (id {launch.job_id}, execution "
        f"{launch.execution_id}) attempt {launch.attempt} on {host} at {when}: {command}\n"
    )


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


def _path_from_uri(log_uri: str) -> Path:
    return Path(log_uri.removeprefix("file://"))


def _decode(line: bytes) -> str:
    return line.removesuffix(b"\r").decode("utf-8", errors="replace")


def _seek_last_lines(f: IO[bytes], lines: int) -> None:
    """Position ``f`` at the start of its last ``lines`` lines, reading backwards in blocks so a
    large log is not read whole to show its end."""
    end = f.seek(0, os.SEEK_END)
    if lines <= 0 or end == 0:
        return
    f.seek(end - 1)
    pos = end - 1 if f.read(1) == b"\n" else end  # a final newline ends a line, starts none
    found = 0
    while pos > 0:
        size = min(_READ_SIZE, pos)
        pos -= size
        f.seek(pos)
        block = f.read(size)
        idx = len(block)
        while (idx := block.rfind(b"\n", 0, idx)) >= 0:
            found += 1
            if found == lines:
                f.seek(pos + idx + 1)
                return
    f.seek(0)
