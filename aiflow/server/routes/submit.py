"""``POST /executions``: run a workflow from an uploaded source snapshot.

The client sends what ``aiflow.plan.snapshot`` makes locally (the tar.gz of the workflow's code
and its content hash), and the server:

1. reads the upload, refusing bodies over ``server.max_upload_bytes`` while they stream in
   (413), not after spooling them whole;
2. checks the archive before unpacking anything (regular files only, no absolute or ``..``
   names, the snapshot size limit), then unpacks it in a private directory with the tarfile
   "data" filter and verifies the hash. Any failure is a 422 and records nothing;
3. plans it in a subprocess (``python -m aiflow.server.planner``: importing the workflow runs
   user code, which never runs in the server process), which records the workflow version and
   a queued execution and stores the archive content-addressed (``snapshots/<hash>.tar.gz``,
   through ``submit_workflow`` like a local run): the same code uploaded twice is one file and,
   with an unchanged plan, one workflow version;
4. starts a detached driver for it, so the execution outlives the server process.

Example data is not part of a snapshot: a remotely submitted workflow must name its data by an
absolute path the server can read or by a remote URI (s3://...). Relative paths would resolve
inside the unpacked upload, which holds no data, and are refused by the planner.
"""

from __future__ import annotations

import os
import shutil
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

from aiflow.client import error_from_code
from aiflow.config import Settings
from aiflow.errors import AiflowError, InvalidInput, UserCodeError
from aiflow.plan import snapshot
from aiflow.scheduler.launch import spawn_driver
from aiflow.server.deps import Editor, Store, get_app_settings
from aiflow.server.planner import PlanRequest, PlanResult
from aiflow.server.routes.executions import execution_detail
from aiflow.server.schemas import ExecutionCreate, ExecutionDetail
from aiflow.store.sql_store import MetaStore

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
    """Verify and plan the snapshot, start its driver; return the execution id. Everything
    happens in a private directory that is deleted at the end: a refused submission leaves
    nothing behind, an accepted one leaves what ``submit_workflow`` recorded and stored."""
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
        execution_id = _plan(store, settings, form, source_dir)
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


def _plan(store: MetaStore, settings: Settings, form: ExecutionCreate, source_dir: Path) -> int:
    """Run the planner subprocess and return the execution it created, or raise its error."""
    plan_request = PlanRequest(source_dir=str(source_dir), **form.model_dump())
    env = {
        **os.environ,
        "AIFLOW_HOME": str(settings.home),
        "AIFLOW__METASTORE__URI": store.uri,  # in the environment: `ps` shows command lines
        "PYTHONUNBUFFERED": "1",
    }
    try:
        done = subprocess.run(
            [sys.executable, "-m", "aiflow.server.planner"],
            input=plan_request.model_dump_json(),
            capture_output=True,
            text=True,
            env=env,
            timeout=PLAN_TIMEOUT,
        )
    except subprocess.TimeoutExpired:
        raise UserCodeError(
            f"importing {form.entrypoint} to plan workflow '{form.workflow}' took longer than "
            f"{PLAN_TIMEOUT:.0f} s (does it do work at import time?)"
        ) from None
    try:
        result = PlanResult.model_validate_json(done.stdout.strip().splitlines()[-1])
    except (IndexError, ValidationError):
        tail = "\n".join(done.stderr.strip().splitlines()[-5:])
        raise RuntimeError(  # the planner died without answering: a server-side failure
            f"planning workflow '{form.workflow}' failed (exit code {done.returncode}): {tail}"
        ) from None
    if result.execution_id is None:
        message = result.error or "planning failed"
        raise error_from_code(result.error_code or "", message) or AiflowError(message)
    return result.execution_id
