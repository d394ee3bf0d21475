"""Examples (datasets) as the workflows that read or write them declared them."""

from __future__ import annotations

from fastapi import APIRouter

from aiflow.schemas.api import ExamplePublic, Page
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
