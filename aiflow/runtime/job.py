"""Running one job: load its spec and snapshot, build the context, hand it to its engine."""

from __future__ import annotations

import logging
from collections.abc import Callable

from aiflow.config import get_settings
from aiflow.plan import snapshot
from aiflow.runtime.context import JobContext
from aiflow.runtime.usercode import UserCode
from aiflow.store.sql_store import MetaStore
from aiflow.translators.base import load_engine
from aiflow.translators.physical import JobSpec

log = logging.getLogger("aiflow.runtime")


def run_job(job_id: int, on_context: Callable[[JobContext], None] | None = None) -> JobContext:
    settings = get_settings()
    store = MetaStore()
    job = store.get_job(job_id)
    execution = store.get_execution(job.execution_id)
    spec = JobSpec.model_validate(job.spec)
    root = None
    if spec.snapshot_uri and spec.source_hash:
        root = snapshot.extract(
            spec.snapshot_uri, spec.source_hash, settings.snapshots_dir / "unpacked"
        )
    log.info(
        "job %s (%s) of execution %s, attempt %s: %s mode, engine %s, nodes %s",
        job.name,
        job.id,
        execution.id,
        job.attempt,
        spec.mode,
        spec.engine,
        [n.id for n in spec.nodes],
    )
    ctx = JobContext(
        store=store,
        job=job,
        execution=execution,
        spec=spec,
        settings=settings,
        code=UserCode(root, spec.entrypoint),
    )
    if on_context is not None:
        on_context(ctx)
    engine = load_engine(spec.engine)()
    try:
        engine.run_job(spec, ctx)
    finally:
        ctx.publish()
    log.info("job %s done: %s", job.name, ctx.result.to_dict())
    return ctx
