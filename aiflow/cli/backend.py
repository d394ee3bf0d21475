"""What the CLI's browse and model commands read and write, local or through a server.

``backend()`` is the local meta store (``LocalBackend``) unless a server is selected
(``--server`` / ``AIFLOW__CLIENT__SERVER``), then ``RemoteBackend`` over ``aiflow.client``.
Both return the meta store's entity classes and raise the same ``aiflow.errors``, so a command
is written once and prints the same tables and ``--json`` either way. The ``Backend`` protocol
is exactly what the commands call, no more: a new command that needs more adds it to both.

One deliberate difference: the REST API never returns a workflow version's ``plan`` or
``snapshot_uri`` (a server-side path), so remote ``list_workflow_versions`` answers the public
fields only; the plan table is drawn from ``workflow_graph`` in both cases.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Protocol, TypeVar

if TYPE_CHECKING:
    from aiflow.client import Client
    from aiflow.server.schemas import Page, WorkflowGraph, WorkflowVersionPublic
    from aiflow.store.entities import (
        Event,
        ExampleMeta,
        Execution,
        ExecutionStatus,
        Job,
        Model,
        ModelVersion,
        Trigger,
        Workflow,
        WorkflowVersion,
    )
    from aiflow.store.models import TriggerCreate, TriggerUpdate
    from aiflow.store.sql_store import MetaStore

T = TypeVar("T")
MAX_STOP_WAIT = 60.0  # s: the most ``POST /executions/{id}/stop?wait=`` accepts


class Backend(Protocol):
    def list_workflows(self) -> list[Workflow]: ...
    def get_workflow(self, name: str) -> Workflow: ...
    def list_workflow_versions(
        self, name: str
    ) -> Sequence[WorkflowVersion | WorkflowVersionPublic]: ...
    def workflow_graph(self, name: str, version: int) -> WorkflowGraph: ...
    def list_executions(
        self, workflow: str | None, status: ExecutionStatus | None, limit: int
    ) -> list[Execution]: ...
    def get_execution(self, id: int) -> Execution: ...
    def stop_execution(self, id: int, wait: float) -> Execution: ...
    def list_jobs(self, execution_id: int) -> list[Job]: ...
    def get_job(self, id: int) -> Job: ...
    def job_logs(self, job_id: int, follow: bool, tail: int | None) -> Iterator[str]: ...
    def list_examples(self) -> list[ExampleMeta]: ...
    def get_example(self, name: str) -> ExampleMeta: ...
    def list_events(
        self, after_seq: int, key: str | None, type: str | None, limit: int
    ) -> list[Event]: ...
    def list_models(self) -> list[Model]: ...
    def list_model_versions(self, name: str) -> list[ModelVersion]: ...
    def get_model_version(self, name: str, version: int) -> ModelVersion: ...
    def serving_version(self, name: str) -> ModelVersion | None: ...
    def set_model_alias(self, name: str, alias: str, version: int) -> ModelVersion: ...
    def list_triggers(self, workflow: str | None) -> list[Trigger]: ...
    def get_trigger(self, name: str) -> Trigger: ...
    def create_trigger(self, spec: TriggerCreate) -> Trigger: ...
    def update_trigger(self, name: str, change: TriggerUpdate) -> Trigger: ...
    def delete_trigger(self, name: str) -> Trigger: ...
    def trigger_executions(self, name: str, limit: int) -> list[Execution]: ...


def backend() -> Backend:
    """The selected server's API, or the local meta store when no server is selected."""
    from aiflow.cli.credentials import server_url, token_for

    url = server_url()
    if url is None:
        from aiflow.store.sql_store import MetaStore

        return LocalBackend(MetaStore())
    from aiflow.client import Client

    return RemoteBackend(Client(url, token_for(url) or ""))


class LocalBackend:
    """The embedded meta store; stopping and logs go through the execution's deployer."""

    def __init__(self, store: MetaStore) -> None:
        self.store = store

    def list_workflows(self) -> list[Workflow]:
        return self.store.list_workflows()

    def get_workflow(self, name: str) -> Workflow:
        return self.store.get_workflow(name)

    def list_workflow_versions(self, name: str) -> list[WorkflowVersion]:
        return self.store.list_workflow_versions(name)

    def workflow_graph(self, name: str, version: int) -> WorkflowGraph:
        """The plan as the server's graph endpoint shapes it; each node's inputs in port
        order, as ``LogicalPlan.inputs_of`` gives them."""
        from aiflow.server.schemas import WorkflowGraph

        return WorkflowGraph.of(self.store.get_workflow_version_by_number(name, version))

    def list_executions(
        self, workflow: str | None, status: ExecutionStatus | None, limit: int
    ) -> list[Execution]:
        return self.store.list_executions(workflow=workflow, status=status, limit=limit)

    def get_execution(self, id: int) -> Execution:
        return self.store.get_execution(id)

    def stop_execution(self, id: int, wait: float) -> Execution:
        from aiflow.deployers import get_deployer
        from aiflow.scheduler.driver import request_stop

        return request_stop(self.store, id, get_deployer, wait=wait)

    def list_jobs(self, execution_id: int) -> list[Job]:
        return self.store.list_jobs(execution_id)

    def get_job(self, id: int) -> Job:
        return self.store.get_job(id)

    def job_logs(self, job_id: int, follow: bool, tail: int | None) -> Iterator[str]:
        from aiflow.deployers import get_deployer
        from aiflow.errors import NotFound

        job = self.store.get_job(job_id)
        if job.log_uri is None:
            raise NotFound(f"job {job_id} has no log yet (status {job.status.value})")
        deployer = get_deployer(self.store.get_execution(job.execution_id).deployer)
        log_uri = job.log_uri
        source = job.handle if (follow and job.handle and job.status.value == "running") else None
        return iter(deployer.logs(source or log_uri, follow=follow, tail=tail))

    def list_examples(self) -> list[ExampleMeta]:
        return self.store.list_examples()

    def get_example(self, name: str) -> ExampleMeta:
        return self.store.get_example(name)

    def list_events(
        self, after_seq: int, key: str | None, type: str | None, limit: int
    ) -> list[Event]:
        return self.store.list_events(after_seq=after_seq, key=key, type=type, limit=limit)

    def list_models(self) -> list[Model]:
        return self.store.list_models()

    def list_model_versions(self, name: str) -> list[ModelVersion]:
        return self.store.list_model_versions(name)

    def get_model_version(self, name: str, version: int) -> ModelVersion:
        return self.store.get_model_version(name, version)

    def serving_version(self, name: str) -> ModelVersion | None:
        return self.store.serving_version(name)

    def set_model_alias(self, name: str, alias: str, version: int) -> ModelVersion:
        return self.store.set_model_alias(name, alias, version)

    def list_triggers(self, workflow: str | None) -> list[Trigger]:
        return self.store.list_triggers(workflow=workflow)

    def get_trigger(self, name: str) -> Trigger:
        return self.store.get_trigger(name)

    def create_trigger(self, spec: TriggerCreate) -> Trigger:
        from aiflow.scheduler.triggers import create_trigger

        return create_trigger(self.store, spec)

    def update_trigger(self, name: str, change: TriggerUpdate) -> Trigger:
        return self.store.update_trigger(name, change)

    def delete_trigger(self, name: str) -> Trigger:
        return self.store.delete_trigger(name)

    def trigger_executions(self, name: str, limit: int) -> list[Execution]:
        return self.store.page_executions(trigger=name, limit=limit)


class RemoteBackend:
    """An aiflow server through ``aiflow.client.Client``: paged collections are read to the
    end (or to ``limit``) so callers get the whole lists the local store returns."""

    def __init__(self, client: Client) -> None:
        self.client = client

    def list_workflows(self) -> list[Workflow]:
        return _all(lambda cursor: self.client.workflows(cursor=cursor, limit=_page_size()))

    def get_workflow(self, name: str) -> Workflow:
        return self.client.workflow(name)

    def list_workflow_versions(self, name: str) -> list[WorkflowVersionPublic]:
        return _all(
            lambda c: self.client.workflow_versions(name, cursor=_int(c), limit=_page_size())
        )

    def workflow_graph(self, name: str, version: int) -> WorkflowGraph:
        return self.client.workflow_graph(name, version)

    def list_executions(
        self, workflow: str | None, status: ExecutionStatus | None, limit: int
    ) -> list[Execution]:
        from aiflow.errors import InvalidInput

        if limit < 1:  # the store's rule, checked here so the message is the same
            raise InvalidInput(f"limit must be at least 1, got {limit}")
        return _all(
            lambda c: self.client.executions(
                workflow=workflow, status=status, cursor=_int(c), limit=_page_size(limit)
            ),
            limit=limit,
        )

    def get_execution(self, id: int) -> Execution:
        return self.client.execution(id)

    def stop_execution(self, id: int, wait: float) -> Execution:
        """The server waits at most a minute per request; longer waits poll after that."""
        execution = self.client.stop(id, wait=min(wait, MAX_STOP_WAIT))
        if wait > MAX_STOP_WAIT and not execution.status.finished:
            execution = self.client.wait(id, timeout=wait - MAX_STOP_WAIT)
        return execution

    def list_jobs(self, execution_id: int) -> list[Job]:
        return self.client.jobs(execution_id)

    def get_job(self, id: int) -> Job:
        return self.client.job(id)

    def job_logs(self, job_id: int, follow: bool, tail: int | None) -> Iterator[str]:
        if follow:
            return self.client.follow_logs(job_id, tail=tail)
        return iter(self.client.logs(job_id, tail=tail).splitlines(keepends=True))

    def list_examples(self) -> list[ExampleMeta]:
        return self.client.examples()

    def get_example(self, name: str) -> ExampleMeta:
        return self.client.example(name)

    def list_events(
        self, after_seq: int, key: str | None, type: str | None, limit: int
    ) -> list[Event]:
        def fetch(cursor: str | None) -> Page[Event]:
            after = after_seq if cursor is None else int(cursor)
            return self.client.events(after_seq=after, key=key, type=type, limit=_page_size(limit))

        return _all(fetch, limit=limit)

    def list_models(self) -> list[Model]:
        return _all(lambda cursor: self.client.models(cursor=cursor, limit=_page_size()))

    def list_model_versions(self, name: str) -> list[ModelVersion]:
        return _all(lambda c: self.client.model_versions(name, cursor=_int(c), limit=_page_size()))

    def get_model_version(self, name: str, version: int) -> ModelVersion:
        return self.client.model_version(name, version)

    def serving_version(self, name: str) -> ModelVersion | None:
        """``None`` when the model has no versions (or does not exist), as locally."""
        from aiflow.errors import NotFound

        try:
            pointer = self.client.serving(name)
        except NotFound:
            return None
        return self.client.model_version(name, pointer.version)

    def set_model_alias(self, name: str, alias: str, version: int) -> ModelVersion:
        return self.client.set_alias(name, alias, version)

    def list_triggers(self, workflow: str | None) -> list[Trigger]:
        return _all(lambda c: self.client.triggers(workflow=workflow, cursor=c, limit=_page_size()))

    def get_trigger(self, name: str) -> Trigger:
        return self.client.trigger(name)

    def create_trigger(self, spec: TriggerCreate) -> Trigger:
        return self.client.create_trigger(spec)

    def update_trigger(self, name: str, change: TriggerUpdate) -> Trigger:
        return self.client.update_trigger(name, change)

    def delete_trigger(self, name: str) -> Trigger:
        return self.client.delete_trigger(name)

    def trigger_executions(self, name: str, limit: int) -> list[Execution]:
        return _all(
            lambda c: self.client.trigger_executions(name, cursor=_int(c), limit=_page_size(limit)),
            limit=limit,
        )


def _page_size(limit: int | None = None) -> int:
    from aiflow.server.schemas import MAX_PAGE

    return MAX_PAGE if limit is None else min(limit, MAX_PAGE)


def _int(cursor: str | None) -> int | None:
    return None if cursor is None else int(cursor)


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
