"""What the feature stages share: reading columns, checking column params, ``handle_invalid``.

Every stage reads its input the same way (a missing column, a vector where a number is needed,
an ``input_cols`` / ``output_cols`` length mismatch: one message shape everywhere) and treats
invalid values the same way: ``error`` raises naming the column, how many rows and the first one;
``skip`` drops every row with an invalid value in any input column; ``keep`` keeps the row, each
stage saying what it outputs for it (an extra category, NaN, ...).
"""

from __future__ import annotations

import itertools
import math
from typing import Any

import numpy as np

from aiflow.errors import MLError
from aiflow.ml.api import Stage
from aiflow.ml.param import FloatParam, Param, ParamValidator
from aiflow.ml.table import Table


class FloatArrayArrayParam(Param[list[list[float]]]):
    """A list of lists of numbers (Bucketizer's ``splits_array``); infinities are written to
    JSON as strings, like ``FloatParam`` does."""

    type_name = "a list of lists of numbers"
    _element = FloatParam("element", "")

    def convert(self, value: Any, stage: str) -> list[list[float]]:
        if isinstance(value, str) or not isinstance(value, list | tuple | np.ndarray):
            raise self.wrong_type(value, stage)
        rows: list[list[float]] = []
        for row in value:
            if isinstance(row, str) or not isinstance(row, list | tuple | np.ndarray):
                raise self.wrong_type(value, stage)
            try:
                rows.append([self._element.convert(v, stage) for v in row])
            except MLError:
                raise self.wrong_type(value, stage) from None
        return rows

    def to_json(self, value: list[list[float]] | None) -> Any:
        if value is None:
            return None
        return [[v if math.isfinite(v) else str(v) for v in row] for row in value]

    def from_json(self, data: Any) -> list[list[float]] | None:
        return None if data is None else [[float(v) for v in row] for row in data]


def splits_validator() -> ParamValidator:
    """Flink ML's rule for ``splits_array``: each split list has at least three points (two
    buckets) and is strictly increasing."""

    def check(value: Any) -> bool:
        if not value:
            return False
        return all(len(s) >= 3 and all(a < b for a, b in itertools.pairwise(s)) for s in value)

    return ParamValidator(
        "be a non-empty list of strictly increasing lists of at least 3 split points", check
    )


def required(stage: Stage, param: Param[Any]) -> Any:
    """The value of ``param``; an error naming it when it was never set (default ``None``)."""
    value = stage.get(param)
    if value is None:
        raise stage.error(f"{param.name} is not set")
    return value


def paired_cols(
    stage: Stage, inputs: Param[Any], outputs: Param[Any]
) -> tuple[list[str], list[str]]:
    """``input_cols`` and ``output_cols``, both set and of the same length."""
    ins, outs = required(stage, inputs), required(stage, outputs)
    if len(ins) != len(outs):
        raise stage.error(
            f"{inputs.name} has {len(ins)} column(s) ({', '.join(ins)}) but {outputs.name} has "
            f"{len(outs)} ({', '.join(outs)}); they must pair up one to one"
        )
    return ins, outs


def one_table(stage: Stage, tables: tuple[Table, ...], layout: str) -> Table:
    """The one model data table of ``tables``; ``layout`` names its columns for the error."""
    if len(tables) != 1:
        raise stage.error(f"expected 1 model data table ({layout}), got {len(tables)}")
    return tables[0]


def number_column(table: Table, name: str, stage: Stage) -> np.ndarray:
    """The column ``name`` as a 1-D float64 array; a vector or text column is an error."""
    values = table.column(name, stage=stage.stage_name)
    if values.ndim == 2:
        raise stage.error(f"column '{name}' is a vector column, expected numbers")
    if values.dtype.kind not in "biuf":
        if len(values) == 0:  # an empty object column (e.g. from an empty DataFrame)
            return np.empty(0)
        raise stage.error(f"column '{name}' is {table.schema[name]}, expected numbers")
    return values.astype(np.float64, copy=False)


def vector_column(table: Table, name: str, stage: Stage, dims: int | None = None) -> np.ndarray:
    """The column ``name`` as a 2-D float64 matrix (a number column is one dimension); when
    ``dims`` is given, its size must match (the size the model was fitted on)."""
    values = table.column(name, stage=stage.stage_name)
    if values.ndim == 1 and len(values) == 0 and values.dtype.kind not in "biuf":
        return np.empty((0, dims or 0))  # an empty object column has no size to read
    matrix = table.vector(name, stage=stage.stage_name)
    if dims is not None and matrix.shape[1] != dims:
        raise stage.error(
            f"column '{name}' holds vectors of size {matrix.shape[1]}, but the model was "
            f"fitted on size {dims}"
        )
    return matrix


def finite_for_fit(stage: Stage, name: str, values: np.ndarray) -> None:
    """Fitting statistics on NaN or infinity would silently give a NaN model: refuse."""
    bad = ~np.isfinite(values)
    if bad.any():
        rows = np.flatnonzero(bad.reshape(len(values), -1).any(axis=1))
        raise stage.error(
            f"column '{name}' has NaN or infinite values in {len(rows)} row(s) (first: row "
            f"{rows[0]}); fill them first, e.g. with Imputer"
        )


def raise_invalid(stage: Stage, name: str, invalid: np.ndarray, what: str) -> None:
    """With ``handle_invalid='error'``: an error naming the column, the rows and the way out."""
    if invalid.any():
        rows = np.flatnonzero(invalid)
        raise stage.error(
            f"column '{name}' has {what} in {len(rows)} row(s) (first: row {rows[0]}); "
            "handle_invalid='error' raises, 'skip' drops such rows, 'keep' keeps them"
        )


def output_table(
    table: Table, columns: dict[str, np.ndarray], invalid: np.ndarray | None, handle_invalid: str
) -> Table:
    """``table`` with ``columns`` added; with ``skip``, without the rows ``invalid`` marks."""
    out = table.with_columns(columns)
    if handle_invalid == "skip" and invalid is not None and invalid.any():
        out = out.take(~invalid)
    return out
