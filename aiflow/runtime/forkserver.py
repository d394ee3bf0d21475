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

Only modules are imported here, nothing is configured: no settings are read, no store or
engine object is built, no thread is started, so the fork copies no state a job could notice
besides ``sys.modules``.
"""

from __future__ import annotations

import _io
import argparse
import atexit
import contextlib
import gc
import importlib
import io
import json
import os
import runpy
import select
import signal
import socket
import sys
import threading
import time
import traceback
import types
from dataclasses import dataclass
from typing import Any, NoReturn

import setproctitle

# What every job imports before the user's code: the runtime, the meta store, the local
# engine (the one every workflow can fall back to) and the code data they cache.
PRELOAD = (
    "aiflow.runtime.job",
    "aiflow.store.sql_store",
    "aiflow.translators.local.engine",
    "sqlalchemy.dialects.sqlite.pysqlite",
)
MAX_MESSAGE = 1 << 20  # bytes; a larger spawn request is refused by the client, not sent
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
class JobRequest:
    """What a forked child runs: ``python -P -m module *args`` as it would have run cold."""

    argv: list[str]  # ["-m", module, *args]
    env: dict[str, str]
    cwd: str
    log_fd: int


class Server:
    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.children: dict[int, int] = {}  # pid -> pidfd
        self.warmed: list[str] = []  # meta store URIs whose engine is ready, oldest first
        self.poller = select.poll()
        self.poller.register(sock, select.POLLIN)

    def serve(self) -> JobRequest | None:
        """Answer requests until the deployer leaves (returns None) or, in a forked child,
        return the job that child must run. Nothing here may clean up on unwinding: the child
        returns through this frame."""
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
            if job is None and message.get("store"):
                self._warm_store(str(message["store"]))  # for the next job, while this runs
            return job
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
        created = boot_clock()
        pid = os.fork()
        if pid == 0:
            os.close(ready_r)
            self._leave()
            _enter(job, ready_w)
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

    def _warm_store(self, uri: str) -> None:
        """Create the engine of the meta store the deployer's jobs open, and initialize its
        dialect on one connection, closed again before any fork: children keep the engine
        (``aiflow.store.db`` gives it an empty pool in each) and skip ~10 ms of their start.
        A few stores are kept; a failure only means the jobs open theirs themselves."""
        if uri in self.warmed:
            self.warmed.remove(uri)
            self.warmed.append(uri)
            return
        from aiflow.store import db

        try:
            with db.get_engine(uri).connect():
                pass
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
        os.close(self.sock.detach())


def _enter(job: JobRequest, ready_w: int) -> None:
    """In a forked child: become the job's process, as ``Popen(start_new_session=True)``
    would have made it; report a failure through ``ready_w`` and exit 127, as exec would."""
    try:
        os.setsid()
        os.chdir(job.cwd)
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)
        os.close(devnull)
        os.dup2(job.log_fd, 1)
        os.dup2(job.log_fd, 2)
        os.close(job.log_fd)
    except OSError as exc:
        os.write(ready_w, f"cannot start in {job.cwd!r}: {exc}".encode())
        os._exit(127)
    os.close(ready_w)
    for sig in (signal.SIGTERM, signal.SIGCHLD, signal.SIGHUP):
        signal.signal(sig, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.pthread_sigmask(signal.SIG_SETMASK, set())
    # What ps, pgrep and psutil show is the job's command, not the fork server's: operators
    # (and tools) find a job by its command line (``aiflow.runtime --job-id N``). One string,
    # as setproctitle writes it: psutil returns it as the first element of ``cmdline()``.
    # Before the environment changes: the first title moves the environment block.
    setproctitle.setproctitle(" ".join([sys.executable, "-P", *job.argv]))
    os.environ.clear()
    os.environ.update(job.env)
    _forget_process_state()


def _forget_process_state() -> None:
    """What the preload may have computed from the server's environment, and what a fork
    copies that must differ per process (``random`` reseeds itself at fork)."""
    from aiflow.config import reset_settings

    reset_settings()
    numpy = sys.modules.get("numpy")
    if numpy is not None:
        numpy.random.seed()  # the legacy global generator would repeat across jobs otherwise


def preload(modules: list[str]) -> list[str]:
    loaded = []
    for name in modules:
        try:
            importlib.import_module(name)
        except Exception as exc:  # an optional engine not installed: its jobs import it cold
            print(f"aiflow forkserver: not preloaded {name}: {exc}", file=sys.stderr)
            continue
        loaded.append(name)
    # Code data every job computes the same: the settings model, the migrations' head.
    from aiflow.config import settings_class
    from aiflow.store import migrations

    settings_class()
    migrations.head()
    migrations.known()
    _rehearse_store()
    settings_class()()  # pydantic builds its validators on first use; the result is dropped
    return loaded


def _rehearse_store() -> None:
    """Run a job's first meta store reads once, on a throwaway SQLite store: SQLAlchemy
    configures its mappers and memoizes statement parts on first use, ~40 ms that every job
    would pay again. The store is closed and deleted before any fork."""
    import tempfile

    from aiflow.errors import NotFound
    from aiflow.store.sql_store import MetaStore

    with tempfile.TemporaryDirectory(prefix="aiflow-forkserver-") as scratch:
        store = MetaStore(f"sqlite:///{scratch}/rehearsal.db")
        for read in (store.get_job, store.get_execution):
            with contextlib.suppress(NotFound):
                read(0)
        store.dispose()


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


def run(job: JobRequest) -> NoReturn:
    """The job: what ``python -P <argv>`` runs, for ``-m module``, ``-c code`` or a script,
    ended as that interpreter would end it (``_exit``): ``SystemExit``'s code; an uncaught
    exception's traceback, without this module's frames, and 1; an uncaught
    ``KeyboardInterrupt`` ends the process by SIGINT."""
    kind, target, args = job.argv[0], job.argv[1] if len(job.argv) > 1 else "", job.argv[2:]
    code = 0
    try:
        if kind == "-m":
            sys.argv = [target, *args]  # runpy sets argv[0] to the module's file, as -m does
            runpy.run_module(target, run_name="__main__", alter_sys=True)
        elif kind == "-c":
            sys.argv = ["-c", *args]
            main = types.ModuleType("__main__")
            sys.modules["__main__"] = main
            exec(compile(target, "<string>", "exec"), main.__dict__)
        else:
            sys.argv = list(job.argv)
            runpy.run_path(kind, run_name="__main__")
    except SystemExit as exc:
        code = _exit_code(exc)
    except KeyboardInterrupt:
        _print_user_traceback()
        _exit(0, then=signal.SIGINT)
    except BaseException:
        _print_user_traceback()
        code = 1
    _exit(code)


def _exit_code(exc: SystemExit) -> int:
    if exc.code is None:
        return 0
    if isinstance(exc.code, int):
        return exc.code & 0xFF
    print(exc.code, file=sys.stderr)
    return 1


def _exit(code: int, then: signal.Signals | None = None) -> NoReturn:
    """End the job as interpreter shutdown would, minus tearing down the modules it was
    forked with: non-daemon threads are joined, ``atexit`` handlers run (``logging`` flushes
    its handlers there), files the job left open are flushed, then standard streams.

    Tearing down the preloaded modules would decref every object the fork shares with the
    server, copying each of its pages (measured ~100-200 ms per job, most of a job-to-job
    gap); it would run no code of the job's. Files are what a teardown could still write:
    those the job opened are objects created after the fork, the only ones outside the
    frozen generation (``gc.freeze`` in the server), so finding them reads only the job's
    own pages."""
    shutdown = getattr(threading, "_shutdown", None)
    if shutdown is not None:
        shutdown()
    atexit._run_exitfuncs()
    _flush_open_files()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    if then is not None:
        signal.signal(then, signal.SIG_DFL)
        os.kill(os.getpid(), then)
    os._exit(code)


def _flush_open_files() -> None:
    # io.IOBase is an ABC: its isinstance walks the ABC machinery for each object's type
    # (~25 ms over a job's ~10k objects); every io class derives from the C base.
    created = [o for g in range(3) for o in gc.get_objects(g) if isinstance(o, _io._IOBase)]
    # Text layers first: their flush writes into the binary buffers flushed next.
    for stream in sorted(created, key=lambda o: not isinstance(o, io.TextIOBase)):
        with contextlib.suppress(Exception):
            if not stream.closed:
                stream.flush()


def _print_user_traceback() -> None:
    exc = sys.exc_info()[1]
    assert exc is not None
    tb = exc.__traceback__
    while tb is not None and tb.tb_frame.f_code.co_filename in (__file__, runpy.__file__):
        tb = tb.tb_next
    traceback.print_exception(type(exc), exc, tb)


if __name__ == "__main__":
    sys.exit(main())
