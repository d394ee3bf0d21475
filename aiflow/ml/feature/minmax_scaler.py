"""MinMaxScaler: rescale each dimension of a vector column to ``[min, max]``.

``(x - data_min) / (data_max - data_min) * (max - min) + min``, Flink ML's formula; a constant
dimension (``data_max == data_min``) maps to the middle, ``(min + max) / 2``, as in Flink ML
(scikit-learn maps it to ``min``). Values outside the fitted range land outside ``[min, max]``
(no clipping, as both).

Model data: one table, one row: ``min_vector`` and ``max_vector`` (vectors), Flink ML's
``MinMaxScalerModelData``. Fitting refuses NaN and infinities.
"""

from __future__ import annotations

from typing import Self

import numpy as np

from aiflow.errors import MLError
from aiflow.ml.api import Estimator, Model
from aiflow.ml.common_params import HasInputCol, HasOutputCol
from aiflow.ml.feature._common import finite_for_fit, one_table, vector_column
from aiflow.ml.param import FloatParam, ParamValidators
from aiflow.ml.table import Table


class MinMaxScalerParams(HasInputCol, HasOutputCol):
    MIN = FloatParam(
        "min", "Lower bound of the output feature range.", 0.0, ParamValidators.not_null()
    )
    MAX = FloatParam(
        "max", "Upper bound of the output feature range.", 1.0, ParamValidators.not_null()
    )

    def get_min(self) -> float:
        return self.get(self.MIN)

    def set_min(self, value: float) -> Self:
        return self.set(self.MIN, value)

    def get_max(self) -> float:
        return self.get(self.MAX)

    def set_max(self, value: float) -> Self:
        return self.set(self.MAX, value)

    def checked_range(self) -> tuple[float, float]:
        """``(min, max)``; an error unless ``min < max`` (each param alone cannot tell)."""
        low, high = self.get_min(), self.get_max()
        if not low < high:
            raise MLError(f"{self.stage_name}: min must be < max, got min={low}, max={high}")
        return low, high


class MinMaxScaler(Estimator, MinMaxScalerParams):
    """Learns each dimension's minimum and maximum of ``input_col``."""

    def fit(self, *tables: Table) -> MinMaxScalerModel:
        self.check_inputs(tables)
        self.checked_range()
        name = self.get_input_col()
        values = vector_column(tables[0], name, self)
        finite_for_fit(self, name, values)
        data = Table(
            {
                "min_vector": values.min(axis=0).reshape(1, -1),
                "max_vector": values.max(axis=0).reshape(1, -1),
            }
        )
        return MinMaxScalerModel().copy_params_from(self).set_model_data(data)


class MinMaxScalerModel(Model, MinMaxScalerParams):
    """Writes the rescaled ``input_col`` to ``output_col``."""

    data_min: np.ndarray
    data_max: np.ndarray

    def set_model_data(self, *tables: Table) -> Self:
        super().set_model_data(*tables)
        data = one_table(self, tables, "min_vector, max_vector")
        low = data.vector("min_vector", stage=self.stage_name)
        high = data.vector("max_vector", stage=self.stage_name)
        if data.num_rows != 1 or low.shape != high.shape:
            raise self.error(
                "model data must be one row with vectors 'min_vector' and 'max_vector' of one "
                f"size, got {data.num_rows} row(s), sizes {low.shape[1]} and {high.shape[1]}"
            )
        self.data_min, self.data_max = low[0], high[0]
        return self

    def transform(self, *tables: Table) -> list[Table]:
        self.get_model_data()  # the error when no model data were set
        self.check_inputs(tables, allow_empty=True)
        low, high = self.checked_range()
        table = tables[0]
        values = vector_column(table, self.get_input_col(), self, dims=len(self.data_min))
        span = self.data_max - self.data_min
        constant = span == 0
        scale = np.divide(high - low, span, out=np.zeros_like(span), where=~constant)
        out = (values - self.data_min) * scale + low
        out[:, constant] = 0.5 * (low + high)
        return [table.with_columns({self.get_output_col(): out})]
