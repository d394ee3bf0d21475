"""Linear support vector classification: mini-batch gradient descent on the hinge loss
(``aiflow.ml.linear``), labels 0 and 1.

The model writes ``prediction_col`` (1.0 when the score ``x . coefficient + intercept`` is >=
``threshold``, else 0.0) and ``raw_prediction_col`` = ``[-score, score]``. Flink ML writes
``[score, -score]``, so its own ``BinaryClassificationEvaluator`` (which reads element 1 as the
positive score) ranks a LinearSVC backwards; here element 1 is the positive class's score, as for
``LogisticRegression``.
"""

from __future__ import annotations

import numpy as np

from aiflow.ml.common_params import HasRawPredictionCol
from aiflow.ml.linear import LinearEstimatorBase, LinearModelBase, hinge_loss, train_sgd
from aiflow.ml.param import FloatParam, ParamValidators
from aiflow.ml.table import Table


class _HasThreshold(HasRawPredictionCol):
    THRESHOLD = FloatParam(
        "threshold",
        "Score from which a row is predicted as class 1.",
        0.0,
        ParamValidators.not_null(),
    )


class LinearSVCModel(LinearModelBase, _HasThreshold):
    """Predicts with a fitted ``LinearSVC``'s model data."""

    def transform(self, *tables: Table) -> list[Table]:
        table, z = self.scores(tables)
        predicted = (z >= self.get(self.THRESHOLD)).astype(np.float64)
        return [
            table.with_columns(
                {
                    self.get_prediction_col(): predicted,
                    self.get_raw_prediction_col(): np.column_stack([-z, z]),
                }
            )
        ]


class LinearSVC(LinearEstimatorBase, _HasThreshold):
    """Linear SVM (hinge loss, elastic-net penalty) for labels 0 and 1."""

    def fit(self, *tables: Table) -> LinearSVCModel:
        x, y, w = self.training_data(tables, binary=True)
        data, _ = train_sgd(self, x, y, w, hinge_loss, self.sgd_settings(), tables[0].engine)
        return LinearSVCModel().copy_params_from(self).set_model_data(data.to_table())
