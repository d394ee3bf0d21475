"""Warm job workers: a process that has already imported what jobs need, and forks them.

    python -P -m aiflow.runtime.forkserver --fd N [--preload MODULE ...]

A cold job process (``python -P -m aiflow.runtime``) spends over a second importing pandas,
pyarrow, SQLAlchemy, pydantic and aiflow before the user's code runs; in a chain of jobs that
is most of the wall time. The local deployer instead asks this server, once it is warm, to
``fork`` the job. The child is the same program a cold start would run
(``runpy`` of the same ``-m`` module with the same arguments, environment, working directory,
interpreter and flags) minus the import time:

* a fresh fork per job, never a reused process, so a job that leaks state (module globals,
  environment, threads, open files) cannot affect the next;
* its own session and process group (``setsid``), its stdout and stderr on its log file, stdin
  on ``/dev/null``, like ``Popen(start_new_session=True)``;
* the server reaps it the way the deployer reaps its own children: it waits *without* reaping
  (``WNOWAIT``), kills what is left in the job's process group while the zombie still holds the
  group id, then reaps and reports the exit code. Signals for a job's group go through the
  server for the same reason: only the parent knows, race free, that the group id still
  belongs to the job.

Protocol: one ``AF_UNIX`` ``SOCK_SEQPACKET`` socket inherited from the deployer, one JSON
object per message; a spawn request carries the log file's descriptor (``SCM_RIGHTS``).

* deployer -> server: ``{"op": "spawn", "id", "argv", "env", "cwd"}`` + fd,
  ``{"op": "signal", "id", "pid", "signal"}``;
* server -> deployer: ``{"ready": true, "preloaded": [...]}`` once, then replies
  ``{"id", "pid", "create_time"}`` / ``{"id", "error"}`` / ``{"id", "delivered": bool}`` and,
  whenever a job ends, ``{"exit": pid, "code": n}`` (``subprocess``'s convention: -N = signal N).

The server ends when the deployer's end of the socket closes (the driver exited or was
killed); its running jobs carry on, as jobs of a dead driver always do, and the next driver
finds them from their handles.

Only modules are imported and code data computed (``preload.py``); no settings are kept, no
thread is started, and the only objects built are the engines of the meta stores its jobs
open, with no connection in their pools (``_warm_store``), so the fork copies no state a job
could notice besides ``sys.modules``.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import os
import select
import signal
import socket
import sys
import time
from dataclasses import dataclass
from typing import Any

from aiflow.runtime.forked_job import JobRequest, enter, run
from aiflow.runtime.preload import PRELOAD, preload, rehearse_jobs_statements

MAX_MESSAGE = 1 << 20  # bytes; a larger spawn request is refused by the client, not sent
_PR_SET_PDEATHSIG = 1  # prctl(2)
_WARM_STORES = 4  # meta store engines kept ready for the children (one per store in use)


def boot_clock() -> float | None:
    """Now on the clock psutil derives Linux create times from (boot time + CLOCK_BOOTTIME),
    or None where that is not how psutil computes them.

    A process's create time is boot time + its fork's CLOCK_BOOTTIME truncated to a clock tick,
    so this clock read just before a fork is within a tick of the child's create time, and
    costs no read of ``/proc/<pid>/stat`` (which blocks while a child is exec'ing)."""
    if sys.platform != "linux":
        return None
    import psutil

    return psutil.boot_time() + time.clock_gettime(time.CLOCK_BOOTTIME)


def send(sock: socket.socket, message: dict[str, Any], fds: list[int] | None = None) -> None:
    data = json.dumps(message).encode()
    if fds:
        socket.send_fds(sock, [data], fds)
    else:
        sock.send(data)


def receive(sock: socket.socket) -> tuple[dict[str, Any] | None, list[int]]:
    """One message and the descriptors it carried; ``(None, [])`` when the peer is gone."""
    data, fds, _flags, _addr = socket.recv_fds(sock, MAX_MESSAGE, 4)
    if not data:
        for fd in fds:
            os.close(fd)
        return None, []
    return json.loads(data), fds


@dataclass
class _Spare:
    """A child forked ahead of its job, waiting for it on ``sock`` (the server's end)."""

    pid: int
    created: float | None
    sock: socket.socket


class Server:
    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.children: dict[int, int] = {}  # pid -> pidfd
        self.warmed: list[str] = []  # meta store URIs whose engine is ready, oldest first
        self.spare: _Spare | None = None
        self.pid = os.getpid()  # the server's own: a forked child is not it
        self.poller = select.poll()
        self.poller.register(sock, select.POLLIN)

    def serve(self) -> JobRequest | None:
        """Answer requests until the deployer leaves (returns None) or, in a forked child,
        return the job that child must run. Nothing here may clean up on unwinding: the child
        returns through this frame."""
        job = self._fork_spare()
        if job is not None:
            return job
        try:
            return self._serve()
        finally:
            if os.getpid() == self.pid and self.spare is not None:
                self.spare.sock.close()  # it exits on EOF (or with the server: PDEATHSIG)

    def _serve(self) -> JobRequest | None:
        while True:
            for fd, _events in self.poller.poll():
                try:
                    if fd == self.sock.fileno():
                        message, fds = receive(self.sock)
                        if message is None:
                            return None
                        job = self._handle(message, fds)
                        if job is not None:
                            return job
                    elif fd in self.children.values():
                        self._reap(next(p for p, f in self.children.items() if f == fd))
                except (BrokenPipeError, ConnectionResetError):
                    return None  # the deployer left while a reply or a report was sent

    def _handle(self, message: dict[str, Any], fds: list[int]) -> JobRequest | None:
        op, rid = message.get("op"), message.get("id")
        if op == "spawn" and len(fds) == 1:
            request = JobRequest(message["argv"], message["env"], message["cwd"], fds[0])
            job = self._spawn(rid, request)
            if job is not None:
                return job
            if message.get("store"):
                self._warm_store(str(message["store"]))  # for the next job, while this runs
            return self._fork_spare()  # after the store: the spare inherits its engine
        for fd in fds:
            os.close(fd)
        if op == "signal":
            pid = int(message["pid"])
            delivered = pid in self.children  # not reaped: the group id is still the job's
            if delivered:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(pid, int(message["signal"]))
            send(self.sock, {"id": rid, "delivered": delivered})
        else:
            send(self.sock, {"id": rid, "error": f"unknown request {op!r}"})
        return None

    def _spawn(self, rid: Any, job: JobRequest) -> JobRequest | None:
        ready_r, ready_w = os.pipe()
        spare, self.spare = self.spare, None
        if spare is not None and self._hand_over(spare, job, ready_w):
            pid, created = spare.pid, spare.created
        else:  # no spare (it died, or a job was faster than its fork): fork now
            created = boot_clock()
            pid = os.fork()
            if pid == 0:
                os.close(ready_r)
                self._leave()
                enter(job, ready_w)
                return job
        os.close(ready_w)
        os.close(job.log_fd)
        with os.fdopen(ready_r, "rb") as ready:
            failure = ready.read()  # EOF once the child set itself up; else why it could not
        if failure:
            os.waitpid(pid, 0)
            send(self.sock, {"id": rid, "error": failure.decode(errors="replace")})
            return None
        pidfd = os.pidfd_open(pid)
        self.children[pid] = pidfd
        self.poller.register(pidfd, select.POLLIN)
        send(self.sock, {"id": rid, "pid": pid, "create_time": created})
        return None

    def _fork_spare(self) -> JobRequest | None:
        """Fork the next job's process ahead of its request, so the fork (copying the page
        tables of a few hundred MB) is off the path from one job's end to the next one's
        start. The spare waits for its job on a socket; in it, this returns that job."""
        if self.spare is not None:
            return None
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        created = boot_clock()
        pid = os.fork()
        if pid == 0:
            ours.close()
            self._leave()
            _die_with(self.pid)
            self._preconnect()
            message, fds = receive(theirs)
            theirs.close()
            if message is None or len(fds) != 2:
                os._exit(0)  # the server ended (or let it go) before a job came
            _die_with(None)  # from here on a job: it outlives its server, as a forked one does
            job = JobRequest(message["argv"], message["env"], message["cwd"], fds[0])
            enter(job, fds[1])
            return job
        theirs.close()
        self.spare = _Spare(pid, created, ours)
        return None

    def _preconnect(self) -> None:
        """In a spare: open the connection its job most likely needs, to the SQLite store of
        the last jobs, into the engine's pool (~5 ms of a job's start: the file, the
        PRAGMAs). A connection of the spare's own, made after the fork. A job of another
        store, or with other store settings, leaves it unused or drops it with the engine.
        Not for a database server: a spare may wait long, and would hold a session there."""
        if not self.warmed:
            return
        from aiflow.store import db

        uri = self.warmed[-1]
        with contextlib.suppress(Exception):
            if db.is_sqlite(uri):
                with db.get_engine(uri).connect():
                    pass

    def _hand_over(self, spare: _Spare, job: JobRequest, ready_w: int) -> bool:
        """Give ``job`` to the spare; False if the spare is gone (it is reaped then)."""
        request = {"argv": job.argv, "env": job.env, "cwd": job.cwd}
        try:
            send(spare.sock, request, [job.log_fd, ready_w])
            return True
        except OSError:
            with contextlib.suppress(ProcessLookupError):
                os.kill(spare.pid, signal.SIGKILL)
            os.waitpid(spare.pid, 0)
            return False
        finally:
            spare.sock.close()

    def _warm_store(self, uri: str) -> None:
        """Create the engine of the meta store the deployer's jobs open, initialize its
        dialect and compile a job's statements into its cache on one connection, closed again
        before any fork: children keep the engine (``aiflow.store.db`` gives it an empty pool
        in each) and skip ~10-20 ms of their start and end.
        A few stores are kept; a failure only means the jobs open theirs themselves."""
        if uri in self.warmed:
            self.warmed.remove(uri)
            self.warmed.append(uri)
            return
        from aiflow.store import db
        from aiflow.store.sql_store import MetaStore

        try:
            rehearse_jobs_statements(MetaStore(uri))
        except Exception:  # the job reports a store it cannot open, with its own words
            db.dispose_engine(uri)
            return
        db.get_engine(uri).dispose()  # the server keeps no connection
        self.warmed.append(uri)
        while len(self.warmed) > _WARM_STORES:
            db.dispose_engine(self.warmed.pop(0))
        gc.freeze()  # the new objects too stay out of the children's collections

    def _reap(self, pid: int) -> None:
        # The zombie still holds pid == group id: end the stragglers, then reap.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signal.SIGKILL)
        _, status = os.waitpid(pid, 0)
        pidfd = self.children.pop(pid)
        self.poller.unregister(pidfd)
        os.close(pidfd)
        send(self.sock, {"exit": pid, "code": os.waitstatus_to_exitcode(status)})

    def _leave(self) -> None:
        """In a forked child: let go of everything that is the server's."""
        for pidfd in self.children.values():
            os.close(pidfd)
        self.children.clear()
        if self.spare is not None:
            self.spare.sock.close()
            self.spare = None
        os.close(self.sock.detach())


def _die_with(parent: int | None) -> None:
    """SIGKILL this process when ``parent`` (the server) ends; None: no longer."""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL if parent else 0)
    if parent and os.getppid() != parent:  # it ended before the prctl
        os._exit(0)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m aiflow.runtime.forkserver")
    parser.add_argument("--fd", type=int, required=True, help="the socket to the deployer")
    parser.add_argument("--preload", nargs="*", default=[], help="more modules to import")
    args = parser.parse_args(argv)
    sock = socket.socket(fileno=args.fd)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the deployer's socket decides the end
    preloaded = preload([*PRELOAD, *args.preload])
    gc.collect()
    gc.freeze()  # the children's collections leave the server's pages shared
    try:
        send(sock, {"ready": True, "preloaded": preloaded})
    except OSError:  # the deployer left while this was importing
        return 0
    job = Server(sock).serve()
    if job is None:
        return 0
    run(job)


if __name__ == "__main__":
    sys.exit(main())
