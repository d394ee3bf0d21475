"""Workflows, their versions and a version's plan as a graph (read-only: workflows are created
by submitting them, ``POST /executions``)."""

from __future__ import annotations

from fastapi import APIRouter

from aiflow.schemas.api import Page, WorkflowGraph, WorkflowPublic, WorkflowVersionPublic
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

router = APIRouter(prefix="/workflows", tags=["workflows"])


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
    edges a trained model, ``control`` edges only order nodes (``af.run_after``)."""
    return store.get_workflow_graph(name, version)
