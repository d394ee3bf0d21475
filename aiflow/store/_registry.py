"""The model registry (models, versions, aliases, stages) and metrics.

A ``ModelVersion`` entity carries its aliases and newest metrics; they are loaded for any number
of versions in a fixed number of queries (``_to_entities``), never per version.
"""

from __future__ import annotations

import math
import numbers
from collections import defaultdict
from collections.abc import Sequence
from typing import Any, Final

from sqlalchemy import ColumnElement, Select, delete, func, insert, select
from sqlalchemy.orm import Session

from aiflow.errors import InvalidInput, NotFound
from aiflow.store._base import StoreBase, add_event, insert_ignore, rowcount, upsert
from aiflow.store.entities import Metric, Model, ModelVersion
from aiflow.store.orm import (
    NAME_LENGTH,
    SqlExecution,
    SqlJob,
    SqlMetric,
    SqlModel,
    SqlModelAlias,
    SqlModelVersion,
    utcnow,
)

STAGES: Final = ("generated", "validated", "deployed", "deprecated")
SERVING_ALIAS: Final = "deployed"  # serving_version prefers the version carrying this alias


class ModelStore(StoreBase):
    # -- models -------------------------------------------------------------------------------

    def create_model(self, name: str, description: str | None = None) -> Model:
        """Get or create model ``name``; a given ``description`` replaces the stored one."""
        _check_name(name, "model name")
        with self._write() as session:
            values = {"name": name, "description": description, "created_at": utcnow()}
            insert_ignore(session, SqlModel, values, ["name"])
            model = _model(session, name)
            if description is not None and model.description != description:
                model.description = description
                session.flush()
            return model.to_entity()

    def get_model(self, name: str) -> Model:
        with self._read() as session:
            return _model(session, name).to_entity()

    def list_models(self) -> list[Model]:
        with self._read() as session:
            return [
                row.to_entity() for row in session.scalars(select(SqlModel).order_by(SqlModel.name))
            ]

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
    ) -> ModelVersion:
        """Add the next version of ``model_name`` (creating the model on first use) and emit
        ``MODEL_GENERATED`` in the same transaction.

        Versions are 1, 2, ... without gaps even with concurrent trainers: allocation (max + 1)
        happens under a lock on the model row, the unique (model, version) constraint backs it
        up, and a collision retries the whole transaction.
        """
        _check_name(model_name, "model name")
        _check_stage(stage)

        def work(session: Session) -> ModelVersion:
            _check_run_refs(session, execution_id, job_id)
            values = {"name": model_name, "created_at": utcnow()}
            insert_ignore(session, SqlModel, values, ["name"])
            model = _model(session, model_name, lock=True)
            latest = session.scalar(
                select(func.max(SqlModelVersion.version)).where(
                    SqlModelVersion.model_id == model.id
                )
            )
            row = SqlModelVersion(
                model_id=model.id,
                version=(latest or 0) + 1,
                artifact_uri=artifact_uri,
                flavor=flavor,
                stage=stage,
                execution_id=execution_id,
                job_id=job_id,
                node_id=node_id,
            )
            session.add(row)
            session.flush()
            add_event(session, model_name, "MODEL_GENERATED", str(row.version))
            return row.to_entity(model_name, aliases=[], metrics={})

        return self._write_retrying(work)

    def get_model_version(self, model_name: str, version: int) -> ModelVersion:
        with self._read() as session:
            model = _model(session, model_name)
            return _to_entities(session, model, [_version(session, model, version)])[0]

    def list_model_versions(self, model_name: str) -> list[ModelVersion]:
        """All versions, newest first, with aliases and metrics (four queries in all)."""
        with self._read() as session:
            model = _model(session, model_name)
            rows = session.scalars(
                select(SqlModelVersion)
                .where(SqlModelVersion.model_id == model.id)
                .order_by(SqlModelVersion.version.desc())
            ).all()
            return _to_entities(session, model, rows, all_versions=True)

    def latest_model_version(
        self, model_name: str, *, execution_id: int | None = None, node_id: str | None = None
    ) -> ModelVersion | None:
        """The newest version, optionally the newest one an execution / train node produced;
        ``None`` when there is none (or no such model yet)."""
        with self._read() as session:
            model = _model_or_none(session, model_name)
            if model is None:
                return None
            stmt = select(SqlModelVersion).where(SqlModelVersion.model_id == model.id)
            if execution_id is not None:
                stmt = stmt.where(SqlModelVersion.execution_id == execution_id)
            if node_id is not None:
                stmt = stmt.where(SqlModelVersion.node_id == node_id)
            return _first(session, model, stmt)

    def set_model_alias(self, model_name: str, alias: str, version: int) -> ModelVersion:
        """Point ``alias`` at ``version``, moving it off the version that had it."""
        _check_alias(alias)
        with self._write() as session:
            model = _model(session, model_name)
            return point_alias(session, model, alias, _version(session, model, version))

    def delete_model_alias(self, model_name: str, alias: str) -> None:
        with self._write() as session:
            model = _model(session, model_name)
            deleted = rowcount(
                session.execute(
                    delete(SqlModelAlias)
                    .where(SqlModelAlias.model_id == model.id, SqlModelAlias.alias == alias)
                    .execution_options(synchronize_session=False)
                )
            )
            if not deleted:
                raise NotFound(
                    f"alias '{alias}' not found for model '{model_name}' "
                    f"(see `aiflow model versions {model_name}`)"
                )
            add_event(session, model_name, "MODEL_ALIAS_DELETED", alias)

    def get_model_version_by_alias(self, model_name: str, alias: str) -> ModelVersion | None:
        with self._read() as session:
            model = _model_or_none(session, model_name)
            if model is None:
                return None
            stmt = (
                select(SqlModelVersion)
                .join(SqlModelAlias, SqlModelAlias.model_version_id == SqlModelVersion.id)
                .where(SqlModelAlias.model_id == model.id, SqlModelAlias.alias == alias)
            )
            return _first(session, model, stmt)

    def set_model_version_stage(self, model_name: str, version: int, stage: str) -> ModelVersion:
        _check_stage(stage)
        with self._write() as session:
            model = _model(session, model_name)
            row = _version(session, model, version)
            row.stage = stage
            session.flush()
            entity = _to_entities(session, model, [row])[0]
            add_event(session, model_name, f"MODEL_{stage.upper()}", str(version))
            return entity

    def serving_version(self, model_name: str) -> ModelVersion | None:
        """What a server should load: the ``deployed`` alias, else the newest version."""
        with self._read() as session:
            model = _model_or_none(session, model_name)
            if model is None:
                return None
            deployed = (
                select(SqlModelVersion)
                .join(SqlModelAlias, SqlModelAlias.model_version_id == SqlModelVersion.id)
                .where(SqlModelAlias.model_id == model.id, SqlModelAlias.alias == SERVING_ALIAS)
            )
            newest = select(SqlModelVersion).where(SqlModelVersion.model_id == model.id)
            return _first(session, model, deployed) or _first(session, model, newest)

    # -- metrics ------------------------------------------------------------------------------

    def log_metrics(
        self,
        metrics: dict[str, float],
        *,
        model_version_id: int | None = None,
        execution_id: int | None = None,
        job_id: int | None = None,
        step: int | None = None,
    ) -> None:
        """Record metric values for a model version and/or an execution (job).

        Values must be finite numbers: a NaN would poison "best version" comparisons and is
        not valid JSON for the API, so it is rejected here, naming the metric.
        """
        if model_version_id is None and execution_id is None and job_id is None:
            raise InvalidInput("metrics need a model_version_id, execution_id or job_id")
        rows: list[dict[str, Any]] = []
        for name, value in metrics.items():
            _check_name(name, "metric name")
            if isinstance(value, bool) or not isinstance(value, numbers.Real):
                raise InvalidInput(f"metric '{name}': {value!r} is not a number")
            if not math.isfinite(value):
                raise InvalidInput(f"metric '{name}': {value!r} is not a finite number")
            rows.append({"name": name, "value": float(value), "step": step})
        if not rows:
            return
        scope = {"model_version_id": model_version_id, "execution_id": execution_id}
        with self._write() as session:
            if model_version_id is not None and not session.get(SqlModelVersion, model_version_id):
                raise NotFound(
                    f"model version id {model_version_id} not found (see `aiflow model list`)"
                )
            _check_run_refs(session, execution_id, job_id)
            now = utcnow()
            session.execute(
                insert(SqlMetric),
                [{**row, **scope, "job_id": job_id, "created_at": now} for row in rows],
            )

    def list_metrics(
        self, *, model_version_id: int | None = None, execution_id: int | None = None
    ) -> list[Metric]:
        """Every logged value (all steps) in logging order, filtered by the given ids."""
        stmt = select(SqlMetric).order_by(SqlMetric.id)
        if model_version_id is not None:
            stmt = stmt.where(SqlMetric.model_version_id == model_version_id)
        if execution_id is not None:
            stmt = stmt.where(SqlMetric.execution_id == execution_id)
        with self._read() as session:
            return [row.to_entity() for row in session.scalars(stmt)]


def _check_name(name: str, what: str) -> None:
    if not name or len(name) > NAME_LENGTH:
        raise InvalidInput(f"{what} {name!r} must be 1 to {NAME_LENGTH} characters")


def _check_stage(stage: str) -> None:
    if stage not in STAGES:
        raise InvalidInput(f"stage '{stage}' is not one of {', '.join(STAGES)}")


def _check_alias(alias: str) -> None:
    # An all-digit alias would be ambiguous wherever "model:3" means version 3.
    if not alias or len(alias) > 64 or alias.isdigit():
        raise InvalidInput(f"alias {alias!r} must be 1 to 64 characters and not a number")


def _check_run_refs(session: Session, execution_id: int | None, job_id: int | None) -> None:
    """NotFound for a dangling reference, instead of the driver's foreign-key error."""
    if execution_id is not None and session.get(SqlExecution, execution_id) is None:
        raise NotFound(f"execution {execution_id} not found (see `aiflow execution list`)")
    if job_id is not None and session.get(SqlJob, job_id) is None:
        raise NotFound(f"job {job_id} not found (see `aiflow job list EXECUTION_ID`)")


def _model_or_none(session: Session, name: str, *, lock: bool = False) -> SqlModel | None:
    stmt = select(SqlModel).where(SqlModel.name == name)
    if lock:
        # FOR NO KEY UPDATE on PostgreSQL: serializes version allocation without blocking
        # inserts elsewhere that merely reference the model (aliases); no-op on SQLite.
        stmt = stmt.with_for_update(key_share=True)
    return session.scalars(stmt).one_or_none()


ALIAS_SET_EVENT = "MODEL_ALIAS_SET"  # value "<alias>=<version>"; rollback reads this history


def point_alias(
    session: Session, model: SqlModel, alias: str, row: SqlModelVersion
) -> ModelVersion:
    """Move ``alias`` onto ``row`` and record it in the event log (its alias history), in the
    caller's transaction; shared by setting an alias and rolling one back."""
    values = {
        "model_id": model.id,
        "alias": alias,
        "model_version_id": row.id,
        "updated_at": utcnow(),
    }
    upsert(
        session,
        SqlModelAlias,
        values,
        conflict=["model_id", "alias"],
        update=["model_version_id", "updated_at"],
    )
    entity = _to_entities(session, model, [row])[0]
    add_event(session, model.name, ALIAS_SET_EVENT, f"{alias}={row.version}")
    return entity


def _model(session: Session, name: str, *, lock: bool = False) -> SqlModel:
    model = _model_or_none(session, name, lock=lock)
    if model is None:
        raise NotFound(f"model '{name}' not found (see `aiflow model list`)")
    return model


def _version(session: Session, model: SqlModel, version: int) -> SqlModelVersion:
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


def _first(session: Session, model: SqlModel, stmt: Select[SqlModelVersion]) -> ModelVersion | None:
    """The highest version ``stmt`` yields, as an entity."""
    row = session.scalars(stmt.order_by(SqlModelVersion.version.desc()).limit(1)).first()
    return None if row is None else _to_entities(session, model, [row])[0]


def _to_entities(
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
