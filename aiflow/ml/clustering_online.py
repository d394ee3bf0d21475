"""``OnlineKMeans``: k-means trained on a stream, one model version per mini-batch, on
``iterate_unbounded`` (importable from ``aiflow.ml.clustering``).

Flink ML's mini-batch rule with forgetfulness: each mini-batch of ``global_batch_size`` rows
(``aiflow.ml.online``) is one round; its points go to their nearest centroid, every centroid's
weight is multiplied by ``decay_factor``, and a centroid that got ``m`` points with mean ``p``
moves to the weighted average of where it was (weight: its decayed weight) and ``p`` (weight:
``m``); its weight becomes the sum. ``decay_factor`` 1 weighs all batches alike (mini-batch
k-means: on a stationary stream it converges like Lloyd's), 0 keeps only the last mini-batch
(Flink ML's default, kept here: the centroids then follow the newest data, noisily); values in
between forget at that rate, so the centroids follow drifting clusters.

The model data are ``KMeans``' layout plus a version: one row per cluster, ``centroids``
(vector), ``weights`` (double) and ``model_version`` (bigint, the same in the ``k`` rows). The
initial model is ``set_initial_model_data(table)`` -- e.g. a fitted ``KMeans``' model data (its
weights, the training counts, say how much the stream must outweigh it) -- or, as the issue asks
and Flink ML lacks, ``init_mode`` (``k-means++``, default, or ``random``) applied to the first
mini-batch, with zero weights. ``OnlineKMeansModel`` assigns rows to the nearest centroid of the
newest version it was given and writes the version into ``model_version_col``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Final, Self

import numpy as np

from aiflow.errors import MLError
from aiflow.ml.api import Estimator, Model, StartsFromModelData
from aiflow.ml.common_params import (
    HasFeaturesCol,
    HasGlobalBatchSize,
    HasK,
    HasPredictionCol,
    HasSeed,
)
from aiflow.ml.iteration import (
    BodyOperator,
    IterationBodyResult,
    IterationContext,
    OperatorFactory,
)
from aiflow.ml.linear import features
from aiflow.ml.online import (
    MODEL_VERSION,
    HasModelVersionCol,
    Stream,
    mini_batches,
    newest_rows,
    run_online,
    train_to_end,
    wrap_batch_error,
)
from aiflow.ml.param import FloatParam, ParamValidators, StringParam
from aiflow.ml.table import Table

# aiflow.ml.clustering re-exports this module's stages, so this module imports it only inside
# functions (a module-level import would be circular when this module is imported first).
CENTROIDS: Final = "centroids"  # = aiflow.ml.clustering.CENTROIDS
WEIGHTS: Final = "weights"  # = aiflow.ml.clustering.WEIGHTS
INIT_MODES: Final = ("k-means++", "random")
DISTANCE_MEASURES: Final = ("euclidean",)


class _OnlineKMeansModelParams(HasFeaturesCol, HasPredictionCol, HasK, HasModelVersionCol):
    DISTANCE_MEASURE = StringParam(
        "distance_measure",
        "Distance measure (only 'euclidean' for now).",
        "euclidean",
        ParamValidators.in_array(DISTANCE_MEASURES),
    )


class OnlineKMeansModel(Model, _OnlineKMeansModelParams):
    """Assigns each row to the nearest centroid of the model data it was last given (of several
    versions in one table, the highest ``model_version``) and stamps that version on the row;
    ``set_model_data`` with the next version switches at once."""

    def set_model_data(self, *tables: Table) -> Self:
        super().set_model_data(*tables)
        rows, self._version = newest_rows(self, tables[0])
        self._centroids = features(self, rows, CENTROIDS)
        return self

    @property
    def model_version(self) -> int:
        """The version of the model data predictions use."""
        self.get_model_data()
        return self._version

    def transform(self, *tables: Table) -> list[Table]:
        from aiflow.ml.clustering import squared_distances

        self.get_model_data()
        self.check_inputs(tables)
        table = tables[0]
        x = features(self, table, self.get_features_col(), self._centroids.shape[1])
        nearest = np.argmin(squared_distances(x, self._centroids), axis=1).astype(np.int64)
        version = np.full(table.num_rows, self._version, dtype=np.int64)
        return [
            table.with_columns(
                {self.get_prediction_col(): nearest, self.get_model_version_col(): version}
            )
        ]


class OnlineKMeans(
    StartsFromModelData, Estimator, _OnlineKMeansModelParams, HasGlobalBatchSize, HasSeed
):
    """Online (mini-batch, decaying) k-means (see the module docstring)."""

    DECAY_FACTOR = FloatParam(
        "decay_factor",
        "How much of the previous centroids' weight each mini-batch keeps: 1 weighs all "
        "batches alike, 0 keeps only the newest (Flink ML's default).",
        0.0,
        ParamValidators.in_range(0.0, 1.0),
    )
    INIT_MODE = StringParam(
        "init_mode",
        "Without initial model data, how centroids start from the first mini-batch: "
        "'k-means++' (default) or 'random' (k of its rows).",
        "k-means++",
        ParamValidators.in_array(INIT_MODES),
    )

    def set_initial_model_data(self, *tables: Table) -> Self:
        """Start from these centroids: one table, ``k`` rows with a ``centroids`` vector column
        and optionally ``weights`` (0 if absent) and ``model_version`` (of several versions, the
        newest), e.g. a fitted ``KMeans``' model data. Saved with the estimator."""
        if len(tables) != 1 or not isinstance(tables[0], Table):
            raise self.error(f"set_initial_model_data takes one model data table, got {tables!r}")
        rows, version = newest_rows(self, tables[0])
        centroids = features(self, rows, CENTROIDS)
        if len(centroids) != self.get_k():
            raise self.error(
                f"the initial model data has {len(centroids)} centroids, k is {self.get_k()}"
            )
        weights = np.zeros(len(centroids))
        if WEIGHTS in rows:
            weights = features(self, rows, WEIGHTS)[:, 0]
            if (weights < 0).any():
                raise self.error(f"the initial model data's '{WEIGHTS}' must be >= 0")
        self._initial = _model_table(centroids, weights, version)
        return self

    def fit(self, *tables: Stream) -> OnlineKMeansModel:
        """Train on the stream (one Table or an iterable of Tables) to its end; the model holds
        the last model data. An endless stream never returns: use ``fit_stream``."""
        last = train_to_end(self, tables, self.fit_stream)
        return OnlineKMeansModel().copy_params_from(self).set_model_data(last)

    def fit_stream(self, stream: Stream) -> Iterator[Table]:
        """Lazily train on ``stream``: after each mini-batch of ``global_batch_size`` rows,
        yield the new model data (``k`` rows: ``centroids``, ``weights``, ``model_version``,
        the version counting up from the initial model's). Works on an endless stream."""
        size = self.get_global_batch_size()
        return self._train(mini_batches(self, stream, size, [self.get_features_col()]), size)

    def _train(self, batches: Iterator[Table], size: int) -> Iterator[Table]:
        first = next(batches, None)
        if first is None:
            return
        initial = self._initial if self._initial is not None else self._start(first)
        step = OperatorFactory(lambda: _OnlineKMeansStep(self, size))
        yield from run_online(initial, first, batches, step)

    def _start(self, first: Table) -> Table:
        """Centroids from the first mini-batch by ``init_mode`` (weights 0, version 0)."""
        from aiflow.ml.clustering import kmeans_plus_plus

        try:
            x = features(self, first, self.get_features_col())
        except MLError as exc:
            raise wrap_batch_error(exc, 0, self.get_global_batch_size(), first.num_rows) from None
        k = self.get_k()
        if len(x) < k:
            raise self.error(
                f"k is {k} but the first mini-batch has only {len(x)} rows to start the "
                "centroids from (raise global_batch_size, or set_initial_model_data)"
            )
        rng = np.random.default_rng(self.resolved_seed())
        if self.get(self.INIT_MODE) == "random":
            start = x[rng.choice(len(x), size=k, replace=False)]
        else:
            start = kmeans_plus_plus(x, k, rng)
        return _model_table(start, np.zeros(k), 0)


class _OnlineKMeansStep(BodyOperator):
    """One mini-batch: assign its points, move the centroids (Flink ML's decaying mini-batch
    rule, on whole matrices), emit the new model data."""

    def __init__(self, stage: OnlineKMeans, size: int) -> None:
        self.stage, self.size = stage, size
        # read once: a param lookup walks the class hierarchy, too slow for every mini-batch
        self.decay = stage.get(stage.DECAY_FACTOR)
        self.features_col = stage.get_features_col()

    def process(
        self, variables: list[Table], data: list[Table], ctx: IterationContext
    ) -> IterationBodyResult:
        from aiflow.ml.clustering import squared_distances

        model, batch = variables[0], data[0]
        centroids = model.vector(CENTROIDS)
        try:
            x = features(self.stage, batch, self.features_col, centroids.shape[1])
        except MLError as exc:
            raise wrap_batch_error(exc, ctx.epoch, self.size, batch.num_rows) from None
        k = len(centroids)
        nearest = np.argmin(squared_distances(x, centroids), axis=1)
        one_hot = np.zeros((len(x), k))
        one_hot[np.arange(len(x)), nearest] = 1.0
        counts = one_hot.sum(axis=0)
        means = (one_hot.T @ x) / np.maximum(counts, 1.0)[:, None]
        weights = model.column(WEIGHTS) * self.decay + counts
        share = np.where(counts > 0, counts / np.maximum(weights, 1e-16), 0.0)
        moved = centroids + share[:, None] * (means - centroids)
        version = int(model.column(MODEL_VERSION)[0]) + 1
        new = _model_table(moved, weights, version)
        return IterationBodyResult(feedback=[new], outputs=[new])


def _model_table(centroids: np.ndarray, weights: np.ndarray, version: int) -> Table:
    k = len(centroids)
    return Table(
        {
            CENTROIDS: np.asarray(centroids, dtype=np.float64),
            WEIGHTS: np.asarray(weights, dtype=np.float64),
            MODEL_VERSION: np.full(k, version, dtype=np.int64),
        }
    )
