"""Jobs of executions and their logs.

Logs are plain text (the bytes the job wrote, undecoded). Three ways to read one: whole, the
last ``tail`` lines, or a byte range (``offset``, ``length``) for paging through a big log; the
``X-Log-Size`` and ``X-Next-Offset`` headers say how far the file went and where the next range
starts. ``follow=true`` keeps the response open and streams what the job writes until it ends.
Only files under the server's logs directory are ever read (see ``_logs``).
"""

from __future__ import annotations

import os
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from fastapi.responses import StreamingResponse

from aiflow.config import Settings
from aiflow.errors import InvalidInput
from aiflow.server.deps import Store, Viewer, get_app_settings
from aiflow.server.routes import _logs
from aiflow.server.routes._paging import whole
from aiflow.server.schemas import Id, JobPublic, Page

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
    job = store.get_job(id)
    if follow and not job.log_uri and not job.status.finished:
        # Queued: nothing written yet. Following waits for the first attempt's log.
        return StreamingResponse(_logs.follow(store, id, None, settings.logs_dir), media_type=_TEXT)
    f = _logs.open_log(job, settings.logs_dir)
    try:
        size = os.fstat(f.fileno()).st_size
        _logs.position(f, tail=tail, offset=offset)
        start = f.tell()
    except BaseException:
        f.close()
        raise
    if follow:
        body = _logs.follow(store, id, f, settings.logs_dir)
        return StreamingResponse(body, media_type=_TEXT, headers={"X-Log-Size": str(size)})
    end = size if length is None else min(size, start + length)
    headers = {"X-Log-Size": str(size), "X-Next-Offset": str(max(start, end))}
    return StreamingResponse(_logs.read_range(f, end), media_type=_TEXT, headers=headers)
