"""What the meta store returns: frozen pydantic entities, never ORM rows.

Callers (scheduler, runtime, CLI, the REST API and its client) depend on these, not on
SQLAlchemy, so that a session never leaks out of the store and lazy loading cannot cause N+1
queries; the client validates the API's answers back into the same classes.

Model lifecycle (``Stage``): ``generated`` -> ``validated`` | ``rejected`` -> ``deployed`` ->
``retired``, and ``failed`` (its artifact failed to load or its push failed). The stage
``deployed`` goes with the alias of the same name (``SERVING_ALIAS``): promoting a version moves
the alias onto it and retires the one that had it, so "deployed" means one thing, what is served.
A rejected or failed version is never served: it cannot take the alias, and one that had it
hands it back. Without the alias the newest version neither rejected nor failed is served.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from enum import StrEnum
from typing import Any, Final, Literal, get_args

from pydantic import BaseModel, ConfigDict

from aiflow.schemas.limits import TRIGGER_NAME_LENGTH


class ExecutionStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    STOPPING = "stopping"  # a stop was requested; the driver is ending the jobs
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    KILLED = "killed"

    @property
    def finished(self) -> bool:
        return self in _EXECUTION_FINAL


_EXECUTION_FINAL = {ExecutionStatus.SUCCEEDED, ExecutionStatus.FAILED, ExecutionStatus.KILLED}


class JobStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    KILLED = "killed"
    UPSTREAM_FAILED = "upstream_failed"  # never started because a job it depends on failed

    @property
    def finished(self) -> bool:
        return self in _JOB_FINAL


_JOB_FINAL = {
    JobStatus.SUCCEEDED,
    JobStatus.FAILED,
    JobStatus.KILLED,
    JobStatus.UPSTREAM_FAILED,
}


class Role(StrEnum):
    """What an API token may do; each role includes everything the ones before it may."""

    VIEWER = "viewer"  # read anything
    EDITOR = "editor"  # also run, stop and change workflows, executions and models
    ADMIN = "admin"  # also manage API tokens

    @property
    def rank(self) -> int:
        return _ROLE_ORDER.index(self)

    def at_least(self, required: Role) -> bool:
        """Whether this role grants what ``required`` grants (``admin.at_least(viewer)``).

        A named method rather than ``<``/``>=``: on a ``str`` enum those already compare the
        values alphabetically, and silently changing that would be a trap.
        """
        return self.rank >= required.rank


_ROLE_ORDER = (Role.VIEWER, Role.EDITOR, Role.ADMIN)


class Entity(BaseModel):
    model_config = ConfigDict(frozen=True, from_attributes=True)


class Workflow(Entity):
    id: int
    name: str
    created_at: datetime


class WorkflowVersion(Entity):
    id: int
    workflow_id: int
    workflow_name: str
    version: int  # 1, 2, ... per workflow
    plan_hash: str
    source_hash: str
    snapshot_uri: str
    plan: dict[str, Any]
    created_at: datetime


class ExampleMeta(Entity):
    """An example (dataset) as registered in the meta store; the DSL's ``Example`` is the user's."""

    id: int
    name: str
    columns: dict[str, str]  # column -> type, the example's schema
    format: str
    batch_uri: str | None
    stream_uri: str | None
    created_at: datetime
    updated_at: datetime


class Execution(Entity):
    id: int
    workflow_version_id: int
    workflow_name: str
    mode: str  # batch | stream
    engine: str
    deployer: str
    status: ExecutionStatus
    driver_pid: int | None
    driver_host: str | None
    error: str | None
    created_at: datetime
    started_at: datetime | None
    ended_at: datetime | None
    trigger_id: int | None = None  # the trigger that started it; None: a person or a program
    # The seq of the event that fired the rule that started it (its job gets that event).
    trigger_event_seq: int | None = None
    # When its current driver started (a replaced driver's successor started later than it).
    driver_started_at: datetime | None = None
    # When its driver last renewed its lease (None: claimed by an aiflow without leases).
    driver_heartbeat_at: datetime | None = None


class Job(Entity):
    id: int
    execution_id: int
    name: str
    engine: str
    status: JobStatus
    attempt: int  # 0 until first launch, then 1, 2, ...
    max_retries: int
    retry_delay: float
    timeout: float | None
    spec: dict[str, Any]  # the translator's JobSpec as JSON
    depends_on: list[int]  # job ids, from the job_dependency table
    handle: dict[str, Any] | None  # deployer-specific: pid + create time locally, pod name on k8s
    log_uri: str | None
    exit_code: int | None
    error: str | None
    result: dict[str, Any] | None  # what the runtime reports: rows per node, outputs written
    created_at: datetime
    started_at: datetime | None
    ended_at: datetime | None

    @property
    def duration(self) -> float | None:
        if self.started_at is None:
            return None
        end = self.ended_at or datetime.now(self.started_at.tzinfo)
        return (end - self.started_at).total_seconds()


class Model(Entity):
    id: int
    name: str
    description: str | None
    created_at: datetime


Stage = Literal["generated", "validated", "rejected", "deployed", "retired", "failed"]
STAGES: Final[tuple[str, ...]] = get_args(Stage)
SERVING_ALIAS: Final = "deployed"  # the version carrying this alias is the one served
# Stages a version is never served in, not even as the newest one (and cannot be promoted from).
UNSERVABLE_STAGES: Final[tuple[str, ...]] = ("rejected", "failed")
# The stage values ``0006`` renamed; what older clients and stores may still send or hold.
RENAMED_STAGES: Final[dict[str, str]] = {"production": "deployed", "deprecated": "retired"}


class ModelVersion(Entity):
    id: int
    model_id: int
    model_name: str
    version: int
    artifact_uri: str
    flavor: str
    stage: str  # one of STAGES; promotion onto the alias SERVING_ALIAS makes it "deployed"
    aliases: list[str]
    metrics: dict[str, float]  # newest value per metric name
    execution_id: int | None
    job_id: int | None
    node_id: str | None  # the train node that produced it
    created_at: datetime
    parent_version: int | None = None  # the version it continued training from
    checksum: str | None = None  # sha256 (hex) of the artifact's model.pkl, when recorded
    lineage: dict[str, Any] = {}  # what it was trained on, recorded at registration
    tags: dict[str, str] = {}


ChangeKind = Literal["stage", "alias", "tag"]


class ModelChange(Entity):
    """One recorded change of a model version (the model's audit history): its stage, an alias
    it took or lost, or a tag; ``field`` is ``"stage"``, the alias or the tag key.

    An alias move is recorded once, on the version that took the alias (``from_value`` the
    version that had it, ``None`` if none); an alias removed has ``to_value`` ``None``.
    """

    seq: int  # strictly increasing within the store: the order changes happened in
    model_name: str
    version: int
    kind: ChangeKind
    field: str
    from_value: str | None
    to_value: str | None
    actor: str  # "token:<name>" through the API, the OS user locally, "aiflow" for jobs
    reason: str | None
    metrics: dict[str, float]  # what the change was decided on (e.g. validation metrics)
    created_at: datetime


class ModelLineage(Entity):
    """Where a version came from: the run that trained it, the versions it continued from and
    the data it saw (``data``: the lineage dict recorded at registration)."""

    model_name: str
    version: int
    workflow: str | None  # None once the execution's history was deleted
    workflow_version: int | None
    execution_id: int | None
    job_id: int | None
    node_id: str | None
    parent_version: int | None
    ancestors: list[int]  # the parent chain, nearest first
    data: dict[str, Any]


class ModelComparison(Entity):
    """Two versions side by side: each metric either has, as ``(a, b)`` (``None`` where one
    lacks it), and the lineage fields whose values differ, as ``(a, b)``."""

    model_name: str
    versions: tuple[int, int]
    metrics: dict[str, tuple[float | None, float | None]]
    lineage_diff: dict[str, tuple[Any, Any]]


class ServingVersion(Entity):
    """Which version of a model to serve, with just what loading it takes (model servers poll
    it, so it carries no aliases or metrics)."""

    id: int
    model_name: str
    version: int
    artifact_uri: str
    flavor: str
    stage: str
    deployed: bool  # chosen by the ``deployed`` alias (else: the newest servable version)
    created_at: datetime
    checksum: str | None = None  # verify the artifact with it when loading (``load_model``)


class Event(Entity):
    seq: int  # strictly increasing across the whole store
    key: str
    type: str
    value: str
    created_at: datetime


TriggerAction = Literal["start", "restart", "stop"]
TriggerOrigin = Literal["user", "workflow"]
WORKFLOW_ORIGIN: Final = "workflow"  # a workflow's rule, made when the workflow is submitted


class TriggerKind(StrEnum):
    PERIODIC = "periodic"  # on a cron expression or every N seconds
    EVENT = "event"  # on each matching event of the store's event log


class Trigger(Entity):
    """What starts executions without anyone submitting: a schedule or an event rule.

    A user's trigger runs the workflow's newest version (or the pinned ``version``) as that
    version last ran in ``mode``, ``engine``; a workflow's rule (``origin`` ``workflow``) runs
    its one event-driven ``job`` of the pinned version (see ``aiflow/scheduler/triggers.py``).
    ``next_fire_at`` is when a periodic trigger fires next; ``event_cursor`` is the seq of the
    last event an event rule has dealt with.
    """

    id: int
    name: str
    workflow_name: str
    version: int | None  # pinned workflow version number; None: the newest at each fire
    kind: TriggerKind
    cron: str | None  # 5-field cron expression, UTC
    interval: float | None  # seconds
    event_type: str | None
    event_key: str | None  # exact key to match, if any
    event_value: str | None  # shell-style pattern the value must match, if any
    mode: str
    engine: str | None
    deployer: str | None
    max_active: int | None  # skip a fire while this many of its executions are unfinished
    enabled: bool
    next_fire_at: datetime | None
    event_cursor: int | None
    last_fired_at: datetime | None
    created_at: datetime
    updated_at: datetime
    # ``workflow``: one rule of an event-driven job (``af.action_on_*``), made and replaced
    # when its workflow is submitted, pinned to that version; each fire runs ``job`` alone.
    # ``user``: made by a person (``aiflow trigger create``); a fire repeats a whole run.
    origin: TriggerOrigin = "user"
    job: str | None = None  # the event-driven job a workflow's rule runs (its name)
    action: TriggerAction = "start"  # restart/stop: first stop that job's unfinished runs

    @property
    def event_log_key(self) -> str:
        """The key of this trigger's own events (fired, skipped, failed)."""
        return trigger_event_key(self.name)


def trigger_event_key(name: str) -> str:
    return f"trigger/{name}"


def rule_trigger_name(workflow: str, job: str, index: int) -> str:
    """The trigger of rule ``index`` of a workflow's event-driven job: ``<workflow>.<job>.<i>``
    (a valid trigger name, since workflow and job names are); one too long for a trigger
    keeps its start and ends with a hash of the whole name."""
    name = f"{workflow}.{job}.{index}"
    if len(name) <= TRIGGER_NAME_LENGTH:
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:16]
    return f"{name[: TRIGGER_NAME_LENGTH - 17]}.{digest}"


class FireOutcome(StrEnum):
    FIRED = "fired"  # an execution was started (or, by a stop rule, executions stopped)
    SKIPPED = "skipped"  # max_active executions were still unfinished
    FAILED = "failed"  # nothing could be started (no workflow version or run to copy)


class Fire(Entity):
    """One fire of a trigger as recorded: the ``TRIGGER_<OUTCOME>`` event and what it did."""

    trigger: str
    outcome: FireOutcome
    execution_id: int | None
    reason: str
    seq: int  # of the recorded event
    created_at: datetime
    stopped: list[int] = []  # executions a restart or stop rule asked to stop


class Metric(Entity):
    id: int
    name: str
    value: float
    step: int | None
    model_version_id: int | None
    execution_id: int | None
    job_id: int | None
    created_at: datetime


class ApiToken(Entity):
    """An API token's record. The secret itself is never stored (only its SHA-256) and never
    returned: it is shown once, by ``create_token``."""

    id: int
    name: str
    role: Role
    created_at: datetime
    last_used_at: datetime | None  # refreshed at most once a minute, see TokenStore.verify_token
    revoked_at: datetime | None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


class StatusCounts(Entity):
    """How many executions and jobs are in each status (every status present, zeros included),
    for monitoring; see ``StatsStore.count_by_status``."""

    executions: dict[ExecutionStatus, int]
    jobs: dict[JobStatus, int]
