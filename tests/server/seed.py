"""Rows for the API tests, written straight into the server's meta store.

The server tests share one server per backend, so everything here gets a unique name: a test
sees its own rows by name and never depends on what other tests created.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import uuid
from pathlib import Path

from aiflow.plan.model import (
    Channel,
    ComponentRef,
    ControlEdge,
    DataEdge,
    ExampleSpec,
    LogicalPlan,
    Node,
    NodeKind,
)
from aiflow.schemas.entities import Execution, ModelVersion, WorkflowVersion
from aiflow.store.sql_store import ExampleCreate, JobCreate, MetaStore

REPO = Path(__file__).resolve().parents[2]


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def plan(name: str, model: str = "m") -> LogicalPlan:
    """read -> train -> predict (data and model edges), and a write ordered after train."""
    ref = ComponentRef(module="file:workflow.py", qualname="Train")
    example = ExampleSpec(name=f"{name}-data", columns={"x": "double"}, batch_uri="/data/x.csv")
    return LogicalPlan(
        workflow=name,
        engine="local",
        nodes=[
            Node(id="read", kind=NodeKind.READ_EXAMPLE, example=example),
            Node(id="train", kind=NodeKind.TRAIN, component=ref, model=model, engine="other"),
            Node(id="predict", kind=NodeKind.PREDICT, model=model),
            Node(id="write", kind=NodeKind.WRITE_EXAMPLE, example=example),
        ],
        edges=[
            DataEdge(source=Channel(node="read"), target="train", target_port=0),
            DataEdge(source=Channel(node="train"), target="predict", target_port=0, kind="model"),
            DataEdge(source=Channel(node="read"), target="predict", target_port=1),
        ],
        control_edges=[ControlEdge(upstream="train", downstream="write")],
    )


def workflow(store: MetaStore, name: str | None = None, versions: int = 1) -> list[WorkflowVersion]:
    """A workflow with ``versions`` versions (oldest first) and its example registered."""
    name = name or unique("wf")
    logical = plan(name)
    example = ExampleCreate(name=f"{name}-data", columns={"x": "double"}, format="csv",
                            batch_uri="/data/x.csv")  # fmt: skip
    return [
        store.register_workflow_version(
            name, logical.model_dump(mode="json"), f"plan{i}", f"src{i}", "/nowhere", [example]
        )
        for i in range(versions)
    ]


def execution(store: MetaStore, version: WorkflowVersion, mode: str = "batch") -> Execution:
    """A queued execution with jobs ``a`` and ``b`` (``b`` after ``a``)."""
    jobs = [
        JobCreate(name="a", engine="local", spec={"name": "a"}),
        JobCreate(name="b", engine="local", spec={"name": "b"}, depends_on=["a"], max_retries=2),
    ]
    return store.create_execution(version.id, mode, "local", "local", jobs)


def model(store: MetaStore, name: str | None = None, versions: int = 3) -> list[ModelVersion]:
    """A model with ``versions`` versions (oldest first), each with an accuracy metric."""
    name = name or unique("model")
    made = []
    for i in range(versions):
        version = store.register_model_version(name, f"/artifacts/{name}/{i}", "sklearn")
        store.log_metrics({"accuracy": 0.5 + i / 100}, model_version_id=version.id)
        made.append(version)
    return made


def log_file(home: Path, execution_id: int, text: str) -> Path:
    """A job log where the server keeps them (``$AIFLOW_HOME/logs``)."""
    path = home / "logs" / str(execution_id) / "a" / "attempt-1.log"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def wine_copy(target: Path, *, absolute: bool = True) -> Path:
    """A copy of examples/wine with its data prepared; with ``absolute``, its example paths
    are made absolute (a server cannot see data relative to the client's file). Returns the
    workflow file."""
    shutil.copytree(
        REPO / "examples" / "wine",
        target,
        ignore=shutil.ignore_patterns("data", "out", "__pycache__"),
    )
    subprocess.run(
        [sys.executable, str(target / "prepare_data.py")], check=True, capture_output=True
    )
    workflow = target / "workflow.py"
    if absolute:
        source = workflow.read_text()
        source = source.replace('"data/', f'"{target}/data/').replace('"out/', f'"{target}/out/')
        workflow.write_text(source)
    return workflow
