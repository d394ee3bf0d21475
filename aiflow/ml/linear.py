"""What the linear algorithms share: reading training data, mini-batch gradient descent on the
iteration engine, and the one-row model data of a linear model.

``LogisticRegression``, ``LinearSVC`` and ``LinearRegression`` differ only in their loss (log,
hinge, squared) and in how a model turns the score ``x . coefficient + intercept`` into a
prediction; the rest lives here once.

**Training** (``train_sgd``) follows Flink ML: each round of ``iterate_bounded`` takes the next
mini-batch of ``global_batch_size`` rows (all rows when it is larger than the table: full-batch
gradient descent), steps ``learning_rate`` against the weighted mean gradient of the loss, then
applies the elastic-net penalty ``reg * (elastic_net * |w|_1 + (1 - elastic_net) / 2 * |w|_2^2)``
as a proximal step (L2: shrink, L1: soft-threshold; the intercept is not penalized). Mini-batches
cycle through the rows in a fixed shuffled order, so a table sorted by label still gives mixed
batches (Flink ML cycles in input order) and a fit repeats exactly. Rounds stop after
``max_iter``, or once the objective changes by at most ``tol`` between rounds (what ``tol`` means
in ``common_params``; Flink ML compares the loss itself with ``tol``).

**Model data** (``LinearModelData``): one row, ``coefficient`` (vector), ``intercept`` (double)
and ``model_version`` (bigint, 0 for a batch fit). Flink ML's layout is ``coefficient`` (plus
``modelVersion`` and a segment range in its online variant) with no intercept: users append a
constant feature. Here the intercept is explicit (``fit_intercept``, default on, as scikit-learn
and Spark), so a model compares with scikit-learn's directly. The online stages emit the same
layout with increasing versions; a model given several rows uses the one with the highest
``model_version`` (the last of equals).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final, Self

import numpy as np

from aiflow.ml.api import Estimator, Model
from aiflow.ml.common_params import (
    DEFAULT_SEED,
    HasElasticNet,
    HasFeaturesCol,
    HasGlobalBatchSize,
    HasLabelCol,
    HasLearningRate,
    HasMaxIter,
    HasPredictionCol,
    HasReg,
    HasTol,
    HasWeightCol,
)
from aiflow.ml.iteration import (
    IterationBodyResult,
    IterationContext,
    IterationListener,
    ReplayableData,
    ShardedBody,
    iterate_bounded,
    terminate_on_max_iteration_or_tolerance,
)
from aiflow.ml.param import BooleanParam, ParamValidators
from aiflow.ml.table import Table

if TYPE_CHECKING:
    from aiflow.ml.api import Stage
    from aiflow.ml.iteration.base import Collect

COEFFICIENT: Final = "coefficient"
INTERCEPT: Final = "intercept"
MODEL_VERSION: Final = "model_version"

# loss(scores, labels, weights) -> (weighted loss sum, d loss / d score per row)
Loss = Callable[[np.ndarray, np.ndarray, np.ndarray], tuple[float, np.ndarray]]


def log_loss(z: np.ndarray, y: np.ndarray, w: np.ndarray) -> tuple[float, np.ndarray]:
    """Logistic loss for labels in {0, 1}: log(1 + e^z) - y z."""
    loss = float(w @ (np.logaddexp(0.0, z) - y * z))
    return loss, w * (sigmoid(z) - y)


def hinge_loss(z: np.ndarray, y: np.ndarray, w: np.ndarray) -> tuple[float, np.ndarray]:
    """Hinge loss for labels in {0, 1} (as -1 / +1): max(0, 1 - y' z)."""
    signed = 2.0 * y - 1.0
    margin = 1.0 - signed * z
    active = margin > 0
    return float(w @ np.where(active, margin, 0.0)), np.where(active, -w * signed, 0.0)


def squared_loss(z: np.ndarray, y: np.ndarray, w: np.ndarray) -> tuple[float, np.ndarray]:
    """Half the squared error: (z - y)^2 / 2."""
    diff = z - y
    return float(w @ (diff * diff)) / 2.0, w * diff


def sigmoid(z: np.ndarray) -> np.ndarray:
    """1 / (1 + e^-z); e^-z overflowing to inf for very negative z gives exactly 0, as it
    should, so the warning is silenced (4x faster than the logaddexp form)."""
    with np.errstate(over="ignore"):
        return 1.0 / (1.0 + np.exp(-z))


# -- reading input -----------------------------------------------------------------------------


def features(
    stage: Stage, table: Table, col: str, dims: int | None = None, *, finite: bool = True
) -> np.ndarray:
    """The features column as a float matrix; an error naming the column if the vector size
    differs from ``dims`` (the model's) or, unless ``finite=False`` (the caller checks what it
    computed instead), if a value is NaN or infinite."""
    matrix = table.vector(col, stage=stage.stage_name)
    if dims is not None and matrix.shape[1] != dims:
        raise stage.error(
            f"column '{col}' holds vectors of size {matrix.shape[1]}, the model expects {dims}"
        )
    if finite:
        check_finite(stage, matrix, col)
    return matrix


def check_finite(stage: Stage, matrix: np.ndarray, col: str) -> None:
    """An error naming ``col``, the number of bad rows and the first, if a value is NaN or
    infinite."""
    bad = ~np.isfinite(matrix).all(axis=1)
    if bad.any():
        raise stage.error(
            f"column '{col}' has NaN or infinite values in {int(bad.sum())} row(s) "
            f"(first: row {int(np.argmax(bad))})"
        )


def labels(stage: Stage, table: Table, col: str, *, binary: bool = False) -> np.ndarray:
    """The label column as floats: finite, and 0 or 1 if ``binary``."""
    values = table.column(col, stage=stage.stage_name)
    if values.ndim != 1 or values.dtype.kind not in "biuf":
        raise stage.error(f"label column '{col}' must hold numbers, got {table.schema[col]}")
    y = values.astype(np.float64)
    if not np.isfinite(y).all():
        raise stage.error(f"label column '{col}' has NaN or infinite values")
    if binary:
        found = np.unique(y)
        if not np.isin(found, (0.0, 1.0)).all():
            shown = ", ".join(f"{v:g}" for v in found[:5])
            raise stage.error(
                f"label column '{col}' must hold 0 and 1 (binary classification), found {shown}"
            )
    return y


def weights(stage: Stage, table: Table, col: str | None) -> np.ndarray:
    """The weight column (all ones when ``col`` is None): finite, >= 0, not all zero."""
    if col is None:
        return np.ones(table.num_rows)
    values = table.column(col, stage=stage.stage_name)
    if values.ndim != 1 or values.dtype.kind not in "biuf":
        raise stage.error(f"weight column '{col}' must hold numbers, got {table.schema[col]}")
    w = values.astype(np.float64)
    if not np.isfinite(w).all() or (w < 0).any():
        raise stage.error(f"weight column '{col}' must hold finite numbers >= 0")
    if not w.sum() > 0:
        raise stage.error(f"weight column '{col}' sums to 0: no row would count")
    return w


# -- model data --------------------------------------------------------------------------------


@dataclass(frozen=True)
class LinearModelData:
    """The parsed model data of a linear model (see the module docstring)."""

    coefficient: np.ndarray
    intercept: float = 0.0
    model_version: int = 0

    def to_table(self) -> Table:
        return Table(
            {
                COEFFICIENT: self.coefficient.reshape(1, -1),
                INTERCEPT: np.array([self.intercept], dtype=np.float64),
                MODEL_VERSION: np.array([self.model_version], dtype=np.int64),
            }
        )

    @classmethod
    def from_tables(cls, stage: Stage, tables: Sequence[Table]) -> LinearModelData:
        """The newest row of the first table; an error naming the stage and column if it does
        not have the layout."""
        table = tables[0]
        if table.num_rows == 0:
            raise stage.error("the model data table is empty")
        coefficient = table.vector(COEFFICIENT, stage=stage.stage_name)
        versions = np.zeros(table.num_rows, dtype=np.int64)
        if MODEL_VERSION in table:
            versions = table.column(MODEL_VERSION).astype(np.int64)
        row = table.num_rows - 1 - int(np.argmax(versions[::-1]))
        intercept = float(table.column(INTERCEPT)[row]) if INTERCEPT in table else 0.0
        return cls(np.array(coefficient[row]), intercept, int(versions[row]))

    def scores(self, matrix: np.ndarray) -> np.ndarray:
        return matrix @ self.coefficient + self.intercept


class LinearModelBase(Model, HasFeaturesCol, HasPredictionCol):
    """A model scoring rows by ``x . coefficient + intercept`` (its subclasses turn scores into
    predictions)."""

    def set_model_data(self, *tables: Table) -> Self:
        super().set_model_data(*tables)
        self._linear = LinearModelData.from_tables(self, tables)
        return self

    @property
    def linear(self) -> LinearModelData:
        """The parsed model data (an error if none were set)."""
        self.get_model_data()
        return self._linear

    def scores(self, tables: Sequence[Table]) -> tuple[Table, np.ndarray]:
        """The one input table and its rows' scores, after checking the input."""
        data = self.linear
        self.check_inputs(tables)
        table, col = tables[0], self.get_features_col()
        matrix = features(self, table, col, len(data.coefficient), finite=False)
        scores = data.scores(matrix)
        # a NaN or infinite feature makes its row's score non-finite: checking the scores
        # (one value a row) costs a fraction of checking every feature (measured: inference
        # went from a third to most of a bare numpy matmul's speed, benchmarks/ml.py)
        if not np.isfinite(scores).all():
            check_finite(self, matrix, col)
        return table, scores


# -- training ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class SGDSettings:
    max_iter: int
    tol: float
    learning_rate: float
    reg: float
    elastic_net: float
    global_batch_size: int
    fit_intercept: bool = True


def train_sgd(
    stage: Stage,
    x: np.ndarray,
    y: np.ndarray,
    w: np.ndarray,
    loss: Loss,
    settings: SGDSettings,
    engine: str = "local",
) -> tuple[LinearModelData, Table]:
    """Fit by mini-batch gradient descent on ``iterate_bounded`` (see the module docstring), on
    ``engine`` (on Flink, each task computes the gradient over its shard's rows of the round's
    mini-batch). Returns the model and the history: one row per round, columns ``epoch`` and
    ``loss``. A loss that overflows is an error naming ``stage``: the steps diverged."""
    rows, dims = x.shape
    batch = min(settings.global_batch_size, rows)
    order = np.random.default_rng(DEFAULT_SEED).permutation(rows) if batch < rows else None
    batches = -(-rows // batch)
    l1 = settings.reg * settings.elastic_net
    l2 = settings.reg * (1.0 - settings.elastic_net)
    lr = settings.learning_rate

    def gradient(variables: list[Table], data: list[Table], ctx: IterationContext) -> list[Table]:
        """Per shard: the loss and gradient sums over its rows of the round's mini-batch."""
        model, points = variables[0], data[0]
        coef = model.column(COEFFICIENT)[0]
        intercept = float(model.column(INTERCEPT)[0])
        xb, yb, wb = points.column("x"), points.column("y"), points.column("w")
        if order is not None:
            start = (ctx.epoch % batches) * batch
            index = order[start : start + batch] - ctx.row_offset
            index = index[(index >= 0) & (index < len(xb))]
            xb, yb, wb = xb[index], yb[index], wb[index]
        with np.errstate(over="ignore", invalid="ignore"):  # divergence is checked in step
            loss_sum, grad = loss(xb @ coef + intercept, yb, wb)
        return [
            Table(
                {
                    "loss": [loss_sum],
                    "total": [float(wb.sum())],
                    "grad_x": (grad @ xb).reshape(1, -1),
                    "grad": [float(grad.sum())],
                }
            )
        ]

    def step(
        variables: list[Table], partials: list[list[Table]], ctx: IterationContext
    ) -> IterationBodyResult:
        model = variables[0]
        coef = model.column(COEFFICIENT)[0]
        intercept = float(model.column(INTERCEPT)[0])
        sums = [p[0] for p in partials]
        total = sum(float(t.column("total")[0]) for t in sums)
        loss_sum = sum(float(t.column("loss")[0]) for t in sums)
        objective = loss_sum / total if total > 0 else 0.0
        objective += l1 * float(np.abs(coef).sum()) + l2 / 2 * float(coef @ coef)
        if total > 0:
            coef = coef - lr * sum(t.column("grad_x")[0] for t in sums) / total
            if settings.fit_intercept:
                intercept -= lr * sum(float(t.column("grad")[0]) for t in sums) / total
        if l2:
            coef = coef * max(0.0, 1.0 - lr * l2)
        if l1:
            coef = np.sign(coef) * np.maximum(np.abs(coef) - lr * l1, 0.0)
        if not np.isfinite(objective):
            raise stage.error(
                f"the loss diverged in round {ctx.epoch} (learning_rate {lr} is too large "
                "for these features: lower it, or scale the features)"
            )
        previous = float(model.column("loss")[0])
        change = abs(previous - objective) if np.isfinite(previous) else np.inf
        return IterationBodyResult(
            feedback=[_state(coef, intercept, objective)],
            outputs=[Table({"epoch": [ctx.epoch], "loss": [objective]})],
            termination=terminate_on_max_iteration_or_tolerance(
                settings.max_iter, settings.tol, ctx.epoch, change
            ),
        )

    history, final = iterate_bounded(
        variables=[_state(np.zeros(dims), 0.0, np.inf).on(engine)],
        data=ReplayableData([Table({"x": x, "y": y, "w": w}, engine=engine)], replay=True),
        body=ShardedBody(gradient, step),
        listeners=[FinalFeedback()],
    )
    coefficient = final.column(COEFFICIENT)[0]
    return LinearModelData(np.array(coefficient), float(final.column(INTERCEPT)[0])), history.on(
        "local"
    )


def _state(coef: np.ndarray, intercept: float, loss: float) -> Table:
    return Table({COEFFICIENT: coef.reshape(1, -1), INTERCEPT: [intercept], "loss": [loss]})


class FinalFeedback(IterationListener):
    """Collects what the last round fed back -- the trained model -- as the iteration's last
    output table (``iterate_bounded`` returns outputs, not the final variables)."""

    def on_iteration_terminated(self, ctx: IterationContext, collect: Collect) -> None:
        assert ctx.result is not None
        collect(ctx.result.feedback[0])


class LinearEstimatorBase(
    Estimator,
    HasFeaturesCol,
    HasPredictionCol,
    HasLabelCol,
    HasWeightCol,
    HasMaxIter,
    HasReg,
    HasElasticNet,
    HasLearningRate,
    HasGlobalBatchSize,
    HasTol,
):
    """The params and training data of the gradient-descent linear estimators."""

    flink_driver = True  # on Flink, the gradient rounds run data-parallel (``train_sgd``)

    FIT_INTERCEPT = BooleanParam(
        "fit_intercept",
        "Whether to learn an intercept (Flink ML has none: it appends a constant feature).",
        True,
        ParamValidators.not_null(),
    )

    def training_data(
        self, tables: Sequence[Table], *, binary: bool
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Features, labels and weights of the one input table, checked."""
        self.check_inputs(tables)
        table = tables[0]
        x = features(self, table, self.get_features_col())
        y = labels(self, table, self.get_label_col(), binary=binary)
        return x, y, weights(self, table, self.get_weight_col())

    def sgd_settings(self) -> SGDSettings:
        return SGDSettings(
            max_iter=self.get_max_iter(),
            tol=self.get_tol(),
            learning_rate=self.get_learning_rate(),
            reg=self.get_reg(),
            elastic_net=self.get_elastic_net(),
            global_batch_size=self.get_global_batch_size(),
            fit_intercept=self.get(self.FIT_INTERCEPT),
        )
