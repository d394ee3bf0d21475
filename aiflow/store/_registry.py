"""The model registry: models and their versions, and the row-level helpers every change of
a version uses (``change_stage``, ``alias_holder``; its history rows and events: ``Changes``).

A ``ModelVersion`` entity carries its aliases and newest metrics; they are loaded for any number
of versions in a fixed number of queries (``version_entities``), never per version. Stage and
alias changes (promotion, rollback, failure) and what to serve are in ``_aliases``; the history,
lineage, comparison and tags in ``_history``; metric values in ``_metrics``.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any, Final

from sqlalchemy import ColumnElement, Select, func, select
from sqlalchemy.orm import Session

from aiflow.errors import InvalidInput, NotFound
from aiflow.schemas.entities import (
    RENAMED_STAGES,
    STAGES,
    Model,
    ModelVersion,
)
from aiflow.schemas.limits import NAME_LENGTH, check_name
from aiflow.store._base import (
    Audit,
    Changes,
    StoreBase,
    check_limit,
    count_rows,
    insert_ignore,
    next_version,
)
from aiflow.store.orm import (
    CHECKSUM_LENGTH,
    SqlExecution,
    SqlJob,
    SqlMetric,
    SqlModel,
    SqlModelAlias,
    SqlModelVersion,
    utcnow,
)

_CHECKSUM_RE: Final = re.compile(rf"[0-9a-f]{{{CHECKSUM_LENGTH}}}")


class ModelStore(StoreBase):
    # -- models -------------------------------------------------------------------------------

    def create_model(self, name: str, description: str | None = None) -> Model:
        """Get or create model ``name``; a given ``description`` replaces the stored one."""
        check_name("model", name)
        with self._write() as session:
            values = {"name": name, "description": description, "created_at": utcnow()}
            insert_ignore(session, SqlModel, values, ["name"])
            model = model_row(session, name)
            if description is not None and model.description != description:
                model.description = description
                session.flush()
            return model.to_entity()

    def get_model(self, name: str) -> Model:
        with self._read() as session:
            return model_row(session, name).to_entity()

    def list_models(self) -> list[Model]:
        with self._read() as session:
            return [
                row.to_entity() for row in session.scalars(select(SqlModel).order_by(SqlModel.name))
            ]

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
            return count_rows(session, select(SqlModel.id))

    # -- versions -----------------------------------------------------------------------------

    def register_model_version(
        self,
        model_name: str,
        artifact_uri: str,
        flavor: str,
        *,
        execution_id: int | None = None,
        job_id: int | None = None,
        node_id: str | None = None,
        stage: str = "generated",
        parent_version: int | None = None,
        checksum: str | None = None,
        lineage: Mapping[str, Any] | None = None,
        actor: str | None = None,
    ) -> ModelVersion:
        """Add the next version of ``model_name`` (creating the model on first use), record its
        stage (``None`` -> ``stage``) in the model's history and emit ``MODEL_GENERATED``, in
        one transaction.

        ``parent_version`` is the version it continued training from (it must exist),
        ``checksum`` the sha256 of its ``model.pkl`` (``artifacts.artifact_checksum``),
        ``lineage`` what it was trained on (JSON). Versions are 1, 2, ... without gaps even
        with concurrent trainers (``next_version``, under a lock on the model row). A new
        version cannot start ``deployed``: promote it, which also moves the serving alias.
        """
        check_name("model", model_name)
        check_stage(stage)
        if stage == "deployed":
            raise InvalidInput(
                f"model '{model_name}': a new version cannot be registered at stage 'deployed'; "
                "register it, then promote it (promote_model_version), which moves the alias too"
            )
        checksum = _checked_checksum(model_name, checksum)
        lineage_json = _checked_lineage(model_name, lineage)
        audit = Audit.of(self.actor if actor is None else actor)

        def work(session: Session) -> ModelVersion:
            check_run_refs(session, execution_id, job_id)
            values = {"name": model_name, "created_at": utcnow()}
            insert_ignore(session, SqlModel, values, ["name"])
            model = model_row(session, model_name, lock=True)
            if parent_version is not None:
                version_row(session, model, parent_version)  # NotFound naming it
            row = SqlModelVersion(
                model_id=model.id,
                version=next_version(
                    session, SqlModelVersion.version, SqlModelVersion.model_id, model.id
                ),
                artifact_uri=artifact_uri,
                flavor=flavor,
                stage=stage,
                execution_id=execution_id,
                job_id=job_id,
                node_id=node_id,
                parent_version=parent_version,
                checksum=checksum,
                lineage=lineage_json,
            )
            session.add(row)
            session.flush()
            changes = Changes(session, model, audit)
            changes.record(row.version, "stage", "stage", None, stage)
            changes.event("MODEL_GENERATED", str(row.version))
            changes.finish()
            return row.to_entity(model_name, aliases=[], metrics={})

        return self._write_retrying(work)

    def get_model_version(self, model_name: str, version: int) -> ModelVersion:
        with self._read() as session:
            model = model_row(session, model_name)
            return version_entities(session, model, [version_row(session, model, version)])[0]

    def list_model_versions(self, model_name: str) -> list[ModelVersion]:
        """All versions, newest first, with aliases and metrics (four queries in all)."""
        with self._read() as session:
            model = model_row(session, model_name)
            rows = session.scalars(
                select(SqlModelVersion)
                .where(SqlModelVersion.model_id == model.id)
                .order_by(SqlModelVersion.version.desc())
            ).all()
            return version_entities(session, model, rows, all_versions=True)

    def page_model_versions(
        self, name: str, *, cursor: int | None = None, limit: int = 50
    ) -> list[ModelVersion]:
        """Versions of model ``name``, newest first, those below version ``cursor``; with
        aliases and newest metrics in the same fixed number of queries as one version."""
        check_limit(limit)
        with self._read() as session:
            model = model_row(session, name)
            stmt = (
                select(SqlModelVersion)
                .where(SqlModelVersion.model_id == model.id)
                .order_by(SqlModelVersion.version.desc())
                .limit(limit)
            )
            if cursor is not None:
                stmt = stmt.where(SqlModelVersion.version < cursor)
            return version_entities(session, model, session.scalars(stmt).all())

    def count_model_versions(self, name: str) -> int:
        with self._read() as session:
            model = model_row(session, name)
            return count_rows(
                session, select(SqlModelVersion.id).where(SqlModelVersion.model_id == model.id)
            )

    def latest_model_version(
        self, model_name: str, *, execution_id: int | None = None, node_id: str | None = None
    ) -> ModelVersion | None:
        """The newest version, optionally the newest one an execution / train node produced;
        ``None`` when there is none (or no such model yet)."""
        with self._read() as session:
            model = model_row_or_none(session, model_name)
            if model is None:
                return None
            stmt = select(SqlModelVersion).where(SqlModelVersion.model_id == model.id)
            if execution_id is not None:
                stmt = stmt.where(SqlModelVersion.execution_id == execution_id)
            if node_id is not None:
                stmt = stmt.where(SqlModelVersion.node_id == node_id)
            return newest_of(session, model, stmt)


def check_length(name: str, what: str) -> None:
    """For names that are labels rather than identifiers (metric names): any text that fits
    the column. Names of things (models, aliases, ...) follow ``limits.check_name``."""
    if not name or len(name) > NAME_LENGTH:
        raise InvalidInput(f"{what} {name!r} must be 1 to {NAME_LENGTH} characters")


def check_stage(stage: str) -> None:
    if stage in RENAMED_STAGES:
        raise InvalidInput(
            f"stage '{stage}' is now called '{RENAMED_STAGES[stage]}' (stages: {', '.join(STAGES)})"
        )
    if stage not in STAGES:
        raise InvalidInput(f"stage '{stage}' is not one of {', '.join(STAGES)}")


def _checked_checksum(model_name: str, checksum: str | None) -> str | None:
    if checksum is None:
        return None
    if not _CHECKSUM_RE.fullmatch(checksum.lower()):
        raise InvalidInput(
            f"model '{model_name}': checksum {checksum!r} is not a sha256 hex digest "
            f"({CHECKSUM_LENGTH} hex digits, see artifacts.artifact_checksum)"
        )
    return checksum.lower()


def _checked_lineage(model_name: str, lineage: Mapping[str, Any] | None) -> dict[str, Any]:
    """``lineage`` as stored: a JSON object (checked here, not by the driver mid-transaction)."""
    if lineage is None:
        return {}
    try:
        return dict(json.loads(json.dumps(dict(lineage), allow_nan=False)))
    except (TypeError, ValueError) as exc:
        raise InvalidInput(
            f"model '{model_name}': lineage must be a JSON object of plain values ({exc})"
        ) from exc


def change_stage(
    changes: Changes, row: SqlModelVersion, stage: str, *, reason: str | None = None
) -> None:
    """Move ``row`` to ``stage`` with a history row and ``MODEL_<STAGE>``; nothing if it is
    there already."""
    if row.stage == stage:
        return
    changes.record(row.version, "stage", "stage", row.stage, stage, reason=reason)
    row.stage = stage
    changes.event(f"MODEL_{stage.upper()}", str(row.version))


def alias_holder(session: Session, model: SqlModel, alias: str) -> SqlModelVersion | None:
    """The version ``alias`` points at, if any."""
    return session.scalars(
        select(SqlModelVersion)
        .join(SqlModelAlias, SqlModelAlias.model_version_id == SqlModelVersion.id)
        .where(SqlModelAlias.model_id == model.id, SqlModelAlias.alias == alias)
    ).one_or_none()


def check_run_refs(session: Session, execution_id: int | None, job_id: int | None) -> None:
    """NotFound for a dangling reference, instead of the driver's foreign-key error."""
    if execution_id is not None and session.get(SqlExecution, execution_id) is None:
        raise NotFound(f"execution {execution_id} not found (see `aiflow execution list`)")
    if job_id is not None and session.get(SqlJob, job_id) is None:
        raise NotFound(f"job {job_id} not found (see `aiflow job list EXECUTION_ID`)")


def model_row_or_none(session: Session, name: str, *, lock: bool = False) -> SqlModel | None:
    stmt = select(SqlModel).where(SqlModel.name == name)
    if lock:
        # FOR NO KEY UPDATE on PostgreSQL: serializes version allocation and every change of
        # the model's versions (stages, aliases, tags: their history must chain) without
        # blocking inserts elsewhere that merely reference the model; no-op on SQLite, whose
        # writers are serialized by BEGIN IMMEDIATE.
        stmt = stmt.with_for_update(key_share=True)
    return session.scalars(stmt).one_or_none()


def model_row(session: Session, name: str, *, lock: bool = False) -> SqlModel:
    model = model_row_or_none(session, name, lock=lock)
    if model is None:
        raise NotFound(f"model '{name}' not found (see `aiflow model list`)")
    return model


def version_row(session: Session, model: SqlModel, version: int) -> SqlModelVersion:
    row = session.scalars(
        select(SqlModelVersion).where(
            SqlModelVersion.model_id == model.id, SqlModelVersion.version == version
        )
    ).one_or_none()
    if row is None:
        raise NotFound(
            f"model '{model.name}' version {version} not found "
            f"(see `aiflow model versions {model.name}`)"
        )
    return row


def newest_of(
    session: Session, model: SqlModel, stmt: Select[SqlModelVersion]
) -> ModelVersion | None:
    """The highest version ``stmt`` yields, as an entity."""
    row = session.scalars(stmt.order_by(SqlModelVersion.version.desc()).limit(1)).first()
    return None if row is None else version_entities(session, model, [row])[0]


def version_entities(
    session: Session,
    model: SqlModel,
    rows: Sequence[SqlModelVersion],
    *,
    all_versions: bool = False,
) -> list[ModelVersion]:
    """Entities for ``rows`` with aliases and newest metrics, in two queries.

    ``all_versions`` says ``rows`` are every version of ``model``: the metric query then selects
    by model instead of by an id list that grows with the version count.
    """
    if not rows:
        return []
    aliases: dict[int, list[str]] = defaultdict(list)
    alias_rows = session.execute(
        select(SqlModelAlias.model_version_id, SqlModelAlias.alias)
        .where(SqlModelAlias.model_id == model.id)
        .order_by(SqlModelAlias.alias)
    )
    for version_id, alias in alias_rows:
        aliases[version_id].append(alias)

    in_scope: ColumnElement[bool]
    if all_versions:
        ids_of_model = select(SqlModelVersion.id).where(SqlModelVersion.model_id == model.id)
        in_scope = SqlMetric.model_version_id.in_(ids_of_model)
    else:
        in_scope = SqlMetric.model_version_id.in_([row.id for row in rows])
    newest_ids = (
        select(func.max(SqlMetric.id))
        .where(in_scope)
        .group_by(SqlMetric.model_version_id, SqlMetric.name)
    )
    metrics: dict[int | None, dict[str, float]] = defaultdict(dict)
    metric_rows = session.execute(
        select(SqlMetric.model_version_id, SqlMetric.name, SqlMetric.value)
        .where(SqlMetric.id.in_(newest_ids))
        .order_by(SqlMetric.name)
    )
    for metric_version_id, name, value in metric_rows:
        metrics[metric_version_id][name] = value
    return [row.to_entity(model.name, aliases[row.id], metrics[row.id]) for row in rows]
