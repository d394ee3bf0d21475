"""What the REST API accepts and returns: one shape per resource for the server, the client and
the CLI.

Most ``…Public`` models are the store's entities unchanged (subclasses, so the OpenAPI schema
has API names): the client validates responses back into the entity classes, and one shape per
resource for the CLI, the library and the API is worth more than a layer of copies. A resource
is narrowed only where the entity carries something an API caller must not pay for or see:
``WorkflowVersionPublic`` leaves out the plan (10,000 nodes for a big workflow: it has its own
``/graph`` endpoint) and the server-side snapshot path.

Plain pydantic: the FastAPI declarations of path and query parameters (their bounds come from
``aiflow.schemas.limits``) are the server's, in ``aiflow.server.params``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Final, Generic, Literal, Self, TypeVar

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from aiflow.schemas.entities import (
    RENAMED_STAGES,
    ApiToken,
    Event,
    ExampleMeta,
    Execution,
    Job,
    Metric,
    Model,
    ModelChange,
    ModelComparison,
    ModelLineage,
    ModelVersion,
    Role,
    ServingVersion,
    Stage,
    Trigger,
    Workflow,
    WorkflowVersion,
)
from aiflow.schemas.limits import (
    ALIAS_LENGTH,
    INT32_MAX,
    NAME_LENGTH,
    NAME_PATTERN,
    NO_CONTROL,
    PLAIN_NAME,
    TOKEN_NAME_PATTERN,
)

T = TypeVar("T")


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
    properties: dict[str, dict[str, Any]] = Field(
        default_factory=dict, description="per mode (`batch`, `stream`) and `common`"
    )
    retries: int = 0
    timeout: float | None = None


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
                properties=node.properties,
                retries=node.retries,
                timeout=node.timeout,
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
    workflow: str = Field(
        min_length=1, max_length=NAME_LENGTH, pattern=NAME_PATTERN, description="workflow name"
    )
    mode: Literal["batch", "stream"] = "batch"
    engine: str | None = Field(default=None, pattern=PLAIN_NAME)
    deployer: str | None = Field(default=None, pattern=PLAIN_NAME)
    base_dir: str | None = Field(
        default=None,
        max_length=4096,
        pattern=r"^/[^\x00]*$",
        description="the snapshot's directory on the submitting host: relative example paths "
        "resolve against it, as in a local run (without it they are refused)",
    )


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


class ModelChangePublic(ModelChange):
    """One recorded change of a model version -- its stage, an alias it took or lost, a tag --
    with who made it (``token:<name>`` through the API), why, and the version's metrics then."""


class ModelLineagePublic(ModelLineage):
    """Where a version came from: the execution, job and train node that produced it, the
    versions it continued from (nearest first) and the data it was trained on."""


class ModelComparisonPublic(ModelComparison):
    """Two versions side by side: every metric either has (``[a, b]``, ``null`` where one
    lacks it) and the lineage fields that differ."""


REASON_LENGTH: Final = 1000  # a sentence or two, kept with the change in the model's history
# The store's bounds of a tag (aiflow.store: TAG_KEY_LENGTH, TAG_VALUE_LENGTH), which it checks
# again with its own message; declared here too so the API documents and refuses them first.
TAG_KEY_LENGTH: Final = 64
TAG_VALUE_LENGTH: Final = 1024


Reason = Annotated[
    str | None,
    Field(
        min_length=1,
        max_length=REASON_LENGTH,
        pattern=NO_CONTROL,
        description="why: kept with the change in the model's history",
    ),
]


def _renamed_stage(value: object) -> object:
    """A stage's old name (``production``, ``deprecated``) refused with its new one, rather
    than with the bare list of stages: older clients still send them."""
    if isinstance(value, str) and value in RENAMED_STAGES:
        raise ValueError(f"stage '{value}' is now called '{RENAMED_STAGES[value]}'")
    return value


class AliasUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: int = Field(ge=1, le=INT32_MAX)
    reason: Reason = None


class StageUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    stage: Stage
    reason: Reason = None

    _renamed = field_validator("stage", mode="before")(_renamed_stage)


class Promotion(BaseModel):
    """The body of ``POST /models/{name}/versions/{version}/promote``: move ``alias`` (default
    ``deployed``) onto the version. ``{"stage": ...}`` is the older form of that endpoint and
    still sets the stage only (as ``PUT .../stage`` does); the two cannot be combined."""

    model_config = ConfigDict(extra="forbid")

    alias: str | None = Field(
        default=None,
        min_length=1,
        max_length=ALIAS_LENGTH,
        pattern=NAME_PATTERN,
        description="the alias to move onto the version (default: deployed, what is served)",
    )
    stage: Stage | None = Field(
        default=None,
        description="older form: set this stage instead of moving an alias (see PUT .../stage)",
    )
    reason: Reason = None

    _renamed = field_validator("stage", mode="before")(_renamed_stage)

    @model_validator(mode="after")
    def _alias_or_stage(self) -> Self:
        if self.alias is not None and self.stage is not None:
            raise ValueError(
                "give either 'alias' (promote the version) or 'stage' (set its stage), not both"
            )
        return self


class TagUpdate(BaseModel):
    """The body of ``PUT /models/{name}/versions/{version}/tags/{key}``."""

    model_config = ConfigDict(extra="forbid")

    value: str = Field(
        min_length=1,
        max_length=TAG_VALUE_LENGTH,
        pattern=NO_CONTROL,
        description="the tag's value: any text without control characters",
    )


class Rollback(BaseModel):
    """The (optional) body of ``POST /models/{name}/rollback``."""

    model_config = ConfigDict(extra="forbid")

    reason: Reason = None


# -- triggers, events, tokens -----------------------------------------------------------------


class TriggerPublic(Trigger):
    """A schedule or event rule, with where it stands: ``next_fire_at`` (periodic) or
    ``event_cursor`` (the seq of the last event an event rule dealt with)."""


class EventPublic(Event):
    """One entry of the store's change feed; ``seq`` grows strictly across the whole store."""


EVENT_VALUE_LENGTH: Final = 65_536


class EventCreate(BaseModel):
    """A user event to append to the log (``POST /events``): rules of ``af.action_on_event``
    with this key and type fire on it. The platform's own types (``MODEL_*``, ``JOB_*``,
    ``TRIGGER_*``, ``EXECUTION_*``) are refused: rules deploy and restart things on them."""

    model_config = ConfigDict(extra="forbid")

    key: str = Field(
        min_length=1, max_length=NAME_LENGTH, pattern=NO_CONTROL, description="what it is about"
    )
    type: str = Field(
        default="user",
        min_length=1,
        max_length=64,
        pattern=NO_CONTROL,
        description="its type (default 'user'); not one of the platform's own",
    )
    value: str = Field(default="", max_length=EVENT_VALUE_LENGTH, description="any text")


class TokenPublic(ApiToken):
    """An API token's record; the secret is never stored, so never shown again."""


class TokenCreated(TokenPublic):
    token: str = Field(description="the secret (`aif_...`): shown in this answer only")


class TokenCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(
        min_length=1,
        max_length=NAME_LENGTH,
        pattern=TOKEN_NAME_PATTERN,
        description="unique for good (revoked tokens keep their name): letters, digits, . _ -",
    )
    role: Role = Field(default=Role.VIEWER, description="viewer reads; editor also runs; admin")
