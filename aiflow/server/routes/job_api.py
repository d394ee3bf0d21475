"""The job API (``/api/v1/job-api``): the meta store as a running job may use it.

Jobs started for a server hold no database URL and no server secret (see
``aiflow.translators.job_store``); they call these routes with their attempt's job token
(``aiflow.store.job_tokens``). Every route acts for the token's job only, and each checks what
it is asked against the job's own spec:

* its job (read, publish its ``result``) and its execution (read): other ids are 403;
* model versions: read versions of a model the spec names, register a version of a model a
  train node of the spec trains, in its own execution and job; set a version's stage or move
  an alias only for a model a validate or push node of the spec decides on; mark a version
  ``failed`` (its artifact did not load) for any model the spec names. Changes are recorded
  in the model's history as made by ``job:<id>``;
* metrics: logged for its own execution and job, against a version of a model the spec names;
* the stream ledger: only its own consumers (``workflow/<its workflow>/<its node>`` or
  ``execution/<its execution>/<its node>``, see ``JobContext.stream_consumer``).

A missing, expired or ended-attempt token is 401; a valid token asking for something outside
its scope is 403. API tokens are not accepted here, nor job tokens anywhere else.

These routes are not in the OpenAPI document: their only client is aiflow's own job runtime
(``JobApiClient``) of the same version, not programs generated from the document.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict

from aiflow.errors import Forbidden, Unauthorized
from aiflow.plan.model import NodeKind
from aiflow.schemas.entities import Event, Execution, Job, ModelVersion
from aiflow.schemas.events import check_user_event_type
from aiflow.server.deps import Store, get_store
from aiflow.server.params import reject_unknown_query
from aiflow.store.job_tokens import JobGrant
from aiflow.store.sql_store import MetaStore
from aiflow.translators.physical import JobSpec

router = APIRouter(prefix="/job-api", tags=["job-api"], include_in_schema=False)

_bearer = HTTPBearer(auto_error=False)


@dataclass(frozen=True)
class JobScope:
    """A verified job token and what the job's spec allows it to touch."""

    grant: JobGrant
    workflow: str
    nodes: frozenset[str]
    models: frozenset[str]  # every model a node of the spec names
    trains: dict[str, str]  # train node -> the model it registers versions of
    decides: frozenset[str]  # models a validate or push node of the spec moves through stages

    @classmethod
    def of(cls, grant: JobGrant, job: Job) -> JobScope:
        spec = JobSpec.model_validate(job.spec)
        return cls(
            grant=grant,
            workflow=spec.workflow,
            nodes=frozenset(n.id for n in spec.nodes),
            models=frozenset(n.model for n in spec.nodes if n.model),
            trains={n.id: n.model for n in spec.nodes if n.kind == NodeKind.TRAIN and n.model},
            decides=frozenset(
                n.model
                for n in spec.nodes
                if n.kind in (NodeKind.VALIDATE, NodeKind.PUSH) and n.model
            ),
        )

    @property
    def actor(self) -> str:
        return f"job:{self.grant.job_id}"

    def decision(self, name: str) -> None:
        if name not in self.decides:
            raise Forbidden(
                f"job {self.grant.job_id} has no validate or push node of model '{name}', so it "
                "may not change its versions' stages or aliases"
            )

    def job(self, job_id: int | None) -> None:
        _own_job(self.grant, job_id)

    def execution(self, execution_id: int | None) -> None:
        _own_execution(self.grant, execution_id)

    def model(self, name: str) -> None:
        if name not in self.models:
            raise Forbidden(
                f"job {self.grant.job_id} does not use model '{name}' (its spec names "
                f"{sorted(self.models)})"
            )

    def consumer(self, consumer: str) -> None:
        owners = (f"workflow/{self.workflow}/", f"execution/{self.grant.execution_id}/")
        for owner in owners:
            if consumer.startswith(owner) and consumer[len(owner) :] in self.nodes:
                return
        raise Forbidden(f"stream consumer '{consumer}' is not one of job {self.grant.job_id}'s")


def _own_job(grant: JobGrant, job_id: int | None) -> None:
    if job_id is not None and job_id != grant.job_id:
        raise Forbidden(f"a job token of job {grant.job_id} cannot act on job {job_id}")


def _own_execution(grant: JobGrant, execution_id: int | None) -> None:
    if execution_id is not None and execution_id != grant.execution_id:
        raise Forbidden(
            f"a job token of execution {grant.execution_id} cannot act on execution {execution_id}"
        )


async def _grant(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    store: Annotated[MetaStore, Depends(get_store)],
) -> JobGrant:
    if credentials is None:
        raise Unauthorized("the job API needs the job token its scheduler gave the job")
    grant = await run_in_threadpool(store.verify_job_token, credentials.credentials)
    if grant is None:
        raise Unauthorized("the job token is invalid, expired, or its job attempt has ended")
    request.state.job_grant = grant
    reject_unknown_query(request)  # once the caller is known (aiflow.server.params)
    return grant


Grant = Annotated[JobGrant, Depends(_grant)]


def _scope(store: Store, grant: Grant) -> JobScope:
    return JobScope.of(grant, store.get_job(grant.job_id))


Scope = Annotated[JobScope, Depends(_scope)]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ResultUpdate(_Body):
    result: dict[str, Any] | None


class VersionCreate(_Body):
    artifact_uri: str
    flavor: str
    execution_id: int | None = None
    job_id: int | None = None
    node_id: str | None = None
    parent_version: int | None = None
    checksum: str | None = None
    lineage: dict[str, Any] | None = None


class StageChange(_Body):
    stage: str
    reason: str | None = None
    metrics: dict[str, float] | None = None


class Promotion(_Body):
    alias: str = "deployed"
    reason: str | None = None
    metrics: dict[str, float] | None = None


class Failure(_Body):
    reason: str


class MetricsCreate(_Body):
    metrics: dict[str, float]
    model_version_id: int | None = None
    execution_id: int | None = None
    job_id: int | None = None
    step: int | None = None


class EventCreate(_Body):
    key: str
    type: str
    value: str = ""


class Consumed(_Body):
    consumer: str
    file: str


class TokenExtended(BaseModel):
    expires_at: datetime
    expires_in: float  # seconds


@router.get("/jobs/{job_id}")
def job_api_get_job(job_id: int, store: Store, grant: Grant) -> Job:
    _own_job(grant, job_id)
    return store.get_job(job_id)


@router.put("/jobs/{job_id}/result")
def job_api_publish_result(job_id: int, body: ResultUpdate, store: Store, grant: Grant) -> Job:
    _own_job(grant, job_id)
    return store.update_job(job_id, result=body.result)


@router.get("/executions/{execution_id}")
def job_api_get_execution(execution_id: int, store: Store, grant: Grant) -> Execution:
    _own_execution(grant, execution_id)
    return store.get_execution(execution_id)


@router.get("/models/{name}/latest")
def job_api_latest_version(
    name: str,
    store: Store,
    scope: Scope,
    execution_id: Annotated[int | None, Query()] = None,
    node_id: Annotated[str | None, Query()] = None,
) -> ModelVersion | None:
    scope.model(name)
    scope.execution(execution_id)
    return store.latest_model_version(name, execution_id=execution_id, node_id=node_id)


@router.get("/models/{name}/serving")
def job_api_serving_version(name: str, store: Store, scope: Scope) -> ModelVersion | None:
    scope.model(name)
    return store.serving_version(name)


@router.post("/models/{name}/versions", status_code=201)
def job_api_register_version(
    name: str, body: VersionCreate, store: Store, scope: Scope
) -> ModelVersion:
    scope.execution(body.execution_id)
    scope.job(body.job_id)
    if body.node_id is None or scope.trains.get(body.node_id) != name:
        raise Forbidden(
            f"job {scope.grant.job_id} has no train node '{body.node_id}' of model '{name}' "
            f"(its train nodes: {scope.trains})"
        )
    return store.register_model_version(
        name,
        body.artifact_uri,
        body.flavor,
        execution_id=scope.grant.execution_id,
        job_id=scope.grant.job_id,
        node_id=body.node_id,
        parent_version=body.parent_version,
        checksum=body.checksum,
        lineage=body.lineage,
        actor=scope.actor,
    )


@router.get("/models/{name}/versions")
def job_api_page_versions(
    name: str,
    store: Store,
    scope: Scope,
    cursor: Annotated[int | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
) -> list[ModelVersion]:
    scope.model(name)
    return store.page_model_versions(name, cursor=cursor, limit=limit)


@router.get("/models/{name}/versions/{version}")
def job_api_get_version(name: str, version: int, store: Store, scope: Scope) -> ModelVersion:
    scope.model(name)
    return store.get_model_version(name, version)


@router.get("/models/{name}/aliases/{alias}")
def job_api_version_by_alias(
    name: str, alias: str, store: Store, scope: Scope
) -> ModelVersion | None:
    scope.model(name)
    return store.get_model_version_by_alias(name, alias)


@router.put("/models/{name}/versions/{version}/stage")
def job_api_set_stage(
    name: str, version: int, body: StageChange, store: Store, scope: Scope
) -> ModelVersion:
    scope.decision(name)
    return store.set_model_version_stage(
        name, version, body.stage, reason=body.reason, metrics=body.metrics, actor=scope.actor
    )


@router.post("/models/{name}/versions/{version}/promote")
def job_api_promote(
    name: str, version: int, body: Promotion, store: Store, scope: Scope
) -> ModelVersion:
    scope.decision(name)
    return store.promote_model_version(
        name, version, alias=body.alias, reason=body.reason, metrics=body.metrics, actor=scope.actor
    )


@router.post("/models/{name}/versions/{version}/failed")
def job_api_mark_failed(
    name: str, version: int, body: Failure, store: Store, scope: Scope
) -> ModelVersion:
    scope.model(name)
    return store.mark_model_version_failed(name, version, reason=body.reason, actor=scope.actor)


@router.post("/metrics", status_code=204)
def job_api_log_metrics(body: MetricsCreate, store: Store, scope: Scope) -> None:
    scope.execution(body.execution_id)
    scope.job(body.job_id)
    if body.model_version_id is not None:
        model = store.model_of_version(body.model_version_id)
        if model is None or model not in scope.models:
            raise Forbidden(
                f"model version id {body.model_version_id} is not a version of a model job "
                f"{scope.grant.job_id} uses"
            )
    store.log_metrics(
        body.metrics,
        model_version_id=body.model_version_id,
        execution_id=scope.grant.execution_id,
        job_id=scope.grant.job_id,
        step=body.step,
    )


@router.get("/ledger")
def job_api_consumed_files(
    consumer: Annotated[str, Query()], store: Store, scope: Scope
) -> list[str]:
    scope.consumer(consumer)
    return sorted(store.consumed_files(consumer))


@router.post("/ledger", status_code=204)
def job_api_mark_consumed(body: Consumed, store: Store, scope: Scope) -> None:
    scope.consumer(body.consumer)
    store.mark_consumed(body.consumer, body.file)


@router.post("/events", status_code=201)
def job_api_emit_event(body: EventCreate, store: Store, scope: Scope) -> Event:
    """``af.send_event`` from a job: user events only (a job cannot forge the platform's
    ``MODEL_*``, ``JOB_*`` or ``TRIGGER_*`` events, which rules act on)."""
    check_user_event_type(body.type)
    return store.emit_event(body.key, body.type, body.value)


@router.post("/token/extend")
def job_api_extend_token(
    store: Store,
    grant: Grant,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> TokenExtended:
    """The job's heartbeat: its token stays valid another ``JOB_TOKEN_LIFETIME``."""
    assert credentials is not None  # checked by the grant
    extended = store.extend_job_token(credentials.credentials)
    if extended is None:  # the attempt ended since the grant was checked
        raise Unauthorized(f"the job token of job {grant.job_id} is no longer valid")
    remaining = (extended.expires_at - datetime.now(UTC)).total_seconds()
    return TokenExtended(expires_at=extended.expires_at, expires_in=remaining)


def job_api_url(host: str, port: int) -> str:
    """Where the jobs of a server bound to ``host:port`` reach its job API: the address itself,
    or loopback when it is a wildcard (local jobs run on this machine). Jobs elsewhere (pods,
    YARN containers) need the URL they can reach: set ``AIFLOW_JOB_API`` for the server."""
    if host in ("", "0.0.0.0"):
        host = "127.0.0.1"
    elif host in ("::", "[::]"):
        host = "::1"
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"http://{host}:{port}"
