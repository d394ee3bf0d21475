"""The Flink gateway pool daemon (``aiflow.translators.flink.gateways`` says why and what):
``python -P -m aiflow.translators.flink.gateway_pool --socket PATH [--size N] [--idle S]``.

It keeps ``size`` gateway JVMs started and warmed, hands each to one job process (the reply is
the JVM's py4j port), ends that JVM once the process has exited, and starts a spare in its
place. Launching and warming run in a thread of their own; requests are answered at once from
what is ready. It exits, ending its JVMs, after ``idle`` seconds with no request and no adopted
JVM alive, on ``{"op": "stop"}``, or on SIGTERM.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import fcntl
import json
import os
import select
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

_MAIN_CLASS = "org.apache.flink.client.python.PythonGatewayServer"
_PR_SET_PDEATHSIG = 1
_START_TIMEOUT = 120.0  # s for a JVM to write its port
_END_GRACE = 10.0  # s between a JVM's SIGTERM and its SIGKILL
_WARMUP_TIMEOUT = 180.0  # s for the warm-up program to plan its job in both modes and run one
_DEFER = 60.0  # s a new spare's warm-up waits for the jobs that adopted JVMs to end


@dataclass
class Jvm:
    proc: subprocess.Popen[bytes]
    port: int
    owner_pidfd: int | None = None
    ended: float | None = None  # when its stdin was closed
    threads: list[threading.Thread] = field(default_factory=list)

    def end(self) -> None:
        """SIGTERM: the JVM runs its shutdown hooks (an embedded mini-cluster stops)."""
        if self.ended is None:
            self.ended = time.monotonic()
            with contextlib.suppress(ProcessLookupError):
                self.proc.terminate()

    def reap(self, force: bool) -> bool:
        """Whether it is gone; ``force``: SIGKILL it first."""
        if force:
            with contextlib.suppress(ProcessLookupError):
                self.proc.kill()
        return self.proc.poll() is not None


class Pool:
    def __init__(self, path: Path, size: int, idle: float) -> None:
        self.path, self.size, self.idle = path, size, idle
        self.ready: list[Jvm] = []
        self.adopted: list[Jvm] = []
        self.ending: list[Jvm] = []
        self.lock = threading.Condition()
        self.stopping = False
        self.last_request = time.monotonic()
        self.logs = path.parent / (path.stem + "-jvm")
        self.logs.mkdir(exist_ok=True)

    # -- spares ------------------------------------------------------------------------------

    def fill(self) -> None:
        """Thread: keep ``size`` spares ready, one launched and warmed at a time."""
        failures = 0
        while True:
            with self.lock:
                while not self.stopping and len(self.ready) >= self.size:
                    self.lock.wait()
                # A warm-up takes ~10 s of a core (it runs a small job): not while a job that
                # adopted a JVM runs, on a machine of few cores, unless that job runs for long
                # (a stream job).
                deadline = time.monotonic() + _DEFER
                while not self.stopping and self.adopted and time.monotonic() < deadline:
                    self.lock.wait(max(0.0, deadline - time.monotonic()))
                if self.stopping:
                    return
            jvm = None
            try:
                jvm = self.launch()
                warm(jvm.port)
            except Exception as exc:  # reported, retried later, never fatal
                if jvm is not None:
                    jvm.end()
                    with self.lock:
                        self.ending.append(jvm)
                failures += 1
                print(f"gateway pool: a spare JVM failed: {exc}", file=sys.stderr, flush=True)
                time.sleep(min(60.0, 2.0**failures))
                continue
            failures = 0
            with self.lock:
                if self.stopping:
                    jvm.end()
                    self.ending.append(jvm)
                    return
                self.ready.append(jvm)

    def launch(self) -> Jvm:
        """Start a gateway JVM as PyFlink would (its own launcher: classpath, options), with
        its log in the pool's directory until a job adopts it."""
        scratch = tempfile.mkdtemp(prefix="aiflow-gateway-")
        try:
            info = Path(scratch) / "port"
            env = dict(os.environ, _PYFLINK_CONN_INFO_PATH=str(info))
            proc = _launch_dying_with_us(env)
            drain = threading.Thread(target=_copy, args=(proc.stderr, proc.pid), daemon=True)
            drain.start()
            deadline = time.monotonic() + _START_TIMEOUT
            while not info.is_file() or info.stat().st_size < 4:
                if proc.poll() is not None or time.monotonic() > deadline:
                    with contextlib.suppress(ProcessLookupError):
                        proc.kill()
                    raise RuntimeError("gateway JVM exited before its port (its stderr is above)")
                time.sleep(0.05)
            port = struct.unpack("!I", info.read_bytes()[:4])[0]
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
        return Jvm(proc, port, threads=[drain])

    # -- requests ----------------------------------------------------------------------------

    def answer(self, request: dict[str, Any]) -> dict[str, Any]:
        self.last_request = time.monotonic()
        op = request.get("op")
        if op == "stop":
            self.stop()
            return {"stopping": True}
        if op == "status":
            with self.lock:
                return {
                    "pid": os.getpid(),
                    "ready": [j.proc.pid for j in self.ready],
                    "adopted": [j.proc.pid for j in self.adopted],
                }
        if op != "adopt":
            return {"error": f"unknown request {op!r}"}
        try:
            pidfd = os.pidfd_open(int(request["pid"]))
        except (KeyError, ValueError, OSError) as exc:
            return {"error": f"cannot watch the adopting process: {exc}"}
        with self.lock:
            if not self.ready:
                os.close(pidfd)
                return {}
            jvm = self.ready.pop(0)
            jvm.owner_pidfd = pidfd
            self.adopted.append(jvm)
            self.lock.notify_all()  # the filler starts the next spare
        return {"port": jvm.port, "pid": jvm.proc.pid}

    def released(self, pidfd: int) -> None:
        """The adopting process exited: its JVM ends."""
        with self.lock:
            jvm = next((j for j in self.adopted if j.owner_pidfd == pidfd), None)
            if jvm is not None:
                self.adopted.remove(jvm)
                self.ending.append(jvm)
                self.lock.notify_all()  # a deferred warm-up may start
        os.close(pidfd)
        if jvm is None:  # not expected; never worth ending the pool (and its JVMs) over
            print(f"gateway pool: pidfd {pidfd} of no adopted JVM", file=sys.stderr, flush=True)
            return
        jvm.owner_pidfd = None
        jvm.end()

    def sweep(self) -> None:
        """Reap ended JVMs; SIGKILL those that outlived the grace."""
        now = time.monotonic()
        with self.lock:
            self.ending = [
                j for j in self.ending if not j.reap(force=now - (j.ended or now) > _END_GRACE)
            ]

    def stop(self) -> None:
        with self.lock:
            self.stopping = True
            for jvm in [*self.ready, *self.adopted]:
                jvm.end()
                self.ending.append(jvm)
            self.ready, self.adopted = [], []
            self.lock.notify_all()

    def all_ended(self) -> bool:
        with self.lock:
            return not self.ending

    def idle_too_long(self) -> bool:
        with self.lock:
            return not self.adopted and time.monotonic() - self.last_request > self.idle


def _launch_dying_with_us(env: dict[str, str]) -> subprocess.Popen[bytes]:
    """PyFlink's own launcher (classpath, options, log settings), plus PR_SET_PDEATHSIG: the
    JVM gets SIGKILL if the thread that launched it — the pool's filler — is gone, so a
    SIGKILLed pool leaves no JVM behind (theirs never exits on its own, see ``warm``)."""
    import pyflink.pyflink_gateway_server as launcher

    def popen(command: list[str], **kwargs: Any) -> subprocess.Popen[bytes]:
        theirs, parent = kwargs.pop("preexec_fn", None), os.getpid()

        def before_exec() -> None:
            if theirs is not None:
                theirs()
            ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
            if os.getppid() != parent:  # the pool died while we forked
                os._exit(1)

        return subprocess.Popen(command, preexec_fn=before_exec, **kwargs)

    original = launcher.Popen
    launcher.Popen = popen
    try:
        proc: subprocess.Popen[bytes] = launcher.launch_gateway_server_process(
            env, ["-c", _MAIN_CLASS, "local"]
        )
    finally:
        launcher.Popen = original
    return proc


def warm(port: int) -> None:
    """Hand the JVM a watchdog, then have ``gateway_warmup`` plan an aiflow-shaped job on it in
    each mode (its own process: PyFlink keeps one gateway per process).

    The gateway server exits unless it gets a "Watchdog" within 10 s, and then pings that one
    object every 100 ms for as long as it lives; a Python one would be ours (or the warm-up's),
    unreachable once the job resets the JVM's callbacks to itself. Flink's Java-side watchdog
    always answers: the pool ends the JVM (``Jvm.end``) when its job is gone."""
    from py4j.java_gateway import GatewayParameters, JavaGateway

    gateway = JavaGateway(gateway_parameters=GatewayParameters(port=port, auto_convert=True))
    try:
        server = gateway.jvm.org.apache.flink.client.python.PythonGatewayServer
        gateway.entry_point.put("Watchdog", server.watchdog)
    finally:
        gateway.close()
    command = [sys.executable, "-P", "-m", "aiflow.translators.flink.gateway_warmup"]
    done = subprocess.run(
        [*command, "--port", str(port)],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        timeout=_WARMUP_TIMEOUT,
        check=False,
    )
    if done.returncode != 0:
        tail = done.stderr.decode(errors="replace")[-2000:]
        raise RuntimeError(f"the warm-up exited with {done.returncode}: {tail}")


def _copy(source: IO[bytes] | None, pid: int) -> None:
    """A JVM's stderr into the pool's log, each line naming the JVM (PyFlink's launcher's
    warning about a module of newer JDKs, said by every JVM, left out)."""
    if source is None:
        return
    for line in iter(source.readline, b""):
        if b"Unknown module: jdk.proxy2" in line:
            continue
        with contextlib.suppress(ValueError, OSError):
            sys.stderr.write(f"jvm {pid}: {line.decode(errors='replace')}")
            sys.stderr.flush()


def serve(pool: Pool) -> None:
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    with contextlib.suppress(FileNotFoundError):
        pool.path.unlink()  # a dead pool's (we hold the lock)
    listener.bind(str(pool.path))
    os.chmod(pool.path, 0o600)
    listener.listen(64)
    filler = threading.Thread(target=pool.fill, name="gateway-filler", daemon=True)
    filler.start()
    poller = select.poll()
    poller.register(listener, select.POLLIN)
    watched: set[int] = set()
    try:
        while not (pool.stopping and pool.all_ended()):
            with pool.lock:
                owners = {j.owner_pidfd for j in pool.adopted if j.owner_pidfd is not None}
            for fd in owners - watched:
                poller.register(fd, select.POLLIN)
            watched |= owners
            for fd, _events in poller.poll(500):
                if fd == listener.fileno():
                    _answer_one(pool, listener)
                elif fd in watched:
                    poller.unregister(fd)
                    watched.discard(fd)
                    pool.released(fd)
            pool.sweep()
            if not pool.stopping and pool.idle_too_long():
                pool.stop()
    finally:
        with contextlib.suppress(FileNotFoundError):
            pool.path.unlink()
        listener.close()


def _answer_one(pool: Pool, listener: socket.socket) -> None:
    conn, _ = listener.accept()
    with conn:
        conn.settimeout(2.0)
        try:
            data = b""
            while not data.endswith(b"\n"):
                chunk = conn.recv(4096)
                if not chunk:
                    return
                data += chunk
            reply = pool.answer(json.loads(data))
            conn.sendall(json.dumps(reply).encode() + b"\n")
        except (OSError, ValueError):
            return  # a client gone or garbled: it launches its own JVM


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m aiflow.translators.flink.gateway_pool")
    parser.add_argument("--socket", type=Path, required=True)
    parser.add_argument("--size", type=int, default=1)
    parser.add_argument("--idle", type=float, default=600.0, help="s without requests: exit")
    args = parser.parse_args(argv)
    lock = open(args.socket.with_suffix(".lock"), "w")  # noqa: SIM115 - held for life
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return 0  # another pool serves this environment
    from aiflow.translators.flink.engine import jvm_logs_to

    pool = Pool(args.socket, max(args.size, 1), args.idle)
    jvm_logs_to(pool.logs)  # until a job adopts a JVM and moves its log (gateways.log_to)
    signal.signal(signal.SIGTERM, lambda *_: pool.stop())
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    serve(pool)
    return 0


if __name__ == "__main__":
    sys.exit(main())
