"""One Flink job whose tasks each keep a shard of the data while the driver sends them rounds.

``FlinkTasks(name, shards, program)`` submits a DataStream job of ``len(shards)`` parallel
tasks (``from_collection(task ids).rebalance().map(...)``: round-robin gives each subtask
exactly one id). Each task connects back to the driver (``multiprocessing.connection`` with a
random key: HMAC challenge both ways, so only this job's tasks get in), receives its shard once,
then serves rounds: for every ``round(epoch, message)`` the driver sends ``message`` (the model,
say) to all tasks, each runs ``program(message, shard, ctx)`` and replies with tables, and the
driver gets one list of tables per task, in shard order. ``close`` tells the tasks to stop; the
job then finishes.

Why not one Flink job per round: a job costs seconds to schedule (5 s on this 2-core machine,
``benchmarks/ml.py``) and would read its data again; here the job is paid once per fit and a
round costs the computation and two small messages. Why not the data through Flink's records:
Python rows cross the JVM twice per round; a task keeps numpy arrays instead (Flink ML's
iteration caches its data in the operator too).

Errors: a task that fails replies with the error, the driver raises it as an ``MLError`` with
the stage's message (what the local engine raises); a job that fails to start, or tasks that
never connect (fewer free slots than tasks), is an ``MLError`` naming the job and the cause.

The driver must be reachable from the TaskManagers at ``AIFLOW__ML__FLINK_DRIVER_HOST``
(default 127.0.0.1: the mini-cluster, or a session cluster on this host).
"""

from __future__ import annotations

import logging
import os
import queue
import secrets
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from multiprocessing.connection import Client, Connection, Listener
from typing import Any, Protocol

from aiflow.errors import MLError
from aiflow.ml.flink.wire import pack, unpack
from aiflow.ml.iteration.base import IterationConfig, IterationContext, ReplayableData
from aiflow.ml.table import Table

log = logging.getLogger("aiflow.ml.flink")

CONNECT_TIMEOUT = 120.0  # s for every task to reach the driver (job scheduling included)
DRIVER_HOST_ENV = "AIFLOW__ML__FLINK_DRIVER_HOST"


class Program(Protocol):
    """What a task does each round: ``message`` (tables from the driver), its ``shard`` (the
    data the round sees) -> reply tables. Pickled into the job with the task (PyFlink ships
    Python functions that way), so it holds only its stage or body, never data."""

    def __call__(
        self, message: list[Table], shard: list[Table], ctx: IterationContext
    ) -> list[Table]: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class _Task:
    """The Flink map function: serve rounds for task ``index`` (see the module docstring)."""

    address: tuple[str, int]
    key: bytes
    program: Program
    config: IterationConfig
    bounded: bool

    def __call__(self, index: int) -> str:
        conn = Client(self.address, family="AF_INET", authkey=self.key)
        rounds = 0
        try:
            conn.send_bytes(pack({"task": index}))
            header, shard = unpack(conn.recv_bytes())
            data = ReplayableData(shard, replay=bool(header["replay"]))
            offset = int(header["offset"])
            while True:
                try:
                    header, message = unpack(conn.recv_bytes())
                except EOFError:  # the driver is gone: nothing to answer
                    break
                if header.get("stop"):
                    break
                epoch = int(header["epoch"])
                ctx = IterationContext(epoch, self.bounded, self.config, row_offset=offset)
                try:
                    reply = pack({"ok": True}, self.program(message, data.for_round(epoch), ctx))
                except Exception as exc:  # any failure goes back to the driver, which raises it
                    reply = pack({"ok": False, "error": _describe(exc)})
                conn.send_bytes(reply)
                rounds += 1
        finally:
            self.program.close()
            conn.close()
        return f"task {index}: {rounds} round(s)"


class FlinkTasks:
    """The driver's side (see the module docstring); a context manager."""

    def __init__(
        self,
        name: str,
        shards: Sequence[Sequence[Table]],
        program: Program,
        *,
        replay: bool = True,
        config: IterationConfig | None = None,
        bounded: bool = True,
    ) -> None:
        if not shards:
            raise MLError(f"{name}: no shard to run on Flink")
        self.name = name
        self._key = secrets.token_bytes(32)
        self._listener = Listener((_driver_host(), 0), family="AF_INET", authkey=self._key)
        self._conns: list[Connection] = []
        self._job_error: BaseException | None = None
        self._job_done = threading.Event()
        address = self._listener.address
        task = _Task(
            (address[0], int(address[1])), self._key, program, config or IterationConfig(), bounded
        )
        started = time.monotonic()
        try:
            self._job = threading.Thread(
                target=self._run_job, args=(task, len(shards)), name=f"flink:{name}", daemon=True
            )
            self._job.start()
            self._conns = self._accept(len(shards))
            offset = 0
            for conn, shard in zip(self._conns, shards, strict=True):
                conn.send_bytes(pack({"replay": replay, "offset": offset}, list(shard)))
                offset += shard[0].num_rows if shard else 0
        except BaseException:
            self.close()
            raise
        log.debug(
            "%s: %d Flink task(s) ready in %.1f s", name, len(shards), time.monotonic() - started
        )

    def round(self, epoch: int, message: Sequence[Table] = ()) -> list[list[Table]]:
        """Send ``message`` to every task for round ``epoch``; their replies in shard order."""
        payload = pack({"epoch": epoch}, list(message))
        for conn in self._conns:
            conn.send_bytes(payload)
        replies, failure = [], None
        for i, conn in enumerate(self._conns):
            try:
                header, tables = unpack(conn.recv_bytes())
            except (EOFError, OSError):
                raise MLError(f"{self.name}: Flink task {i} went away{self._job_cause()}") from None
            if not header.get("ok"):
                failure = failure or _raise_from(header.get("error") or {}, self.name, i)
            replies.append(tables)
        if failure is not None:
            raise failure
        return replies

    def close(self) -> None:
        """Stop the tasks and wait for the job to finish (quietly: the rounds' results are in)."""
        for conn in self._conns:
            try:
                conn.send_bytes(pack({"stop": True}))
                conn.close()
            except OSError:
                pass
        self._conns = []
        self._listener.close()
        self._job_done.wait(60.0)

    def __enter__(self) -> FlinkTasks:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the job ---------------------------------------------------------------------------------

    def _run_job(self, task: _Task, parallelism: int) -> None:
        before = dict(os.environ)
        try:
            from pyflink.common import Types

            from aiflow.ml.flink.cluster import stream_env

            env = stream_env(parallelism)
            stream = env.from_collection(list(range(parallelism)), type_info=Types.INT())
            tasks = stream.rebalance().map(task, output_type=Types.STRING()).name(self.name)
            for line in tasks.set_parallelism(parallelism).execute_and_collect(
                f"aiflow.ml/{self.name}"
            ):
                log.debug("%s: %s", self.name, line)
        except BaseException as exc:  # reported by the driver's wait, naming the job
            self._job_error = exc
        finally:
            # PyFlink's in-process ("loopback") worker pool copies the worker's variables into
            # os.environ, PYFLINK_GATEWAY_DISABLED among them: a process this one starts later
            # (a notebook's `aiflow run`) could then not launch PyFlink at all
            for name in set(os.environ) - set(before):
                os.environ.pop(name, None)
            self._job_done.set()

    def _accept(self, count: int) -> list[Connection]:
        """The ``count`` tasks' connections, in task order; an error naming the cause when the
        job fails first or they do not all come within ``CONNECT_TIMEOUT``."""
        arrived: queue.Queue[tuple[int, Connection]] = queue.Queue()

        def accept() -> None:
            while True:
                try:
                    conn = self._listener.accept()
                    header, _ = unpack(conn.recv_bytes())
                    arrived.put((int(header["task"]), conn))
                except OSError:  # the listener was closed
                    return
                except Exception as exc:  # a stray or unauthenticated peer: keep listening
                    log.warning("%s: refused a connection: %s", self.name, exc)

        threading.Thread(target=accept, name=f"flink-accept:{self.name}", daemon=True).start()
        deadline = time.monotonic() + CONNECT_TIMEOUT
        conns: dict[int, Connection] = {}
        while len(conns) < count:
            if self._job_done.is_set() and arrived.empty():
                raise MLError(
                    f"{self.name}: the Flink job ended before its tasks started{self._job_cause()}"
                )
            if time.monotonic() > deadline:
                raise MLError(
                    f"{self.name}: only {len(conns)} of {count} Flink tasks started within "
                    f"{CONNECT_TIMEOUT:.0f} s: the cluster may have fewer free slots than "
                    f"{count} (lower flink.parallelism), or cannot reach this driver at "
                    f"{self._listener.address[0]} (set {DRIVER_HOST_ENV})"
                )
            try:
                index, conn = arrived.get(timeout=0.2)
            except queue.Empty:
                continue
            conns[index] = conn
        return [conns[i] for i in range(count)]

    def _job_cause(self) -> str:
        if self._job_error is None:
            return ""
        text = str(self._job_error).strip().splitlines()
        return f" (the job: {text[0][:500] if text else type(self._job_error).__name__})"


def _driver_host() -> str:
    return os.environ.get(DRIVER_HOST_ENV) or "127.0.0.1"


def _describe(exc: BaseException) -> dict[str, Any]:
    return {"type": type(exc).__name__, "ml_error": isinstance(exc, MLError), "message": str(exc)}


def _raise_from(error: dict[str, Any], name: str, index: int) -> MLError:
    """The driver's exception for a task's reported failure: an ``MLError`` reads as the local
    engine's (the stage's own message); anything else names the job and task."""
    message = str(error.get("message", "unknown error"))
    if error.get("ml_error"):
        return MLError(message)
    return MLError(f"{name}: Flink task {index} failed: {error.get('type', 'Error')}: {message}")
