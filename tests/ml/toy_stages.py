"""Small numpy stages the core tests build pipelines and graphs from.

They live outside ``aiflow.ml`` on purpose: ``load`` refuses them unless this module is named
(``allowed_modules=[TOYS]``) or the caller names the class (``ToyScalerModel.load``).
"""

from __future__ import annotations

from typing import Self

import numpy as np

from aiflow.ml.api import AlgoOperator, Estimator, Model, Transformer
from aiflow.ml.common_params import HasInputCol, HasLabelCol, HasOutputCol
from aiflow.ml.param import FloatParam, ParamValidators
from aiflow.ml.table import Table

TOYS = __name__


class ToyScaler(Estimator, HasInputCol, HasOutputCol):
    """Learns the column mean; its model subtracts it (a StandardScaler without the std)."""

    SHIFT = FloatParam("shift", "Added after centering.", 0.0)

    def fit(self, *tables: Table) -> ToyScalerModel:
        self.check_inputs(tables)
        values = tables[0].vector(self.get_input_col(), stage=self.stage_name)
        mean = values.mean(axis=0, keepdims=True)
        return ToyScalerModel().copy_params_from(self).set_model_data(Table({"mean": mean}))


class ToyScalerModel(Model, HasInputCol, HasOutputCol):
    SHIFT = ToyScaler.SHIFT

    def set_model_data(self, *tables: Table) -> Self:
        super().set_model_data(*tables)
        self.mean = tables[0].vector("mean", stage=self.stage_name)[0]
        return self

    def transform(self, *tables: Table) -> list[Table]:
        self.get_model_data()  # the error when no model data were set
        self.check_inputs(tables, None)
        out = []
        for table in tables:
            values = table.vector(self.get_input_col(), stage=self.stage_name)
            shifted = values - self.mean + self.get(self.SHIFT)
            out.append(table.with_columns({self.get_output_col(): shifted}))
        return out


class AddConst(Transformer, HasInputCol, HasOutputCol):
    """Adds ``value`` to a column."""

    VALUE = FloatParam("value", "What is added.", 1.0, ParamValidators.not_null())

    def transform(self, *tables: Table) -> list[Table]:
        self.check_inputs(tables)
        values = tables[0].vector(self.get_input_col(), stage=self.stage_name)
        return [tables[0].with_columns({self.get_output_col(): values + self.get(self.VALUE)})]


class SplitByLabel(AlgoOperator, HasLabelCol):
    """One table in, two out: the rows with a positive label, then the others."""

    def transform(self, *tables: Table) -> list[Table]:
        self.check_inputs(tables)
        positive = tables[0].column(self.get_label_col(), stage=self.stage_name) > 0
        return [tables[0].take(positive), tables[0].take(~positive)]


class Concat(AlgoOperator):
    """Any number of tables in, their rows one after the other out."""

    def transform(self, *tables: Table) -> list[Table]:
        self.check_inputs(tables, None)
        return [Table.concat(tables)]


class MeanDiff(Estimator, HasInputCol, HasOutputCol):
    """Two tables in (fit); two model data tables; scores each input table by the distance
    to the first mean minus the distance to the second."""

    def fit(self, *tables: Table) -> MeanDiffModel:
        self.check_inputs(tables, 2)
        means = [t.vector(self.get_input_col(), stage=self.stage_name).mean(0) for t in tables]
        data = [Table({"mean": m.reshape(1, -1)}) for m in means]
        return MeanDiffModel().copy_params_from(self).set_model_data(*data)


class MeanDiffModel(Model, HasInputCol, HasOutputCol):
    def transform(self, *tables: Table) -> list[Table]:
        first, second = (t.vector("mean")[0] for t in self.get_model_data())
        out = []
        for table in tables:
            x = table.vector(self.get_input_col(), stage=self.stage_name)
            score = np.linalg.norm(x - first, axis=1) - np.linalg.norm(x - second, axis=1)
            out.append(table.with_columns({self.get_output_col(): score}))
        return out
