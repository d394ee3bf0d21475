"""Fast boot of the Python workers of a job on the embedded mini-cluster.

There PyFlink runs each Python worker in the job process ("loopback"), but Flink first starts
a process per worker (``python.executable -m pyflink.fn_execution.beam.beam_boot``) that only
asks the job process, over gRPC, to start it: ~1 s of interpreter start and imports on every
job, while the job's task waits. ``install`` points ``python.executable`` at a launcher that
makes the same request over a Unix socket from a bare interpreter (``loopback_boot``); the
``BootServer`` here answers it by starting the worker exactly as PyFlink's own loopback
service does (``BeamFnLoopbackWorkerPoolServicer.StartWorker``), with the same request.

The socket lives in a directory of this user's private run directory (``user_run_dir``, mode
0700): only this user can start workers here. A killed job process leaves its directory behind;
the next boot server removes those of processes that are gone.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import logging
import os
import shlex
import shutil
import socket
import sys
import tempfile
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aiflow.config import user_run_dir

if TYPE_CHECKING:
    from pyflink.table import TableEnvironment

log = logging.getLogger(__name__)

_LOOPBACK_ADDRESS = "python.loopback-server.address"
_server: BootServer | None = None
_lock = threading.Lock()


def install(t_env: TableEnvironment) -> None:
    """Boot ``t_env``'s Python workers through this process's ``BootServer`` when they run in
    this process (PyFlink set a loopback address: the mini-cluster); else leave it alone."""
    config = t_env.get_config()
    if not config.get(_LOOPBACK_ADDRESS, ""):
        return
    config.set("python.executable", str(boot_server().launcher))


def booted() -> int:
    """How many Python workers this process booted through its ``BootServer``."""
    return _server.booted if _server is not None else 0


def boot_server() -> BootServer:
    global _server
    with _lock:
        if _server is None:
            _server = BootServer()
        return _server


class BootServer:
    """Listens for ``loopback_boot`` requests and starts each worker in a thread of its own, as
    the gRPC service would; the answer (an error, or none) is sent when the worker ends."""

    def __init__(self) -> None:
        run = user_run_dir()
        sweep(run)
        self.directory = Path(tempfile.mkdtemp(prefix=f"flink-boot-{os.getpid()}-", dir=run))
        self.path = self.directory / "boot.sock"
        self.launcher = self.directory / "python"
        self.booted = 0  # workers started through this server
        self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._socket.bind(str(self.path))
        self._socket.listen(16)
        boot = Path(__file__).with_name("loopback_boot.py")
        command = [sys.executable, "-I", "-S", str(boot), sys.executable, str(self.path)]
        self.launcher.write_text(f'#!/bin/sh\nexec {shlex.join(command)} "$@"\n')
        self.launcher.chmod(0o700)
        threading.Thread(target=self._accept, name="aiflow-loopback-boot", daemon=True).start()
        atexit.register(self.close)

    def close(self) -> None:
        self._socket.close()
        shutil.rmtree(self.directory, ignore_errors=True)

    def _accept(self) -> None:
        while True:
            try:
                connection, _ = self._socket.accept()
            except OSError:
                return  # closed
            threading.Thread(
                target=self._serve, args=(connection,), name="aiflow-loopback-worker", daemon=True
            ).start()

    def _serve(self, connection: socket.socket) -> None:
        with connection:
            try:
                request = json.loads(connection.makefile("rb").readline())
                self.booted += 1
                error = start_worker(request)
            except Exception as exc:  # an answer is owed: the launcher waits for one
                log.exception("could not start a Python worker")
                error = f"{type(exc).__name__}: {exc}"
            with contextlib.suppress(OSError):  # a stopped launcher: nobody to tell
                connection.sendall(json.dumps({"error": error}).encode() + b"\n")


def sweep(run: Path) -> None:
    """Remove the boot directories of processes that are gone (killed: no atexit ran)."""
    for directory in run.glob("flink-boot-*-*"):
        try:
            os.kill(int(directory.name.split("-")[2]), 0)
        except ProcessLookupError:
            shutil.rmtree(directory, ignore_errors=True)
        except (ValueError, PermissionError):
            continue  # not ours to judge


def start_worker(request: dict[str, Any]) -> str:
    """Start (and run, until it ends) the worker ``request`` describes, through PyFlink's own
    loopback service with the request ``beam_boot`` would have sent; its error text, or ""."""
    from apache_beam.portability.api.org.apache.beam.model.fn_execution.v1 import (
        beam_fn_api_pb2,
    )
    from apache_beam.portability.api.org.apache.beam.model.pipeline.v1 import endpoints_pb2
    from pyflink.fn_execution.beam.beam_worker_pool_service import (
        BeamFnLoopbackWorkerPoolServicer,
    )

    params = {str(k): str(v) for k, v in dict(request.get("env") or {}).items()}
    params["SEMI_PERSISTENT_DIRECTORY"] = str(request.get("semi_persist_dir") or "/tmp")
    message = beam_fn_api_pb2.StartWorkerRequest(
        worker_id=str(request["id"]),
        provision_endpoint=endpoints_pb2.ApiServiceDescriptor(
            url=str(request["provision_endpoint"])
        ),
        params=params,
    )
    response = BeamFnLoopbackWorkerPoolServicer().StartWorker(message, None)
    return str(response.error)
