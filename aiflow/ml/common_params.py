"""The params many stages share, one mixin each, so a name means one thing everywhere.

``features_col`` is the features column of every classifier, regressor and clusterer;
``handle_invalid`` takes the same three choices in every feature stage; and so on: a stage
inherits the mixins it needs (``class LogisticRegression(Estimator, HasFeaturesCol, ...)``).
Each mixin has hand-written, typed ``get_<name>`` / ``set_<name>`` (the generated ones would be
invisible to mypy), which stage code calls as ``self.get_features_col()``.

Defaults follow Flink ML where it has the param, except ``seed``: ``None`` means a fixed
default seed, so two runs of the same stage give the same result unless asked otherwise.
"""

from __future__ import annotations

from typing import Final, Self

from aiflow.ml.param import (
    FloatParam,
    IntParam,
    ParamValidators,
    StringArrayParam,
    StringParam,
    WithParams,
)

HANDLE_INVALID_CHOICES: Final = ("error", "skip", "keep")
DEFAULT_SEED: Final = 20240601  # what ``seed=None`` stands for (``HasSeed.resolved_seed``)


class HasFeaturesCol(WithParams):
    FEATURES_COL = StringParam(
        "features_col",
        "The features column (a vector or number column).",
        "features",
        ParamValidators.not_null(),
    )

    def get_features_col(self) -> str:
        return self.get(self.FEATURES_COL)

    def set_features_col(self, value: str) -> Self:
        return self.set(self.FEATURES_COL, value)


class HasLabelCol(WithParams):
    LABEL_COL = StringParam("label_col", "The label column.", "label", ParamValidators.not_null())

    def get_label_col(self) -> str:
        return self.get(self.LABEL_COL)

    def set_label_col(self, value: str) -> Self:
        return self.set(self.LABEL_COL, value)


class HasPredictionCol(WithParams):
    PREDICTION_COL = StringParam(
        "prediction_col",
        "The column predictions are written to.",
        "prediction",
        ParamValidators.not_null(),
    )

    def get_prediction_col(self) -> str:
        return self.get(self.PREDICTION_COL)

    def set_prediction_col(self, value: str) -> Self:
        return self.set(self.PREDICTION_COL, value)


class HasRawPredictionCol(WithParams):
    RAW_PREDICTION_COL = StringParam(
        "raw_prediction_col",
        "The column raw predictions (scores, probabilities) are written to.",
        "raw_prediction",
        ParamValidators.not_null(),
    )

    def get_raw_prediction_col(self) -> str:
        return self.get(self.RAW_PREDICTION_COL)

    def set_raw_prediction_col(self, value: str) -> Self:
        return self.set(self.RAW_PREDICTION_COL, value)


class HasWeightCol(WithParams):
    WEIGHT_COL = StringParam("weight_col", "The weight column; None: every row weighs 1.", None)

    def get_weight_col(self) -> str | None:
        return self.get(self.WEIGHT_COL)

    def set_weight_col(self, value: str | None) -> Self:
        return self.set(self.WEIGHT_COL, value)


class HasInputCol(WithParams):
    INPUT_COL = StringParam("input_col", "The input column.", "input", ParamValidators.not_null())

    def get_input_col(self) -> str:
        return self.get(self.INPUT_COL)

    def set_input_col(self, value: str) -> Self:
        return self.set(self.INPUT_COL, value)


class HasInputCols(WithParams):
    INPUT_COLS = StringArrayParam(
        "input_cols", "The input columns.", None, ParamValidators.non_empty_array()
    )

    def get_input_cols(self) -> list[str]:
        return self.get(self.INPUT_COLS)

    def set_input_cols(self, value: list[str]) -> Self:
        return self.set(self.INPUT_COLS, value)


class HasOutputCol(WithParams):
    OUTPUT_COL = StringParam(
        "output_col", "The output column.", "output", ParamValidators.not_null()
    )

    def get_output_col(self) -> str:
        return self.get(self.OUTPUT_COL)

    def set_output_col(self, value: str) -> Self:
        return self.set(self.OUTPUT_COL, value)


class HasOutputCols(WithParams):
    OUTPUT_COLS = StringArrayParam(
        "output_cols", "The output columns.", None, ParamValidators.non_empty_array()
    )

    def get_output_cols(self) -> list[str]:
        return self.get(self.OUTPUT_COLS)

    def set_output_cols(self, value: list[str]) -> Self:
        return self.set(self.OUTPUT_COLS, value)


class HasMaxIter(WithParams):
    MAX_ITER = IntParam("max_iter", "Maximum number of iterations.", 20, ParamValidators.gt(0))

    def get_max_iter(self) -> int:
        return self.get(self.MAX_ITER)

    def set_max_iter(self, value: int) -> Self:
        return self.set(self.MAX_ITER, value)


class HasTol(WithParams):
    TOL = FloatParam(
        "tol",
        "Convergence tolerance: iteration stops when the loss changes less.",
        1e-6,
        ParamValidators.gt_eq(0),
    )

    def get_tol(self) -> float:
        return self.get(self.TOL)

    def set_tol(self, value: float) -> Self:
        return self.set(self.TOL, value)


class HasLearningRate(WithParams):
    LEARNING_RATE = FloatParam(
        "learning_rate", "The step size of gradient descent.", 0.1, ParamValidators.gt(0)
    )

    def get_learning_rate(self) -> float:
        return self.get(self.LEARNING_RATE)

    def set_learning_rate(self, value: float) -> Self:
        return self.set(self.LEARNING_RATE, value)


class HasReg(WithParams):
    REG = FloatParam("reg", "Regularization strength.", 0.0, ParamValidators.gt_eq(0))

    def get_reg(self) -> float:
        return self.get(self.REG)

    def set_reg(self, value: float) -> Self:
        return self.set(self.REG, value)


class HasElasticNet(WithParams):
    ELASTIC_NET = FloatParam(
        "elastic_net",
        "Elastic net mix: 0 is L2 only, 1 is L1 only.",
        0.0,
        ParamValidators.in_range(0, 1),
    )

    def get_elastic_net(self) -> float:
        return self.get(self.ELASTIC_NET)

    def set_elastic_net(self, value: float) -> Self:
        return self.set(self.ELASTIC_NET, value)


class HasGlobalBatchSize(WithParams):
    GLOBAL_BATCH_SIZE = IntParam(
        "global_batch_size", "Rows per mini-batch, over all workers.", 32, ParamValidators.gt(0)
    )

    def get_global_batch_size(self) -> int:
        return self.get(self.GLOBAL_BATCH_SIZE)

    def set_global_batch_size(self, value: int) -> Self:
        return self.set(self.GLOBAL_BATCH_SIZE, value)


class HasSeed(WithParams):
    SEED = IntParam("seed", "Random seed; None: a fixed default, so runs repeat.", None)

    def get_seed(self) -> int | None:
        return self.get(self.SEED)

    def set_seed(self, value: int | None) -> Self:
        return self.set(self.SEED, value)

    def resolved_seed(self) -> int:
        """The seed to use: the param, or ``DEFAULT_SEED`` when it is ``None``."""
        seed = self.get_seed()
        return DEFAULT_SEED if seed is None else seed


class HasK(WithParams):
    K = IntParam("k", "Number of clusters.", 2, ParamValidators.gt(1))

    def get_k(self) -> int:
        return self.get(self.K)

    def set_k(self, value: int) -> Self:
        return self.set(self.K, value)


class HasHandleInvalid(WithParams):
    HANDLE_INVALID = StringParam(
        "handle_invalid",
        "Invalid values: 'error' raises, 'skip' drops the row, 'keep' keeps it (own category).",
        "error",
        ParamValidators.in_array(HANDLE_INVALID_CHOICES),
    )

    def get_handle_invalid(self) -> str:
        return self.get(self.HANDLE_INVALID)

    def set_handle_invalid(self, value: str) -> Self:
        return self.set(self.HANDLE_INVALID, value)
