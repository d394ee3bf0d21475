"""Termination criteria: tables a body returns as ``termination`` (one row: go on; none: this
round is the last), for the usual rules of iterative training."""

from __future__ import annotations

import math

import numpy as np

from aiflow.errors import MLError
from aiflow.ml.table import Table


def terminate_on_max_iteration(max_iter: int, epoch: int) -> Table:
    """A termination table letting rounds go on until ``max_iter`` have run: empty (stop) in
    round ``max_iter - 1``; otherwise one row, column ``epoch``."""
    _positive_int("terminate_on_max_iteration", "max_iter", max_iter)
    return _criteria(epoch, epoch + 1 < max_iter)


def terminate_on_max_iteration_or_tolerance(
    max_iter: int, tol: float, epoch: int, loss: float
) -> Table:
    """As ``terminate_on_max_iteration``, and also stop once ``loss <= tol`` (Flink ML's rule).
    ``loss`` is any non-negative convergence measure the body computes: an objective, or the
    change since the last round (e.g. how far centroids moved). A NaN loss is an error: the
    iteration diverged, and stopping silently would return a broken model."""
    who = "terminate_on_max_iteration_or_tolerance"
    _positive_int(who, "max_iter", max_iter)
    if not tol >= 0:
        raise MLError(f"{who}: tol must be >= 0, got {tol}")
    value = float(loss)
    if math.isnan(value):
        raise MLError(
            f"{who}: loss is NaN in round {epoch}: the iteration diverged "
            "(e.g. lower the learning rate, or scale the features)"
        )
    return _criteria(epoch, epoch + 1 < max_iter and value > tol)


def _positive_int(who: str, name: str, value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
        raise MLError(f"{who}: {name} must be an integer >= 1, got {value!r}")


def _criteria(epoch: int, go_on: bool) -> Table:
    return Table({"epoch": np.array([epoch] if go_on else [], dtype=np.int64)})
