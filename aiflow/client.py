"""``Client``: the aiflow REST API from Python, one method per endpoint.

Answers come back as the meta store's entity classes (``Execution``, ``ModelVersion``, ...)
wherever the API returns that shape, so code written against a local ``MetaStore`` reads the
same against a server. Errors come back as the same ``aiflow.errors`` class the server raised
(mapped from the problem JSON's ``code``): a missing model is ``NotFound`` either way, a bad
token ``Unauthorized``. What has no aiflow class (413, a proxy's 502) is ``ApiError`` with the
HTTP status.

``submit`` does on the client what ``aiflow run`` does locally up to the snapshot: it collects
the workflow file's directory (code only) and uploads the archive with its hash; the server
verifies, plans and runs it. Example data is not uploaded: a workflow submitted to a server
must name its data by absolute paths the server can read, or by remote URIs.
"""

from __future__ import annotations

import importlib
import os
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, Literal, TypeVar
from urllib.parse import quote

import httpx
from pydantic import BaseModel, TypeAdapter

from aiflow.errors import AiflowError, InvalidPlan
from aiflow.server.schemas import Page, WorkflowGraph, WorkflowVersionPublic
from aiflow.store._browse import ServingVersion
from aiflow.store.entities import (
    Event,
    ExampleMeta,
    Execution,
    ExecutionStatus,
    Job,
    Metric,
    Model,
    ModelVersion,
    Trigger,
    Workflow,
)

if TYPE_CHECKING:
    from aiflow.dsl.workflow import Workflow as DslWorkflow
    from aiflow.store.models import TriggerCreate, TriggerUpdate

TOKEN_ENV = "AIFLOW__CLIENT__TOKEN"
API_PREFIX = "/api/v1"
SUBMIT_TIMEOUT = 180.0  # s: the server imports and plans the workflow before answering

M = TypeVar("M", bound=BaseModel)


class ApiError(AiflowError):
    """An error response that maps to no aiflow error class (upload limits, unknown routes,
    a proxy's own errors); ``status`` is the HTTP status."""

    code = "api_error"

    def __init__(self, message: str, status: int, problem_code: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.problem_code = problem_code


def error_from_code(code: str, message: str) -> AiflowError | None:
    """An instance of the ``AiflowError`` subclass whose ``code`` is ``code``, or ``None``.

    Built without calling the subclass's ``__init__``: some take extra arguments (a node)
    whose text is already part of ``message``."""
    # Error classes defined outside aiflow.errors exist as subclasses once imported:
    # ExecutionFailed, and the server's Unauthorized and Forbidden.
    for module in ("aiflow.scheduler.submit", "aiflow.server.problems"):
        importlib.import_module(module)
    pending: list[type[AiflowError]] = [AiflowError]
    while pending:
        cls = pending.pop()
        if cls.code == code and cls is not ApiError:
            error = cls.__new__(cls)
            AiflowError.__init__(error, message)
            return error
        pending.extend(cls.__subclasses__())
    return None


class Client:
    """A connection to an aiflow server at ``url`` (``http://host:port``).

    ``token`` is an API token (default: ``$AIFLOW__CLIENT__TOKEN``); ``timeout`` bounds each
    request in seconds; ``transport`` replaces httpx's (retries, a proxy, a custom TLS setup).
    Use as a context manager, or call ``close()``.
    """

    def __init__(
        self,
        url: str,
        token: str | None = None,
        *,
        timeout: float = 30,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        token = token if token is not None else os.environ.get(TOKEN_ENV)
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.url = url.rstrip("/")
        self.timeout = timeout
        self._http = httpx.Client(
            base_url=self.url + API_PREFIX, headers=headers, timeout=timeout, transport=transport
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- workflows ----------------------------------------------------------------------------

    def workflows(
        self, *, cursor: str | None = None, limit: int = 50, count: bool = False
    ) -> Page[Workflow]:
        return self._page(Workflow, "/workflows", cursor=cursor, limit=limit, count=count)

    def workflow(self, name: str) -> Workflow:
        return Workflow.model_validate(self._get(f"/workflows/{_q(name)}"))

    def workflow_versions(
        self, name: str, *, cursor: int | None = None, limit: int = 50, count: bool = False
    ) -> Page[WorkflowVersionPublic]:
        return self._page(
            WorkflowVersionPublic,
            f"/workflows/{_q(name)}/versions",
            cursor=cursor,
            limit=limit,
            count=count,
        )

    def workflow_graph(self, name: str, version: int) -> WorkflowGraph:
        return WorkflowGraph.model_validate(
            self._get(f"/workflows/{_q(name)}/versions/{version}/graph")
        )

    # -- executions ---------------------------------------------------------------------------

    def submit(
        self,
        wf: DslWorkflow,
        mode: str = "batch",
        *,
        engine: str | None = None,
        deployer: str | None = None,
    ) -> Execution:
        """Upload ``wf``'s source snapshot and start an execution of it on the server."""
        from aiflow.plan import snapshot

        if wf.source_file is None:
            raise InvalidPlan(
                f"workflow '{wf.name}' was not defined in a file; a server runs workflows from "
                "a snapshot of the file's directory"
            )
        snap = snapshot.collect(wf.source_file)
        fields = _params(
            source_hash=snap.hash,
            entrypoint=snap.entrypoint,
            workflow=wf.name,
            mode=mode,
            engine=engine,
            deployer=deployer,
        )
        archive = {"snapshot": (f"{snap.hash}.tar.gz", snap.archive(), "application/gzip")}
        response = self._http.post(
            "/executions",
            data=fields,
            files=archive,
            timeout=max(self.timeout, SUBMIT_TIMEOUT),
        )
        return Execution.model_validate(_checked(response).json())

    def executions(
        self,
        *,
        workflow: str | None = None,
        status: ExecutionStatus | str | None = None,
        mode: str | None = None,
        order: Literal["desc", "asc"] = "desc",
        cursor: int | None = None,
        limit: int = 50,
        count: bool = False,
    ) -> Page[Execution]:
        return self._page(
            Execution,
            "/executions",
            workflow=workflow,
            status=status,
            mode=mode,
            order=order,
            cursor=cursor,
            limit=limit,
            count=count,
        )

    def execution(self, id: int) -> Execution:
        return Execution.model_validate(self._get(f"/executions/{id}"))

    def stop(self, id: int, *, wait: float = 10) -> Execution:
        """Stop an execution; returns it once ended or after ``wait`` s (then ``stopping``)."""
        response = self._http.post(
            f"/executions/{id}/stop", params={"wait": wait}, timeout=self.timeout + wait
        )
        return Execution.model_validate(_checked(response).json())

    def rerun(self, id: int) -> Execution:
        return Execution.model_validate(self._post(f"/executions/{id}/rerun"))

    def wait(self, id: int, *, timeout: float | None = None, poll: float = 0.5) -> Execution:
        """Poll execution ``id`` until it finished (or ``timeout`` s passed) and return it."""
        deadline = None if timeout is None else time.monotonic() + timeout
        interval = min(0.1, poll)
        while True:
            execution = self.execution(id)
            if execution.status.finished:
                return execution
            if deadline is not None and time.monotonic() >= deadline:
                return execution
            time.sleep(interval)
            interval = min(interval * 2, poll)

    def execution_metrics(self, id: int) -> list[Metric]:
        return self._list(Metric, f"/executions/{id}/metrics")

    # -- jobs ---------------------------------------------------------------------------------

    def jobs(self, execution_id: int) -> list[Job]:
        return self._list(Job, f"/executions/{execution_id}/jobs")

    def job(self, id: int) -> Job:
        return Job.model_validate(self._get(f"/jobs/{id}"))

    def logs(
        self,
        job_id: int,
        *,
        tail: int | None = None,
        offset: int | None = None,
        length: int | None = None,
    ) -> str:
        """The job's log (latest attempt), or its last ``tail`` lines, or a byte range."""
        params = _params(tail=tail, offset=offset, length=length)
        return _checked(self._http.get(f"/jobs/{job_id}/logs", params=params)).text

    def follow_logs(self, job_id: int, *, tail: int | None = None) -> Iterator[str]:
        """The job's log lines as they are written, until the job ends."""
        params = _params(tail=tail, follow=True)
        timeout = httpx.Timeout(self.timeout, read=None)
        with self._http.stream(
            "GET", f"/jobs/{job_id}/logs", params=params, timeout=timeout
        ) as response:
            _checked_stream(response)
            yield from response.iter_lines()

    # -- models -------------------------------------------------------------------------------

    def models(
        self, *, cursor: str | None = None, limit: int = 50, count: bool = False
    ) -> Page[Model]:
        return self._page(Model, "/models", cursor=cursor, limit=limit, count=count)

    def model(self, name: str) -> Model:
        return Model.model_validate(self._get(f"/models/{_q(name)}"))

    def model_versions(
        self, name: str, *, cursor: int | None = None, limit: int = 50, count: bool = False
    ) -> Page[ModelVersion]:
        return self._page(
            ModelVersion, f"/models/{_q(name)}/versions", cursor=cursor, limit=limit, count=count
        )

    def model_version(self, name: str, version: int) -> ModelVersion:
        return ModelVersion.model_validate(self._get(f"/models/{_q(name)}/versions/{version}"))

    def model_version_metrics(self, name: str, version: int) -> list[Metric]:
        return self._list(Metric, f"/models/{_q(name)}/versions/{version}/metrics")

    def serving(self, name: str) -> ServingVersion:
        """The version to serve: the ``deployed`` alias, else the newest."""
        return ServingVersion.model_validate(self._get(f"/models/{_q(name)}/serving"))

    def set_alias(self, name: str, alias: str, version: int) -> ModelVersion:
        response = self._http.put(
            f"/models/{_q(name)}/aliases/{_q(alias)}", json={"version": version}
        )
        return ModelVersion.model_validate(_checked(response).json())

    def delete_alias(self, name: str, alias: str) -> None:
        _checked(self._http.delete(f"/models/{_q(name)}/aliases/{_q(alias)}"))

    def promote(self, name: str, version: int, stage: str) -> ModelVersion:
        body = {"stage": stage}
        return ModelVersion.model_validate(
            self._post(f"/models/{_q(name)}/versions/{version}/promote", body)
        )

    def rollback(self, name: str) -> ModelVersion:
        """Point ``deployed`` back at the version it pointed at before."""
        return ModelVersion.model_validate(self._post(f"/models/{_q(name)}/rollback"))

    # -- triggers -----------------------------------------------------------------------------

    def triggers(
        self,
        *,
        workflow: str | None = None,
        enabled: bool | None = None,
        cursor: str | None = None,
        limit: int = 50,
        count: bool = False,
    ) -> Page[Trigger]:
        return self._page(
            Trigger,
            "/triggers",
            workflow=workflow,
            enabled=enabled,
            cursor=cursor,
            limit=limit,
            count=count,
        )

    def trigger(self, name: str) -> Trigger:
        return Trigger.model_validate(self._get(f"/triggers/{_q(name)}"))

    def create_trigger(self, spec: TriggerCreate) -> Trigger:
        return Trigger.model_validate(self._post("/triggers", spec.model_dump(mode="json")))

    def update_trigger(self, name: str, change: TriggerUpdate) -> Trigger:
        """Apply the fields ``change`` sets (``TriggerUpdate(enabled=False)`` disables)."""
        body = change.model_dump(mode="json", exclude_unset=True)
        response = self._http.patch(f"/triggers/{_q(name)}", json=body)
        return Trigger.model_validate(_checked(response).json())

    def delete_trigger(self, name: str) -> Trigger:
        return Trigger.model_validate(_checked(self._http.delete(f"/triggers/{_q(name)}")).json())

    def trigger_executions(
        self, name: str, *, cursor: int | None = None, limit: int = 50, count: bool = False
    ) -> Page[Execution]:
        """The executions trigger ``name`` started, newest first."""
        return self._page(
            Execution, f"/triggers/{_q(name)}/executions", cursor=cursor, limit=limit, count=count
        )

    # -- examples and events ------------------------------------------------------------------

    def examples(self) -> list[ExampleMeta]:
        return self._list(ExampleMeta, "/examples")

    def example(self, name: str) -> ExampleMeta:
        return ExampleMeta.model_validate(self._get(f"/examples/{_q(name)}"))

    def events(
        self,
        *,
        after_seq: int = 0,
        key: str | None = None,
        type: str | None = None,
        limit: int = 100,
    ) -> Page[Event]:
        params = _params(after_seq=after_seq, key=key, type=type, limit=limit)
        return Page[Event].model_validate(self._get("/events", params))

    def stream_events(
        self, *, after_seq: int = 0, key: str | None = None, type: str | None = None
    ) -> Iterator[Event]:
        """New events as they happen (Server-Sent Events), until the caller stops iterating."""
        params = _params(after_seq=after_seq, key=key, type=type)
        timeout = httpx.Timeout(self.timeout, read=None)
        with self._http.stream("GET", "/events/stream", params=params, timeout=timeout) as resp:
            _checked_stream(resp)
            data: list[str] = []
            for line in resp.iter_lines():
                if line.startswith("data:"):
                    data.append(line.removeprefix("data:").removeprefix(" "))
                elif not line and data:
                    yield Event.model_validate_json("\n".join(data))
                    data = []

    # -- plumbing -----------------------------------------------------------------------------

    def _get(self, path: str, params: dict[str, Any] | None = None) -> Any:
        return _checked(self._http.get(path, params=params)).json()

    def _post(self, path: str, body: dict[str, Any] | None = None) -> Any:
        return _checked(self._http.post(path, json=body)).json()

    def _page(self, item: type[M], path: str, **params: Any) -> Page[M]:
        return Page[item].model_validate(self._get(path, _params(**params)))  # type: ignore[valid-type]

    def _list(self, item: type[M], path: str) -> list[M]:
        """A collection the server returns in one page."""
        page = self._get(path)
        return TypeAdapter(list[item]).validate_python(page["data"])  # type: ignore[valid-type]


def _params(**params: Any) -> dict[str, Any]:
    """Query parameters without the ones left at ``None``; booleans as ``true``/``false``."""
    out: dict[str, Any] = {}
    for key, value in params.items():
        if value is not None:
            out[key] = str(value).lower() if isinstance(value, bool) else value
    return out


def _q(segment: str) -> str:
    """A name as one URL path segment (a model may be called 'a/b' or 'x?y')."""
    return quote(segment, safe="")


def _checked(response: httpx.Response) -> httpx.Response:
    if response.is_success:
        return response
    raise _error(response)


def _checked_stream(response: httpx.Response) -> None:
    if not response.is_success:
        response.read()
        raise _error(response)


def _error(response: httpx.Response) -> AiflowError:
    """The aiflow error a problem response describes (RFC 7807 JSON with a ``code``)."""
    try:
        problem = response.json()
    except ValueError:
        problem = None
    if not isinstance(problem, dict):
        text = response.text.strip()[:500] or response.reason_phrase
        return ApiError(f"{response.status_code}: {text}", response.status_code)
    message = str(problem.get("detail") or problem.get("title") or response.reason_phrase)
    code = problem.get("code")
    error = error_from_code(code, message) if isinstance(code, str) else None
    return error or ApiError(message, response.status_code, code if isinstance(code, str) else None)
