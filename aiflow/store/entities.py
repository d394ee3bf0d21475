"""What the meta store returns: frozen pydantic entities, never ORM rows.

Callers (scheduler, runtime, CLI, later the REST API) depend on these, not on SQLAlchemy, so
that a session never leaks out of the store and lazy loading cannot cause N+1 queries.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict


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


class ModelVersion(Entity):
    id: int
    model_id: int
    model_name: str
    version: int
    artifact_uri: str
    flavor: str
    stage: str  # generated | validated | deployed | deprecated
    aliases: list[str]
    metrics: dict[str, float]  # newest value per metric name
    execution_id: int | None
    job_id: int | None
    node_id: str | None  # the train node that produced it
    created_at: datetime


class Event(Entity):
    seq: int  # strictly increasing across the whole store
    key: str
    type: str
    value: str
    created_at: datetime


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
