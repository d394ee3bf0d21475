"""``POST /executions``: run a workflow from an uploaded source snapshot.

The client sends what ``aiflow.plan.snapshot`` makes locally (the tar.gz of the workflow's code
and its content hash), and the server:

1. reads the upload, refusing bodies over ``server.max_upload_bytes`` while they stream in
   (413), not after spooling them whole;
2. checks the archive before unpacking anything (regular files only, no absolute or ``..``
   names, the snapshot size limit), then unpacks it in a private directory with the tarfile
   "data" filter and verifies the hash. Any failure is a 422 and records nothing;
3. plans it in a subprocess (``python -m aiflow.server.planner``): importing the workflow runs
   user code, which never runs in the server process, and never with the server's credentials:
   the planner gets none of the server's ``AIFLOW*`` variables (no secret key, no meta store
   URL) and answers with the logical plan only;
4. checks the locations the plan's examples name (``aiflow.server.locations``): ones the
   server cannot read or write, and its own files, are refused (422, nothing recorded);
5. records it here, like a local run (``submit_workflow``: aiflow's translator makes the jobs,
   the archive is stored content-addressed as ``snapshots/<hash>.tar.gz``, the workflow
   version and a queued execution are recorded): the same code uploaded twice is one file and,
   with an unchanged plan, one workflow version;
6. starts a detached driver for it, so the execution outlives the server process. Its jobs
   reach the meta store through the job API with a token each, never with the store's URL
   (the driver inherits ``AIFLOW_JOB_API`` from the server, see ``aiflow.scheduler.launch``).

Example data is not part of a snapshot: a remotely submitted workflow names data the server's
host can reach, by a path (same host, shared mount) or a remote URI (s3://...). Relative paths
resolve against the snapshot's directory on the submitting host (the ``base_dir`` field), as a
local run resolves them; without ``base_dir`` they would resolve inside the unpacked upload,
which holds no data, and the planner refuses them.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tarfile
import tempfile
import zlib
from collections.abc import AsyncGenerator
from pathlib import Path, PurePosixPath
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.formparsers import MultiPartException, MultiPartParser

from aiflow.config import Settings
from aiflow.errors import InvalidInput, UserCodeError, error_for
from aiflow.plan import snapshot
from aiflow.scheduler.launch import spawn_driver
from aiflow.scheduler.submit import submit_workflow
from aiflow.schemas.api import ExecutionCreate, ExecutionDetail
from aiflow.server.deps import Editor, Store, get_app_settings
from aiflow.server.locations import check_locations
from aiflow.server.planner import PlannedWorkflow, PlanRequest, PlanResult, not_the_upload
from aiflow.server.routes.executions import execution_detail
from aiflow.store.sql_store import MetaStore
from aiflow.translators.job_store import NO_DIRECT_STORE

router = APIRouter(tags=["executions"])

AppSettings = Annotated[Settings, Depends(get_app_settings)]

PLAN_TIMEOUT = 120.0  # s for importing and planning a workflow file
_FORM_OVERHEAD = 64 * 1024  # multipart boundaries, part headers and the text fields
_MAX_MEMBERS = 10_000


_FORM_SCHEMA = {
    "type": "object",
    "required": ["snapshot", "source_hash", "entrypoint", "workflow"],
    "properties": {
        "snapshot": {"type": "string", "format": "binary", "description": "the tar.gz"},
        **ExecutionCreate.model_json_schema()["properties"],
    },
}


@router.post(
    "/executions",
    status_code=201,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"multipart/form-data": {"schema": _FORM_SCHEMA}},
        }
    },
    responses={413: {"description": "the snapshot is larger than server.max_upload_bytes"}},
)
async def submit_execution(
    request: Request, response: Response, store: Store, settings: AppSettings, _: Editor
) -> ExecutionDetail:
    """Record and start an execution of a workflow from an uploaded source snapshot (the
    multipart fields are described by the request body schema)."""
    limit = settings.server.max_upload_bytes
    form, upload = await _read_form(request, limit)
    try:
        execution_id = await run_in_threadpool(_submit, store, settings, form, upload, limit)
    finally:
        await upload.close()
    response.headers["Location"] = f"{request.url.path}/{execution_id}"
    return await run_in_threadpool(execution_detail, store, execution_id)


async def _read_form(request: Request, limit: int) -> tuple[ExecutionCreate, UploadFile]:
    """Parse the multipart body, refusing it as soon as it exceeds the upload limit."""
    too_large = HTTPException(
        413, f"the snapshot is larger than the server's upload limit of {limit} bytes"
    )
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit + _FORM_OVERHEAD:
        raise too_large
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        raise InvalidInput("a submission is multipart/form-data (see the request body schema)")

    async def capped() -> AsyncGenerator[bytes, None]:
        received = 0
        async for chunk in request.stream():
            received += len(chunk)
            if received > limit + _FORM_OVERHEAD:
                raise too_large
            yield chunk

    parser = MultiPartParser(request.headers, capped(), max_files=1, max_fields=16)
    try:
        form = await parser.parse()
    except MultiPartException as exc:
        raise InvalidInput(f"malformed multipart body: {exc.message}") from None
    upload = form.get("snapshot")
    fields = {k: v for k, v in form.multi_items() if isinstance(v, str)}
    try:
        if not isinstance(upload, UploadFile):
            raise InvalidInput("the 'snapshot' file field (the tar.gz archive) is missing")
        if upload.size is not None and upload.size > limit:
            raise too_large
        return ExecutionCreate.model_validate(fields), upload
    except ValidationError as exc:
        await form.close()
        raise RequestValidationError(
            [{**e, "loc": ("body", *e["loc"])} for e in exc.errors(include_url=False)]
        ) from None
    except BaseException:
        await form.close()
        raise


def _submit(
    store: MetaStore, settings: Settings, form: ExecutionCreate, upload: UploadFile, limit: int
) -> int:
    """Verify, plan and record the snapshot, start its driver; return the execution id.
    Everything happens in a private directory that is deleted at the end: a refused submission
    leaves nothing behind, an accepted one leaves what ``submit_workflow`` recorded and stored."""
    incoming = settings.snapshots_dir / ".incoming"
    incoming.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="upload-", dir=incoming))
    try:
        archive = work / "snapshot.tar.gz"
        with open(archive, "wb") as out:
            upload.file.seek(0)
            shutil.copyfileobj(upload.file, out)
        if archive.stat().st_size > limit:
            raise HTTPException(413, f"the snapshot is larger than {limit} bytes")
        members = _check_archive(archive)
        if form.entrypoint not in members:
            raise InvalidInput(f"entrypoint '{form.entrypoint}' is not a file of the snapshot")
        try:
            source_dir = snapshot.extract(str(archive), form.source_hash, work / "unpacked")
        except InvalidInput:  # its message would name the server's temporary path
            raise InvalidInput(
                f"the snapshot archive does not match its source_hash {form.source_hash} "
                "(was it changed after it was made?)"
            ) from None
        except (tarfile.TarError, EOFError, zlib.error, OSError) as exc:
            raise InvalidInput(f"the snapshot archive cannot be unpacked: {exc}") from None
        planned = _plan(form, source_dir, work / "planner-home")
        entry = source_dir / form.entrypoint
        # Again, now that user code has run: what is recorded must be what was uploaded.
        if snapshot.collect(entry).hash != form.source_hash:
            raise InvalidInput(not_the_upload(form.workflow))
        check_locations(planned.plan, form.mode, settings, store.uri)
        execution, _ = submit_workflow(
            planned.to_workflow(entry),
            mode=form.mode,
            engine=form.engine,
            deployer=form.deployer,
            store=store,
        )
        execution_id = execution.id
    finally:
        shutil.rmtree(work, ignore_errors=True)
    spawn_driver(execution_id, store_uri=store.uri)
    return execution_id


def _check_archive(archive: Path) -> set[str]:
    """The archive's file names, after refusing what a snapshot never contains: links,
    devices, absolute or ``..`` names, too many or too large files. Reads the stream once
    and stops at the first problem, so a decompression bomb costs at most the size limit."""
    names: set[str] = set()
    total = 0
    try:
        with tarfile.open(archive, mode="r|gz") as tar:
            for member in tar:
                path = PurePosixPath(member.name)
                if path.is_absolute() or ".." in path.parts:
                    raise InvalidInput(f"snapshot member '{member.name}' points outside it")
                if member.isdir():
                    continue
                if not member.isreg():
                    raise InvalidInput(
                        f"snapshot member '{member.name}' is not a regular file "
                        "(links and devices are refused)"
                    )
                total += member.size
                names.add(path.as_posix())
                if total > snapshot.MAX_SNAPSHOT_BYTES or len(names) > _MAX_MEMBERS:
                    raise InvalidInput(
                        f"the snapshot unpacks to more than {snapshot.MAX_SNAPSHOT_BYTES} bytes "
                        f"or {_MAX_MEMBERS} files"
                    )
    except (tarfile.TarError, EOFError, zlib.error, OSError) as exc:
        raise InvalidInput(f"the snapshot is not a valid tar.gz archive: {exc}") from None
    if not names:
        raise InvalidInput("the snapshot archive is empty")
    return names


def _plan(form: ExecutionCreate, source_dir: Path, home: Path) -> PlannedWorkflow:
    """Run the planner subprocess and return its plan, or raise its error.

    Its environment has none of the server's ``AIFLOW*`` variables: no secret key, no meta
    store URL (``MetaStore()`` in user code fails naming why), and an empty ``AIFLOW_HOME`` of
    its own, so its settings do not come from the server's config file either. It runs in a
    session of its own, so a timeout ends everything it started."""
    plan_request = PlanRequest(
        source_dir=str(source_dir),
        source_hash=form.source_hash,
        entrypoint=form.entrypoint,
        workflow=form.workflow,
        base_dir=form.base_dir,
    )
    home.mkdir(mode=0o700)
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIFLOW")}
    env |= {
        "AIFLOW_HOME": str(home),
        "AIFLOW__METASTORE__URI": NO_DIRECT_STORE,
        "PYTHONUNBUFFERED": "1",
    }
    process = subprocess.Popen(
        [sys.executable, "-P", "-m", "aiflow.server.planner"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        start_new_session=True,
    )
    try:
        stdout, stderr = process.communicate(plan_request.model_dump_json(), PLAN_TIMEOUT)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)  # not reaped yet: the group is still its
        process.communicate()
        raise UserCodeError(
            f"importing {form.entrypoint} to plan workflow '{form.workflow}' took longer than "
            f"{PLAN_TIMEOUT:.0f} s (does it do work at import time?)"
        ) from None
    try:
        result = PlanResult.model_validate_json(stdout.strip().splitlines()[-1])
    except (IndexError, ValidationError):
        tail = "\n".join(stderr.strip().splitlines()[-5:])
        raise RuntimeError(  # the planner died without answering: a server-side failure
            f"planning workflow '{form.workflow}' failed (exit code {process.returncode}): {tail}"
        ) from None
    if result.workflow is None:
        message = result.error or "planning failed"
        raise error_for(result.error_code, message)
    return result.workflow
