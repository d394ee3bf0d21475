"""What the REST API accepts and returns, and the parameter limits every route shares.

Most ``…Public`` models are the store's entities unchanged (subclasses, so the OpenAPI schema
has API names): the client validates responses back into the entity classes, and one shape per
resource for the CLI, the library and the API is worth more than a layer of copies. A resource
is narrowed only where the entity carries something an API caller must not pay for or see:
``WorkflowVersionPublic`` leaves out the plan (10,000 nodes for a big workflow: it has its own
``/graph`` endpoint) and the server-side snapshot path.

Path and query parameters are declared once here, with their bounds, so that every route
rejects the same inputs the same way (422 before any query runs): ids within the database's
integer range, names within the store's column length and free of control characters (which
PostgreSQL refuses in text), page sizes between 1 and 500.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Generic, Literal, TypeVar

from fastapi import Path, Query
from pydantic import BaseModel, ConfigDict, Field

from aiflow.store._browse import ServingVersion
from aiflow.store.entities import (
    Event,
    ExampleMeta,
    Execution,
    Job,
    Metric,
    Model,
    ModelVersion,
    Workflow,
    WorkflowVersion,
)
from aiflow.store.orm import NAME_LENGTH

T = TypeVar("T")

MAX_PAGE = 500
DEFAULT_PAGE = 50
_INT32_MAX = 2**31 - 1  # ids and version numbers are INTEGER columns
_INT64_MAX = 2**63 - 1  # event sequence numbers are BIGINT
_NO_CONTROL = r"^[^\x00-\x1f\x7f]+$"

# -- shared parameters ------------------------------------------------------------------------

Id = Annotated[int, Path(ge=1, le=_INT32_MAX, description="numeric id")]
VersionNumber = Annotated[int, Path(ge=1, le=_INT32_MAX, description="version number: 1, 2, ...")]
Name = Annotated[
    str, Path(min_length=1, max_length=NAME_LENGTH, pattern=_NO_CONTROL, description="name")
]
AliasName = Annotated[
    str, Path(min_length=1, max_length=64, pattern=_NO_CONTROL, description="alias")
]
Limit = Annotated[int, Query(ge=1, le=MAX_PAGE, description=f"page size, at most {MAX_PAGE}")]
NameCursor = Annotated[
    str | None,
    Query(
        max_length=NAME_LENGTH,
        pattern=_NO_CONTROL,
        description="`next_cursor` of the previous page",
    ),
]
NumberCursor = Annotated[
    int | None,
    Query(ge=1, le=_INT32_MAX, description="`next_cursor` of the previous page"),
]
Count = Annotated[
    bool, Query(description="also return `total`, the number of items over all pages")
]
FilterName = Annotated[str | None, Query(max_length=NAME_LENGTH, pattern=_NO_CONTROL)]
Seq = Annotated[int, Query(ge=0, le=_INT64_MAX, description="only events after this sequence")]


# -- envelopes --------------------------------------------------------------------------------


class Page(BaseModel, Generic[T]):
    """One page of a collection.

    ``next_cursor`` is opaque: pass it back as ``cursor`` for the next page; ``None`` means this
    is the last page. ``total`` is only computed when asked for (``count=true``), since it costs
    a ``COUNT`` over the whole collection.
    """

    data: list[T]
    next_cursor: str | None = None
    total: int | None = None


# -- workflows --------------------------------------------------------------------------------


class WorkflowPublic(Workflow):
    """A workflow: a name whose versions are recorded as its code or plan changes."""


class WorkflowVersionPublic(BaseModel):
    """A recorded version of a workflow, without its plan (see ``WorkflowGraph``)."""

    model_config = ConfigDict(frozen=True, from_attributes=True)

    id: int
    workflow_id: int
    workflow_name: str
    version: int
    plan_hash: str
    source_hash: str
    created_at: datetime


class GraphNode(BaseModel):
    id: str
    kind: str  # NodeKind: read_example, transform, train, ...
    component: str | None = Field(
        description="qualified name of the user class or function the node runs, if any"
    )
    engine: str = Field(description="the engine the node runs on (its own, else the workflow's)")
    model: str | None = None
    example: str | None = None


class GraphEdge(BaseModel):
    source: str
    target: str
    kind: Literal["data", "model", "control"]


class WorkflowGraph(BaseModel):
    """A workflow version's logical plan as a graph, for drawing and for tools."""

    workflow: str
    version: int
    engine: str
    nodes: list[GraphNode]
    edges: list[GraphEdge]

    @classmethod
    def of(cls, recorded: WorkflowVersion) -> WorkflowGraph:
        """The recorded plan as a graph: each node's inputs in port order, then control edges
        (``data`` edges carry records, ``model`` a trained model, ``control`` only order)."""
        from aiflow.plan.model import LogicalPlan

        plan = LogicalPlan.model_validate(recorded.plan)
        nodes = [
            GraphNode(
                id=node.id,
                kind=node.kind.value,
                component=node.component.qualname if node.component else None,
                engine=node.engine or plan.engine,
                model=node.model,
                example=node.example.name if node.example else None,
            )
            for node in plan.nodes
        ]
        edges = [
            GraphEdge(source=e.source.node, target=e.target, kind=e.kind)
            for node in plan.nodes
            for e in plan.inputs_of(node.id)
        ]
        edges += [
            GraphEdge(source=e.upstream, target=e.downstream, kind="control")
            for e in plan.control_edges
        ]
        return cls(
            workflow=recorded.workflow_name,
            version=recorded.version,
            engine=plan.engine,
            nodes=nodes,
            edges=edges,
        )


class ExamplePublic(ExampleMeta):
    """An example (dataset) as the workflows that use it declared it, with its schema."""


# -- executions and jobs ----------------------------------------------------------------------


class ExecutionCreate(BaseModel):
    """The text fields of a submission, ``POST /executions`` (multipart: the archive is the
    ``snapshot`` file field). Patterns keep every value safe to use in a file name."""

    model_config = ConfigDict(extra="forbid")

    source_hash: str = Field(pattern=r"^[0-9a-f]{64}$", description="snapshot hash (sha256)")
    entrypoint: str = Field(
        pattern=r"^[A-Za-z0-9_.-]+\.py$", description="the workflow file inside the snapshot"
    )
    workflow: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,255}$", description="workflow name")
    mode: Literal["batch", "stream"] = "batch"
    engine: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    deployer: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_.-]{1,64}$")


class ExecutionPublic(Execution):
    """One run of a workflow version."""


class JobPublic(Job):
    """One job of an execution: its spec (what the translator built), status and result."""


class ExecutionDetail(ExecutionPublic):
    """An execution with its jobs (in creation order)."""

    jobs: list[JobPublic]


class MetricPublic(Metric):
    """One logged metric value (metrics logged per step keep every step)."""


# -- models -----------------------------------------------------------------------------------


class ModelPublic(Model):
    """A registered model: a name whose versions training produces."""


class ModelVersionPublic(ModelVersion):
    """A model version's metadata. The artifact is only referenced (``artifact_uri``,
    ``flavor``): the API never returns or loads a pickle."""


class ServingVersionPublic(ServingVersion):
    """What a model server needs to load the version to serve, and why it is that one."""


class AliasUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: int = Field(ge=1, le=_INT32_MAX)


class StageUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    stage: Literal["generated", "validated", "deployed", "deprecated"]


# -- events -----------------------------------------------------------------------------------


class EventPublic(Event):
    """One entry of the store's change feed; ``seq`` grows strictly across the whole store."""
