"""The model center: a version's stage and tags, and what the registry knows about it -- its
history (who changed what, when, why), its lineage and how two versions compare.

Every change writes its history rows in the transaction that makes it, under the lock on the
model row (``Changes``), so the history is complete and in the order the changes happened.
Not here: moving aliases and what to serve (``_aliases``, whose rules a stage change that
touches ``deployed`` follows), registering versions (``_registry``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Final

from sqlalchemy import select
from sqlalchemy.orm import Session

from aiflow.errors import InvalidInput
from aiflow.schemas.entities import (
    SERVING_ALIAS,
    UNSERVABLE_STAGES,
    ModelChange,
    ModelComparison,
    ModelLineage,
    ModelVersion,
)
from aiflow.schemas.limits import NAME_PATTERN, NAME_RULE, NO_CONTROL
from aiflow.store._aliases import move_alias, previous_holder, remove_alias
from aiflow.store._base import Audit, Changes, StoreBase, check_limit
from aiflow.store._registry import (
    alias_holder,
    change_stage,
    check_stage,
    model_row,
    version_entities,
    version_row,
)
from aiflow.store.orm import (
    HISTORY_VALUE_LENGTH,
    SqlExecution,
    SqlModel,
    SqlModelHistory,
    SqlModelVersion,
    SqlWorkflow,
    SqlWorkflowVersion,
)

TAG_KEY_LENGTH: Final = 64
TAG_VALUE_LENGTH: Final = HISTORY_VALUE_LENGTH  # a tag's value is kept in its history row
_TAG_KEY_RE: Final = re.compile(NAME_PATTERN)
_TAG_VALUE_RE: Final = re.compile(NO_CONTROL)
# ModelLineage fields compared by compare_model_versions, besides the lineage dict's entries.
_LINEAGE_FIELDS: Final = (
    "workflow",
    "workflow_version",
    "execution_id",
    "job_id",
    "node_id",
    "parent_version",
)


class HistoryStore(StoreBase):
    # -- changes ------------------------------------------------------------------------------

    def set_model_version_stage(
        self,
        model_name: str,
        version: int,
        stage: str,
        *,
        reason: str | None = None,
        metrics: Mapping[str, float] | None = None,
        actor: str | None = None,
    ) -> ModelVersion:
        """Move the version to lifecycle ``stage`` (one of ``STAGES``), recorded in its history
        with ``MODEL_<STAGE>``; nothing when it is at ``stage`` already.

        ``deployed`` is a promotion (``promote_model_version``). ``rejected`` and ``failed``
        versions are never served: one holding ``deployed`` hands it back to the previous
        holder, as ``mark_model_version_failed`` does. Other stages are labels only (what is
        served follows the alias).
        """
        check_stage(stage)
        audit = Audit.of(self.actor if actor is None else actor, reason, metrics)

        def work(session: Session) -> ModelVersion:
            model = model_row(session, model_name, lock=True)
            row = version_row(session, model, version)
            changes = Changes(session, model, audit)
            if stage == "deployed":
                move_alias(changes, SERVING_ALIAS, row)
            elif stage in UNSERVABLE_STAGES:
                withdraw(changes, row, stage)
            else:
                change_stage(changes, row, stage)
            changes.finish()
            return version_entities(session, model, [row])[0]

        return self._write_retrying(work)

    def mark_model_version_failed(
        self, model_name: str, version: int, *, reason: str, actor: str | None = None
    ) -> ModelVersion:
        """Stage ``failed`` (its artifact did not load, or pushing it failed) with
        ``MODEL_FAILED``. If it held ``deployed``, the alias goes back to the previous holder
        that may take it (as ``roll_back_alias``), or is removed when there is none, so every
        predictor keeps or gets a version that works; all of it recorded in the history."""
        audit = Audit.of(self.actor if actor is None else actor, reason)

        def work(session: Session) -> ModelVersion:
            model = model_row(session, model_name, lock=True)
            row = version_row(session, model, version)
            changes = Changes(session, model, audit)
            withdraw(changes, row, "failed")
            changes.finish()
            return version_entities(session, model, [row])[0]

        return self._write_retrying(work)

    def tag_model_version(
        self,
        model_name: str,
        version: int,
        key: str,
        value: str | None,
        *,
        actor: str | None = None,
    ) -> ModelVersion:
        """Set tag ``key`` of the version to ``value`` (``None`` removes it), recorded in the
        history (kind ``tag``); nothing when it has that value already."""
        _check_tag(key, value)
        audit = Audit.of(self.actor if actor is None else actor)

        def work(session: Session) -> ModelVersion:
            model = model_row(session, model_name, lock=True)
            row = version_row(session, model, version)
            tags = dict(row.tags or {})
            old = tags.get(key)
            if old != value:
                if value is None:
                    del tags[key]
                else:
                    tags[key] = value
                row.tags = tags  # a new dict: SQLAlchemy sees the change
                changes = Changes(session, model, audit)
                changes.record(row.version, "tag", key, old, value)
                changes.finish()
            return version_entities(session, model, [row])[0]

        return self._write_retrying(work)

    # -- what the registry knows --------------------------------------------------------------

    def model_history(
        self, model_name: str, *, version: int | None = None, limit: int | None = None
    ) -> list[ModelChange]:
        """The model's recorded changes, oldest first; only ``version``'s if given, only the
        newest ``limit`` if given."""
        if limit is not None:
            check_limit(limit)
        history = SqlModelHistory
        with self._read() as session:
            model = model_row(session, model_name)
            stmt = select(history).where(history.model_id == model.id)
            if version is not None:
                version_row(session, model, version)  # NotFound rather than an empty history
                stmt = stmt.where(history.version == version)
            if limit is None:
                rows = list(session.scalars(stmt.order_by(history.id)))
            else:
                rows = list(session.scalars(stmt.order_by(history.id.desc()).limit(limit)))
                rows.reverse()
            return [row.to_entity(model.name) for row in rows]

    def model_lineage(self, model_name: str, version: int) -> ModelLineage:
        """Where the version came from: the workflow (version), execution, job and train node
        that produced it, the versions it continued from (nearest first) and its data."""
        with self._read() as session:
            model = model_row(session, model_name)
            return lineage_of(session, model, version_row(session, model, version))

    def compare_model_versions(self, model_name: str, v1: int, v2: int) -> ModelComparison:
        """Versions ``v1`` and ``v2`` side by side: every metric either has (newest values,
        ``None`` where one lacks it) and the lineage fields that differ (the lineage dict's
        entries as ``lineage.<key>``)."""
        with self._read() as session:
            model = model_row(session, model_name)
            rows = [version_row(session, model, v1), version_row(session, model, v2)]
            a, b = version_entities(session, model, rows)
            lineage_a, lineage_b = (lineage_of(session, model, row) for row in rows)
        names = sorted(a.metrics.keys() | b.metrics.keys())
        return ModelComparison(
            model_name=model.name,
            versions=(v1, v2),
            metrics={name: (a.metrics.get(name), b.metrics.get(name)) for name in names},
            lineage_diff=_lineage_diff(lineage_a, lineage_b),
        )


def withdraw(changes: Changes, row: SqlModelVersion, stage: str) -> None:
    """Move ``row`` to an unservable ``stage`` (rejected, failed); if it held ``deployed``, the
    alias goes back to the previous holder that may take it, or is removed."""
    session, model = changes.session, changes.model
    change_stage(changes, row, stage)
    holder = alias_holder(session, model, SERVING_ALIAS)
    if holder is None or holder.id != row.id:
        return
    previous = previous_holder(session, model, SERVING_ALIAS, row.version)
    if previous is None:
        remove_alias(changes, SERVING_ALIAS, row)
    else:
        move_alias(changes, SERVING_ALIAS, previous)


def lineage_of(session: Session, model: SqlModel, row: SqlModelVersion) -> ModelLineage:
    """``row``'s lineage in two queries: its run's workflow, and every parent link of the
    model (to walk the chain without a query per ancestor)."""
    workflow: tuple[str, int] | None = None
    if row.execution_id is not None:
        found = session.execute(
            select(SqlWorkflow.name, SqlWorkflowVersion.version)
            .select_from(SqlExecution)
            .join(SqlWorkflowVersion, SqlWorkflowVersion.id == SqlExecution.workflow_version_id)
            .join(SqlWorkflow, SqlWorkflow.id == SqlWorkflowVersion.workflow_id)
            .where(SqlExecution.id == row.execution_id)
        ).one_or_none()
        workflow = None if found is None else (found[0], found[1])
    links = session.execute(
        select(SqlModelVersion.version, SqlModelVersion.parent_version).where(
            SqlModelVersion.model_id == model.id, SqlModelVersion.parent_version.is_not(None)
        )
    )
    parents: dict[int, int | None] = {version: parent for version, parent in links}
    ancestors: list[int] = []
    parent = row.parent_version
    while parent is not None and parent not in ancestors and parent != row.version:
        ancestors.append(parent)
        parent = parents.get(parent)
    return ModelLineage(
        model_name=model.name,
        version=row.version,
        workflow=None if workflow is None else workflow[0],
        workflow_version=None if workflow is None else workflow[1],
        execution_id=row.execution_id,
        job_id=row.job_id,
        node_id=row.node_id,
        parent_version=row.parent_version,
        ancestors=ancestors,
        data=row.lineage or {},
    )


def _lineage_diff(a: ModelLineage, b: ModelLineage) -> dict[str, tuple[Any, Any]]:
    diff: dict[str, tuple[Any, Any]] = {}
    for name in _LINEAGE_FIELDS:
        left, right = getattr(a, name), getattr(b, name)
        if left != right:
            diff[name] = (left, right)
    for key in sorted(a.data.keys() | b.data.keys()):
        left, right = a.data.get(key), b.data.get(key)
        if left != right:
            diff[f"lineage.{key}"] = (left, right)
    return diff


def _check_tag(key: str, value: str | None) -> None:
    if not isinstance(key, str) or len(key) > TAG_KEY_LENGTH or not _TAG_KEY_RE.fullmatch(key):
        raise InvalidInput(f"tag key {key!r} is invalid: use 1 to {TAG_KEY_LENGTH} {NAME_RULE}")
    if value is None:
        return
    if (
        not isinstance(value, str)
        or len(value) > TAG_VALUE_LENGTH
        or not _TAG_VALUE_RE.fullmatch(value)
    ):
        raise InvalidInput(
            f"tag '{key}': value {value!r} must be 1 to {TAG_VALUE_LENGTH} characters "
            "without control characters"
        )
