"""What the CLI's browse, model and trigger commands read and write, local or through a server.

``backend()`` is the local meta store unless a server is selected (``--server`` /
``AIFLOW__CLIENT__SERVER``), then ``aiflow.client.Client``. The two have the same method names
and arguments for the same operations and return the same entity classes, raising the same
``aiflow.errors``, so a command is written once and prints the same tables and ``--json``
either way. The ``Backend`` protocol is exactly what the commands call, no more.

Locally that is ``aiflow.cli.local_backend.LocalBackend``: the ``MetaStore`` plus the few
operations that need more than the store (on a server, its routes do the same), and the local
user as the actor of the model changes it records (a server records the calling token). Neither
is imported before a command runs, and a remote command never loads the store (SQLAlchemy).

One deliberate difference: the REST API never returns a workflow version's ``plan`` or
``snapshot_uri`` (a server-side path), so remote ``list_workflow_versions`` answers the public
fields only; the plan table is drawn from ``get_workflow_graph`` in both cases.

Lists print one page (``--limit``, ``LIMIT_OPTION``): a store may hold thousands of workflows,
triggers or model versions, and a table of them all took seconds to draw. ``page_*`` is the
store's list of the first rows and the client's ``Page``; ``first_page`` takes either.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Final, Protocol, TypeVar, overload

import typer

if TYPE_CHECKING:
    from aiflow.schemas.api import Page, WorkflowGraph, WorkflowVersionPublic
    from aiflow.schemas.entities import (
        Event,
        ExampleMeta,
        Execution,
        ExecutionStatus,
        Job,
        Model,
        ModelChange,
        ModelComparison,
        ModelLineage,
        ModelVersion,
        ServingVersion,
        Trigger,
        Workflow,
        WorkflowVersion,
    )
    from aiflow.schemas.inputs import TriggerCreate, TriggerUpdate

T = TypeVar("T")
LIST_LIMIT: Final = 50
# The page size of a list command; at most one below the API's largest page (first_page asks
# for one row more to know whether there are others).
LIMIT_OPTION = typer.Option(
    LIST_LIMIT, "--limit", "-n", min=1, max=499, help="Show at most this many."
)


class Backend(Protocol):
    def list_workflows(self) -> list[Workflow]: ...
    def page_workflows(
        self, *, cursor: str | None = None, limit: int = ...
    ) -> Sequence[Workflow] | Page[Workflow]: ...
    def get_workflow(self, name: str) -> Workflow: ...
    def list_workflow_versions(
        self, name: str
    ) -> Sequence[WorkflowVersion | WorkflowVersionPublic]: ...
    def page_workflow_versions(
        self, name: str, *, cursor: int | None = None, limit: int = ...
    ) -> Sequence[WorkflowVersion] | Page[WorkflowVersionPublic]: ...
    def get_workflow_graph(self, name: str, version: int) -> WorkflowGraph: ...
    def list_executions(
        self,
        workflow: str | None = None,
        status: ExecutionStatus | None = None,
        limit: int = 50,
        *,
        mode: str | None = None,
        trigger: str | None = None,
    ) -> list[Execution]: ...
    def get_execution(self, id: int) -> Execution: ...
    def stop_execution(self, id: int, wait: float = 10) -> Execution: ...
    def list_jobs(self, execution_id: int) -> list[Job]: ...
    def get_job(self, id: int) -> Job: ...
    def job_logs(
        self, job_id: int, follow: bool = False, tail: int | None = None
    ) -> Iterator[str]: ...
    def list_examples(self) -> list[ExampleMeta]: ...
    def page_examples(
        self, *, cursor: str | None = None, limit: int = ...
    ) -> Sequence[ExampleMeta] | Page[ExampleMeta]: ...
    def get_example(self, name: str) -> ExampleMeta: ...
    def list_events(
        self, after_seq: int = 0, key: str | None = None, type: str | None = None, limit: int = 100
    ) -> list[Event]: ...
    def send_event(self, key: str, value: str = "", event_type: str = "user") -> Event: ...
    def list_models(self) -> list[Model]: ...
    def page_models(
        self, *, cursor: str | None = None, limit: int = ...
    ) -> Sequence[Model] | Page[Model]: ...
    def list_model_versions(self, model_name: str) -> list[ModelVersion]: ...
    def page_model_versions(
        self, name: str, *, cursor: int | None = None, limit: int = ...
    ) -> Sequence[ModelVersion] | Page[ModelVersion]: ...
    def get_model_version(self, model_name: str, version: int) -> ModelVersion: ...
    def serving_version(self, model_name: str) -> ModelVersion | None: ...
    def serving_pointer(self, model_name: str) -> ServingVersion | None: ...
    def set_model_alias(
        self, model_name: str, alias: str, version: int, *, reason: str | None = None
    ) -> ModelVersion: ...
    def promote_model_version(
        self, model_name: str, version: int, *, alias: str = ..., reason: str | None = None
    ) -> ModelVersion: ...
    def roll_back_alias(
        self, model_name: str, alias: str = ..., *, reason: str | None = None
    ) -> ModelVersion: ...
    def tag_model_version(
        self, model_name: str, version: int, key: str, value: str | None
    ) -> ModelVersion: ...
    def model_history(
        self, model_name: str, *, version: int | None = None
    ) -> Sequence[ModelChange]: ...
    def model_lineage(self, model_name: str, version: int) -> ModelLineage: ...
    def compare_model_versions(self, model_name: str, v1: int, v2: int) -> ModelComparison: ...
    def list_triggers(self, *, workflow: str | None = None) -> list[Trigger]: ...
    def page_triggers(
        self, *, workflow: str | None = None, cursor: str | None = None, limit: int = ...
    ) -> Sequence[Trigger] | Page[Trigger]: ...
    def get_trigger(self, name: str) -> Trigger: ...
    def create_trigger(self, spec: TriggerCreate) -> Trigger: ...
    def update_trigger(self, name: str, change: TriggerUpdate) -> Trigger: ...
    def delete_trigger(self, name: str) -> Trigger: ...


def backend() -> Backend:
    """The selected server's API, or the local meta store when no server is selected."""
    from aiflow.cli.credentials import server_url, token_for

    url = server_url()
    if url is None:
        from aiflow.cli.local_backend import LocalBackend

        return LocalBackend()
    from aiflow.client import Client

    return Client(url, token_for(url) or "")


@overload
def first_page(found: Page[T], limit: int) -> list[T]: ...
@overload
def first_page(found: Sequence[T], limit: int) -> list[T]: ...
def first_page(found: Sequence[T] | Page[T], limit: int) -> list[T]:
    """The first ``limit`` items of a page asked for with ``limit + 1`` (a store's list or a
    server's ``Page``); a note on stderr, away from ``--json``, when there are more."""
    items = list(found) if isinstance(found, Sequence) else list(found.data)
    more = len(items) > limit or getattr(found, "next_cursor", None) is not None
    if more:
        typer.echo(f"(the first {limit}; --limit N shows more)", err=True)
    return items[:limit]
