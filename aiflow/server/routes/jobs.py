"""Jobs of executions and their logs.

Logs are plain text (the bytes the job wrote, undecoded). Three ways to read one: whole, the
last ``tail`` lines, or a byte range (``offset``, ``length``) for paging through a big log; the
``X-Log-Size`` and ``X-Next-Offset`` headers say how far the log went and where the next range
starts. ``follow=true`` keeps the response open and streams what the job writes until it ends.
Whole and tail reads end with what the job's engine logged elsewhere (a Flink TaskManager's).

Logs are read through the job's deployer (``aiflow.scheduler.logs``), never opened here: a
Kubernetes or YARN job's log is served like a local one, and the deployer decides what may be
read (the local one: only regular files under the logs directory). A deployer that cannot read
byte ranges serves whole, tail and follow reads without the size headers.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from fastapi.responses import StreamingResponse

from aiflow.config import Settings
from aiflow.errors import InvalidInput
from aiflow.scheduler.logs import job_log_range, job_logs
from aiflow.schemas.api import JobPublic, Page
from aiflow.server.deps import Store, Viewer, get_app_settings
from aiflow.server.params import Id
from aiflow.server.routes import _logs
from aiflow.server.routes._paging import whole

router = APIRouter(tags=["jobs"])

AppSettings = Annotated[Settings, Depends(get_app_settings)]
_TEXT = "text/plain; charset=utf-8"
_MAX_LENGTH = 64 * 1024 * 1024


@router.get("/executions/{id}/jobs")
def list_execution_jobs(id: Id, store: Store, _: Viewer) -> Page[JobPublic]:
    """The jobs of an execution in creation order (one page: an execution's jobs are few)."""
    return whole(store.list_jobs(id), JobPublic)


@router.get("/jobs/{id}")
def get_job(id: Id, store: Store, _: Viewer) -> JobPublic:
    return JobPublic.model_validate(store.get_job(id))


@router.get(
    "/jobs/{id}/logs",
    responses={200: {"content": {_TEXT: {"schema": {"type": "string"}}}}},
)
def get_job_logs(
    id: Id,
    store: Store,
    settings: AppSettings,
    _: Viewer,
    tail: Annotated[
        int | None, Query(ge=1, le=100_000, description="only the last N lines")
    ] = None,
    offset: Annotated[int | None, Query(ge=0, le=2**62, description="start at this byte")] = None,
    length: Annotated[
        int | None, Query(ge=1, le=_MAX_LENGTH, description="at most this many bytes")
    ] = None,
    follow: Annotated[bool, Query(description="stream new output until the job ends")] = False,
) -> StreamingResponse:
    """The job's log (of its latest attempt) as plain text."""
    if tail is not None and (offset is not None or length is not None):
        raise InvalidInput("use either tail or offset/length, not both")
    if follow and length is not None:
        raise InvalidInput("length limits a range; it cannot be combined with follow")
    if follow:
        follower = _logs.Follower()
        lines = job_logs(
            store, id, follow=True, tail=tail, offset=offset, settings=settings, stop=follower.stop
        )
        return StreamingResponse(follower.stream(lines), media_type=_TEXT)
    log = job_log_range(store, id, tail=tail, offset=offset, length=length, settings=settings)
    headers = {}
    if log.size is not None and log.next_offset is not None:
        headers = {"X-Log-Size": str(log.size), "X-Next-Offset": str(log.next_offset)}
    return StreamingResponse(log.chunks, media_type=_TEXT, headers=headers)
