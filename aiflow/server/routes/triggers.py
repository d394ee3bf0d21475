"""Triggers: schedules (cron, interval) and event rules that start executions by themselves.

Reading needs a viewer token, creating, changing and deleting an editor token (a trigger runs
code on the server host, like submitting does). The scheduler service fires them; what a fire
runs, the missed-fire policy and why each fire happens once are in
``aiflow/scheduler/triggers.py`` and docs/scheduling.md. A trigger's fires, skips and failures
are events keyed ``trigger/<name>`` (``GET /events?key=trigger/<name>``); the executions it
started carry its id and are listed by ``GET /triggers/{name}/executions`` (or
``GET /executions?trigger=<name>``).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request, Response

from aiflow.scheduler import triggers
from aiflow.schemas.api import ExecutionPublic, Page, TriggerPublic
from aiflow.schemas.inputs import TriggerCreate, TriggerUpdate
from aiflow.schemas.limits import TRIGGER_NAME_LENGTH, TRIGGER_NAME_PATTERN
from aiflow.server.deps import Editor, Store, Viewer
from aiflow.server.params import DEFAULT_PAGE, Count, FilterName, Limit, NameCursor, NumberCursor
from aiflow.server.routes._paging import make_page

router = APIRouter(prefix="/triggers", tags=["triggers"])

TriggerName = Annotated[
    str,
    Path(
        min_length=1,
        max_length=TRIGGER_NAME_LENGTH,
        pattern=TRIGGER_NAME_PATTERN,
        description="trigger name",
    ),
]
_NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"description": "no trigger has this name"}}


@router.get("")
def list_triggers(
    store: Store,
    _: Viewer,
    workflow: FilterName = None,
    enabled: Annotated[bool | None, Query(description="only enabled, or disabled, ones")] = None,
    cursor: NameCursor = None,
    limit: Limit = DEFAULT_PAGE,
    count: Count = False,
) -> Page[TriggerPublic]:
    """Triggers by name, filtered by workflow and whether they are enabled."""
    rows = store.page_triggers(workflow=workflow, enabled=enabled, cursor=cursor, limit=limit + 1)
    total = store.count_triggers(workflow=workflow, enabled=enabled) if count else None
    return make_page(rows, limit, TriggerPublic, key=lambda t: t.name, total=total)


@router.post(
    "",
    status_code=201,
    responses={
        404: {"description": "the workflow, or the pinned version, does not exist"},
        409: {"description": "a trigger with this name exists"},
    },
)
def create_trigger(
    body: TriggerCreate, store: Store, _: Editor, request: Request, response: Response
) -> TriggerPublic:
    """Create a trigger: exactly one of ``cron``, ``interval`` or ``event_type``. It first
    fires at its next scheduled time, or on the first matching event after now."""
    trigger = triggers.create_trigger(store, body)
    response.headers["Location"] = f"{request.url.path}/{trigger.name}"
    return TriggerPublic.model_validate(trigger)


@router.get("/{name}", responses=_NOT_FOUND)
def get_trigger(name: TriggerName, store: Store, _: Viewer) -> TriggerPublic:
    """One trigger."""
    return TriggerPublic.model_validate(store.get_trigger(name))


@router.patch("/{name}", responses=_NOT_FOUND)
def update_trigger(
    name: TriggerName, body: TriggerUpdate, store: Store, _: Editor
) -> TriggerPublic:
    """Enable or disable a trigger, change its schedule or its ``max_active``. Fields left out
    stay as they are. A new schedule, or enabling, starts the trigger afresh from now."""
    return TriggerPublic.model_validate(store.update_trigger(name, body))


@router.delete("/{name}", responses=_NOT_FOUND)
def delete_trigger(name: TriggerName, store: Store, _: Editor) -> TriggerPublic:
    """Delete a trigger; returns it as it was. Its executions and events stay."""
    return TriggerPublic.model_validate(store.delete_trigger(name))


@router.get("/{name}/executions", responses=_NOT_FOUND)
def list_trigger_executions(
    name: TriggerName,
    store: Store,
    _: Viewer,
    cursor: NumberCursor = None,
    limit: Limit = DEFAULT_PAGE,
    count: Count = False,
) -> Page[ExecutionPublic]:
    """The executions the trigger started, newest first."""
    rows = store.page_executions(trigger=name, cursor=cursor, limit=limit + 1)
    total = store.count_executions(trigger=name) if count else None
    return make_page(rows, limit, ExecutionPublic, key=lambda e: e.id, total=total)
