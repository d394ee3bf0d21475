"""``python -m aiflow.server.planner``: turn an uploaded source snapshot into a queued execution.

Planning a submitted workflow means importing the user's file, which runs arbitrary code, so
the API server never does it in its own process: a crash, a hang, a leaked global or a
``sys.exit`` in user code must not take the server down or change what it runs next. The server
starts this module per submission with a JSON request on stdin naming the directory where it
unpacked and hash-verified the upload. The planner loads the workflow from there and submits it
exactly like ``aiflow run`` does (``submit_workflow``: the archive is stored content-addressed
under the snapshots directory, the version and a queued execution are recorded), then writes
one JSON line with the execution id, or the error's ``code`` and message, to its original
stdout. Whatever user code prints goes to stderr instead, so it cannot corrupt that answer.

``submit_workflow`` snapshots the workflow file's directory again; that must give the uploaded
hash, which is what guarantees the recorded version is the code that was uploaded (an archive
with files a snapshot never contains, say a hidden directory, is refused, not silently trimmed).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict

from aiflow.errors import AiflowError, InvalidInput, UserCodeError

if TYPE_CHECKING:
    from aiflow.dsl.workflow import Workflow


class PlanRequest(BaseModel):
    """What the server hands the planner; validated by the server's form checks already."""

    model_config = ConfigDict(extra="forbid")

    source_dir: str  # the verified, unpacked upload (the server deletes it afterwards)
    source_hash: str
    entrypoint: str
    workflow: str
    mode: Literal["batch", "stream"]
    engine: str | None = None
    deployer: str | None = None


class PlanResult(BaseModel):
    execution_id: int | None = None
    error_code: str | None = None
    error: str | None = None


def plan(request: PlanRequest) -> int:
    """Load, check and submit the workflow; return the id of its queued execution."""
    from aiflow.plan import snapshot
    from aiflow.scheduler.submit import submit_workflow
    from aiflow.store.sql_store import MetaStore

    root = Path(request.source_dir).resolve()
    entry = (root / request.entrypoint).resolve()
    if not entry.is_relative_to(root) or not entry.is_file():
        raise InvalidInput(f"entrypoint '{request.entrypoint}' is not a file of the snapshot")
    wf = _load(entry, request.workflow)
    _check_locations(wf, root)
    if wf.source_file is None or snapshot.collect(wf.source_file).hash != request.source_hash:
        raise InvalidInput(
            f"workflow '{wf.name}' is not defined in the uploaded entrypoint, or the archive "
            "holds files a source snapshot does not (only .py and .sql files, outside hidden "
            "and build directories): upload what aiflow.plan.snapshot.collect() archives"
        )
    execution, _ = submit_workflow(
        wf,
        mode=request.mode,
        engine=request.engine,
        deployer=request.deployer,
        store=MetaStore(),
    )
    return execution.id


def _load(entry: Path, name: str) -> Workflow:
    """The workflow ``name`` defined by the file ``entry``; user code errors become
    ``UserCodeError`` naming the file."""
    from aiflow.dsl.workflow import Workflow
    from aiflow.runtime.usercode import load_workflow_file

    try:
        module = load_workflow_file(entry)
    except AiflowError:
        raise
    except (Exception, SystemExit) as exc:
        raise UserCodeError(f"importing {entry.name} raised {type(exc).__name__}: {exc}") from exc
    found = {v.name: v for v in vars(module).values() if isinstance(v, Workflow)}
    if name not in found:
        raise InvalidInput(f"{entry.name} defines no workflow '{name}' (it has {sorted(found)})")
    return found[name]


def _check_locations(wf: Workflow, root: Path) -> None:
    """Refuse examples whose data would be looked for inside the snapshot directory.

    The DSL resolves a relative path against the workflow file's directory, which here is the
    unpacked upload: code only, no data, and deleted once planned. Such a run could only fail
    later, in a job, or write its outputs into a directory that no longer exists."""
    for node in wf.plan.nodes:
        example = node.example
        if example is None:
            continue
        for uri in (example.batch_uri, example.stream_uri):
            if uri and "://" not in uri and Path(uri).is_relative_to(root):
                relative = Path(uri).relative_to(root)
                raise InvalidInput(
                    f"example '{example.name}' uses the relative path '{relative}': a workflow "
                    "submitted to a server runs from its source snapshot, which holds code, "
                    "not data. Use an absolute path the server can read or a remote URI "
                    "(s3://...)",
                )


def main() -> int:
    # Keep the real stdout for the answer; anything else written to fd 1 (print() in user
    # code, a library's banner, a child process) goes to stderr.
    answer = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    try:
        request = PlanRequest.model_validate_json(sys.stdin.read())
        result = PlanResult(execution_id=plan(request))
    except AiflowError as exc:
        result = PlanResult(error_code=exc.code, error=exc.message)
    with answer:
        answer.write(json.dumps(result.model_dump()) + "\n")
    return 0 if result.execution_id is not None else 1


if __name__ == "__main__":
    sys.exit(main())
