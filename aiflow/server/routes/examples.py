"""Examples (datasets) as the workflows that read or write them declared them."""

from __future__ import annotations

from fastapi import APIRouter

from aiflow.schemas.api import ExamplePublic, Page
from aiflow.server.deps import Store, Viewer
from aiflow.server.params import Name
from aiflow.server.routes._paging import whole

router = APIRouter(prefix="/examples", tags=["examples"])


@router.get("")
def list_examples(store: Store, _: Viewer) -> Page[ExamplePublic]:
    """Every registered example, by name, in one page (examples are declared in workflow code,
    so there are as many as a team writes by hand)."""
    return whole(store.list_examples(), ExamplePublic)


@router.get("/{name}")
def get_example(name: Name, store: Store, _: Viewer) -> ExamplePublic:
    """An example with its schema (column -> type) and batch and stream locations."""
    return ExamplePublic.model_validate(store.get_example(name))
