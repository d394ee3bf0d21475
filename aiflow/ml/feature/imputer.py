"""Imputer: fill the missing values of number columns with a statistic of each column.

A value is missing when it is NaN or equals ``missing_value`` (default NaN, so only NaN). The
``strategy`` computes each column's surrogate from its other values: ``mean``, ``median``
(exact -- Flink ML computes an approximate quantile within ``relative_error``, a param this
stage does not have, since the local engine has the whole column) or ``most_frequent`` (the
smallest on ties, as Flink ML and scikit-learn). A column with no value left is an error, as in
Flink ML (scikit-learn drops it). Outputs are ``double`` columns.

Model data: one table, one row per input column: ``input_col`` (string) and ``surrogate``
(double) -- Flink ML's ``surrogates`` map, column name to value. The model looks its columns up
by name, so ``input_cols`` may list them in another order, or a subset.
"""

from __future__ import annotations

from typing import Self

import numpy as np

from aiflow.ml.api import Estimator, Model
from aiflow.ml.common_params import HasInputCols, HasOutputCols
from aiflow.ml.feature._common import number_column, one_table, paired_cols
from aiflow.ml.param import FloatParam, ParamValidators, StringParam
from aiflow.ml.table import Table

STRATEGIES = ("mean", "median", "most_frequent")


class ImputerModelParams(HasInputCols, HasOutputCols):
    MISSING_VALUE = FloatParam(
        "missing_value",
        "The placeholder of missing values (NaN is always missing too).",
        float("nan"),
        ParamValidators.not_null(),
    )

    def get_missing_value(self) -> float:
        return self.get(self.MISSING_VALUE)

    def set_missing_value(self, value: float) -> Self:
        return self.set(self.MISSING_VALUE, value)

    def missing(self, values: np.ndarray) -> np.ndarray:
        """The rows of ``values`` that are missing."""
        return np.isnan(values) | (values == self.get_missing_value())


class ImputerParams(ImputerModelParams):
    STRATEGY = StringParam(
        "strategy", "The imputation strategy.", "mean", ParamValidators.in_array(STRATEGIES)
    )

    def get_strategy(self) -> str:
        return self.get(self.STRATEGY)

    def set_strategy(self, value: str) -> Self:
        return self.set(self.STRATEGY, value)


def _surrogate(values: np.ndarray, strategy: str) -> float:
    if strategy == "mean":
        return float(values.mean())
    if strategy == "median":
        return float(np.median(values))
    uniques, counts = np.unique(values, return_counts=True)  # sorted: argmax finds the smallest
    return float(uniques[np.argmax(counts)])


class Imputer(Estimator, ImputerParams):
    """Learns a surrogate per column of ``input_cols``."""

    def fit(self, *tables: Table) -> ImputerModel:
        self.check_inputs(tables)
        inputs, _ = paired_cols(self, self.INPUT_COLS, self.OUTPUT_COLS)
        surrogates = []
        for name in inputs:
            values = number_column(tables[0], name, self)
            present = values[~self.missing(values)]
            if len(present) == 0:
                raise self.error(
                    f"column '{name}' has no value to compute a surrogate from: all are NaN "
                    f"or missing_value ({self.get_missing_value()})"
                )
            surrogates.append(_surrogate(present, self.get_strategy()))
        data = Table({"input_col": np.array(inputs, dtype=object), "surrogate": surrogates})
        return ImputerModel().copy_params_from(self).set_model_data(data)


class ImputerModel(Model, ImputerModelParams):
    """Writes each of ``input_cols`` with its missing values replaced to ``output_cols``."""

    surrogates: dict[str, float]

    def set_model_data(self, *tables: Table) -> Self:
        super().set_model_data(*tables)
        data = one_table(self, tables, "input_col, surrogate")
        names = data.column("input_col", stage=self.stage_name)
        values = data.vector("surrogate", stage=self.stage_name)[:, 0]
        self.surrogates = {str(n): float(v) for n, v in zip(names, values, strict=True)}
        return self

    def transform(self, *tables: Table) -> list[Table]:
        self.get_model_data()  # the error when no model data were set
        self.check_inputs(tables, allow_empty=True)
        inputs, outputs = paired_cols(self, self.INPUT_COLS, self.OUTPUT_COLS)
        table = tables[0]
        columns: dict[str, np.ndarray] = {}
        for name, out_name in zip(inputs, outputs, strict=True):
            if name not in self.surrogates:
                raise self.error(
                    f"no surrogate for column '{name}': the model was fitted on "
                    f"{', '.join(self.surrogates)}"
                )
            values = number_column(table, name, self)
            columns[out_name] = np.where(self.missing(values), self.surrogates[name], values)
        return [table.with_columns(columns)]
