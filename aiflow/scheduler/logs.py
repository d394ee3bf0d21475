"""The logs of a job, whatever its deployer: what ``aiflow job logs`` and the REST API print.

A job has one log per attempt, each read through the deployer that ran the execution
(``Deployer.logs``), never by opening files here: that is what makes a Kubernetes or YARN job's
logs show in the CLI, the API and the web alike, and what keeps the deployer's rules about which
files may be read (see ``aiflow.deployers.logfile``) in one place. After the latest attempt's
log comes what the job's engine logged elsewhere (a Flink TaskManager's lines), when not
following. Following moves on to the next attempt's log when the driver retries the job, and
ends when the meta store says the job ended.

Not here: how a deployer reads a log (``deployers/``), or how the server streams it.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from aiflow.config import Settings, get_settings
from aiflow.deployers import get_deployer
from aiflow.deployers.base import Deployer, Handle, LogRange
from aiflow.errors import AiflowError, InvalidInput, NotFound
from aiflow.schemas.entities import Job, JobStatus

if TYPE_CHECKING:
    from aiflow.store.sql_store import MetaStore

__all__ = ["job_log_range", "job_logs"]

_STATUS_INTERVAL = 0.5  # s between reads of the job row while following


def job_logs(
    store: MetaStore,
    job_id: int,
    *,
    follow: bool = False,
    tail: int | None = None,
    offset: int | None = None,
    settings: Settings | None = None,
    stop: Callable[[], bool] | None = None,
) -> Iterator[str]:
    """Lines of the job's latest attempt's log (its last ``tail`` lines, or from byte
    ``offset`` where the deployer supports it), then, when not following, its engine's.

    ``follow`` keeps yielding what the job writes, across retries, until the job ends or
    ``stop()`` returns true (a server's client went away). ``NotFound`` is raised before this
    returns, so a caller can answer "not found" before it streams anything.
    """
    settings = settings or get_settings()
    job = store.get_job(job_id)
    deployer = get_deployer(store.get_execution(job.execution_id).deployer, settings)
    if offset is not None and not deployer.supports_log_ranges:
        raise _no_ranges(job, deployer)
    if not follow:
        try:
            lines = deployer.logs(_log_of(job), tail=tail, offset=offset)
        except NotFound:
            raise _no_log(job) from None
        return itertools.chain(lines, engine_lines(job, settings, tail))
    watch = _Watch(store, job, stop)
    first = None
    if job.log_uri is not None or job.status.finished:
        first = _follow_attempt(deployer, job, watch, tail=tail, offset=offset)
    return _follow(deployer, job, watch, first)


def job_log_range(
    store: MetaStore,
    job_id: int,
    *,
    offset: int | None = None,
    length: int | None = None,
    tail: int | None = None,
    settings: Settings | None = None,
) -> LogRange:
    """The job's latest log as bytes (whole, its last ``tail`` lines, or ``length`` bytes from
    ``offset``) where its deployer reads byte ranges; whole and tail reads then end with the
    engine's lines. Elsewhere, whole and tail reads are the lines of ``job_logs`` (without a
    size) and a byte range is ``InvalidInput``."""
    settings = settings or get_settings()
    job = store.get_job(job_id)
    deployer = get_deployer(store.get_execution(job.execution_id).deployer, settings)
    ranged = offset is not None or length is not None
    if not deployer.supports_log_ranges:
        if ranged:
            raise _no_ranges(job, deployer)
        return LogRange(_encode(job_logs(store, job_id, tail=tail, settings=settings)))
    try:
        got = deployer.read_log(_log_of(job), offset=offset, length=length, tail=tail)
    except NotFound:
        raise _no_log(job) from None
    if ranged:
        return got
    extra = _encode(engine_lines(job, settings, tail))
    return LogRange(_then(got.chunks, extra), size=got.size, next_offset=got.next_offset)


def engine_lines(job: Job, settings: Settings, tail: int | None) -> Iterator[str]:
    """What the job's engine logged outside the job's own log (``Engine.job_logs``). Lazy:
    the engine's module (pandas, PyFlink) is imported only once the job's own log was read."""
    from aiflow.translators.engine import load_engine

    try:
        engine = load_engine(job.engine)
    except AiflowError:  # an engine plugin uninstalled since: the job's own log stands
        return
    yield from engine.job_logs(job.result or {}, settings, tail)


# -- internals ------------------------------------------------------------------------------------


def _log_of(job: Job, source: Handle | str | None = None) -> Handle | str:
    if job.log_uri is None:
        raise _no_log(job)
    return source or job.log_uri


def _no_log(job: Job) -> NotFound:
    """Says nothing about where the log was looked for: a log URI is a row user code can write,
    and the API must not tell a caller what is (or is not) at a path of its choosing."""
    if job.log_uri is None:
        return NotFound(f"job {job.id} has no log yet (status {job.status.value})")
    return NotFound(
        f"job {job.id} has no log that can be read (status {job.status.value}): it has not "
        "been written yet, was deleted, or is not a file in the logs directory"
    )


def _no_ranges(job: Job, deployer: Deployer) -> InvalidInput:
    return InvalidInput(
        f"job {job.id} ran on the {deployer.name} deployer, which cannot read logs by byte "
        "offset; read the whole log, its tail, or follow it"
    )


class _Watch:
    """The job's row, re-read at most every ``_STATUS_INTERVAL`` s however often it is asked
    (a deployer checks ``until`` between reads, many times a second)."""

    def __init__(self, store: MetaStore, job: Job, stop: Callable[[], bool] | None) -> None:
        self.store, self.job, self.stop = store, job, stop or (lambda: False)
        self.read_at = time.monotonic()

    def current(self) -> Job:
        if time.monotonic() - self.read_at >= _STATUS_INTERVAL:
            self.job = self.store.get_job(self.job.id)
            self.read_at = time.monotonic()
        return self.job

    def until(self, log_uri: str | None) -> Callable[[], bool]:
        """When following ``log_uri`` is over: the job ended or started another attempt."""

        def over() -> bool:
            if self.stop():
                return True
            job = self.current()
            return job.status.finished or job.log_uri != log_uri

        return over


def _follow_attempt(
    deployer: Deployer,
    job: Job,
    watch: _Watch,
    *,
    tail: int | None = None,
    offset: int | None = None,
) -> Iterator[str]:
    """Follow the attempt ``job`` describes: from its handle while it runs (the deployer then
    knows when it ends), else from its log URI (the meta store says when it ended)."""
    running = job.status == JobStatus.RUNNING and job.handle
    source = _log_of(job, job.handle if running else None)
    try:
        return deployer.logs(
            source, follow=True, tail=tail, offset=offset, until=watch.until(job.log_uri)
        )
    except NotFound:
        raise _no_log(job) from None


def _follow(
    deployer: Deployer, job: Job, watch: _Watch, lines: Iterator[str] | None
) -> Iterator[str]:
    uri = job.log_uri if lines is not None else None
    while True:
        if lines is not None:
            yield from lines
        while True:  # the attempt's log ended: wait for the job's end or its next attempt
            if watch.stop():
                return
            job = watch.store.get_job(job.id)
            if job.log_uri is not None and job.log_uri != uri:
                break
            if job.status.finished:
                return
            time.sleep(_STATUS_INTERVAL)
        uri = job.log_uri
        try:
            lines = _follow_attempt(deployer, job, watch)
        except NotFound:  # an attempt's log that may not be read: stop here
            return


def _encode(lines: Iterator[str]) -> Iterator[bytes]:
    for line in lines:
        yield f"{line}\n".encode()


def _then(chunks: Iterator[bytes], more: Iterator[bytes]) -> Iterator[bytes]:
    """``chunks``, then ``more`` on a line of its own (a log need not end with a newline)."""
    last = b"\n"
    for chunk in chunks:
        last = chunk[-1:] or last
        yield chunk
    for i, chunk in enumerate(more):
        yield chunk if i or last == b"\n" else b"\n" + chunk
