"""OneHotEncoder: category indices (0, 1, 2, ...) to one-hot vectors, one output per input.

Inputs are indices such as ``StringIndexer`` writes: non-negative integers (an integral float
such as ``2.0`` counts). Fitting learns each column's largest index ``m``, so the column has
``m + 1`` categories and a vector has ``m + 1`` slots, or ``m`` with ``drop_last`` (the default,
as Flink ML: the last category becomes the all-zero vector, which keeps the columns independent
for a linear model).

Invalid values (NaN, negative, not integral, or above the fitted ``m``) follow
``handle_invalid``: ``error`` raises, ``skip`` drops the row, ``keep`` encodes them as one extra
category after the last (Spark's rule; Flink ML supports only ``error``): the vector then has one
slot more, and with ``drop_last`` it is that extra category that is dropped, so invalid values
become the all-zero vector. When fitting, ``error`` refuses invalid values too; ``skip`` and
``keep`` ignore them.

Outputs are dense vectors (Flink ML writes sparse ones; ``Table`` has no sparse vectors).

Model data: one table, one row per input column: ``column_index`` (its position in
``input_cols``) and ``max_index`` (bigint), Flink ML's ``OneHotEncoderModelData``.
"""

from __future__ import annotations

from typing import Self

import numpy as np

from aiflow.ml.api import Estimator, Model
from aiflow.ml.common_params import HasHandleInvalid, HasInputCols, HasOutputCols
from aiflow.ml.feature._common import (
    number_column,
    one_table,
    output_table,
    paired_cols,
    raise_invalid,
)
from aiflow.ml.param import BooleanParam, ParamValidators
from aiflow.ml.table import Table

_INVALID = "values that are not category indices (NaN, negative or not integral)"


class OneHotEncoderParams(HasInputCols, HasOutputCols, HasHandleInvalid):
    DROP_LAST = BooleanParam(
        "drop_last",
        "Whether to drop the last category (encoded as the all-zero vector).",
        True,
        ParamValidators.not_null(),
    )

    def get_drop_last(self) -> bool:
        return self.get(self.DROP_LAST)

    def set_drop_last(self, value: bool) -> Self:
        return self.set(self.DROP_LAST, value)


def _not_index(values: np.ndarray) -> np.ndarray:
    """Rows whose value is not a category index."""
    with np.errstate(invalid="ignore"):
        return ~np.isfinite(values) | (values < 0) | (values != np.floor(values))


class OneHotEncoder(Estimator, OneHotEncoderParams):
    """Learns the largest index of each of ``input_cols``."""

    def fit(self, *tables: Table) -> OneHotEncoderModel:
        self.check_inputs(tables)
        inputs, _ = paired_cols(self, self.INPUT_COLS, self.OUTPUT_COLS)
        largest = []
        for name in inputs:
            values = number_column(tables[0], name, self)
            bad = _not_index(values)
            if self.get_handle_invalid() == "error":
                raise_invalid(self, name, bad, _INVALID)
            valid = values[~bad]
            if len(valid) == 0:
                raise self.error(f"column '{name}' has no valid category index to fit on")
            largest.append(int(valid.max()))
        data = Table(
            {
                "column_index": np.arange(len(inputs), dtype=np.int64),
                "max_index": np.array(largest, dtype=np.int64),
            }
        )
        return OneHotEncoderModel().copy_params_from(self).set_model_data(data)


class OneHotEncoderModel(Model, OneHotEncoderParams):
    """Writes a one-hot vector of each of ``input_cols`` to the matching ``output_cols``."""

    max_index: np.ndarray  # per input column, in column_index order

    def set_model_data(self, *tables: Table) -> Self:
        super().set_model_data(*tables)
        data = one_table(self, tables, "column_index, max_index")
        position = data.column("column_index", stage=self.stage_name)
        largest = data.column("max_index", stage=self.stage_name)
        if sorted(position.tolist()) != list(range(data.num_rows)) or (largest < 0).any():
            raise self.error(
                "model data must hold one row per input column: column_index 0..n-1 and a "
                "non-negative max_index"
            )
        self.max_index = largest[np.argsort(position)].astype(np.int64)
        return self

    def transform(self, *tables: Table) -> list[Table]:
        self.get_model_data()  # the error when no model data were set
        self.check_inputs(tables, allow_empty=True)
        inputs, outputs = paired_cols(self, self.INPUT_COLS, self.OUTPUT_COLS)
        if len(inputs) != len(self.max_index):
            raise self.error(
                f"input_cols has {len(inputs)} column(s) but the model was fitted on "
                f"{len(self.max_index)}"
            )
        table, mode, drop_last = tables[0], self.get_handle_invalid(), self.get_drop_last()
        columns: dict[str, np.ndarray] = {}
        any_invalid = np.zeros(table.num_rows, dtype=bool)
        for name, out_name, largest in zip(inputs, outputs, self.max_index, strict=True):
            values = number_column(table, name, self)
            with np.errstate(invalid="ignore"):
                bad = _not_index(values) | (values > largest)
            if mode == "error":
                raise_invalid(self, name, bad, f"values that are not category indices 0..{largest}")
            any_invalid |= bad
            categories = int(largest) + 1 + (mode == "keep")
            size = categories - drop_last
            index = np.where(bad, categories - 1, values).astype(np.int64)  # keep: the extra one
            vectors = np.zeros((len(values), size))
            hot = index < size
            vectors[np.flatnonzero(hot), index[hot]] = 1.0
            columns[out_name] = vectors
        return [output_table(table, columns, any_invalid, mode)]
