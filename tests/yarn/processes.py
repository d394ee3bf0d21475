"""Process-tree helpers for the Hadoop test cluster: kill a daemon with everything it started.

A NodeManager's YARN containers run under ``setsid``: they leave its process group, so killing
the group misses them, but they stay its descendants until it dies (then they are orphans whose
parent is init). Hence: freeze the tree first (SIGSTOP, so nothing new is forked while it is
listed), list every descendant, then SIGKILL them all. A zombie counts as gone: it has ended,
only its parent's ``wait`` is missing (and this machine's init may never reap orphans).
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from pathlib import Path

import psutil

_GONE_TIMEOUT = 15.0


def kill_tree(pid: int) -> list[int]:
    """SIGKILL ``pid`` and all its descendants, wait until they are gone; returns their pids
    (``pid`` first). A process that is already gone is skipped."""
    try:
        root = psutil.Process(pid)
    except psutil.NoSuchProcess:
        return []
    frozen: dict[int, psutil.Process] = {}
    pending = [root]
    while pending:  # freeze, then list the frozen process's children, until none is new
        for process in pending:
            _signal(process, signal.SIGSTOP)
            frozen[process.pid] = process
        pending = []
        for process in list(frozen.values()):
            try:
                children = process.children(recursive=True)
            except psutil.NoSuchProcess:
                continue
            pending += [child for child in children if child.pid not in frozen]
    for process in frozen.values():
        _signal(process, signal.SIGKILL)
    wait_gone(list(frozen))
    return list(frozen)


def processes_under(directory: Path) -> list[psutil.Process]:
    """Live processes whose working directory is ``directory`` or below it: a cluster's daemons
    (started there) and its YARN containers (which run in their NodeManager's local dirs)."""
    prefix = str(directory.resolve())
    found = []
    for process in psutil.process_iter():
        if process.pid == os.getpid():
            continue
        try:
            cwd = process.cwd()
            if process.status() == psutil.STATUS_ZOMBIE:
                continue
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
        if cwd == prefix or cwd.startswith(prefix + os.sep):
            found.append(process)
    return found


def kill_under(directory: Path) -> list[int]:
    """SIGKILL every process tree running under ``directory`` (see ``processes_under``)."""
    killed: list[int] = []
    for process in processes_under(directory):
        if process.pid not in killed:
            killed += kill_tree(process.pid)
    return killed


def alive(pid: int) -> bool:
    """The process exists and is not a zombie."""
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def wait_gone(pids: list[int], timeout: float = _GONE_TIMEOUT) -> None:
    """Wait until none of ``pids`` is alive; raises ``TimeoutError`` naming the survivors."""
    deadline = time.monotonic() + timeout
    while survivors := [pid for pid in pids if alive(pid)]:
        if time.monotonic() > deadline:
            raise TimeoutError(f"processes {survivors} still alive {timeout} s after SIGKILL")
        time.sleep(0.05)


def _signal(process: psutil.Process, signum: int) -> None:
    with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied):
        process.send_signal(signum)
