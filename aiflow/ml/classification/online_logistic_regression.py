"""``OnlineLogisticRegression``: binary logistic regression trained on a stream, one model
version per mini-batch, on ``iterate_unbounded``.

Each mini-batch of ``global_batch_size`` rows (``aiflow.ml.online``) is one round of the
unbounded iteration: the model (the fed-back variable) scores the rows, the weighted mean
gradient of the log loss over the mini-batch updates it, and the new model data -- the batch
``LogisticRegression``'s layout, ``coefficient``, ``intercept``, ``model_version`` -- are fed
back and emitted. ``fit_stream`` yields them as they come; ``fit`` returns a model holding the
last.

Two optimizers (``optimizer``):

- ``ftrl`` (default, as Flink ML): FTRL-Proximal (McMahan et al., "Ad click prediction: a view
  from the trenches", 2013) on the mini-batch gradient, per coordinate, with Flink ML's params
  ``alpha``, ``beta`` (the per-coordinate rate ``alpha / (beta + sqrt(sum of g^2))``), ``reg``
  and ``elastic_net`` (L1 = ``reg * elastic_net``, L2 = ``reg * (1 - elastic_net)``: McMahan's
  lambda_1 and lambda_2, which bound the *accumulated* gradient, so they are larger than a batch
  model's ``reg`` for the same effect; L1 gives exact zeros, FTRL's point). Its
  accumulators ``z`` and ``n`` live in the iteration's operator, as in Flink ML's
  ``UpdateModel``, and are not model data: a new ``fit`` restarts them.
- ``sgd``: mini-batch gradient descent with a constant ``learning_rate`` and the batch
  ``LogisticRegression``'s elastic-net proximal step.

Where it differs from Flink ML, and why:

- An ``intercept`` (``fit_intercept``, default on), never penalized: the batch model's layout.
- The initial model is kept: FTRL's ``z`` starts at the value whose closed form gives the initial
  coefficients (with ``n = 0``). Flink ML starts ``z`` at 0, so its first update pulls the
  initial model towards 0 by ``beta / (beta + |g|)``, forgetting most of a good batch model when
  gradients are small.
- ``weight_col`` weighs each row's gradient (Flink ML ignores weights of dense vectors).
- Without initial model data, training starts from zeros (Flink ML requires one).
- The model predicts with the newest model data it was given (Flink ML's model never applied
  the updates it received, a bug its tests, with a few rows, did not catch).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Final, Self

import numpy as np

from aiflow.errors import MLError
from aiflow.ml.api import Estimator, StartsFromModelData
from aiflow.ml.classification.logistic_regression import LogisticRegressionModel
from aiflow.ml.common_params import (
    HasElasticNet,
    HasFeaturesCol,
    HasGlobalBatchSize,
    HasLabelCol,
    HasLearningRate,
    HasPredictionCol,
    HasRawPredictionCol,
    HasReg,
    HasWeightCol,
)
from aiflow.ml.iteration import (
    BodyOperator,
    IterationBodyResult,
    IterationContext,
    OperatorFactory,
)
from aiflow.ml.linear import LinearModelData, features, labels, sigmoid, weights
from aiflow.ml.online import (
    HasModelVersionCol,
    Stream,
    mini_batches,
    newest_rows,
    run_online,
    train_to_end,
    wrap_batch_error,
)
from aiflow.ml.param import BooleanParam, FloatParam, ParamValidators, StringParam
from aiflow.ml.table import Table

OPTIMIZERS: Final = ("ftrl", "sgd")


class OnlineLogisticRegressionModel(LogisticRegressionModel, HasModelVersionCol):
    """Predicts as ``LogisticRegressionModel`` with the model data it was last given (of several
    rows, the highest ``model_version``: a stream of model data collected into one table), and
    writes that version into ``model_version_col`` of every row. ``set_model_data`` with the
    next version switches at once (with an older one too: a rollback)."""

    @property
    def model_version(self) -> int:
        """The version of the model data predictions use."""
        return self.linear.model_version

    def transform(self, *tables: Table) -> list[Table]:
        (out,) = super().transform(*tables)
        version = np.full(out.num_rows, self.model_version, dtype=np.int64)
        return [out.with_columns({self.get_model_version_col(): version})]


class OnlineLogisticRegression(
    StartsFromModelData,
    Estimator,
    HasFeaturesCol,
    HasLabelCol,
    HasWeightCol,
    HasPredictionCol,
    HasRawPredictionCol,
    HasModelVersionCol,
    HasGlobalBatchSize,
    HasReg,
    HasElasticNet,
    HasLearningRate,
):
    """Binary logistic regression (labels 0 / 1) trained online (see the module docstring)."""

    OPTIMIZER = StringParam(
        "optimizer",
        "'ftrl' (FTRL-Proximal: alpha, beta) or 'sgd' (mini-batch gradient descent: "
        "learning_rate).",
        "ftrl",
        ParamValidators.in_array(OPTIMIZERS),
    )
    ALPHA = FloatParam("alpha", "The alpha parameter of FTRL.", 0.1, ParamValidators.gt(0))
    BETA = FloatParam("beta", "The beta parameter of FTRL.", 0.1, ParamValidators.gt(0))
    FIT_INTERCEPT = BooleanParam(
        "fit_intercept",
        "Whether to learn the intercept (else it keeps the initial model's, 0 by default).",
        True,
        ParamValidators.not_null(),
    )

    def set_initial_model_data(self, *tables: Table) -> Self:
        """Start from this model: a ``LogisticRegression``'s (or an online model's) model data,
        one table with ``coefficient`` (and ``intercept``, ``model_version``); of several rows,
        the newest version. Saved with the estimator."""
        if len(tables) != 1 or not isinstance(tables[0], Table):
            raise self.error(f"set_initial_model_data takes one model data table, got {tables!r}")
        table, _ = newest_rows(self, tables[0])
        data = LinearModelData.from_tables(self, [table])
        self._check_finite(data.coefficient, "the initial model data's coefficient")
        self._initial = data.to_table()
        return self

    def fit(self, *tables: Stream) -> OnlineLogisticRegressionModel:
        """Train on the stream (one Table or an iterable of Tables) to its end; the model holds
        the last model data. An endless stream never returns: use ``fit_stream``."""
        last = train_to_end(self, tables, self.fit_stream)
        model = OnlineLogisticRegressionModel().copy_params_from(self)
        return model.set_model_data(last)

    def fit_stream(self, stream: Stream) -> Iterator[Table]:
        """Lazily train on ``stream``: after each mini-batch of ``global_batch_size`` rows,
        yield the new model data (one row: ``coefficient``, ``intercept``, ``model_version``,
        the versions counting up from the initial model's). Works on an endless stream."""
        columns = [self.get_features_col(), self.get_label_col()]
        weight_col = self.get_weight_col()
        if weight_col is not None:
            columns.append(weight_col)
        size = self.get_global_batch_size()
        return self._train(mini_batches(self, stream, size, columns), size)

    def _train(self, batches: Iterator[Table], size: int) -> Iterator[Table]:
        first = next(batches, None)
        if first is None:
            return
        initial = self._initial
        if initial is None:
            dims = first.vector(self.get_features_col(), stage=self.stage_name).shape[1]
            initial = LinearModelData(np.zeros(dims)).to_table()
        step = OperatorFactory(lambda: _OnlineStep(self, size))
        yield from run_online(initial, first, batches, step)

    def _check_finite(self, values: np.ndarray, what: str) -> None:
        if not np.isfinite(values).all():
            raise self.error(f"{what} has NaN or infinite values")


class _OnlineStep(BodyOperator):
    """One mini-batch: score it with the model, update the model (FTRL or SGD), emit it. Keeps
    FTRL's per-coordinate accumulators across rounds (an all-round operator's state)."""

    def __init__(self, stage: OnlineLogisticRegression, size: int) -> None:
        self.stage, self.size = stage, size
        self.ftrl = stage.get(stage.OPTIMIZER) == "ftrl"
        self.alpha, self.beta = stage.get(stage.ALPHA), stage.get(stage.BETA)
        self.learning_rate = stage.get_learning_rate()
        reg, mix = stage.get_reg(), stage.get_elastic_net()
        self.l1, self.l2 = reg * mix, reg * (1.0 - mix)
        self.fit_intercept = stage.get(stage.FIT_INTERCEPT)
        # read once: a param lookup walks the class hierarchy, too slow for every mini-batch
        self.features_col, self.label_col = stage.get_features_col(), stage.get_label_col()
        self.weight_col = stage.get_weight_col()
        self.z: np.ndarray | None = None  # FTRL accumulators, coefficient then intercept
        self.n: np.ndarray | None = None

    def process(
        self, variables: list[Table], data: list[Table], ctx: IterationContext
    ) -> IterationBodyResult:
        model = LinearModelData.from_tables(self.stage, variables)
        batch = data[0]
        try:
            x, y, w = self._read(batch, len(model.coefficient))
        except MLError as exc:
            raise wrap_batch_error(exc, ctx.epoch, self.size, batch.num_rows) from None
        total = float(w.sum())
        coef, intercept = model.coefficient, model.intercept
        if total > 0:
            residual = w * (sigmoid(x @ coef + intercept) - y)
            grad = residual @ x / total
            grad_b = float(residual.sum()) / total if self.fit_intercept else 0.0
            if self.ftrl:
                coef, intercept = self._ftrl(coef, intercept, grad, grad_b)
            else:
                coef, intercept = self._sgd(coef, intercept, grad, grad_b)
        if not np.isfinite(coef).all() or not np.isfinite(intercept):
            raise self.stage.error(
                f"the model diverged in mini-batch {ctx.epoch} (lower alpha or learning_rate, "
                "or scale the features)"
            )
        new = LinearModelData(coef, intercept, model.model_version + 1).to_table()
        return IterationBodyResult(feedback=[new], outputs=[new])

    def _read(self, batch: Table, dims: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        x = features(self.stage, batch, self.features_col, dims)
        y = batch.column(self.label_col)
        if y.dtype.kind not in "biuf" or not ((y == 0) | (y == 1)).all():
            y = labels(self.stage, batch, self.label_col, binary=True)  # raises, naming why
        return x, y.astype(np.float64, copy=False), weights(self.stage, batch, self.weight_col)

    def _ftrl(
        self, coef: np.ndarray, intercept: float, grad: np.ndarray, grad_b: float
    ) -> tuple[np.ndarray, float]:
        w = np.concatenate([coef, [intercept]])
        g = np.concatenate([grad, [grad_b]])
        # L1 / L2 apply to the coefficients, never to the intercept (the last coordinate)
        l1: float | np.ndarray = 0.0
        l2: float | np.ndarray = 0.0
        if self.l1 or self.l2:
            l1 = np.concatenate([np.full(len(coef), self.l1), [0.0]])
            l2 = np.concatenate([np.full(len(coef), self.l2), [0.0]])
        if self.z is None or self.n is None:
            # warm start: the z whose closed form below gives back w when n = 0
            self.n = np.zeros_like(w)
            self.z = -(self.beta / self.alpha + l2) * w - np.sign(w) * l1
        sigma = (np.sqrt(self.n + g * g) - np.sqrt(self.n)) / self.alpha
        self.z += g - sigma * w
        self.n += g * g
        denominator = (self.beta + np.sqrt(self.n)) / self.alpha + l2
        w = np.where(np.abs(self.z) <= l1, 0.0, (np.sign(self.z) * l1 - self.z) / denominator)
        if not self.fit_intercept:
            w[-1] = intercept
        return w[:-1], float(w[-1])

    def _sgd(
        self, coef: np.ndarray, intercept: float, grad: np.ndarray, grad_b: float
    ) -> tuple[np.ndarray, float]:
        lr = self.learning_rate
        coef = coef - lr * grad
        if self.l2:
            coef = coef * max(0.0, 1.0 - lr * self.l2)
        if self.l1:
            coef = np.sign(coef) * np.maximum(np.abs(coef) - lr * self.l1, 0.0)
        return coef, intercept - lr * grad_b
