"""Workflows, their versions and the examples (datasets) they declare.

Lists come whole (``list_*``) or as keyset pages (``page_*``, for the REST API):
``WHERE key after :cursor ORDER BY key LIMIT n``, never ``OFFSET``, so a page costs the same at
the millionth row and rows inserted while a client pages through do not shift or repeat the rows
it has still to see. Callers that need to know whether another page follows ask for
``limit + 1`` rows. Counts are separate calls (one ``COUNT`` each) because most callers never
want them. The other stores page the same way.
"""

from __future__ import annotations

import functools
import threading
from collections import OrderedDict
from collections.abc import Iterator
from typing import Any, Final, TypeVar

from sqlalchemy import select, update
from sqlalchemy.orm import Session, defer

from aiflow.errors import NotFound
from aiflow.plan.gc_pause import paused_gc
from aiflow.schemas.api import WorkflowGraph
from aiflow.schemas.entities import ExampleMeta, Workflow, WorkflowVersion
from aiflow.schemas.inputs import ExampleCreate
from aiflow.schemas.limits import check_name
from aiflow.store._base import (
    StoreBase,
    check_limit,
    count_rows,
    insert_ignore,
    next_version,
    reject_duplicates,
    upsert_statement,
)
from aiflow.store.orm import SqlExample, SqlWorkflow, SqlWorkflowVersion, utcnow


class WorkflowStore(StoreBase):
    def register_workflow_version(
        self,
        name: str,
        plan: dict[str, Any],
        plan_hash: str,
        source_hash: str,
        snapshot_uri: str,
        examples: list[ExampleCreate],
    ) -> WorkflowVersion:
        """Record a submitted workflow; idempotent for an unchanged plan and source.

        Re-submitting the same (plan_hash, source_hash) returns the existing version, so
        repeated ``aiflow run`` calls do not mint versions. Otherwise it is the next version
        (``next_version``, under a lock on the workflow row).
        """
        check_name("workflow", name)  # example names: ExampleCreate checks the same rule
        reject_duplicates([example.name for example in examples], "example")

        def work(session: Session) -> WorkflowVersion:
            insert_ignore(session, SqlWorkflow, {"name": name, "created_at": utcnow()}, ["name"])
            # Row lock (FOR NO KEY UPDATE on PostgreSQL; SQLite is locked whole already):
            # concurrent registrations of this workflow queue here.
            workflow = session.scalars(
                select(SqlWorkflow).where(SqlWorkflow.name == name).with_for_update(key_share=True)
            ).one()
            _upsert_examples(session, examples)
            existing = session.scalars(
                select(SqlWorkflowVersion).where(
                    SqlWorkflowVersion.workflow_id == workflow.id,
                    SqlWorkflowVersion.plan_hash == plan_hash,
                    SqlWorkflowVersion.source_hash == source_hash,
                )
            ).one_or_none()
            if existing is not None:
                return existing.to_entity(name)
            number = next_version(
                session, SqlWorkflowVersion.version, SqlWorkflowVersion.workflow_id, workflow.id
            )
            version = SqlWorkflowVersion(
                workflow_id=workflow.id,
                version=number,
                plan_hash=plan_hash,
                source_hash=source_hash,
                snapshot_uri=snapshot_uri,
                plan=plan,
            )
            session.add(version)
            session.flush()
            return version.to_entity(name)

        return self._write_retrying(work)

    def get_workflow(self, name: str) -> Workflow:
        with self._read() as session:
            return workflow_by_name(session, name).to_entity()

    def list_workflows(self) -> list[Workflow]:
        with self._read() as session:
            rows = session.scalars(select(SqlWorkflow).order_by(SqlWorkflow.name))
            return [row.to_entity() for row in rows]

    def page_workflows(self, *, cursor: str | None = None, limit: int = 50) -> list[Workflow]:
        """Workflows by name, those after ``cursor`` (a name)."""
        check_limit(limit)
        stmt = select(SqlWorkflow).order_by(SqlWorkflow.name).limit(limit)
        if cursor is not None:
            stmt = stmt.where(SqlWorkflow.name > cursor)
        with self._read() as session:
            return [row.to_entity() for row in session.scalars(stmt)]

    def count_workflows(self) -> int:
        with self._read() as session:
            return count_rows(session, select(SqlWorkflow.id))

    def list_workflow_versions(self, name: str) -> list[WorkflowVersion]:
        """All versions of workflow ``name``, newest first."""
        with self._read() as session:
            workflow = workflow_by_name(session, name)
            rows = session.scalars(
                select(SqlWorkflowVersion)
                .where(SqlWorkflowVersion.workflow_id == workflow.id)
                .order_by(SqlWorkflowVersion.version.desc())
            )
            return [row.to_entity(workflow.name) for row in rows]

    def page_workflow_versions(
        self, name: str, *, cursor: int | None = None, limit: int = 50
    ) -> list[WorkflowVersion]:
        """Versions of workflow ``name``, newest first, those below version ``cursor``."""
        check_limit(limit)
        with self._read() as session:
            workflow = workflow_by_name(session, name)
            stmt = (
                select(SqlWorkflowVersion)
                .where(SqlWorkflowVersion.workflow_id == workflow.id)
                .order_by(SqlWorkflowVersion.version.desc())
                .limit(limit)
            )
            if cursor is not None:
                stmt = stmt.where(SqlWorkflowVersion.version < cursor)
            return [row.to_entity(workflow.name) for row in session.scalars(stmt)]

    def count_workflow_versions(self, name: str) -> int:
        with self._read() as session:
            workflow = workflow_by_name(session, name)
            stmt = select(SqlWorkflowVersion.id).where(
                SqlWorkflowVersion.workflow_id == workflow.id
            )
            return count_rows(session, stmt)

    def get_workflow_version_by_number(self, name: str, version: int) -> WorkflowVersion:
        """Version ``version`` (1, 2, ...) of workflow ``name``."""
        with self._read() as session:
            workflow = workflow_by_name(session, name)
            row = session.scalars(
                select(SqlWorkflowVersion).where(
                    SqlWorkflowVersion.workflow_id == workflow.id,
                    SqlWorkflowVersion.version == version,
                )
            ).one_or_none()
            if row is None:
                raise _version_not_found(name, version)
            return row.to_entity(workflow.name)

    @functools.cached_property
    def _graph_cache(self) -> _GraphCache:
        return _GraphCache()

    def get_workflow_graph(self, name: str, version: int) -> WorkflowGraph:
        """Version ``version`` of workflow ``name``'s plan as nodes and edges (what ``aiflow
        workflow show`` draws and ``GET /workflows/{name}/versions/{version}/graph`` returns).

        A big graph (``GRAPH_CACHE_FROM`` nodes or more) is kept, the last few per store: a
        version's plan never changes, and reading and parsing 100,000 nodes takes seconds,
        which paging through them (``GET .../graph/nodes``) would otherwise pay per page. The
        graph returned is shared: read it, do not change it."""
        with self._read() as session:
            workflow = workflow_by_name(session, name)
            row = session.scalars(
                select(SqlWorkflowVersion)
                .options(defer(SqlWorkflowVersion.plan))  # read only on a miss
                .where(
                    SqlWorkflowVersion.workflow_id == workflow.id,
                    SqlWorkflowVersion.version == version,
                )
            ).one_or_none()
            if row is None:
                raise _version_not_found(name, version)
            key = (row.id, row.plan_hash, workflow.name, version)
            cache = self._graph_cache
            graph = cache.get(key)
            if graph is not None:
                return graph
            recorded = row.to_entity(workflow.name)
        with paused_gc():  # (aiflow.plan.gc_pause: most of the time for a big plan otherwise)
            graph = WorkflowGraph.of(recorded)
        if len(graph.nodes) >= GRAPH_CACHE_FROM:
            cache.put(key, graph)
        return graph

    def get_workflow_version(self, id: int) -> WorkflowVersion:
        with self._read() as session:
            row = session.execute(
                select(SqlWorkflowVersion, SqlWorkflow.name)
                .join(SqlWorkflow, SqlWorkflow.id == SqlWorkflowVersion.workflow_id)
                .where(SqlWorkflowVersion.id == id)
            ).one_or_none()
            if row is None:
                raise NotFound(f"workflow version {id} not found (see `aiflow workflow show NAME`)")
            return row[0].to_entity(row[1])

    def list_examples(self) -> list[ExampleMeta]:
        with self._read() as session:
            rows = session.scalars(select(SqlExample).order_by(SqlExample.name))
            return [row.to_entity() for row in rows]

    def page_examples(self, *, cursor: str | None = None, limit: int = 50) -> list[ExampleMeta]:
        """Examples by name, those after ``cursor`` (a name)."""
        check_limit(limit)
        stmt = select(SqlExample).order_by(SqlExample.name).limit(limit)
        if cursor is not None:
            stmt = stmt.where(SqlExample.name > cursor)
        with self._read() as session:
            return [row.to_entity() for row in session.scalars(stmt)]

    def count_examples(self) -> int:
        with self._read() as session:
            return count_rows(session, select(SqlExample.id))

    def get_example(self, name: str) -> ExampleMeta:
        with self._read() as session:
            row = session.scalars(select(SqlExample).where(SqlExample.name == name)).one_or_none()
            if row is None:
                raise NotFound(f"example '{name}' not found (see `aiflow example list`)")
            return row.to_entity()


def _version_not_found(name: str, version: int) -> NotFound:
    return NotFound(
        f"workflow '{name}' version {version} not found (see `aiflow workflow show {name}`)"
    )


GRAPH_CACHE_FROM: Final = 1_000  # nodes; a smaller graph is rebuilt in milliseconds
_GRAPH_CACHE_SIZE: Final = 2


class _GraphCache:
    """The last ``_GRAPH_CACHE_SIZE`` big graphs read, by (version id, plan hash, workflow,
    version): a store recreated at the same URL reuses ids, not with the same plans. Shared
    by a server's request threads, hence the lock."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._graphs: OrderedDict[tuple[int, str, str, int], WorkflowGraph] = OrderedDict()

    def get(self, key: tuple[int, str, str, int]) -> WorkflowGraph | None:
        with self._lock:
            graph = self._graphs.get(key)
            if graph is not None:
                self._graphs.move_to_end(key)
            return graph

    def put(self, key: tuple[int, str, str, int], graph: WorkflowGraph) -> None:
        with self._lock:
            self._graphs[key] = graph
            self._graphs.move_to_end(key)
            while len(self._graphs) > _GRAPH_CACHE_SIZE:
                self._graphs.popitem(last=False)


def workflow_by_name(session: Session, name: str) -> SqlWorkflow:
    row = session.scalars(select(SqlWorkflow).where(SqlWorkflow.name == name)).one_or_none()
    if row is None:
        raise NotFound(f"workflow '{name}' not found (see `aiflow workflow list`)")
    return row


_CHUNK = 500  # names per IN (...) and rows per statement: far below every database's limits
_EXAMPLE_FIELDS = ("columns", "format", "batch_uri", "stream_uri")


def _upsert_examples(session: Session, examples: list[ExampleCreate]) -> None:
    """Insert new examples, update changed ones; ``updated_at`` moves only on a real change.

    In bulk, a statement per chunk of rows rather than per example: a 100,000-node workflow
    declares thousands of examples, and a round trip each took seconds."""
    if not examples:
        return
    current: dict[str, SqlExample] = {}
    for names in _chunks([example.name for example in examples]):
        found = session.scalars(select(SqlExample).where(SqlExample.name.in_(names)))
        current.update((row.name, row) for row in found)
    now = utcnow()
    new: list[dict[str, Any]] = []
    changed: list[dict[str, Any]] = []
    for example in examples:
        values = example.model_dump(include=set(_EXAMPLE_FIELDS))
        row = current.get(example.name)
        if row is None:
            new.append({"name": example.name, "created_at": now, "updated_at": now, **values})
        elif any(getattr(row, field) != values[field] for field in _EXAMPLE_FIELDS):
            changed.append({"id": row.id, "updated_at": now, **values})
    # Upsert, not insert: another process may register the same examples right now.
    statement = upsert_statement(session, SqlExample, ["name"], [*_EXAMPLE_FIELDS, "updated_at"])
    for rows in _chunks(new):
        session.execute(statement, rows)
    for rows in _chunks(changed):  # ORM bulk UPDATE by primary key: one executemany
        session.execute(update(SqlExample).execution_options(synchronize_session=False), rows)


T = TypeVar("T")


def _chunks(items: list[T]) -> Iterator[list[T]]:
    for i in range(0, len(items), _CHUNK):
        yield items[i : i + _CHUNK]
