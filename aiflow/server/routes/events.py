"""The store's change feed: every state change (job transitions, new model versions, alias
moves) is an event with a store-wide, strictly increasing ``seq``.

Two ways to follow it: poll ``GET /events?after_seq=<last seq seen>``, or keep one
``GET /events/stream`` open (Server-Sent Events). The stream polls the store (every
``poll_interval`` seconds), so it works the same on every backend and across processes; a
reconnecting ``EventSource`` sends ``Last-Event-ID`` and resumes after it, missing nothing.

``POST /events`` appends a user event, which rules of ``af.action_on_event`` fire on (editors
only: a rule runs code on the server host).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Annotated, Literal

from fastapi import APIRouter, Header, Query
from fastapi.sse import EventSourceResponse, ServerSentEvent
from starlette.concurrency import run_in_threadpool

from aiflow.schemas.api import EventCreate, EventPublic, Page
from aiflow.schemas.events import check_user_event_type
from aiflow.server.deps import Editor, Store, Viewer
from aiflow.server.params import DEFAULT_PAGE, INT64_MAX, FilterName, Limit, Seq

router = APIRouter(prefix="/events", tags=["events"])

EventType = Annotated[str | None, Query(max_length=64, pattern=r"^[^\x00-\x1f\x7f]+$")]
_STREAM_BATCH = 500


@router.get("")
def list_events(
    store: Store,
    _: Viewer,
    after_seq: Seq = 0,
    key: FilterName = None,
    type: EventType = None,
    limit: Limit = DEFAULT_PAGE,
    order: Annotated[
        Literal["asc", "desc"],
        Query(description="asc: oldest first, to follow; desc: newest first, a tail"),
    ] = "asc",
    before_seq: Annotated[
        int | None, Query(ge=1, le=INT64_MAX, description="only events older than this seq")
    ] = None,
) -> Page[EventPublic]:
    """Events with ``after_seq < seq < before_seq``. In ``asc`` order ``next_cursor`` is the
    ``after_seq`` of the next page when this one is full (to wait for new events, poll with the
    last seq seen); in ``desc`` order it is the ``before_seq`` of the next, older page."""
    newest_first = order == "desc"
    rows = store.list_events(
        after_seq=after_seq,
        key=key,
        type=type,
        limit=limit + 1,
        before_seq=before_seq,
        newest_first=newest_first,
    )
    data = rows[:limit]
    more = len(rows) > limit
    return Page[EventPublic](
        data=[EventPublic.model_validate(e) for e in data],
        next_cursor=str(data[-1].seq) if more else None,
    )


@router.post(
    "",
    status_code=201,
    responses={422: {"description": "a reserved event type (MODEL_*, JOB_*, ...) or bad field"}},
)
def send_event(body: EventCreate, store: Store, _: Editor) -> EventPublic:
    """Append a user event to the log; the rules of ``af.action_on_event`` with its key and
    type fire on it once each. The platform's own types are refused (422)."""
    check_user_event_type(body.type)
    event = store.emit_event(body.key, body.type, body.value)
    return EventPublic.model_validate(event)


@router.get("/stream", response_class=EventSourceResponse)
async def stream_events(
    store: Store,
    _: Viewer,
    after_seq: Seq = 0,
    key: FilterName = None,
    type: EventType = None,
    last_event_id: Annotated[str | None, Header(pattern=r"^[0-9]{1,18}$")] = None,
    poll_interval: Annotated[float, Query(ge=0.05, le=10)] = 0.5,
    heartbeat: Annotated[
        float, Query(ge=0.1, le=300, description="seconds of silence before a comment line")
    ] = 15.0,
) -> AsyncIterator[ServerSentEvent]:
    """New events as Server-Sent Events (``id: <seq>``, ``event: <type>``, ``data: <json>``),
    from ``after_seq`` or, when reconnecting, from the ``Last-Event-ID`` header. An idle
    stream sends a comment every ``heartbeat`` seconds so proxies keep it open. The stream
    ends when the client disconnects."""
    # Validated by the pattern above: a generator cannot reject its input once streaming.
    last = after_seq if last_event_id is None else int(last_event_id)
    quiet_since = time.monotonic()
    while True:
        events = await run_in_threadpool(
            store.list_events, after_seq=last, key=key, type=type, limit=_STREAM_BATCH
        )
        for event in events:
            yield ServerSentEvent(
                id=str(event.seq), event=event.type, data=EventPublic.model_validate(event)
            )
            last = event.seq
        now = time.monotonic()
        if events:
            quiet_since = now
        elif now - quiet_since >= heartbeat:
            yield ServerSentEvent(comment="heartbeat")
            quiet_since = now
        if len(events) < _STREAM_BATCH:
            await asyncio.sleep(poll_interval)
