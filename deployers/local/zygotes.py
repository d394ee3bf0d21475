"""The driver's end of the shared zygotes (``aiflow.runtime.zygote``): where one listens,
whether one runs, starting and stopping them. ``warm.ForkServer`` connects to them."""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import signal
import sys
from pathlib import Path

from aiflow.config import start_user_daemon, user_run_dir

log = logging.getLogger("aiflow.deployers")


def zygote_socket(startup: dict[str, str], preload: tuple[str, ...]) -> Path:
    """Where the user's zygote for this interpreter, environment and preload list listens."""
    key = json.dumps([sys.executable, sorted(startup.items()), list(preload)])
    return user_run_dir() / f"forkserver-{hashlib.sha256(key.encode()).hexdigest()[:16]}.sock"


def zygote_pid(path: Path) -> int | None:
    """The pid of the zygote holding ``path``'s lock (it runs, or is importing), or None."""
    try:
        lock = os.open(f"{path}.lock", os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        return None
    try:
        fcntl.flock(lock, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        pid = os.pread(lock, 32, 0).decode(errors="replace")
        return int(pid) if pid.isdigit() else None
    else:
        return None  # free: no zygote (a crashed one's lock went with it)
    finally:
        os.close(lock)


def start_zygote(path: Path, env: dict[str, str], preload: tuple[str, ...], idle: float) -> None:
    """Start the zygote for ``path`` in the background, detached from this process, unless
    one holds its lock (a racing second one finds the lock taken and exits)."""
    if zygote_pid(path) is not None:
        return
    command = [sys.executable, "-P", "-m", "aiflow.runtime.zygote", "--socket", str(path)]
    command += ["--idle", str(idle), "--preload", *preload]
    start_user_daemon(command, env, path.with_suffix(".log"))
    log.info("started the shared fork server for the next drivers (%s)", path)


def stop_zygotes() -> int:
    """End this user's zygotes (a test session's teardown, an operator); how many there were.
    Fork servers they forked keep serving their drivers; zygotes start again on demand."""
    stopped = 0
    for lock in user_run_dir().glob("forkserver-*.sock.lock"):
        socket_path = lock.with_suffix("")
        pid = zygote_pid(socket_path)
        if pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)  # it removes its socket on the way out
                stopped += 1
            continue
        # none runs: the files of one that ended (its log only if it says nothing)
        log_path = socket_path.with_suffix(".log")
        if log_path.exists() and not log_path.stat().st_size:
            log_path.unlink(missing_ok=True)
        socket_path.unlink(missing_ok=True)
        lock.unlink(missing_ok=True)
    return stopped
