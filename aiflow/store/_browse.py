"""Read paths a remote client needs on top of the CLI's: keyset pages, counts, lookups by
version number, and the alias history behind a model rollback.

Pages are keyset pages (``WHERE key after :cursor ORDER BY key LIMIT n``), never ``OFFSET``: a
page costs the same at the millionth row, and rows inserted while a client pages through do not
shift or repeat the rows it has still to see. Callers that need to know whether another page
follows ask for ``limit + 1`` rows. Counts are separate calls (one ``COUNT`` each) because most
callers never want them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, func, select
from sqlalchemy.orm import Session

from aiflow.errors import InvalidInput, NotFound
from aiflow.store._base import StoreBase, check_limit
from aiflow.store._registry import (
    ALIAS_SET_EVENT,
    SERVING_ALIAS,
    _model,
    _to_entities,
    _version,
    point_alias,
)
from aiflow.store._runs import MODES
from aiflow.store._serving import MODEL_NAME_PARAM, serving_statement
from aiflow.store._triggers import trigger_row
from aiflow.store._workflows import workflow_by_name
from aiflow.store.entities import (
    Entity,
    Execution,
    ExecutionStatus,
    Model,
    ModelVersion,
    Workflow,
    WorkflowVersion,
)
from aiflow.store.orm import (
    SqlEvent,
    SqlExecution,
    SqlModel,
    SqlModelAlias,
    SqlModelVersion,
    SqlWorkflow,
    SqlWorkflowVersion,
)


class ServingVersion(Entity):
    """Which version of a model to serve, with just what loading it takes."""

    id: int
    model_name: str
    version: int
    artifact_uri: str
    flavor: str
    stage: str
    deployed: bool  # chosen by the ``deployed`` alias (else: the newest version)
    created_at: datetime


class BrowseStore(StoreBase):
    # -- workflows ----------------------------------------------------------------------------

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
            return _count(session, select(SqlWorkflow.id))

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
            return _count(session, stmt)

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
                raise NotFound(
                    f"workflow '{name}' version {version} not found "
                    f"(see `aiflow workflow show {name}`)"
                )
            return row.to_entity(workflow.name)

    # -- executions ---------------------------------------------------------------------------

    def page_executions(
        self,
        *,
        workflow: str | None = None,
        status: ExecutionStatus | None = None,
        mode: str | None = None,
        trigger: str | None = None,
        ascending: bool = False,
        cursor: int | None = None,
        limit: int = 50,
    ) -> list[Execution]:
        """Executions in creation order (newest first unless ``ascending``), those after the
        execution id ``cursor`` in that order. Ids grow with creation, so ordering by id is
        ordering by creation time without ties. A ``workflow`` or ``trigger`` (the one that
        started them) that does not exist is ``NotFound`` (a typo should not look like "no
        runs")."""
        check_limit(limit)
        with self._read() as session:
            stmt = (
                select(SqlExecution, SqlWorkflow.name)
                .join(SqlWorkflowVersion, SqlWorkflowVersion.id == SqlExecution.workflow_version_id)
                .join(SqlWorkflow, SqlWorkflow.id == SqlWorkflowVersion.workflow_id)
                .where(*_execution_filters(session, workflow, status, mode, trigger))
                .order_by(SqlExecution.id.asc() if ascending else SqlExecution.id.desc())
                .limit(limit)
            )
            if cursor is not None:
                stmt = stmt.where(
                    SqlExecution.id > cursor if ascending else SqlExecution.id < cursor
                )
            return [row.to_entity(name) for row, name in session.execute(stmt)]

    def count_executions(
        self,
        *,
        workflow: str | None = None,
        status: ExecutionStatus | None = None,
        mode: str | None = None,
        trigger: str | None = None,
    ) -> int:
        """How many executions ``page_executions`` would page through with these filters."""
        with self._read() as session:
            filters = _execution_filters(session, workflow, status, mode, trigger)
            return _count(session, select(SqlExecution.id).where(*filters))

    # -- models -------------------------------------------------------------------------------

    def page_models(self, *, cursor: str | None = None, limit: int = 50) -> list[Model]:
        """Models by name, those after ``cursor`` (a name)."""
        check_limit(limit)
        stmt = select(SqlModel).order_by(SqlModel.name).limit(limit)
        if cursor is not None:
            stmt = stmt.where(SqlModel.name > cursor)
        with self._read() as session:
            return [row.to_entity() for row in session.scalars(stmt)]

    def count_models(self) -> int:
        with self._read() as session:
            return _count(session, select(SqlModel.id))

    def page_model_versions(
        self, name: str, *, cursor: int | None = None, limit: int = 50
    ) -> list[ModelVersion]:
        """Versions of model ``name``, newest first, those below version ``cursor``; with
        aliases and newest metrics in the same fixed number of queries as one version."""
        check_limit(limit)
        with self._read() as session:
            model = _model(session, name)
            stmt = (
                select(SqlModelVersion)
                .where(SqlModelVersion.model_id == model.id)
                .order_by(SqlModelVersion.version.desc())
                .limit(limit)
            )
            if cursor is not None:
                stmt = stmt.where(SqlModelVersion.version < cursor)
            return _to_entities(session, model, session.scalars(stmt).all())

    def count_model_versions(self, name: str) -> int:
        with self._read() as session:
            model = _model(session, name)
            return _count(
                session, select(SqlModelVersion.id).where(SqlModelVersion.model_id == model.id)
            )

    def serving_pointer(self, model_name: str) -> ServingVersion | None:
        """``serving_version`` without aliases and metrics, in a single query: model servers
        poll it. ``None`` when the model does not exist or has no versions.

        The version is ``COALESCE(<deployed alias target>, <newest version>)``: one statement
        of two index lookups, whatever the number of versions (``serving_statement``).
        """
        # Built once (see aiflow/store/_serving.py: building it was most of the cost).
        with self._read_connection() as connection:
            found = connection.execute(
                serving_statement(), {MODEL_NAME_PARAM: model_name}
            ).one_or_none()
        if found is None:
            return None
        row = found._asdict()
        deployed_id = row.pop("deployed_id")
        return ServingVersion(**row, deployed=deployed_id == row["id"])

    def roll_back_alias(self, model_name: str, alias: str = SERVING_ALIAS) -> ModelVersion:
        """Point ``alias`` back at the version it pointed at before its current one.

        The history is the event log: every ``set_model_alias`` records ``<alias>=<version>``
        in the same transaction as the move. Walking it newest first, the answer is the first
        version that differs from the current one, so rolling back twice returns to where it
        started (an undo, like ``kubectl rollout undo``). The move is recorded like any other
        alias move, under a lock on the model row, so concurrent rollbacks queue rather than
        both reading the same history.
        """
        with self._write() as session:
            model = _model(session, model_name, lock=True)
            current = session.scalar(
                select(SqlModelVersion.version)
                .join(SqlModelAlias, SqlModelAlias.model_version_id == SqlModelVersion.id)
                .where(SqlModelAlias.model_id == model.id, SqlModelAlias.alias == alias)
            )
            if current is None:
                raise InvalidInput(
                    f"model '{model_name}' has no '{alias}' alias to roll back "
                    f"(set one with `aiflow model alias {model_name} {alias} VERSION`)"
                )
            previous = _previous_target(session, model_name, alias, current)
            if previous is None:
                raise InvalidInput(
                    f"model '{model_name}': alias '{alias}' has pointed at no version other than "
                    f"{current}, so there is nothing to roll back to"
                )
            return point_alias(session, model, alias, _version(session, model, previous))


def _count(session: Session, ids: Select[Any]) -> int:
    return session.scalar(select(func.count()).select_from(ids.subquery())) or 0


def _execution_filters(
    session: Session,
    workflow: str | None,
    status: ExecutionStatus | None,
    mode: str | None,
    trigger: str | None = None,
) -> list[ColumnElement[bool]]:
    filters: list[ColumnElement[bool]] = []
    if trigger is not None:
        filters.append(SqlExecution.trigger_id == trigger_row(session, trigger).id)
    if mode is not None:
        if mode not in MODES:
            raise InvalidInput(f"execution mode '{mode}' is not one of {sorted(MODES)}")
        filters.append(SqlExecution.mode == mode)
    if status is not None:
        filters.append(SqlExecution.status == ExecutionStatus(status))
    if workflow is not None:
        workflow_id = workflow_by_name(session, workflow).id
        versions = select(SqlWorkflowVersion.id).where(
            SqlWorkflowVersion.workflow_id == workflow_id
        )
        filters.append(SqlExecution.workflow_version_id.in_(versions))
    return filters


def _previous_target(session: Session, model_name: str, alias: str, current: int) -> int | None:
    """The newest recorded target of ``alias`` other than ``current``."""
    prefix = f"{alias}="
    history = session.scalars(
        select(SqlEvent.value)
        .where(
            SqlEvent.key == model_name,
            SqlEvent.type == ALIAS_SET_EVENT,
            SqlEvent.value.startswith(prefix, autoescape=True),
        )
        .order_by(SqlEvent.seq.desc())
    )
    for value in history:
        target = value.removeprefix(prefix)
        if target.isdigit() and int(target) != current:
            return int(target)
    return None
