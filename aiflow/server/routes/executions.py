"""Executions: list and inspect them, stop one, run one again, read its metrics.

Submitting a new workflow (``POST /executions`` with a source snapshot) is in ``submit.py``.
Executions started here are driven by a detached driver process (``spawn_driver``), never by
the server itself, so they survive a server restart or upgrade.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query

from aiflow.scheduler import submit
from aiflow.scheduler.reconcile import request_stop
from aiflow.schemas.api import ExecutionDetail, ExecutionPublic, JobPublic, MetricPublic, Page
from aiflow.schemas.entities import ExecutionStatus
from aiflow.server.deps import Editor, Store, Viewer
from aiflow.server.params import DEFAULT_PAGE, Count, FilterName, Id, Limit, NumberCursor
from aiflow.server.routes._paging import make_page, whole
from aiflow.store.sql_store import MetaStore

router = APIRouter(prefix="/executions", tags=["executions"])

StopWait = Annotated[
    float,
    Query(ge=0, le=60, description="seconds to wait for the execution to end before answering"),
]


@router.get("")
def list_executions(
    store: Store,
    _: Viewer,
    workflow: FilterName = None,
    status: ExecutionStatus | None = None,
    mode: Literal["batch", "stream"] | None = None,
    trigger: FilterName = None,
    order: Annotated[
        Literal["desc", "asc"], Query(description="by creation: newest first (desc) or oldest")
    ] = "desc",
    cursor: NumberCursor = None,
    limit: Limit = DEFAULT_PAGE,
    count: Count = False,
) -> Page[ExecutionPublic]:
    """Executions in creation order, filtered by workflow name, status, mode and the trigger
    that started them."""
    rows = store.page_executions(
        workflow=workflow,
        status=status,
        mode=mode,
        trigger=trigger,
        ascending=order == "asc",
        cursor=cursor,
        limit=limit + 1,
    )
    total = (
        store.count_executions(workflow=workflow, status=status, mode=mode, trigger=trigger)
        if count
        else None
    )
    return make_page(rows, limit, ExecutionPublic, key=lambda e: e.id, total=total)


@router.get("/{id}")
def get_execution(id: Id, store: Store, _: Viewer) -> ExecutionDetail:
    """An execution with its jobs."""
    return execution_detail(store, id)


@router.post("/{id}/stop")
def stop_execution(id: Id, store: Store, _: Editor, wait: StopWait = 10.0) -> ExecutionDetail:
    """Ask the execution's driver to stop its jobs; answers once the execution ended or after
    ``wait`` seconds, whichever comes first (then the status is still ``stopping``). Stopping a
    finished execution changes nothing. If the driver died, the jobs are stopped from here."""
    from aiflow.deployers import get_deployer

    request_stop(store, id, get_deployer, wait=wait)
    return execution_detail(store, id)


@router.post("/{id}/rerun", status_code=201)
def rerun_execution(id: Id, store: Store, _: Editor) -> ExecutionDetail:
    """A new execution of the same workflow version, mode, engine and deployer, with the same
    jobs: each job's spec already names the source snapshot to run, so nothing is re-planned
    and the code that runs is exactly the code that ran."""
    return execution_detail(store, submit.rerun_execution(store, id).id)


@router.get("/{id}/metrics")
def list_execution_metrics(id: Id, store: Store, _: Viewer) -> Page[MetricPublic]:
    """Every metric value the execution's jobs logged, in logging order."""
    return whole(store.list_execution_metrics(id), MetricPublic)


def execution_detail(store: MetaStore, id: int) -> ExecutionDetail:
    execution = store.get_execution(id)
    jobs = store.list_jobs(id)
    return ExecutionDetail(
        **execution.model_dump(), jobs=[JobPublic.model_validate(job) for job in jobs]
    )
