"""Finding, signalling and waiting for local processes from a handle: pid + psutil create time.

A handle alone must be enough (a restarted driver, ``aiflow stop`` in another process), and a
recycled pid must never be mistaken for the job: every lookup compares the create time.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time

import psutil

from aiflow.deployers.base import Handle
from aiflow.errors import DeploymentError, InvalidInput

# psutil computes create_time from the boot time, which two processes can read up to a second
# apart; a recycled pid within that second is not a realistic risk.
CREATE_TIME_TOLERANCE = 1.0


def identity(handle: Handle) -> tuple[int, float]:
    try:
        return int(handle["pid"]), float(handle["create_time"])
    except (KeyError, TypeError, ValueError) as exc:
        raise InvalidInput(f"not a local deployer handle: {handle!r}") from exc


def pidfd_open(pid: int) -> int | None:
    try:
        return os.pidfd_open(pid)
    except (AttributeError, OSError):  # not Linux, a kernel before 5.3, or a seccomp filter
        return None


def find(pid: int, create_time: float) -> psutil.Process | None:
    """The live process behind a handle, or None if it ended or its pid now belongs to another."""
    try:
        proc = psutil.Process(pid)
        if abs(proc.create_time() - create_time) > CREATE_TIME_TOLERANCE:
            return None
        if proc.status() == psutil.STATUS_ZOMBIE:
            return None
    except psutil.NoSuchProcess:
        return None
    except psutil.AccessDenied:
        pass  # it exists and matched as far as we could see: count it as alive
    return proc


def descendants(proc: psutil.Process | None) -> list[psutil.Process]:
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


def wait_gone(procs: list[psutil.Process], timeout: float) -> list[psutil.Process]:
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
                and proc.create_time() >= not_before - CREATE_TIME_TOLERANCE
            ):
                members.append(proc)
        except (psutil.Error, ProcessLookupError, PermissionError):
            continue
    return members


def stop_foreign(pid: int, create_time: float, grace: float) -> None:
    """End a job this process did not start (or can no longer reap): its leader, descendants
    and group members, each checked by create time before it is signalled."""
    leader = find(pid, create_time)
    procs = [leader, *descendants(leader)] if leader is not None else []
    procs += [p for p in _group_members(pid, create_time) if p not in procs]
    if not procs:
        return
    signal_all(procs, signal.SIGTERM)
    alive = wait_gone(procs, grace)
    signal_all(alive, signal.SIGKILL)
    alive = wait_gone(alive, 5.0)
    if alive:
        raise DeploymentError(f"processes {[p.pid for p in alive]} survived SIGKILL")


def signal_all(procs: list[psutil.Process], sig: signal.Signals) -> None:
    for proc in procs:
        # psutil re-checks the create time before signalling, so a recycled pid is skipped.
        with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied):
            proc.send_signal(sig)


def killpg(pgid: int, sig: signal.Signals) -> None:
    """Signal a group; only safe while its leader is unreaped (the caller knows)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)
