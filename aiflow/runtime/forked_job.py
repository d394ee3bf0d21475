"""A forked child becoming a job, and ending as an interpreter would: the half of warm job
workers that runs in the job's process (``forkserver`` and ``zygote`` fork it).

The child is the same program a cold start would run (``runpy`` of the same ``-m`` module,
``-c`` code or script, with the same arguments, environment and working directory), in its
own session and process group, stdout and stderr on its log file, stdin on ``/dev/null``, like
``Popen(start_new_session=True)``.
"""

from __future__ import annotations

import _io
import atexit
import contextlib
import gc
import io
import os
import runpy
import signal
import sys
import threading
import traceback
import types
from dataclasses import dataclass
from typing import NoReturn

import setproctitle


@dataclass
class JobRequest:
    """What a forked child runs: ``python -P -m module *args`` as it would have run cold."""

    argv: list[str]  # ["-m", module, *args]
    env: dict[str, str]
    cwd: str
    log_fd: int


def enter(job: JobRequest, ready_w: int) -> None:
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
    if os.environ.get("PYTHONUNBUFFERED"):  # as the interpreter applies it at start-up
        _unbuffered_standard_streams()
    _forget_process_state()


def _unbuffered_standard_streams() -> None:
    """What ``PYTHONUNBUFFERED`` makes of stdout and stderr at start-up (the server's were
    made without it): no buffer in the binary layer, text written through to it."""
    for name in ("stdout", "stderr"):
        stream = getattr(sys, name)
        stream.flush()
        raw = io.FileIO(stream.fileno(), "w", closefd=False)
        unbuffered = io.TextIOWrapper(
            raw, encoding=stream.encoding, errors=stream.errors, write_through=True
        )
        setattr(sys, name, unbuffered)
        setattr(sys, f"__{name}__", unbuffered)


def _forget_process_state() -> None:
    """What the preload may have computed from the server's environment, and what a fork
    copies that must differ per process (``random`` reseeds itself at fork)."""
    from aiflow.config import reset_settings

    reset_settings()
    numpy = sys.modules.get("numpy")
    if numpy is not None:
        numpy.random.seed()  # the legacy global generator would repeat across jobs otherwise


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
