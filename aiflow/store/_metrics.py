"""Metric values logged for model versions and executions (jobs), every step kept.

A model version's *newest* value per metric comes with the version entity (``_registry``);
this module writes values and lists their whole history.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

from sqlalchemy import insert, select

from aiflow.errors import InvalidInput, NotFound
from aiflow.schemas.entities import Metric
from aiflow.store._base import StoreBase
from aiflow.store._registry import check_length, check_run_refs, model_row, version_row
from aiflow.store._runs import execution_entity
from aiflow.store.orm import SqlMetric, SqlModelVersion, utcnow


class MetricStore(StoreBase):
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
            check_length(name, "metric name")
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
            check_run_refs(session, execution_id, job_id)
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

    def list_execution_metrics(self, execution_id: int) -> list[Metric]:
        """Every value the execution's jobs logged, in logging order; ``NotFound`` rather than
        an empty list for an execution that does not exist."""
        with self._read() as session:
            execution_entity(session, execution_id)
            stmt = select(SqlMetric).where(SqlMetric.execution_id == execution_id)
            return [row.to_entity() for row in session.scalars(stmt.order_by(SqlMetric.id))]

    def list_model_version_metrics(self, model_name: str, version: int) -> list[Metric]:
        """Every value logged for version ``version`` of ``model_name`` (all steps), in logging
        order; ``NotFound`` for a model or version that does not exist."""
        with self._read() as session:
            row = version_row(session, model_row(session, model_name), version)
            stmt = select(SqlMetric).where(SqlMetric.model_version_id == row.id)
            return [metric.to_entity() for metric in session.scalars(stmt.order_by(SqlMetric.id))]
