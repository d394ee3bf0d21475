"""Submitting a workflow: validate and translate, snapshot the code, record it, start it.

Order matters for "bad input loses nothing": everything that can reject the workflow (plan
checks, translation, engine and deployer names) runs before the first meta store write, and the
writes themselves are two transactions (workflow version + examples; execution + jobs).

Running an already recorded workflow version again (``rerun_execution``, and every trigger
fire) copies the jobs of one of its executions (``rerun_jobs``): each job's spec names the
source snapshot it runs, so nothing is re-planned and the code that runs is the code that ran.

**Event-driven jobs** (those with rules, ``af.action_on_*``) are not part of the execution a
submission records: each of their rules becomes a trigger (``set_workflow_rules``, named
``<workflow>.<job>.<i>``, pinned to the submitted version, in its mode, engine and deployer)
that runs the job alone on each matching event. The rules are written before the execution,
so a rule on a job of this very execution (``af.action_on_job_status``) or on a model it
trains sees its events. A workflow of event-driven jobs only records an execution without
jobs, which succeeds at once: the submission is recorded like any other (``aiflow execution
list``), and its rules are what runs. Submitting another version replaces the workflow's rules
(``aiflow.store._rules``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from types import TracebackType
from typing import TYPE_CHECKING, Any, Protocol

from aiflow.config import get_settings
from aiflow.errors import ExecutionFailed, InvalidPlan

if TYPE_CHECKING:
    from aiflow.deployers.base import Deployer
    from aiflow.dsl.workflow import Workflow
    from aiflow.schemas.entities import Execution, Job
    from aiflow.schemas.inputs import JobCreate, RuleCreate
    from aiflow.store.sql_store import MetaStore
    from aiflow.translators.physical import JobSpec, PhysicalPlan


class ExecutionProgress(Protocol):
    """Watches one execution that ``run_workflow`` drives: entered before the first job
    starts, told every change, exited when it ends (or fails), then given the final state."""

    def __enter__(self) -> ExecutionProgress: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    def update(self, execution: Execution, jobs: list[Job]) -> None: ...

    def finish(self, store: MetaStore, final: Execution) -> None: ...


def submit_workflow(
    wf: Workflow,
    *,
    mode: str,
    engine: str | None = None,
    deployer: str | None = None,
    store: MetaStore | None = None,
) -> tuple[Execution, PhysicalPlan]:
    """Record ``wf`` (a new workflow version only if plan or code changed), the triggers of
    its event-driven jobs and a queued execution of the others; nothing runs yet."""
    from aiflow.plan.gc_pause import paused_gc

    with paused_gc():  # (aiflow.plan.gc_pause: a third of a big plan's time otherwise)
        return _submit(wf, mode=mode, engine=engine, deployer=deployer, store=store)


def _submit(
    wf: Workflow,
    *,
    mode: str,
    engine: str | None,
    deployer: str | None,
    store: MetaStore | None,
) -> tuple[Execution, PhysicalPlan]:
    from aiflow.deployers import get_deployer
    from aiflow.plan import snapshot
    from aiflow.plan.model import NodeKind, plan_hash
    from aiflow.store.sql_store import ExampleCreate, MetaStore
    from aiflow.translators import translator_for

    settings = get_settings()
    deployer = deployer or settings.default_deployer
    plan = wf.plan
    physical = translator_for(mode).translate(plan, engine=engine)
    # unknown deployer, or node options it refuses: fail before writing anything
    check_deploy_options(get_deployer(deployer), physical.jobs)
    if wf.source_file is None:
        raise InvalidPlan(
            f"workflow '{wf.name}' was not defined in a file; aiflow snapshots the file's "
            "directory so jobs can run its code anywhere"
        )
    snap = snapshot.collect(wf.source_file)
    snapshot_uri = snapshot.store(snap, settings.snapshots_uri)

    examples: dict[str, Any] = {}
    for node in plan.nodes:
        if node.example is not None and node.kind in (
            NodeKind.READ_EXAMPLE,
            NodeKind.WRITE_EXAMPLE,
        ):
            ex = node.example
            examples[ex.name] = ExampleCreate(
                name=ex.name,
                columns=ex.columns or {},
                format=ex.format,
                batch_uri=ex.batch_uri,
                stream_uri=ex.stream_uri,
            )
    located = {
        "source_hash": snap.hash,
        "snapshot_uri": snapshot_uri,
        "entrypoint": snap.entrypoint,
    }
    plan_data = plan.model_dump(mode="json")  # once: stored, hashed, and its nodes reused
    dumped = {id(node): data for node, data in zip(plan.nodes, plan_data["nodes"], strict=True)}
    jobs = [_job_create(job.model_copy(update=located), dumped) for job in physical.jobs]
    engine = engine or plan.engine
    rules = _rules(wf.name, physical, jobs, mode=mode, engine=engine, deployer=deployer)
    jobs = [job for job, spec in zip(jobs, physical.jobs, strict=True) if not spec.rules]

    store = store or MetaStore()
    version = store.register_workflow_version(
        wf.name,
        plan_data,
        plan_hash(plan_data),
        snap.hash,
        snapshot_uri,
        list(examples.values()),
    )
    for model in wf.models.values():
        store.create_model(model.name, model.description)
    store.set_workflow_rules(version.id, rules)  # before the execution: it may fire them
    execution = store.create_execution(version.id, mode, engine, deployer, jobs)
    return execution, physical


def check_deploy_options(deployer: Deployer, jobs: Iterable[JobSpec]) -> None:
    """Refuse the run if a node's ``deploy=`` names no installed deployer (a typo would be
    ignored on every run) or sets options that ``deployer``, the one this run uses, refuses
    (``Deployer.check_overrides``): checked node by node, so the error names the node, then
    as the job's merged options, which are what each launch gets."""
    known: list[str] = []  # the installed deployers, listed once, when first needed
    for job in jobs:
        nodes = [(node.id, node.deploy) for node in job.nodes]
        _check_options(deployer, job.name, nodes, job.deploy, known)


def check_recorded_deploy_options(deployer: Deployer, jobs: Iterable[JobCreate]) -> None:
    """``check_deploy_options`` for jobs as recorded (a trigger repeating a run on another
    deployer), read from their specs as stored: a spec from before ``deploy=`` has none."""
    known: list[str] = []
    for job in jobs:
        nodes = [
            (str(node.get("id")), node.get("deploy") or {})
            for node in job.spec.get("nodes") or []
            if isinstance(node, dict)
        ]
        _check_options(deployer, job.name, nodes, job.spec.get("deploy") or {}, known)


def _check_options(
    deployer: Deployer,
    job: str,
    nodes: list[tuple[str, dict[str, Any]]],
    merged: dict[str, Any],
    known: list[str],
) -> None:
    from aiflow.deployers import available_deployers

    for node_id, options in nodes:
        if not options:
            continue
        known[:] = known or available_deployers()
        unknown = sorted(set(options) - set(known))
        if unknown:
            raise InvalidPlan(
                f"deploy= names deployer '{unknown[0]}', which is not installed "
                f"(deployers: {', '.join(known)})",
                node_id,
            )
        if deployer.name in options:
            deployer.check_overrides(options[deployer.name], f"node '{node_id}'")
    if deployer.name in merged:
        deployer.check_overrides(merged[deployer.name], f"job '{job}'")


def _job_create(job: JobSpec, dumped: dict[int, dict[str, Any]] | None = None) -> JobCreate:
    """The job as recorded; ``dumped`` holds the JSON of nodes already dumped (by object
    id: a job's logical nodes are the plan's own objects), so 100,000 nodes are dumped once."""
    from aiflow.schemas.inputs import JobCreate

    if dumped:
        spec = job.model_dump(mode="json", exclude={"nodes"})
        spec["nodes"] = [dumped.get(id(node)) or node.model_dump(mode="json") for node in job.nodes]
        spec = {field: spec[field] for field in type(job).model_fields}  # the usual key order
    else:
        spec = job.model_dump(mode="json")
    return JobCreate(
        name=job.name,
        engine=job.engine,
        spec=spec,
        depends_on=job.depends_on,
        max_retries=job.retries,
        retry_delay=job.retry_delay,
        timeout=job.timeout,
    )


def _rules(
    workflow: str,
    physical: PhysicalPlan,
    jobs: list[JobCreate],
    *,
    mode: str,
    engine: str,
    deployer: str,
) -> list[RuleCreate]:
    """One trigger per rule of each event-driven job (see the module docstring); a rule the
    store cannot hold (a key too long, say) is ``InvalidPlan`` naming its node."""
    from pydantic import ValidationError

    from aiflow.schemas.entities import rule_trigger_name
    from aiflow.schemas.inputs import RuleCreate

    rules = []
    for spec, job in zip(physical.jobs, jobs, strict=True):
        for i, rule in enumerate(spec.rules):
            try:
                rules.append(
                    RuleCreate(
                        name=rule_trigger_name(workflow, spec.name, i),
                        event_type=rule.event_type,
                        event_key=rule.key,
                        event_value=rule.value,
                        action=rule.action,
                        job=job,
                        mode=mode,
                        engine=engine,
                        deployer=deployer,
                    )
                )
            except ValidationError as exc:
                problems = "; ".join(
                    f"{'.'.join(map(str, e['loc']))}: {e['msg']}"
                    for e in exc.errors(include_url=False)
                )
                why = f"its {rule.on} rule cannot be kept: {problems}"
                raise InvalidPlan(why, rule.node) from None
    return rules


def run_workflow(
    wf: Workflow,
    *,
    mode: str = "batch",
    engine: str | None = None,
    deployer: str | None = None,
    detach: bool = False,
    progress: Callable[[Execution], ExecutionProgress] | None = None,
    store: MetaStore | None = None,
) -> Execution:
    """Submit, then either hand the execution to a background driver (``detach``) or drive it
    here, reporting to ``progress(execution)`` when given (``aiflow.dsl.progress.LiveProgress``
    draws a live table); raise ``ExecutionFailed`` if it failed."""
    from aiflow.deployers import get_deployer
    from aiflow.scheduler.driver import reconcile, run_execution, spawn_driver
    from aiflow.scheduler.launch import COMMON_JOB_ENV
    from aiflow.schemas.entities import ExecutionStatus
    from aiflow.store.sql_store import MetaStore

    store = store or MetaStore()
    if not detach:  # this process drives it: its deployer warms up while the run is recorded
        get_deployer(deployer or get_settings().default_deployer).prepare(COMMON_JOB_ENV)
    reconcile(store, get_deployer)
    execution, _ = submit_workflow(wf, mode=mode, engine=engine, deployer=deployer, store=store)
    if detach:
        spawn_driver(execution.id)
        return store.get_execution(execution.id)
    deployer_impl = get_deployer(execution.deployer)
    if progress is not None:
        with progress(execution) as live:
            final = run_execution(store, execution.id, deployer_impl, on_update=live.update)
        live.finish(store, final)
    else:
        final = run_execution(store, execution.id, deployer_impl)
    if final.status is ExecutionStatus.FAILED:
        raise ExecutionFailed(
            f"execution {final.id} of '{final.workflow_name}' failed: {final.error} "
            f"(see `aiflow job list {final.id}` and `aiflow job logs JOB_ID`)"
        )
    return final


def rerun_jobs(store: MetaStore, execution_id: int) -> list[JobCreate]:
    """The jobs of execution ``execution_id`` as a new execution of the same version gets
    them: same names, specs, dependencies, retries and timeouts; none of their state."""
    from aiflow.schemas.inputs import JobCreate

    old_jobs = store.list_jobs(execution_id)
    names = {job.id: job.name for job in old_jobs}
    return [
        JobCreate(
            name=job.name,
            engine=job.engine,
            spec=job.spec,
            depends_on=[names[dep] for dep in job.depends_on],
            max_retries=job.max_retries,
            retry_delay=job.retry_delay,
            timeout=job.timeout,
        )
        for job in old_jobs
    ]


def rerun_execution(store: MetaStore, execution_id: int) -> Execution:
    """Record a new execution of the same workflow version, mode, engine and deployer, with
    the same jobs (and the same event, if one started it: a rerun validation validates the
    same version), and start a detached driver for it."""
    from aiflow.scheduler.launch import spawn_driver

    old = store.get_execution(execution_id)
    jobs = rerun_jobs(store, execution_id)
    new = store.create_execution(
        old.workflow_version_id,
        old.mode,
        old.engine,
        old.deployer,
        jobs,
        trigger_event_seq=old.trigger_event_seq,
    )
    spawn_driver(new.id, store_uri=store.uri)
    return new
