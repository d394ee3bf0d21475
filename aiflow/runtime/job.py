"""Running one job: load its spec and snapshot, build the context, hand it to its engine.

Which meta store the job uses is decided here, once: the server's job API with the attempt's
token when the scheduler that started it runs for a server (``AIFLOW_JOB_API`` and
``AIFLOW_JOB_TOKEN`` are set, and no meta store URL is), else the ``MetaStore`` of the
configuration, as for ``aiflow run``. Under a server a heartbeat thread keeps the token alive
while the job runs (tokens expire within minutes otherwise, see ``aiflow.store.job_tokens``).
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from aiflow.config import get_settings
from aiflow.errors import AiflowError, Unauthorized
from aiflow.plan import snapshot
from aiflow.translators.context import JobContext, JobResult
from aiflow.translators.engine import load_engine
from aiflow.translators.job_store import JobAccess, JobApiClient
from aiflow.translators.physical import JobSpec
from aiflow.translators.usercode import UserCode

if TYPE_CHECKING:
    from aiflow.config import Settings
    from aiflow.schemas.entities import Job

log = logging.getLogger("aiflow.runtime")

_MIN_HEARTBEAT = 1.0  # s between token extensions, however short the token's lifetime


def run_job(job_id: int, on_context: Callable[[JobContext], None] | None = None) -> JobContext:
    settings = get_settings()
    api = JobApiClient.from_environment()
    with _heartbeat(api):
        store: JobAccess
        if api is not None:
            store = api
        else:
            from aiflow.store.patience import patient
            from aiflow.store.sql_store import MetaStore

            store = patient(MetaStore())  # a database restart is waited out, as the API client does
        return _run(job_id, store, settings, on_context)


def _run(
    job_id: int,
    store: JobAccess,
    settings: Settings,
    on_context: Callable[[JobContext], None] | None,
) -> JobContext:
    job = store.get_job(job_id)
    try:
        execution = store.get_execution(job.execution_id)
        spec = JobSpec.model_validate(job.spec)
        root = None
        if spec.snapshot_uri and spec.source_hash:
            root = snapshot.extract(
                spec.snapshot_uri, spec.source_hash, settings.snapshots_dir / "unpacked"
            )
    except Exception as exc:  # before there is a context to publish: record why, then fail
        _record_failure(store, job, exc)
        raise
    log.info(
        "job %s (%s) of execution %s, attempt %s: %s mode, engine %s, nodes %s, meta store %r",
        job.name,
        job.id,
        execution.id,
        job.attempt,
        spec.mode,
        spec.engine,
        [n.id for n in spec.nodes],
        store,
    )
    ctx = JobContext(
        store=store,
        job=job,
        execution=execution,
        spec=spec,
        settings=settings,
        code=UserCode(root, spec.entrypoint),
    )
    try:
        if on_context is not None:
            on_context(ctx)
        engine = load_engine(spec.engine)()
        engine.run_job(spec, ctx)
        ctx.result.succeeded = _attempt(job)
    except Exception as exc:  # the job's error field says why, not only its log
        ctx.result.fail(exc, _attempt(job))
        raise
    finally:
        ctx.publish()
    log.info("job %s done: %s", job.name, ctx.result.to_dict())
    return ctx


def _attempt(job: Job) -> int:
    """This process's attempt: the driver's ``AIFLOW_ATTEMPT``, since the job row may still
    show the previous attempt (the driver records the new one just after starting it)."""
    return int(os.environ.get("AIFLOW_ATTEMPT") or job.attempt)


def _record_failure(store: JobAccess, job: Job, exc: Exception) -> None:
    """Publish a result holding only why the attempt failed; best effort, since the store may
    be what failed (the log keeps the traceback either way)."""
    result = JobResult()
    result.fail(exc, _attempt(job))
    try:
        store.update_job(job.id, result=result.to_dict())
    except Exception:
        log.exception("job %s: could not record why it failed", job.id)


@contextmanager
def _heartbeat(api: JobApiClient | None) -> Iterator[None]:
    """Extend the job token in the background while the block runs (no-op without a server).

    Each extension says how long the token is valid for; the next one comes after a third of
    that, so two can fail in a row (a server restart) before the token expires. Once the
    server refuses the token (the attempt was ended), the heartbeat stops: the job's next
    call fails with the same ``Unauthorized``."""
    if api is None:
        yield
        return
    stop = threading.Event()

    def beat() -> None:
        wait = _MIN_HEARTBEAT
        while not stop.wait(wait):
            try:
                wait = max(api.extend() / 3, _MIN_HEARTBEAT)
            except Unauthorized as exc:
                log.warning("job token no longer accepted, heartbeat stops: %s", exc)
                return
            except AiflowError as exc:
                log.warning("could not extend the job token (retrying): %s", exc)
                wait = _MIN_HEARTBEAT

    thread = threading.Thread(target=beat, name="aiflow-job-token", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(5)
        api.close()
