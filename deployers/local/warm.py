"""The driver's end of warm job workers (``aiflow.runtime.forkserver``): start, ask, listen.

One fork server per driver process and interpreter environment, shared by every
``LocalDeployer`` of the process (a scheduler service runs many executions; a test session
runs hundreds). It is forked, warm at once, by the user's zygote for that environment
(``aiflow.runtime.zygote``, started in the background by the first driver that finds none), so
a new driver's first job starts warm too; in a container, or with
``scheduler.warm_shared_idle = 0``, the driver starts one of its own as its child. Jobs
submitted while either is still importing start cold, so no submit ever waits for long.

Which jobs it runs: a command ``[sys.executable, "-P", -m module | -c code | script, args...]``
whose environment matches the one the server was started with in everything but ``AIFLOW*``
variables (those are read at run time, after the fork; any other one may be read while
importing, e.g. ``OMP_NUM_THREADS`` or ``PYTHONPATH``, so a job with a different value gets a
server started with it; ``PYTEST_CURRENT_TEST`` is ignored too). Anything else starts cold,
as before: warm workers change how fast a job starts, never what it runs.
"""

from __future__ import annotations

import atexit
import contextlib
import errno
import json
import logging
import os
import select
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from aiflow.errors import DeploymentError
from aiflow.runtime.forkserver import MAX_MESSAGE, receive, send

from .zygotes import start_zygote, zygote_socket

log = logging.getLogger("aiflow.deployers")

# Variables a forked job gets set after the fork; no import reads them: aiflow's own (read at
# run time), pytest's per-phase marker (a server per test phase would never be warm) and the
# shell's bookkeeping (a shared server per working directory would seldom be warm).
# PYTHONUNBUFFERED is read at interpreter start only: a forked child applies it itself
# (``forked_job.enter``), so a driver (which sets it for its log) shares its jobs' zygote.
# PyFlink reads the gateway JVM's log settings when it launches it, long after the fork.
_SET_AFTER_FORK = (
    "AIFLOW",
    "PYTEST_CURRENT_TEST",
    "PWD",
    "OLDPWD",
    "SHLVL",
    "PYTHONUNBUFFERED",
    "FLINK_LOG_DIR",
    "LOG4J_PROPERTIES",
)
STORE_ENV = "AIFLOW__METASTORE__URI"  # the meta store a job opens, when it opens one itself
_MAX_IDLE_SERVERS = 2  # servers kept for other environments, while no job of theirs runs
_REPLY_TIMEOUT = 30.0  # s; a spawn is a fork and a chdir, far below this even on a busy host
_ZYGOTE_START = 120.0  # s; a zygote imports for ~1.5 s, far longer on a loaded host
_CONNECT_RETRY = 0.02  # s between attempts to connect to a zygote still importing
_ZYGOTE_RETRY = 5.0  # s between starts of a zygote while none listens
_DETACHED_WAIT = 2.0  # s for a zygote's fork server to answer; else the caller starts it
_MAX_SOCKET_PATH = 108  # bytes of sun_path, its terminating NUL included (Linux)
# Where a shared fork server would outlive the process that starts it in a container (a pod,
# a YARN container), each driver keeps its own.
_CONTAINER_ENV = ("KUBERNETES_SERVICE_HOST", "CONTAINER_ID")


def warm_argv(command: list[str]) -> list[str] | None:
    """The part of ``command`` a fork server runs, or None if it must start cold."""
    if len(command) < 3 or command[0] != sys.executable or command[1] != "-P":
        return None
    rest = command[2:]
    if rest[0] in ("-m", "-c"):
        return rest if len(rest) >= 2 else None
    return None if rest[0].startswith("-") else rest


class Unavailable(Exception):
    """The server cannot take this job (it died, or the request does not fit): start it cold."""


class ForkServer:
    """One ``python -P -m aiflow.runtime.forkserver`` process and the socket to it.

    Thread safe: the driver's loop, its parallel stops and other deployers of the process all
    talk through it. Exit reports are read by whichever thread reads the socket and kept in
    ``exits`` until their deployer collects them; a thread that consumed one while another
    sleeps on the socket wakes it through ``wakeup_fd``.
    """

    def __init__(
        self,
        env: dict[str, str],
        preload: tuple[str, ...],
        shared: Path | None = None,
        idle: float = 0.0,
    ) -> None:
        """Start a fork server of this driver's own or, with ``shared`` (the socket of the
        user's zygote for this environment), connect to the zygote, which forks one warm at
        once; until the zygote listens (it is importing) the server is not ready. A zygote
        this starts exits ``idle`` s after its last driver."""
        self.owner = os.getpid()
        self.proc: subprocess.Popen[bytes] | None = None
        self.shared = shared
        self.pid: int | None = None
        self.sock: socket.socket | None = None
        self._retired: list[socket.socket] = []  # connections a zygote refused; closed last
        if shared is None:
            self.sock = self._launch(env, preload)
        self._wake_r, self._wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        self._lock = threading.Lock()
        self._next_id = 0
        self._replies: dict[int, dict[str, Any]] = {}
        self.exits: dict[int, int] = {}
        self.live: set[int] = set()  # spawned, exit not reported yet
        self.ready = False
        self.dead = False
        self._closed = False
        self._env, self._preload, self._idle = env, preload, idle
        self._first_try = self._started_zygote = 0.0  # monotonic: connecting since, started
        if shared is not None:
            self._connect()

    def _launch(self, env: dict[str, str], preload: tuple[str, ...]) -> socket.socket:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        command = [sys.executable, "-P", "-m", "aiflow.runtime.forkserver"]
        command += ["--fd", str(theirs.fileno()), "--preload", *preload]
        try:
            self.proc = subprocess.Popen(
                command,
                env=env,
                pass_fds=[theirs.fileno()],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                start_new_session=True,  # Ctrl-C in the driver's terminal is the driver's
                cwd="/",
            )
        finally:
            theirs.close()
        self.pid = self.proc.pid
        return ours

    def _connect(self) -> None:
        """Connect to the zygote (called with the lock held, or from ``__init__``); start it
        if none runs. Gives up, ``dead``, if it does not listen within ``_ZYGOTE_START``."""
        assert self.shared is not None
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET | socket.SOCK_CLOEXEC)
        try:
            sock.connect(str(self.shared))
        except OSError:
            sock.close()
            now = time.monotonic()
            if not self._first_try:
                self._first_try = now
            elif now - self._first_try > _ZYGOTE_START:
                log.warning("no shared fork server at %s: jobs start cold", self.shared)
                self.dead = True
                return
            if now - self._started_zygote > _ZYGOTE_RETRY:  # none yet, or it lost a race
                self._started_zygote = now
                start_zygote(self.shared, self._env, self._preload, self._idle)
            return
        self.sock = sock

    # -- asking ------------------------------------------------------------------------------

    def spawn(
        self, argv: list[str], env: dict[str, str], cwd: str, log_fd: int
    ) -> tuple[int, float | None]:
        """Fork a job; its pid and create time. ``DeploymentError`` if it could not start
        (a missing working directory), ``Unavailable`` if this server cannot take it. The
        meta store the job opens (``AIFLOW__METASTORE__URI``, absent under a server's job
        API) is named so the server keeps its engine ready for the next jobs."""
        request = {"op": "spawn", "argv": argv, "env": env, "cwd": cwd}
        if env.get(STORE_ENV):
            request["store"] = env[STORE_ENV]
        reply = self._request(request, [log_fd])
        if "error" in reply:
            raise DeploymentError(reply["error"])
        pid = int(reply["pid"])
        with self._lock:
            self.live.add(pid)
        return pid, reply.get("create_time")

    def signal_group(self, pid: int, sig: signal.Signals) -> bool:
        """Signal the job's process group if the job is not reaped yet (False if it is)."""
        return bool(self._request({"op": "signal", "pid": pid, "signal": int(sig)})["delivered"])

    def exit_code(self, pid: int) -> int | None:
        """The job's exit code once the server reaped it; reads what arrived."""
        with self._lock:
            self._read(block=0.0)
            return self.exits.get(pid)

    def collect(self, pid: int) -> None:
        with self._lock:
            self.exits.pop(pid, None)

    def check_ready(self) -> bool:
        with self._lock:
            if self.sock is None and not self.dead:
                self._connect()
            self._read(block=0.0)
            return self.ready and not self.dead

    def wait_ready(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        with self._lock:
            while not (self.ready or self.dead):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                if self.sock is None:
                    self._connect()
                    if self.sock is None:
                        time.sleep(min(_CONNECT_RETRY, max(remaining, 0.0)))
                        continue
                self._read(block=remaining)
            return self.ready and not self.dead

    def fds(self) -> list[int]:
        """What a waiter polls: readable when a message arrived or another thread read one."""
        with self._lock:
            if self._closed or self.sock is None:
                return []
            return [self.sock.fileno(), self._wake_r]

    def drain_wakeups(self) -> None:
        with self._lock, contextlib.suppress(BlockingIOError):
            if not self._closed:
                os.read(self._wake_r, 4096)

    def close(self, wait: bool = True) -> None:
        """End the server (it exits when its socket closes); its running jobs carry on.
        Without ``wait`` (this process is exiting), the server ends on its own."""
        with self._lock:
            if self._closed:
                return
            self._closed = self.dead = True
            for sock in [*self._retired, self.sock]:
                if sock is not None:
                    sock.close()
            # Closed once only: a descriptor number closed twice may be someone else's by then.
            os.close(self._wake_r)
            os.close(self._wake_w)
        if not wait or self.proc is None:
            return  # a shared one's fork server ends when it sees the socket close
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    # -- internals ---------------------------------------------------------------------------

    def _request(self, message: dict[str, Any], fds: list[int] | None = None) -> dict[str, Any]:
        with self._lock:
            if self.dead or self.sock is None:
                raise Unavailable("the fork server ended" if self.dead else "not connected yet")
            self._next_id += 1
            rid = message["id"] = self._next_id
            data = json.dumps(message).encode()
            if len(data) > MAX_MESSAGE:
                raise Unavailable(f"request of {len(data)} bytes")
            try:
                send(self.sock, message, fds)
            except OSError as exc:
                if exc.errno != errno.EMSGSIZE:  # the server is gone
                    self._lost(exc)
                # Too large for one packet (an environment of hundreds of KB): this job only.
                raise Unavailable(f"request of {len(data)} bytes: {exc}") from exc
            deadline = time.monotonic() + _REPLY_TIMEOUT
            while rid not in self._replies:
                remaining = deadline - time.monotonic()
                if self.dead or remaining <= 0:
                    self._lost("no reply")
                    raise Unavailable("the fork server did not answer")
                self._read(block=remaining)
            return self._replies.pop(rid)

    def _read(self, block: float) -> None:
        """Read every message that arrived (waiting up to ``block`` s for the first one).
        Called with the lock held."""
        if self.dead or self.sock is None:
            return
        poller = select.poll()
        poller.register(self.sock, select.POLLIN)
        wait_ms: float | None = block * 1000
        while poller.poll(wait_ms):
            wait_ms = 0
            try:
                message, fds = receive(self.sock)
            except OSError as exc:
                self._lost(exc)
                return
            for fd in fds:
                os.close(fd)
            if message is None:
                self._lost("socket closed")
                return
            if "exit" in message:
                pid = int(message["exit"])
                self.exits[pid] = int(message["code"])
                self.live.discard(pid)
                with contextlib.suppress(BlockingIOError):
                    os.write(self._wake_w, b"x")
            elif "id" in message:
                self._replies[int(message["id"])] = message
            elif message.get("ready"):
                self.ready = True
                self.pid = message.get("pid", self.pid)

    def _lost(self, why: object) -> None:
        """Give up on the server (called with the lock held): it ended or stopped answering.
        Shutting the socket down ends one that still runs; the descriptors stay open until
        ``close``, so no waiter polls a number reused meanwhile.

        A zygote's connection closed before the fork server said it is ready is not the end:
        that zygote refused it (its code is stale) or ended; the next ``_connect`` starts a
        new one."""
        if self.shared is not None and not self.ready and not self.dead:
            if self.sock is not None:
                with contextlib.suppress(OSError):
                    self.sock.shutdown(socket.SHUT_RDWR)
                self._retired.append(self.sock)
            self.sock = None
            self._first_try = 0.0
            return
        if not self.dead:
            log.warning("fork server %s ended (%s): jobs start cold", self.pid, why)
            with contextlib.suppress(OSError):
                if self.sock is not None:
                    self.sock.shutdown(socket.SHUT_RDWR)
        self.dead = True


def startup_env(env: dict[str, str]) -> dict[str, str]:
    """What of ``env`` a process may read before a fork server forks it: what selects one."""
    return {k: v for k, v in env.items() if not k.startswith(_SET_AFTER_FORK)}


def _in_container() -> bool:
    return any(k in os.environ for k in _CONTAINER_ENV)


def fork_detached(
    command: list[str],
    env: dict[str, str],
    cwd: str,
    log_fd: int,
    preload: tuple[str, ...],
    shared_idle: float,
) -> int | None:
    """Start ``command`` forked from the user's zygote for ``env``, as a process nobody
    watches (its own session, outliving the fork server that forked it, like
    ``Popen(start_new_session=True)`` would make it); its pid. None when it cannot start
    warm now (no zygote listening yet: one is started for next time; not a ``python -P``
    command; no zygote here, see ``shared_socket``): the caller starts it itself."""
    argv = warm_argv(command)
    startup = startup_env(env)
    path = None if argv is None else shared_socket(startup, preload, shared_idle)
    if argv is None or path is None:
        return None
    server = ForkServer(startup, preload, path, shared_idle)
    try:
        if server.sock is None or not server.wait_ready(_DETACHED_WAIT):
            return None
        pid, _created = server.spawn(argv, env, cwd, log_fd)
        return pid
    except (Unavailable, DeploymentError) as exc:
        log.info("starting %s cold: %s", command, exc)
        return None
    finally:
        server.close()


def shared_socket(
    startup: dict[str, str], preload: tuple[str, ...], shared_idle: float
) -> Path | None:
    """The socket of the user's zygote for this environment; None where each driver keeps a
    fork server of its own: turned off (``shared_idle`` 0), in a container, no writable
    ``~/.cache``, or a path too long for ``AF_UNIX``."""
    if shared_idle <= 0 or _in_container():
        return None
    try:
        path = zygote_socket(startup, preload)
    except OSError as exc:
        log.warning("no shared fork server (%s): this driver starts its own", exc)
        return None
    return path if len(os.fsencode(path)) < _MAX_SOCKET_PATH else None


class _Registry:
    """The process's fork servers, one per startup environment."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._servers: dict[tuple[Any, ...], ForkServer] = {}

    def get(
        self, env: dict[str, str], preload: tuple[str, ...], shared_idle: float = 0.0
    ) -> ForkServer:
        """The server for this environment, started now if there is none (it may not be
        ready yet: ask ``check_ready``). With ``shared_idle`` > 0 it is forked by the user's
        zygote for this environment (started if none runs, ending ``shared_idle`` s after its
        last driver), so it is warm at once from the second driver on."""
        startup = startup_env(env)
        key = (tuple(sorted(startup.items())), preload, shared_idle > 0)
        with self._lock:
            if any(s.owner != os.getpid() for s in self._servers.values()):
                self._servers = {}  # a forked copy of the driver: those are the parent's
            server = self._servers.get(key)
            if server is None or server.dead:
                self._evict()
                path = shared_socket(startup, preload, shared_idle)
                server = self._servers[key] = ForkServer(startup, preload, path, shared_idle)
            return server

    def _evict(self) -> None:
        idle = [k for k, s in self._servers.items() if s.dead or not s.live]
        for key in idle[: max(0, len(idle) - _MAX_IDLE_SERVERS + 1)]:
            self._servers.pop(key).close()

    def close_all(self) -> None:
        with self._lock:
            servers, self._servers = list(self._servers.values()), {}
        for server in servers:
            if server.owner == os.getpid():
                server.close(wait=False)


servers = _Registry()
atexit.register(servers.close_all)
