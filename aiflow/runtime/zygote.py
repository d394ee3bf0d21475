"""A shared fork server: one warm process per user, interpreter and environment, serving every
local driver on the machine, so a driver's first job starts warm too.

    python -P -m aiflow.runtime.zygote --socket PATH [--idle SECONDS] [--preload MODULE ...]

A driver's own fork server (``aiflow.runtime.forkserver``) imports for over a second before
its first job can be forked, and every new driver (``aiflow run``, a detached run, a scheduler
restart) paid that again: the first job of each run started cold. This process imports once
and then, for each driver that connects to its socket, **forks a fork server** that is warm at
once: the connection gets exactly the protocol, the guarantees and the lifetime of a driver's
own fork server (it ends when its driver's socket closes; its jobs carry on). The zygote itself
runs no job and holds no store, no connection, no thread.

* Who may connect: the socket is in a directory only this user reads (``~/.cache/aiflow/run``,
  mode 0700) and a peer of another uid is refused (``SO_PEERCRED``).
* One per key: the key (in the socket's name) hashes the interpreter, the preload list and the
  environment imports may read, as a driver's own server is chosen; a lock file held for the
  zygote's life keeps a second one from starting.
* Never stale: a driver must not get jobs forked from code older than its own. Before each
  fork server it forks, the zygote checks that no module file it imported has changed (an
  upgrade, an edit to an editable install); if one has, it refuses the connection and exits,
  and the driver starts a new one.
* It exits after ``--idle`` seconds with no fork server of its own alive.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import gc
import os
import select
import signal
import socket
import struct
import sys
import time
from pathlib import Path

import setproctitle

from aiflow.runtime import forkserver
from aiflow.runtime.forked_job import run
from aiflow.runtime.preload import PRELOAD, preload


def module_files() -> dict[str, tuple[int, int]]:
    """(mtime_ns, size) of every file a loaded module came from."""
    found: dict[str, tuple[int, int]] = {}
    for module in list(sys.modules.values()):
        path = getattr(module, "__file__", None)
        if not path or path in found:
            continue
        with contextlib.suppress(OSError):
            st = os.stat(path)
            found[path] = (st.st_mtime_ns, st.st_size)
    return found


def _changed(files: dict[str, tuple[int, int]]) -> str | None:
    for path, seen in files.items():
        try:
            st = os.stat(path)
        except OSError:
            return path
        if (st.st_mtime_ns, st.st_size) != seen:
            return path
    return None


def _peer_uid(conn: socket.socket) -> int:
    creds = conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    _pid, uid, _gid = struct.unpack("3i", creds)
    return int(uid)


class Zygote:
    def __init__(self, path: Path, idle: float, preloaded: list[str], lock_fd: int) -> None:
        self.path = path
        self.idle = idle
        self.preloaded = preloaded
        self.lock_fd = lock_fd
        self.children: set[int] = set()
        self.files = module_files()
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        path.unlink(missing_ok=True)  # a crashed zygote's: the lock says none is alive
        old = os.umask(0o177)
        try:
            self.listener.bind(str(path))
        finally:
            os.umask(old)
        self.listener.listen(64)
        self.inode = path.stat().st_ino

    def serve(self) -> forkserver.JobRequest | None:
        """Accept drivers until idle; in a forked fork server, the job its child must run
        (or None when that fork server's driver left)."""
        last = time.monotonic()
        while True:
            self._reap()
            if self.children:
                last = time.monotonic()
            elif time.monotonic() - last > self.idle:
                return None
            ready, _, _ = select.select([self.listener], [], [], 1.0)
            if not ready:
                continue
            try:
                conn, _ = self.listener.accept()
            except OSError:  # the driver gave up meanwhile
                continue
            stale = _changed(self.files)
            if stale:
                print(f"aiflow zygote: {stale} changed since it was imported: exiting", flush=True)
                self.close()
                os.close(self.lock_fd)  # first: the refused driver starts a new one at once
                conn.close()
                return None
            if _peer_uid(conn) != os.getuid():
                conn.close()
                continue
            try:
                pid = os.fork()
            except OSError as exc:  # out of memory or processes: this driver starts cold
                print(f"aiflow zygote: cannot fork a fork server: {exc}", flush=True)
                conn.close()
                continue
            if pid == 0:
                return self._become_fork_server(conn)
            conn.close()
            self.children.add(pid)
            last = time.monotonic()

    def close(self) -> None:
        """Remove the socket if it is still ours (a successor may have bound the path)."""
        with contextlib.suppress(OSError):
            if self.path.stat().st_ino == self.inode:
                self.path.unlink()
        self.listener.close()

    def _reap(self) -> None:
        for pid in list(self.children):
            with contextlib.suppress(ChildProcessError):
                done, _ = os.waitpid(pid, os.WNOHANG)
                if not done:
                    continue
            self.children.discard(pid)

    def _become_fork_server(self, conn: socket.socket) -> forkserver.JobRequest | None:
        """In the forked child: a driver's own fork server, already warm."""
        self.listener.close()
        os.close(self.lock_fd)  # the lock is the zygote's alone, not its fork servers' or jobs'
        signal.signal(signal.SIGTERM, signal.SIG_DFL)  # a fork server's, as a private one's
        os.setsid()  # not in the zygote's group: a signal for one does not reach the other
        setproctitle.setproctitle(f"aiflow forkserver (shared, {self.path.name})")
        try:
            forkserver.send(conn, {"ready": True, "preloaded": self.preloaded, "pid": os.getpid()})
        except OSError:
            os._exit(0)
        return forkserver.Server(conn).serve()


def _exit_on_term(signum: int, frame: object) -> None:
    raise SystemExit(0)


def lock(path: Path) -> int | None:
    """The zygote's lock for ``path``, held until the process ends; None if another holds it."""
    fd = os.open(f"{path}.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    for attempt in range(5):  # a driver looking for a zygote holds it shared for a moment
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            break
        except BlockingIOError:
            if attempt == 4:
                os.close(fd)
                return None
            time.sleep(0.02)
    os.ftruncate(fd, 0)
    os.write(fd, str(os.getpid()).encode())  # who holds it: ``warm.zygote_pid``
    return fd


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m aiflow.runtime.zygote")
    parser.add_argument("--socket", required=True, type=Path)
    parser.add_argument("--idle", type=float, default=600.0)
    parser.add_argument("--preload", nargs="*", default=[])
    args = parser.parse_args(argv)
    if os.fork() > 0:  # not the starting driver's child: its process tree is its jobs'
        os._exit(0)
    held = lock(args.socket)
    if held is None:
        return 0  # another driver started it first
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, _exit_on_term)  # through the cleanup: no socket left behind
    setproctitle.setproctitle(f"aiflow zygote {args.socket.name}")
    preloaded = preload([*PRELOAD, *args.preload])
    gc.collect()
    gc.freeze()
    zygote = Zygote(args.socket, args.idle, preloaded, held)
    me = os.getpid()
    try:
        job = zygote.serve()
    finally:
        if os.getpid() == me:
            zygote.close()
    if os.getpid() == me or job is None:
        os._exit(0)  # a fork server whose driver left: nothing of the zygote's to clean up
    run(job)


if __name__ == "__main__":
    sys.exit(main())
