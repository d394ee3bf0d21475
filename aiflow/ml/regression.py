"""``LinearRegression``: least squares with an elastic-net penalty, minimizing

    sum_i w_i (x_i . coefficient + intercept - y_i)^2 / (2 sum_i w_i)
      + reg * (elastic_net * |coefficient|_1 + (1 - elastic_net) / 2 * |coefficient|_2^2)

Params are Flink ML's (``features_col``, ``label_col``, ``weight_col``, ``prediction_col``,
``max_iter``, ``reg``, ``elastic_net``, ``learning_rate``, ``global_batch_size``, ``tol``) plus
``fit_intercept`` and ``solver`` (Spark's name and values):

- ``sgd``: Flink ML's mini-batch gradient descent on the iteration engine (``aiflow.ml.linear``);
  it approaches the optimum only as far as ``max_iter`` and ``learning_rate`` allow.
- ``normal``: the exact solution of the normal equations, from one pass over the data (the
  weighted Gram matrix ``X^T W X`` and ``X^T W y``, then a least-squares solve of the small
  ``dims x dims`` system) -- what Spark does for this case. It has no L1 part, so it refuses
  ``elastic_net > 0`` with ``reg > 0``.
- ``auto`` (default): ``normal`` unless an L1 penalty asks for ``sgd``. Flink ML only has SGD,
  whose defaults (20 rounds of 32 rows) stop far from the least-squares answer; ``auto`` gives
  scikit-learn's coefficients (to ~1e-10 relative on its datasets) unless asked otherwise.

The model writes ``prediction_col`` (the score); its model data are the linear layout
(``coefficient``, ``intercept``, ``model_version``).
"""

from __future__ import annotations

from typing import Final

import numpy as np

from aiflow.ml.linear import (
    LinearEstimatorBase,
    LinearModelBase,
    LinearModelData,
    squared_loss,
    train_sgd,
)
from aiflow.ml.param import ParamValidators, StringParam
from aiflow.ml.table import Table

SOLVERS: Final = ("auto", "normal", "sgd")


class LinearRegressionModel(LinearModelBase):
    """Predicts ``x . coefficient + intercept`` with a fitted ``LinearRegression``'s model data."""

    def transform(self, *tables: Table) -> list[Table]:
        table, z = self.scores(tables)
        return [table.with_columns({self.get_prediction_col(): z})]


class LinearRegression(LinearEstimatorBase):
    """Linear least squares with an optional elastic-net penalty (see the module docstring)."""

    SOLVER = StringParam(
        "solver",
        "'normal' (exact, one pass), 'sgd' (mini-batch gradient descent) or 'auto'.",
        "auto",
        ParamValidators.in_array(SOLVERS),
    )

    def drives_flink_fit(self) -> bool:
        return self._solver() == "sgd"  # the normal equations: one pass, in one Flink task

    def _solver(self) -> str:
        solver = self.get(self.SOLVER)
        if solver == "auto":
            return "sgd" if self.get_reg() * self.get_elastic_net() > 0 else "normal"
        return solver

    def fit(self, *tables: Table) -> LinearRegressionModel:
        x, y, w = self.training_data(tables, binary=False)
        l1 = self.get_reg() * self.get_elastic_net()
        solver = self._solver()
        if solver == "normal" and l1 > 0:
            raise self.error(
                "solver 'normal' has no L1 penalty: set elastic_net to 0 (or reg to 0), "
                "or use solver 'sgd'"
            )
        if solver == "normal":
            data = self._solve_normal(x, y, w)
        else:
            data, _ = train_sgd(self, x, y, w, squared_loss, self.sgd_settings(), tables[0].engine)
        return LinearRegressionModel().copy_params_from(self).set_model_data(data.to_table())

    def _solve_normal(self, x: np.ndarray, y: np.ndarray, w: np.ndarray) -> LinearModelData:
        """The ridge (or plain) least-squares optimum. Centering by the weighted means leaves
        the intercept out of the system (and out of the penalty); the solve is a least-squares
        one so that collinear features give the minimum-norm answer instead of failing."""
        share = w / w.sum()
        fit_intercept = self.get(self.FIT_INTERCEPT)
        x_mean = share @ x if fit_intercept else np.zeros(x.shape[1])
        y_mean = float(share @ y) if fit_intercept else 0.0
        centered = x - x_mean
        gram = (centered * share[:, None]).T @ centered
        gram[np.diag_indices_from(gram)] += self.get_reg()
        rhs = (centered * share[:, None]).T @ (y - y_mean)
        coefficient = np.linalg.lstsq(gram, rhs, rcond=None)[0]
        return LinearModelData(coefficient, y_mean - float(x_mean @ coefficient))
