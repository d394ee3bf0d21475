"""Workflows, their versions and a version's plan as a graph (read-only: workflows are created
by submitting them, ``POST /executions``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any, Final, Literal, TypeVar

from fastapi import APIRouter, Query
from fastapi import Path as PathParam
from fastapi.concurrency import run_in_threadpool
from starlette.responses import PlainTextResponse

from aiflow.schemas.api import (
    GraphEdge,
    GraphNode,
    Page,
    WorkflowGraph,
    WorkflowPublic,
    WorkflowVersionPublic,
)
from aiflow.schemas.limits import INT32_MAX
from aiflow.schemas.views import PhysicalPlanView, PlannedJob, SourceListing
from aiflow.server.deps import Store, Viewer
from aiflow.server.params import (
    DEFAULT_PAGE,
    Count,
    Limit,
    Name,
    NameCursor,
    NumberCursor,
    VersionNumber,
)
from aiflow.server.routes._paging import make_page
from aiflow.server.sources import list_sources, read_source

router = APIRouter(prefix="/workflows", tags=["workflows"])
P = TypeVar("P", GraphNode, GraphEdge)


@router.get("")
def list_workflows(
    store: Store,
    _: Viewer,
    cursor: NameCursor = None,
    limit: Limit = DEFAULT_PAGE,
    count: Count = False,
) -> Page[WorkflowPublic]:
    """Workflows by name."""
    rows = store.page_workflows(cursor=cursor, limit=limit + 1)
    total = store.count_workflows() if count else None
    return make_page(rows, limit, WorkflowPublic, key=lambda w: w.name, total=total)


@router.get("/{name}")
def get_workflow(name: Name, store: Store, _: Viewer) -> WorkflowPublic:
    return WorkflowPublic.model_validate(store.get_workflow(name))


@router.get("/{name}/versions")
def list_workflow_versions(
    name: Name,
    store: Store,
    _: Viewer,
    cursor: NumberCursor = None,
    limit: Limit = DEFAULT_PAGE,
    count: Count = False,
) -> Page[WorkflowVersionPublic]:
    """Versions of a workflow, newest first."""
    rows = store.page_workflow_versions(name, cursor=cursor, limit=limit + 1)
    total = store.count_workflow_versions(name) if count else None
    return make_page(rows, limit, WorkflowVersionPublic, key=lambda v: v.version, total=total)


@router.get("/{name}/versions/{version}/graph")
def get_workflow_graph(
    name: Name, version: VersionNumber, store: Store, _: Viewer
) -> WorkflowGraph:
    """The version's logical plan as nodes and edges: ``data`` edges carry records, ``model``
    edges a trained model, ``control`` edges only order nodes (``af.run_after``). Whole: for
    a plan of thousands of nodes, page through ``/graph/nodes`` and ``/graph/edges``."""
    return store.get_workflow_graph(name, version)


# A graph's pages are larger than other lists': its items are small, and a client drawing a
# 100,000-node plan would otherwise need 200 requests per collection.
MAX_GRAPH_PAGE: Final = 10_000
DEFAULT_GRAPH_PAGE: Final = 1_000
GraphLimit = Annotated[
    int, Query(ge=1, le=MAX_GRAPH_PAGE, description=f"page size, at most {MAX_GRAPH_PAGE}")
]
GraphCursor = Annotated[
    int | None,
    Query(ge=1, le=INT32_MAX, description="`next_cursor` of the previous page"),
]


@router.get("/{name}/versions/{version}/graph/nodes")
def list_workflow_graph_nodes(
    name: Name,
    version: VersionNumber,
    store: Store,
    _: Viewer,
    cursor: GraphCursor = None,
    limit: GraphLimit = DEFAULT_GRAPH_PAGE,
    count: Count = False,
) -> Page[GraphNode]:
    """The nodes of ``/graph``, a page at a time, in the same order (the plan's)."""
    return graph_page(store.get_workflow_graph(name, version).nodes, cursor, limit, count)


@router.get("/{name}/versions/{version}/graph/edges")
def list_workflow_graph_edges(
    name: Name,
    version: VersionNumber,
    store: Store,
    _: Viewer,
    cursor: GraphCursor = None,
    limit: GraphLimit = DEFAULT_GRAPH_PAGE,
    count: Count = False,
) -> Page[GraphEdge]:
    """The edges of ``/graph``, a page at a time, in the same order (each node's inputs in
    port order, then control edges)."""
    return graph_page(store.get_workflow_graph(name, version).edges, cursor, limit, count)


def graph_page(items: Sequence[P], cursor: int | None, limit: int, count: bool) -> Page[P]:
    """Items ``cursor`` to ``cursor + limit`` of a recorded version's graph. A version never
    changes, so a position is a stable cursor (it counts the items already returned)."""
    start = cursor or 0
    data = list(items[start : start + limit])
    end = start + len(data)
    return Page[Any](
        data=data,
        next_cursor=str(end) if end < len(items) else None,
        total=len(items) if count else None,
    )


@router.get(
    "/{name}/versions/{version}/jobs",
    responses={422: {"description": "the version cannot run in this mode or on this engine"}},
)
def get_workflow_jobs(
    name: Name,
    version: VersionNumber,
    store: Store,
    _: Viewer,
    mode: Literal["batch", "stream"] = "batch",
    engine: Annotated[str | None, Query(pattern=r"^[a-z][a-z0-9_]*$", max_length=64)] = None,
) -> PhysicalPlanView:
    """The version's physical plan: the jobs a run in ``mode`` on ``engine`` (default: the
    workflow's) would launch, each with the logical nodes fused into it."""
    from aiflow.plan.model import LogicalPlan
    from aiflow.translators import translator_for

    recorded = store.get_workflow_version_by_number(name, version)
    plan = LogicalPlan.model_validate(recorded.plan)
    physical = translator_for(mode).translate(plan, engine=engine)
    jobs = [
        PlannedJob(
            name=job.name,
            engine=job.engine,
            fallback_from=job.fallback_from,
            nodes=[node.id for node in job.nodes],
            depends_on=job.depends_on,
        )
        for job in physical.jobs
    ]
    return PhysicalPlanView(
        workflow=name, version=version, mode=mode, engine=engine or plan.engine, jobs=jobs
    )


@router.get("/{name}/versions/{version}/source")
async def list_workflow_sources(
    name: Name, version: VersionNumber, store: Store, _: Viewer
) -> SourceListing:
    """The files of the version's source snapshot: the code its jobs run."""
    recorded = await run_in_threadpool(store.get_workflow_version_by_number, name, version)
    return await run_in_threadpool(list_sources, recorded)


SourcePath = Annotated[
    str, PathParam(min_length=1, max_length=1024, description="a path the listing names")
]


@router.get(
    "/{name}/versions/{version}/source/{path:path}",
    response_class=PlainTextResponse,
    responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}}},
)
async def get_workflow_source(
    name: Name, version: VersionNumber, path: SourcePath, store: Store, _: Viewer
) -> PlainTextResponse:
    """One file of the version's source snapshot, as text."""
    recorded = await run_in_threadpool(store.get_workflow_version_by_number, name, version)
    text = await run_in_threadpool(read_source, recorded, path)
    return PlainTextResponse(text, headers={"X-Content-Type-Options": "nosniff"})
