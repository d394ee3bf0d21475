"""Examples (datasets) as the workflows that read or write them declared them."""

from __future__ import annotations

from typing import Final

from fastapi import APIRouter

from aiflow.schemas.api import ExamplePublic, Page
from aiflow.schemas.views import ExampleUse
from aiflow.server.deps import Store, Viewer
from aiflow.server.params import DEFAULT_PAGE, Count, Limit, Name, NameCursor
from aiflow.server.routes._paging import make_page

router = APIRouter(prefix="/examples", tags=["examples"])


@router.get("")
def list_examples(
    store: Store,
    _: Viewer,
    cursor: NameCursor = None,
    limit: Limit = DEFAULT_PAGE,
    count: Count = False,
) -> Page[ExamplePublic]:
    """Registered examples by name."""
    rows = store.page_examples(cursor=cursor, limit=limit + 1)
    total = store.count_examples() if count else None
    return make_page(rows, limit, ExamplePublic, key=lambda e: e.name, total=total)


@router.get("/{name}")
def get_example(name: Name, store: Store, _: Viewer) -> ExamplePublic:
    """An example with its schema (column -> type) and batch and stream locations."""
    return ExamplePublic.model_validate(store.get_example(name))


_USAGE_SCAN: Final = 1000  # workflows looked at; a store with more answers for the first ones


@router.get("/{name}/usage")
def get_example_usage(name: Name, store: Store, _: Viewer) -> list[ExampleUse]:
    """The workflows whose newest version reads or writes the example, with the nodes."""
    store.get_example(name)  # 404 for an unknown example
    uses: list[ExampleUse] = []
    for workflow in store.page_workflows(limit=_USAGE_SCAN):
        newest = store.page_workflow_versions(workflow.name, limit=1)
        if not newest:
            continue
        # the recorded plan as stored, not re-validated: a version an older aiflow recorded
        # (or a malformed one) must not make the whole answer fail
        nodes = [n for n in newest[0].plan.get("nodes", []) if isinstance(n, dict)]
        mine = [n for n in nodes if (n.get("example") or {}).get("name") == name]
        reads = [str(n.get("id")) for n in mine if n.get("kind") == "read_example"]
        writes = [str(n.get("id")) for n in mine if n.get("kind") == "write_example"]
        if reads or writes:
            uses.append(
                ExampleUse(
                    workflow=workflow.name, version=newest[0].version, reads=reads, writes=writes
                )
            )
    return uses
