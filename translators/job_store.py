"""How a job reaches the meta store: directly, or through its server's job API.

``JobAccess`` lists every meta store operation a job performs, and nothing else: read its own
job and execution, publish its result, read and register model versions, log metrics, keep its
stream ledger. Two implementations satisfy it:

* ``MetaStore`` itself, when a job runs without a server (``aiflow run``): the user runs their
  own code on their own store, so there is nothing to protect, and nothing changes;
* ``JobApiClient``, when the job was started for a server. The job gets no database URL and no
  server secret, only the server's job API URL and a token valid for this one attempt
  (``aiflow.store.job_tokens``), which the server checks against the job's own spec on every
  call (``aiflow.server.routes.job_api``). Otherwise a workflow submitted with an editor token
  could write into the store whatever it likes at import time -- an admin token, say. Airflow 3
  moved its tasks from database access to a task execution API with per-task tokens for the same
  reason; pods and YARN containers get the same two variables and never a database password.

The variables a job under a server gets, and which variables of the parent's environment a
local child process must not inherit (``without_credentials``), are defined here so that the
scheduler that sets them, the deployer that starts the process, the planner and the runtime
that reads them agree.

This module lives with the job context (``translators``), not in ``aiflow.runtime``, because
Flink UDF workers use it too (``serving_lookup``) and engines may not import the runtime. It
imports httpx only when a client is used: a local job never loads it.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final, Protocol

from aiflow.errors import MetaStoreError, error_for

if TYPE_CHECKING:
    import httpx

    from aiflow.schemas.entities import Event, Execution, Job, ModelVersion

JOB_API_ENV: Final = "AIFLOW_JOB_API"  # the server's URL, as its jobs reach it
JOB_TOKEN_ENV: Final = "AIFLOW_JOB_TOKEN"  # the attempt's job token (afj_...)
# The meta store URL a process that must not use the store directly gets: ``MetaStore()`` in
# user code then fails naming the reason instead of opening $AIFLOW_HOME/aiflow.db.
NO_DIRECT_STORE: Final = "no_direct_access://jobs-and-planners-use-the-server-job-api"
_METASTORE_URI_ENV: Final = "AIFLOW__METASTORE__URI"
# Settings sections that hold credentials or only matter to servers and clients.
_CREDENTIAL_PREFIXES: Final = ("AIFLOW__SERVER__", "AIFLOW__CLIENT__")
API_PREFIX: Final = "/api/v1/job-api"
# How long a call keeps retrying while the server cannot be reached: a server restarting (a
# deploy, a crash and restart) must not fail every job that calls it meanwhile; its scheduler
# adopts the running jobs when it is back.
_UNREACHABLE_PATIENCE: Final = 120.0
_MAX_BACKOFF: Final = 2.0


def without_credentials(environ: Mapping[str, str]) -> dict[str, str]:
    """``environ`` without the server's secret key, the meta store URL, the client's token
    (any ``AIFLOW__SERVER__*``, ``AIFLOW__CLIENT__*``, ``AIFLOW__METASTORE__URI``) and an
    inherited job token: what a child process that runs user code may inherit. Its own
    credential, if any, is added explicitly by whoever starts it."""
    return {
        key: value
        for key, value in environ.items()
        if not key.startswith(_CREDENTIAL_PREFIXES)
        and key not in (_METASTORE_URI_ENV, JOB_TOKEN_ENV)
    }


def job_api_environment(url: str, token: str) -> dict[str, str]:
    """The variables a job under a server gets instead of a meta store URL."""
    return {JOB_API_ENV: url, JOB_TOKEN_ENV: token, _METASTORE_URI_ENV: NO_DIRECT_STORE}


class ServingLookup(Protocol):
    """What code in other processes of a job (Flink UDF workers) asks the store: which
    version to serve. Implementations are picklable: they travel with the UDF."""

    def serving_version(self, model_name: str) -> ModelVersion | None: ...

    def mark_model_version_failed(
        self, model_name: str, version: int, *, reason: str, actor: str | None = None
    ) -> ModelVersion: ...


class JobAccess(ServingLookup, Protocol):
    """Every meta store operation a job performs; ``MetaStore`` and ``JobApiClient`` satisfy
    it. A job may only act on itself: the job API refuses ids of other jobs (403)."""

    def get_job(self, id: int) -> Job: ...

    def get_execution(self, id: int) -> Execution: ...

    def update_job(self, job_id: int, *, result: dict[str, Any] | None) -> Job: ...

    def latest_model_version(
        self, model_name: str, *, execution_id: int | None = None, node_id: str | None = None
    ) -> ModelVersion | None: ...

    def register_model_version(
        self,
        model_name: str,
        artifact_uri: str,
        flavor: str,
        *,
        execution_id: int | None = None,
        job_id: int | None = None,
        node_id: str | None = None,
        parent_version: int | None = None,
        checksum: str | None = None,
        lineage: dict[str, Any] | None = None,
        actor: str | None = None,
    ) -> ModelVersion: ...

    def get_model_version(self, model_name: str, version: int) -> ModelVersion: ...

    def get_model_version_by_alias(self, model_name: str, alias: str) -> ModelVersion | None: ...

    def page_model_versions(
        self, name: str, *, cursor: int | None = None, limit: int = 50
    ) -> list[ModelVersion]: ...

    def set_model_version_stage(
        self,
        model_name: str,
        version: int,
        stage: str,
        *,
        reason: str | None = None,
        metrics: dict[str, float] | None = None,
        actor: str | None = None,
    ) -> ModelVersion: ...

    def promote_model_version(
        self,
        model_name: str,
        version: int,
        *,
        alias: str = "deployed",
        reason: str | None = None,
        metrics: dict[str, float] | None = None,
        actor: str | None = None,
    ) -> ModelVersion: ...

    def log_metrics(
        self,
        metrics: dict[str, float],
        *,
        model_version_id: int | None = None,
        execution_id: int | None = None,
        job_id: int | None = None,
        step: int | None = None,
    ) -> None: ...

    def consumed_files(self, consumer: str) -> set[str]: ...

    def emit_event(self, key: str, type: str, value: str = "") -> Event: ...

    def mark_consumed(self, consumer: str, file: str) -> None: ...


class StoreAt:
    """A ``ServingLookup`` on the meta store at ``uri``, for UDF workers of a job that runs
    without a server: picklable (a ``MetaStore`` holds locks), opened where it is used."""

    def __init__(self, uri: str) -> None:
        self.uri = uri

    def serving_version(self, model_name: str) -> ModelVersion | None:
        from aiflow.store.sql_store import MetaStore

        return MetaStore(self.uri).serving_version(model_name)

    def mark_model_version_failed(
        self, model_name: str, version: int, *, reason: str, actor: str | None = None
    ) -> ModelVersion:
        from aiflow.store.sql_store import MetaStore

        store = MetaStore(self.uri)
        return store.mark_model_version_failed(model_name, version, reason=reason, actor=actor)


class JobApiClient:
    """``JobAccess`` over the server's job API (``/api/v1/job-api``), with one attempt's
    token. Errors come back as the ``aiflow.errors`` class the server raised, as from a
    ``MetaStore``; an unreachable server is a ``MetaStoreError``.

    Picklable (URL and token only; the HTTP connection is opened per process), so a Flink UDF
    can carry it to its workers. The token is extended by the runtime's heartbeat (``extend``),
    never replaced, so every copy stays valid while the attempt runs.
    """

    def __init__(self, url: str, token: str, *, timeout: float = 30.0) -> None:
        self.url = url.rstrip("/")
        self.token = token
        self.timeout = timeout
        self._http: httpx.Client | None = None
        self._pid = 0
        self._lock = threading.Lock()

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> JobApiClient | None:
        """The client the scheduler configured for this process, or ``None`` outside a
        server (no ``AIFLOW_JOB_API``)."""
        environ = os.environ if environ is None else environ
        url = environ.get(JOB_API_ENV)
        if not url:
            return None
        token = environ.get(JOB_TOKEN_ENV)
        if not token:
            raise MetaStoreError(
                f"{JOB_API_ENV} is set but {JOB_TOKEN_ENV} is not: a job under a server is "
                "started by its scheduler, which gives it both"
            )
        return cls(url, token)

    def __repr__(self) -> str:
        return f"JobApiClient({self.url!r})"  # never the token

    def __getstate__(self) -> dict[str, Any]:
        return {"url": self.url, "token": self.token, "timeout": self.timeout}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.url, self.token, self.timeout = state["url"], state["token"], state["timeout"]
        self._http, self._pid, self._lock = None, 0, threading.Lock()

    def close(self) -> None:
        with self._lock:
            if self._http is not None and self._pid == os.getpid():
                self._http.close()
            self._http = None

    # -- JobAccess ----------------------------------------------------------------------------

    def get_job(self, id: int) -> Job:
        from aiflow.schemas.entities import Job

        return Job.model_validate(self._call("GET", f"/jobs/{id}"))

    def get_execution(self, id: int) -> Execution:
        from aiflow.schemas.entities import Execution

        return Execution.model_validate(self._call("GET", f"/executions/{id}"))

    def update_job(self, job_id: int, *, result: dict[str, Any] | None) -> Job:
        from aiflow.schemas.entities import Job

        body = {"result": result}
        return Job.model_validate(self._call("PUT", f"/jobs/{job_id}/result", body=body))

    def latest_model_version(
        self, model_name: str, *, execution_id: int | None = None, node_id: str | None = None
    ) -> ModelVersion | None:
        params = {"execution_id": execution_id, "node_id": node_id}
        found = self._call("GET", f"/models/{_segment(model_name)}/latest", params=params)
        return _version(found)

    def serving_version(self, model_name: str) -> ModelVersion | None:
        return _version(self._call("GET", f"/models/{_segment(model_name)}/serving"))

    def register_model_version(
        self,
        model_name: str,
        artifact_uri: str,
        flavor: str,
        *,
        execution_id: int | None = None,
        job_id: int | None = None,
        node_id: str | None = None,
        parent_version: int | None = None,
        checksum: str | None = None,
        lineage: dict[str, Any] | None = None,
        actor: str | None = None,
    ) -> ModelVersion:
        # ``actor`` is not sent: the server records the job its token belongs to
        body = {
            "artifact_uri": artifact_uri,
            "flavor": flavor,
            "execution_id": execution_id,
            "job_id": job_id,
            "node_id": node_id,
            "parent_version": parent_version,
            "checksum": checksum,
            "lineage": lineage,
        }
        path = f"/models/{_segment(model_name)}/versions"
        return _required(self._call("POST", path, body=body, idempotent=False))

    def get_model_version(self, model_name: str, version: int) -> ModelVersion:
        path = f"/models/{_segment(model_name)}/versions/{int(version)}"
        return _required(self._call("GET", path))

    def get_model_version_by_alias(self, model_name: str, alias: str) -> ModelVersion | None:
        path = f"/models/{_segment(model_name)}/aliases/{_segment(alias)}"
        return _version(self._call("GET", path))

    def page_model_versions(
        self, name: str, *, cursor: int | None = None, limit: int = 50
    ) -> list[ModelVersion]:
        params = {"cursor": cursor, "limit": limit}
        found = self._call("GET", f"/models/{_segment(name)}/versions", params=params)
        return [_required(item) for item in found]

    def set_model_version_stage(
        self,
        model_name: str,
        version: int,
        stage: str,
        *,
        reason: str | None = None,
        metrics: dict[str, float] | None = None,
        actor: str | None = None,
    ) -> ModelVersion:
        path = f"/models/{_segment(model_name)}/versions/{int(version)}/stage"
        body = {"stage": stage, "reason": reason, "metrics": metrics}
        return _required(self._call("PUT", path, body=body))

    def promote_model_version(
        self,
        model_name: str,
        version: int,
        *,
        alias: str = "deployed",
        reason: str | None = None,
        metrics: dict[str, float] | None = None,
        actor: str | None = None,
    ) -> ModelVersion:
        path = f"/models/{_segment(model_name)}/versions/{int(version)}/promote"
        body = {"alias": alias, "reason": reason, "metrics": metrics}
        return _required(self._call("POST", path, body=body))

    def mark_model_version_failed(
        self, model_name: str, version: int, *, reason: str, actor: str | None = None
    ) -> ModelVersion:
        path = f"/models/{_segment(model_name)}/versions/{int(version)}/failed"
        return _required(self._call("POST", path, body={"reason": reason}))

    def log_metrics(
        self,
        metrics: dict[str, float],
        *,
        model_version_id: int | None = None,
        execution_id: int | None = None,
        job_id: int | None = None,
        step: int | None = None,
    ) -> None:
        body = {
            "metrics": metrics,
            "model_version_id": model_version_id,
            "execution_id": execution_id,
            "job_id": job_id,
            "step": step,
        }
        self._call("POST", "/metrics", body=body, idempotent=False)

    def consumed_files(self, consumer: str) -> set[str]:
        return set(self._call("GET", "/ledger", params={"consumer": consumer}))

    def emit_event(self, key: str, type: str, value: str = "") -> Event:
        from aiflow.schemas.entities import Event

        body = {"key": key, "type": type, "value": value}
        return Event.model_validate(self._call("POST", "/events", body=body, idempotent=False))

    def mark_consumed(self, consumer: str, file: str) -> None:
        self._call("POST", "/ledger", body={"consumer": consumer, "file": file})

    # -- the token ----------------------------------------------------------------------------

    def extend(self) -> float:
        """Extend this attempt's token (the runtime's heartbeat); returns the seconds it is
        now valid for. ``Unauthorized`` once the attempt ended or the token expired."""
        return float(self._call("POST", "/token/extend")["expires_in"])

    # -- HTTP ---------------------------------------------------------------------------------

    def _client(self) -> httpx.Client:
        import httpx

        with self._lock:
            if self._http is None or self._pid != os.getpid():  # not a forked parent's pool
                self._http = httpx.Client(
                    base_url=self.url + API_PREFIX,
                    headers={"Authorization": f"Bearer {self.token}"},
                    timeout=self.timeout,
                )
                self._pid = os.getpid()
            return self._http

    def _call(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        body: Any = None,
        idempotent: bool = True,
    ) -> Any:
        """One request; retried with backoff while the server cannot be reached (and, for an
        idempotent one, when the connection broke mid-request or the server's meta store was
        unavailable: 503)."""
        import httpx

        params = {k: v for k, v in (params or {}).items() if v is not None}
        delay, deadline = 0.2, time.monotonic() + _UNREACHABLE_PATIENCE
        while True:
            try:
                response = self._client().request(method, path, params=params, json=body)
            except httpx.TransportError as exc:
                retry = isinstance(exc, httpx.ConnectError) or idempotent
                if not retry or time.monotonic() + delay > deadline:
                    raise MetaStoreError(
                        f"the job API at {self.url} failed: {type(exc).__name__}: {exc}"
                    ) from exc
                time.sleep(delay)
                delay = min(delay * 2, _MAX_BACKOFF)
                continue
            if response.status_code == 503 and idempotent and time.monotonic() + delay < deadline:
                # the server is up but its meta store is not (a database restart): wait it out
                response.close()
                time.sleep(delay)
                delay = min(delay * 2, _MAX_BACKOFF)
                continue
            break
        if response.status_code >= 400:
            raise _error(response)
        return None if response.status_code == 204 else response.json()


def _segment(name: str) -> str:
    from urllib.parse import quote

    return quote(name, safe="")


def _version(data: Any) -> ModelVersion | None:
    from aiflow.schemas.entities import ModelVersion

    return None if data is None else ModelVersion.model_validate(data)


def _required(data: Any) -> ModelVersion:
    version = _version(data)
    assert version is not None, "the job API answered null for a version it must return"
    return version


def _error(response: httpx.Response) -> Exception:
    """The aiflow error a problem response describes."""
    try:
        problem = response.json()
    except ValueError:
        problem = None
    if not isinstance(problem, dict):
        problem = {}
    message = str(problem.get("detail") or response.reason_phrase or response.status_code)
    return error_for(problem.get("code"), message, response.status_code)
