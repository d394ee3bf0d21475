"""``Client``: the aiflow REST API from Python, one method per endpoint.

Answers come back as the meta store's entity classes (``Execution``, ``ModelVersion``, ...)
wherever the API returns that shape, and methods have ``MetaStore``'s names and arguments, so
code written against a local ``MetaStore`` reads the same against a server (the CLI's
``--server`` runs exactly that way). This module imports only ``aiflow.errors``,
``aiflow.plan`` and ``aiflow.schemas``: no FastAPI, SQLAlchemy or pandas.

Errors come back as the same ``aiflow.errors`` class the server raised (mapped from the problem
JSON's ``code``): a missing model is ``NotFound`` either way, a bad token ``Unauthorized``. What
has no aiflow class (413, a proxy's 502) is ``ApiError`` with the HTTP status.

``submit`` does on the client what ``aiflow run`` does locally up to the snapshot: it collects
the workflow file's directory (code only) and uploads the archive with its hash; the server
verifies, plans and runs it. Example data is not uploaded: a workflow submitted to a server
must name its data by absolute paths the server can read, or by remote URIs.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Protocol, TypeVar

import httpx
from pydantic import BaseModel, TypeAdapter

from aiflow.client_models import ModelCenterMixin
from aiflow.errors import AiflowError, ApiError, InvalidInput, InvalidPlan, NotFound, error_for
from aiflow.schemas.api import GraphEdge, GraphNode, Page, WorkflowGraph, WorkflowVersionPublic
from aiflow.schemas.entities import (
    ApiToken,
    Event,
    ExampleMeta,
    Execution,
    ExecutionStatus,
    Job,
    Metric,
    Model,
    ModelVersion,
    ServingVersion,
    Trigger,
    Workflow,
)
from aiflow.schemas.limits import DEFAULT_PAGE, MAX_PAGE, NameKind, check_name

if TYPE_CHECKING:
    from aiflow.schemas.inputs import TriggerCreate, TriggerUpdate

TOKEN_ENV = "AIFLOW__CLIENT__TOKEN"
API_PREFIX = "/api/v1"
DEFAULT_GRAPH_PAGE = 1_000  # the server's default page of a graph's nodes or edges
SUBMIT_TIMEOUT = 180.0  # s: the server imports and plans the workflow before answering
MAX_STOP_WAIT: Final = 60.0  # s: the most ``POST /executions/{id}/stop?wait=`` accepts

M = TypeVar("M", bound=BaseModel)
T = TypeVar("T")


class Submittable(Protocol):
    """What ``submit`` needs of a workflow (``aiflow.Workflow`` has it): its name and the file
    that defines it, whose directory is the snapshot."""

    @property
    def name(self) -> str: ...
    @property
    def source_file(self) -> Path | None: ...


class Client(ModelCenterMixin):
    """A connection to an aiflow server at ``url`` (``http://host:port``).

    ``token`` is an API token (default: ``$AIFLOW__CLIENT__TOKEN``); ``timeout`` bounds each
    request in seconds; ``transport`` replaces httpx's (retries, a proxy, a custom TLS setup).
    Use as a context manager, or call ``close()``.

    Method names are ``MetaStore``'s for the same operation: ``get_*`` one thing, ``list_*``
    a whole collection (read page by page), ``page_*`` one page of the API with its cursor
    (``Page.next_cursor``; the store's ``page_*`` return the rows only). Changing model versions
    and reading their history and lineage are ``ModelCenterMixin``'s (``aiflow.client_models``).
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

    def page_workflows(
        self, *, cursor: str | None = None, limit: int = DEFAULT_PAGE, count: bool = False
    ) -> Page[Workflow]:
        return self._page(Workflow, "/workflows", cursor=cursor, limit=limit, count=count)

    def list_workflows(self) -> list[Workflow]:
        return _all(lambda cursor: self.page_workflows(cursor=cursor, limit=MAX_PAGE))

    def get_workflow(self, name: str) -> Workflow:
        return Workflow.model_validate(self._get(f"/workflows/{_name('workflow', name)}"))

    def page_workflow_versions(
        self,
        name: str,
        *,
        cursor: int | None = None,
        limit: int = DEFAULT_PAGE,
        count: bool = False,
    ) -> Page[WorkflowVersionPublic]:
        """Versions newest first, without their plans (``get_workflow_graph`` draws one)."""
        return self._page(
            WorkflowVersionPublic,
            f"/workflows/{_name('workflow', name)}/versions",
            cursor=cursor,
            limit=limit,
            count=count,
        )

    def list_workflow_versions(self, name: str) -> list[WorkflowVersionPublic]:
        return _all(lambda c: self.page_workflow_versions(name, cursor=_int(c), limit=MAX_PAGE))

    def get_workflow_graph(self, name: str, version: int) -> WorkflowGraph:
        return WorkflowGraph.model_validate(
            self._get(f"/workflows/{_name('workflow', name)}/versions/{version}/graph")
        )

    def page_workflow_graph_nodes(
        self,
        name: str,
        version: int,
        *,
        cursor: int | None = None,
        limit: int = DEFAULT_GRAPH_PAGE,
        count: bool = False,
    ) -> Page[GraphNode]:
        """A page of ``get_workflow_graph``'s nodes, in its order: a 100,000-node version is
        read (or shown) a page at a time instead of in one response."""
        path = f"/workflows/{_name('workflow', name)}/versions/{version}/graph/nodes"
        return self._page(GraphNode, path, cursor=cursor, limit=limit, count=count)

    def page_workflow_graph_edges(
        self,
        name: str,
        version: int,
        *,
        cursor: int | None = None,
        limit: int = DEFAULT_GRAPH_PAGE,
        count: bool = False,
    ) -> Page[GraphEdge]:
        """A page of ``get_workflow_graph``'s edges, in its order."""
        path = f"/workflows/{_name('workflow', name)}/versions/{version}/graph/edges"
        return self._page(GraphEdge, path, cursor=cursor, limit=limit, count=count)

    # -- executions ---------------------------------------------------------------------------

    def submit(
        self,
        wf: Submittable,
        mode: str = "batch",
        *,
        engine: str | None = None,
        deployer: str | None = None,
    ) -> Execution:
        """Upload ``wf``'s source snapshot and start an execution of it on the server.

        The snapshot holds code, not data: the server resolves the examples' relative paths
        against ``base_dir``, the file's directory here, as a local run does, and refuses a
        location it cannot read or write (its host must see the same files: same host, shared
        mount, or remote URIs)."""
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
            base_dir=str(snap.root),
        )
        archive = {"snapshot": (f"{snap.hash}.tar.gz", snap.archive(), "application/gzip")}
        response = self._http.post(
            "/executions",
            data=fields,
            files=archive,
            timeout=max(self.timeout, SUBMIT_TIMEOUT),
        )
        return Execution.model_validate(_checked(response).json())

    def page_executions(
        self,
        *,
        workflow: str | None = None,
        status: ExecutionStatus | str | None = None,
        mode: str | None = None,
        trigger: str | None = None,
        ascending: bool = False,
        cursor: int | None = None,
        limit: int = DEFAULT_PAGE,
        count: bool = False,
    ) -> Page[Execution]:
        """Executions newest first (oldest first if ``ascending``), filtered by workflow,
        status, mode and the trigger that started them."""
        return self._page(
            Execution,
            "/executions",
            workflow=workflow,
            status=status,
            mode=mode,
            trigger=trigger,
            order="asc" if ascending else "desc",
            cursor=cursor,
            limit=limit,
            count=count,
        )

    def list_executions(
        self,
        workflow: str | None = None,
        status: ExecutionStatus | str | None = None,
        limit: int = DEFAULT_PAGE,
        *,
        mode: str | None = None,
        trigger: str | None = None,
    ) -> list[Execution]:
        """The newest ``limit`` executions with these filters (as many pages as that takes)."""
        if limit < 1:  # the store's rule and message; a page would say "query.limit"
            raise InvalidInput(f"limit must be at least 1, got {limit}")
        return _all(
            lambda c: self.page_executions(
                workflow=workflow,
                status=status,
                mode=mode,
                trigger=trigger,
                cursor=_int(c),
                limit=min(limit, MAX_PAGE),
            ),
            limit=limit,
        )

    def get_execution(self, id: int) -> Execution:
        return Execution.model_validate(self._get(f"/executions/{id}"))

    def stop_execution(self, id: int, wait: float = 10) -> Execution:
        """Stop an execution; returns it once ended or after ``wait`` s (then ``stopping``).
        The server waits at most ``MAX_STOP_WAIT`` s per request; a longer wait polls after."""
        first = min(wait, MAX_STOP_WAIT)
        response = self._http.post(
            f"/executions/{id}/stop", params={"wait": first}, timeout=self.timeout + first
        )
        execution = Execution.model_validate(_checked(response).json())
        if wait > MAX_STOP_WAIT and not execution.status.finished:
            execution = self.wait_for_execution(id, timeout=wait - MAX_STOP_WAIT)
        return execution

    def rerun_execution(self, id: int) -> Execution:
        """A new execution of the same workflow version, mode, engine, deployer and jobs."""
        return Execution.model_validate(self._post(f"/executions/{id}/rerun"))

    def wait_for_execution(
        self, id: int, *, timeout: float | None = None, poll: float = 0.5
    ) -> Execution:
        """Poll execution ``id`` until it finished (or ``timeout`` s passed) and return it."""
        deadline = None if timeout is None else time.monotonic() + timeout
        interval = min(0.1, poll)
        while True:
            execution = self.get_execution(id)
            if execution.status.finished:
                return execution
            if deadline is not None and time.monotonic() >= deadline:
                return execution
            time.sleep(interval)
            interval = min(interval * 2, poll)

    def list_execution_metrics(self, id: int) -> list[Metric]:
        return self._list(Metric, f"/executions/{id}/metrics")

    # -- jobs ---------------------------------------------------------------------------------

    def list_jobs(self, execution_id: int) -> list[Job]:
        return self._list(Job, f"/executions/{execution_id}/jobs")

    def get_job(self, id: int) -> Job:
        return Job.model_validate(self._get(f"/jobs/{id}"))

    def get_job_logs(
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

    def job_logs(self, job_id: int, follow: bool = False, tail: int | None = None) -> Iterator[str]:
        """The job's log lines (the last ``tail``); with ``follow``, as they are written,
        until the job ends."""
        if not follow:
            return iter(self.get_job_logs(job_id, tail=tail).splitlines(keepends=True))
        return self._follow_logs(job_id, tail)

    def _follow_logs(self, job_id: int, tail: int | None) -> Iterator[str]:
        params = _params(tail=tail, follow=True)
        timeout = httpx.Timeout(self.timeout, read=None)
        with self._http.stream(
            "GET", f"/jobs/{job_id}/logs", params=params, timeout=timeout
        ) as response:
            _checked_stream(response)
            yield from response.iter_lines()

    # -- models -------------------------------------------------------------------------------

    def page_models(
        self, *, cursor: str | None = None, limit: int = DEFAULT_PAGE, count: bool = False
    ) -> Page[Model]:
        return self._page(Model, "/models", cursor=cursor, limit=limit, count=count)

    def list_models(self) -> list[Model]:
        return _all(lambda cursor: self.page_models(cursor=cursor, limit=MAX_PAGE))

    def get_model(self, name: str) -> Model:
        return Model.model_validate(self._get(f"/models/{_name('model', name)}"))

    def page_model_versions(
        self,
        name: str,
        *,
        cursor: int | None = None,
        limit: int = DEFAULT_PAGE,
        count: bool = False,
    ) -> Page[ModelVersion]:
        return self._page(
            ModelVersion,
            f"/models/{_name('model', name)}/versions",
            cursor=cursor,
            limit=limit,
            count=count,
        )

    def list_model_versions(self, name: str) -> list[ModelVersion]:
        return _all(lambda c: self.page_model_versions(name, cursor=_int(c), limit=MAX_PAGE))

    def get_model_version(self, name: str, version: int) -> ModelVersion:
        return ModelVersion.model_validate(
            self._get(f"/models/{_name('model', name)}/versions/{version}")
        )

    def list_model_version_metrics(self, name: str, version: int) -> list[Metric]:
        return self._list(Metric, f"/models/{_name('model', name)}/versions/{version}/metrics")

    def serving_pointer(self, name: str) -> ServingVersion | None:
        """The version to serve (the ``deployed`` alias, else the newest) with what loading
        it takes; ``None`` when the model does not exist or has no versions."""
        try:
            return ServingVersion.model_validate(
                self._get(f"/models/{_name('model', name)}/serving")
            )
        except NotFound:
            return None

    def serving_version(self, name: str) -> ModelVersion | None:
        """``serving_pointer``'s version with its aliases and metrics (two requests)."""
        pointer = self.serving_pointer(name)
        return None if pointer is None else self.get_model_version(name, pointer.version)

    # (aliases, promotion, rollback, stages, tags, history, lineage: ``ModelCenterMixin``)

    # -- triggers -----------------------------------------------------------------------------

    def page_triggers(
        self,
        *,
        workflow: str | None = None,
        enabled: bool | None = None,
        cursor: str | None = None,
        limit: int = DEFAULT_PAGE,
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

    def list_triggers(self, *, workflow: str | None = None) -> list[Trigger]:
        return _all(lambda c: self.page_triggers(workflow=workflow, cursor=c, limit=MAX_PAGE))

    def get_trigger(self, name: str) -> Trigger:
        return Trigger.model_validate(self._get(f"/triggers/{_name('trigger', name)}"))

    def create_trigger(self, spec: TriggerCreate) -> Trigger:
        return Trigger.model_validate(self._post("/triggers", spec.model_dump(mode="json")))

    def update_trigger(self, name: str, change: TriggerUpdate) -> Trigger:
        """Apply the fields ``change`` sets (``TriggerUpdate(enabled=False)`` disables)."""
        body = change.model_dump(mode="json", exclude_unset=True)
        response = self._http.patch(f"/triggers/{_name('trigger', name)}", json=body)
        return Trigger.model_validate(_checked(response).json())

    def delete_trigger(self, name: str) -> Trigger:
        return Trigger.model_validate(
            _checked(self._http.delete(f"/triggers/{_name('trigger', name)}")).json()
        )

    # -- examples and events ------------------------------------------------------------------

    def page_examples(
        self, *, cursor: str | None = None, limit: int = DEFAULT_PAGE, count: bool = False
    ) -> Page[ExampleMeta]:
        return self._page(ExampleMeta, "/examples", cursor=cursor, limit=limit, count=count)

    def list_examples(self) -> list[ExampleMeta]:
        return _all(lambda cursor: self.page_examples(cursor=cursor, limit=MAX_PAGE))

    def get_example(self, name: str) -> ExampleMeta:
        return ExampleMeta.model_validate(self._get(f"/examples/{_name('example', name)}"))

    def page_events(
        self,
        *,
        after_seq: int = 0,
        key: str | None = None,
        type: str | None = None,
        limit: int = 100,
    ) -> Page[Event]:
        params = _params(after_seq=after_seq, key=key, type=type, limit=limit)
        return Page[Event].model_validate(self._get("/events", params))

    def list_events(
        self,
        after_seq: int = 0,
        key: str | None = None,
        type: str | None = None,
        limit: int = 100,
    ) -> list[Event]:
        """Events with ``seq > after_seq`` in seq order, at most ``limit`` (poll with the last
        seq seen)."""

        def fetch(cursor: str | None) -> Page[Event]:
            after = after_seq if cursor is None else int(cursor)
            return self.page_events(after_seq=after, key=key, type=type, limit=min(limit, MAX_PAGE))

        return _all(fetch, limit=limit)

    def send_event(self, key: str, value: str = "", event_type: str = "user") -> Event:
        """Append a user event (``af.send_event`` from outside a job): the rules of
        ``af.action_on_event`` with this key and type fire on it. The platform's own types
        (``MODEL_*``, ``JOB_*``, ...) are refused with ``InvalidInput``."""
        body = {"key": key, "type": event_type, "value": value}
        return Event.model_validate(self._post("/events", body))

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

    # -- API tokens (admins only) -------------------------------------------------------------

    def page_tokens(
        self, *, cursor: str | None = None, limit: int = DEFAULT_PAGE, count: bool = False
    ) -> Page[ApiToken]:
        """Tokens by name, revoked ones included; never their secrets."""
        return self._page(ApiToken, "/tokens", cursor=cursor, limit=limit, count=count)

    def list_tokens(self) -> list[ApiToken]:
        return _all(lambda cursor: self.page_tokens(cursor=cursor, limit=MAX_PAGE))

    # -- plumbing -----------------------------------------------------------------------------

    def _get(self, path: str, params: dict[str, Any] | None = None) -> Any:
        return _checked(self._http.get(path, params=params)).json()

    def _post(self, path: str, body: dict[str, Any] | None = None) -> Any:
        return _checked(self._http.post(path, json=body)).json()

    def _send(
        self,
        method: str,
        path: str,
        *,
        body: dict[str, Any] | None = None,
        params: dict[str, Any] | None = None,
    ) -> Any:
        response = _checked(self._http.request(method, path, json=body, params=params))
        return response.json() if response.content else None

    def _page(self, item: type[M], path: str, **params: Any) -> Page[M]:
        return Page[item].model_validate(self._get(path, _params(**params)))  # type: ignore[valid-type]

    def _list(self, item: type[M], path: str) -> list[M]:
        """A collection the server returns in one page."""
        page = self._get(path)
        return TypeAdapter(list[item]).validate_python(page["data"])  # type: ignore[valid-type]


def _all(fetch: Callable[[str | None], Page[T]], limit: int | None = None) -> list[T]:
    """Every item of a paged collection (the first ``limit`` if given), in server order."""
    items: list[T] = []
    cursor: str | None = None
    while True:
        page = fetch(cursor)
        items.extend(page.data)
        cursor = page.next_cursor
        if cursor is None or (limit is not None and len(items) >= limit):
            return items if limit is None else items[:limit]


def _int(cursor: str | None) -> int | None:
    return None if cursor is None else int(cursor)


def _params(**params: Any) -> dict[str, Any]:
    """Query parameters without the ones left at ``None``; booleans as ``true``/``false``."""
    out: dict[str, Any] = {}
    for key, value in params.items():
        if value is not None:
            out[key] = str(value).lower() if isinstance(value, bool) else value
    return out


def _name(kind: NameKind, value: str) -> str:
    """``value`` as a URL path segment, once it passed the name rule (``check_name``): a
    valid name is only unreserved characters and never ``.`` or ``..``, which URL
    normalisation would turn into another path (``/models/m/aliases/..`` is ``/models/m``).
    A bad name is the same ``InvalidInput`` the store raises, before any request."""
    return check_name(kind, value)


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
    return error_for(code if isinstance(code, str) else None, message, response.status_code)
