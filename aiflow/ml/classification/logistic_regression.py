"""Binary logistic regression: mini-batch gradient descent on the log loss (``aiflow.ml.linear``).

The model writes ``prediction_col`` (1.0 when the score is >= 0, i.e. P(1) >= 0.5, else 0.0) and
``raw_prediction_col`` = ``[P(0), P(1)]``, as Flink ML. Its model data is one row:
``coefficient``, ``intercept``, ``model_version`` (the layout ``OnlineLogisticRegression`` shares).

``multi_class`` is Flink ML's param: ``auto`` and ``binomial`` fit a binary model;
``multinomial`` is refused, as Flink ML's Java implementation does.
"""

from __future__ import annotations

from typing import Final

import numpy as np

from aiflow.ml.common_params import HasRawPredictionCol
from aiflow.ml.linear import (
    LinearEstimatorBase,
    LinearModelBase,
    log_loss,
    sigmoid,
    train_sgd,
)
from aiflow.ml.param import ParamValidators, StringParam
from aiflow.ml.table import Table

MULTI_CLASS_CHOICES: Final = ("auto", "binomial", "multinomial")


class LogisticRegressionModel(LinearModelBase, HasRawPredictionCol):
    """Predicts with a fitted ``LogisticRegression``'s model data."""

    def transform(self, *tables: Table) -> list[Table]:
        table, z = self.scores(tables)
        p = sigmoid(z)
        return [
            table.with_columns(
                {
                    self.get_prediction_col(): (z >= 0).astype(np.float64),
                    self.get_raw_prediction_col(): np.column_stack([1.0 - p, p]),
                }
            )
        ]


class LogisticRegression(LinearEstimatorBase, HasRawPredictionCol):
    """Binary logistic regression (labels 0 and 1)."""

    MULTI_CLASS = StringParam(
        "multi_class",
        "Classification type: 'auto' (binomial for <= 2 labels), 'binomial' or 'multinomial'.",
        "auto",
        ParamValidators.in_array(MULTI_CLASS_CHOICES),
    )

    def fit(self, *tables: Table) -> LogisticRegressionModel:
        if self.get(self.MULTI_CLASS) == "multinomial":
            raise self.error("multi_class 'multinomial' is not supported yet (binomial only)")
        x, y, w = self.training_data(tables, binary=True)
        data, _ = train_sgd(self, x, y, w, log_loss, self.sgd_settings(), tables[0].engine)
        model = LogisticRegressionModel().copy_params_from(self)
        return model.set_model_data(data.to_table())
