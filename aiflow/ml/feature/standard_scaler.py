"""StandardScaler: centre a vector column on its mean and divide by its standard deviation.

Semantics are Flink ML's (and Spark's), which differ from scikit-learn's on purpose:

* the deviation is the **sample** standard deviation (``ddof=1``); scikit-learn divides by the
  population one (``ddof=0``), so its outputs are ours times ``sqrt(n / (n - 1))``;
* ``with_mean`` is ``False`` by default (scikit-learn: ``True``);
* a dimension with zero deviation (a constant feature, or a single row) scales to ``0``
  (scikit-learn leaves it unscaled).

Model data: one table, one row: ``mean`` (vector) and ``std`` (vector), as Flink ML's
``StandardScalerModelData``. Fitting refuses NaN and infinities (they would make a NaN model);
``transform`` lets them through.
"""

from __future__ import annotations

from typing import Self

import numpy as np

from aiflow.ml.api import Estimator, Model
from aiflow.ml.common_params import HasInputCol, HasOutputCol
from aiflow.ml.feature._common import finite_for_fit, one_table, vector_column
from aiflow.ml.param import BooleanParam, ParamValidators
from aiflow.ml.table import Table


class StandardScalerParams(HasInputCol, HasOutputCol):
    WITH_MEAN = BooleanParam(
        "with_mean",
        "Whether to centre the data on the mean before scaling.",
        False,
        ParamValidators.not_null(),
    )
    WITH_STD = BooleanParam(
        "with_std",
        "Whether to scale the data to unit (sample) standard deviation.",
        True,
        ParamValidators.not_null(),
    )

    def get_with_mean(self) -> bool:
        return self.get(self.WITH_MEAN)

    def set_with_mean(self, value: bool) -> Self:
        return self.set(self.WITH_MEAN, value)

    def get_with_std(self) -> bool:
        return self.get(self.WITH_STD)

    def set_with_std(self, value: bool) -> Self:
        return self.set(self.WITH_STD, value)


class StandardScaler(Estimator, StandardScalerParams):
    """Learns each dimension's mean and sample standard deviation of ``input_col``."""

    def fit(self, *tables: Table) -> StandardScalerModel:
        self.check_inputs(tables)
        name = self.get_input_col()
        values = vector_column(tables[0], name, self)
        finite_for_fit(self, name, values)
        mean = values.mean(axis=0)
        std = values.std(axis=0, ddof=1) if len(values) > 1 else np.zeros_like(mean)
        data = Table({"mean": mean.reshape(1, -1), "std": std.reshape(1, -1)})
        return StandardScalerModel().copy_params_from(self).set_model_data(data)


class StandardScalerModel(Model, StandardScalerParams):
    """Writes ``(x - mean) / std`` (each part as ``with_mean`` / ``with_std`` ask) to
    ``output_col``."""

    mean: np.ndarray
    std: np.ndarray

    def set_model_data(self, *tables: Table) -> Self:
        super().set_model_data(*tables)
        data = one_table(self, tables, "mean, std")
        mean = data.vector("mean", stage=self.stage_name)
        std = data.vector("std", stage=self.stage_name)
        if data.num_rows != 1 or mean.shape != std.shape:
            raise self.error(
                f"model data must be one row with vectors 'mean' and 'std' of one size, got "
                f"{data.num_rows} row(s), sizes {mean.shape[1]} and {std.shape[1]}"
            )
        self.mean, self.std = mean[0], std[0]
        return self

    def transform(self, *tables: Table) -> list[Table]:
        self.get_model_data()  # the error when no model data were set
        self.check_inputs(tables, allow_empty=True)
        table = tables[0]
        values = vector_column(table, self.get_input_col(), self, dims=len(self.mean))
        out = values - self.mean if self.get_with_mean() else values.copy()
        if self.get_with_std():
            scale = np.divide(1.0, self.std, out=np.zeros_like(self.std), where=self.std != 0)
            out *= scale
        return [table.with_columns({self.get_output_col(): out})]
