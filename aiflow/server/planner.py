"""``python -m aiflow.server.planner``: turn an uploaded source snapshot into a logical plan.

Planning a submitted workflow means importing the user's file, which runs arbitrary code, so
the API server never does it in its own process: a crash, a hang, a leaked global or a
``sys.exit`` in user code must not take the server down or change what it runs next. The server
starts this module per submission with a JSON request on stdin naming the directory where it
unpacked and hash-verified the upload. The planner loads the workflow from there and writes one
JSON line to its original stdout: the workflow's name, logical plan and models
(``PlannedWorkflow``), or the error's ``code`` and message. Whatever user code prints goes to
stderr instead, so it cannot corrupt that answer.

The planner has no access to the meta store and holds no credential: the server starts it
with none of its ``AIFLOW*`` variables (no secret key, no meta store URL, a private empty
``AIFLOW_HOME``), and it writes nothing. The server records the answer itself
(``routes/submit.py``: it rebuilds the workflow from the plan with ``to_workflow`` and submits
it like ``aiflow run`` does, translating the plan with aiflow's own code). Otherwise any editor's
workflow could write into the store at import time -- an admin API token, say.

Relative example paths resolve against the snapshot's directory on the submitting host
(``base_dir``), as the submitter's local run would resolve them, not against the unpacked
upload, which holds code only.

The planner checks that the workflow is defined in the uploaded entrypoint and that the
entrypoint's directory snapshots to the uploaded hash (an archive with files a snapshot never
contains, say a hidden directory, is refused, not silently trimmed); the server checks the hash
again once the planner has ended, so what it records is the code that was uploaded.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict

from aiflow.errors import AiflowError, InvalidInput, UserCodeError
from aiflow.plan.model import LogicalPlan

if TYPE_CHECKING:
    from aiflow.dsl.workflow import Workflow


class PlanRequest(BaseModel):
    """What the server hands the planner; validated by the server's form checks already."""

    model_config = ConfigDict(extra="forbid")

    source_dir: str  # the verified, unpacked upload (the server deletes it afterwards)
    source_hash: str
    entrypoint: str
    workflow: str
    base_dir: str | None = None  # the snapshot's directory on the submitting host


class PlannedWorkflow(BaseModel):
    """What the server records a submission from: plain data, no user code."""

    model_config = ConfigDict(extra="forbid")

    name: str
    plan: LogicalPlan
    models: dict[str, str | None]  # name -> description

    @classmethod
    def of(cls, wf: Workflow) -> PlannedWorkflow:
        models = {model.name: model.description for model in wf.models.values()}
        return cls(name=wf.name, plan=wf.plan, models=models)

    def to_workflow(self, source_file: Path) -> Workflow:
        """The DSL workflow with this plan and models, defined in ``source_file``: what
        ``submit_workflow`` takes. Its plan is this plan, node for node."""
        from aiflow.dsl.example import Model
        from aiflow.dsl.workflow import Workflow

        if self.plan.workflow != self.name:
            raise InvalidInput(
                f"the planner's answer is inconsistent: workflow '{self.name}', plan of "
                f"'{self.plan.workflow}'"
            )
        wf = Workflow(self.name, engine=self.plan.engine, source_file=source_file)
        wf.nodes = list(self.plan.nodes)
        wf.edges = list(self.plan.edges)
        wf.control_edges = list(self.plan.control_edges)
        wf.actions = list(self.plan.actions)  # the event-driven jobs' rules (af.action_on_*)
        wf.models = {name: Model(name, description) for name, description in self.models.items()}
        return wf


class PlanResult(BaseModel):
    workflow: PlannedWorkflow | None = None
    error_code: str | None = None
    error: str | None = None


def plan(request: PlanRequest) -> PlannedWorkflow:
    """Load and check the workflow; return its plan. Touches no store."""
    from aiflow.plan import snapshot

    root = Path(request.source_dir).resolve()
    entry = (root / request.entrypoint).resolve()
    if not entry.is_relative_to(root) or not entry.is_file():
        raise InvalidInput(f"entrypoint '{request.entrypoint}' is not a file of the snapshot")
    if request.base_dir is None:
        wf = _load(entry, request.workflow)
    else:
        from aiflow.dsl.example import paths_relative_to

        with paths_relative_to(root, Path(request.base_dir)):
            wf = _load(entry, request.workflow)
    _check_locations(wf, root)
    if wf.source_file is None or snapshot.collect(wf.source_file).hash != request.source_hash:
        raise InvalidInput(not_the_upload(wf.name))
    return PlannedWorkflow.of(wf)


def not_the_upload(workflow: str) -> str:
    return (
        f"workflow '{workflow}' is not defined in the uploaded entrypoint, or the archive "
        "holds files a source snapshot does not (only .py and .sql files, outside hidden "
        "and build directories): upload what aiflow.plan.snapshot.collect() archives"
    )


def _load(entry: Path, name: str) -> Workflow:
    """The workflow ``name`` defined by the file ``entry``; user code errors become
    ``UserCodeError`` naming the file."""
    from aiflow.dsl.workflow import Workflow
    from aiflow.translators.usercode import load_workflow_file

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

    With the submitter's ``base_dir`` the DSL resolves relative paths against it, as the local
    run would. Without it (a client that does not send it) they resolve against the unpacked
    upload: code only, no data, and deleted once planned. Such a run could only fail later, in
    a job, or write its outputs into a directory that no longer exists. Whether the server
    can use the locations the plan names is checked by the server (``server.locations``)."""
    for node in wf.plan.nodes:
        example = node.example
        if example is None:
            continue
        for uri in (example.batch_uri, example.stream_uri, example.options.get("dead_letter_uri")):
            if uri and "://" not in uri and Path(uri).is_relative_to(root):
                relative = Path(uri).relative_to(root)
                raise InvalidInput(
                    f"example '{example.name}' uses the relative path '{relative}' and the "
                    "submission has no base_dir to resolve it against (the server's copy of "
                    "the workflow holds code, not data). Submit with aiflow's client, which "
                    "sends it, or use an absolute path the server can read or a remote URI "
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
        result = PlanResult(workflow=plan(request))
    except AiflowError as exc:
        result = PlanResult(error_code=exc.code, error=exc.message)
    with answer:
        answer.write(json.dumps(result.model_dump(mode="json")) + "\n")
    return 0 if result.workflow is not None else 1


if __name__ == "__main__":
    sys.exit(main())
