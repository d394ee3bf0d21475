"""Evaluators: AlgoOperators turning a table of predictions into a one-row table of metrics.

``BinaryClassificationEvaluator`` (Flink ML's params: ``label_col``, ``raw_prediction_col``,
``weight_col``, ``metrics_names`` from ``areaUnderROC``, ``areaUnderPR``, ``ks``,
``areaUnderLorenz``; default the first two). The score of a row is ``raw_prediction_col``: a
number, or element 1 of a vector (the positive class's score, as ``LogisticRegression`` and
``LinearSVC`` write it); the positive rows are those whose label is 1. Rows are sorted by score
once, and every metric is computed over the *distinct* scores (a group of tied scores is one
point of each curve):

- ``areaUnderROC``: trapezoids under (FPR, TPR) -- scikit-learn's ``roc_auc_score``;
- ``areaUnderPR``: trapezoids under (recall, precision) from (0, 1) -- Flink ML's definition,
  which is scikit-learn's ``auc(recall, precision)`` over ``precision_recall_curve``, *not*
  ``average_precision_score`` (a step sum);
- ``ks``: max |TPR - FPR| (Kolmogorov-Smirnov);
- ``areaUnderLorenz``: trapezoids under (share of rows predicted positive, TPR).

Where they differ from Flink ML: Flink ML walks rows one by one, so tied scores give points
that depend on row order (here ties form one point; results equal Flink ML's when scores are
distinct); it uses weights only in the AUC (and there not as a weighted AUC), here every metric
weighs rows by ``weight_col``; and a metric needing both classes is NaN when one is missing
(Flink ML: NaN for the AUC, a number for the others).

``MulticlassClassificationEvaluator`` (Flink ML has none; Spark's metrics under Flink-style
names): ``label_col``, ``prediction_col``, ``weight_col``, ``metrics_names`` from ``accuracy``,
``weightedPrecision``, ``weightedRecall``, ``weightedF1``, ``macroPrecision``, ``macroRecall``,
``macroF1``. Classes are those found in labels or predictions; a class never predicted has
precision 0 (scikit-learn's ``zero_division=0``); ``weighted*`` averages weigh classes by their
true (weighted) count, as scikit-learn's ``average="weighted"``.

The output table has one double column per requested metric, in the order asked.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

import numpy as np

from aiflow.ml.api import AlgoOperator
from aiflow.ml.common_params import (
    HasLabelCol,
    HasPredictionCol,
    HasRawPredictionCol,
    HasWeightCol,
)
from aiflow.ml.linear import weights
from aiflow.ml.param import ParamValidator, StringArrayParam
from aiflow.ml.table import Table

BINARY_METRICS: Final = ("areaUnderROC", "areaUnderPR", "ks", "areaUnderLorenz")
MULTICLASS_METRICS: Final = (
    "accuracy",
    "weightedPrecision",
    "weightedRecall",
    "weightedF1",
    "macroPrecision",
    "macroRecall",
    "macroF1",
)


def _subset_of(allowed: Sequence[str]) -> ParamValidator:
    """A non-empty list of distinct names from ``allowed``."""
    shown = ", ".join(allowed)
    return ParamValidator(
        f"be a non-empty list of distinct names from {shown}",
        lambda v: v is not None and 0 < len(v) == len(set(v)) and set(v) <= set(allowed),
    )


class BinaryClassificationEvaluator(AlgoOperator, HasLabelCol, HasRawPredictionCol, HasWeightCol):
    """Binary classification metrics (see the module docstring)."""

    METRICS_NAMES = StringArrayParam(
        "metrics_names",
        "Names of the metrics to compute.",
        ["areaUnderROC", "areaUnderPR"],
        _subset_of(BINARY_METRICS),
    )

    def transform(self, *tables: Table) -> list[Table]:
        self.check_inputs(tables)
        table = tables[0]
        score, positive, weight = self._read(table)
        order = np.argsort(-score, kind="stable")
        score, positive, weight = score[order], positive[order], weight[order]
        # The last row of each group of equal scores: one point of every curve.
        ends = np.r_[np.flatnonzero(np.diff(score) != 0), len(score) - 1]
        tps = np.cumsum(weight * positive)[ends]
        fps = np.cumsum(weight * ~positive)[ends]
        total_pos, total_neg = tps[-1], fps[-1]
        metrics: dict[str, float] = dict.fromkeys(BINARY_METRICS, float("nan"))
        if total_pos > 0 and total_neg > 0:
            tpr = np.r_[0.0, tps / total_pos]
            fpr = np.r_[0.0, fps / total_neg]
            precision = np.r_[1.0, tps / (tps + fps)]
            share = np.r_[0.0, (tps + fps) / (total_pos + total_neg)]
            metrics["areaUnderROC"] = _trapezoids(fpr, tpr)
            metrics["areaUnderPR"] = _trapezoids(tpr, precision)
            metrics["ks"] = float(np.abs(tpr - fpr).max())
            metrics["areaUnderLorenz"] = _trapezoids(share, tpr)
        names = self.get(self.METRICS_NAMES)
        return [Table({name: np.array([metrics[name]]) for name in names}, engine=table.engine)]

    def _read(self, table: Table) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        col, label_col = self.get_raw_prediction_col(), self.get_label_col()
        raw = table.column(col, stage=self.stage_name)
        if raw.ndim == 2:
            if raw.shape[1] < 2:
                raise self.error(f"column '{col}' holds vectors of size {raw.shape[1]}, need 2")
            score = raw[:, 1]
        elif raw.dtype.kind in "biuf":
            score = raw.astype(np.float64)
        else:
            raise self.error(f"column '{col}' is {table.schema[col]}, expected a number or vector")
        label = _numbers(self, table, label_col)
        if not (np.isfinite(score).all()):
            raise self.error(f"column '{col}' has NaN or infinite scores")
        return score, label == 1.0, weights(self, table, self.get_weight_col())


class MulticlassClassificationEvaluator(AlgoOperator, HasLabelCol, HasPredictionCol, HasWeightCol):
    """Multiclass classification metrics (see the module docstring)."""

    METRICS_NAMES = StringArrayParam(
        "metrics_names",
        "Names of the metrics to compute.",
        ["accuracy", "weightedF1"],
        _subset_of(MULTICLASS_METRICS),
    )

    def transform(self, *tables: Table) -> list[Table]:
        self.check_inputs(tables)
        table = tables[0]
        label = _numbers(self, table, self.get_label_col())
        predicted = _numbers(self, table, self.get_prediction_col())
        weight = weights(self, table, self.get_weight_col())
        classes, index = np.unique(np.r_[label, predicted], return_inverse=True)
        n, k = len(label), len(classes)
        true_index, pred_index = index[:n], index[n:]
        confusion = np.bincount(true_index * k + pred_index, weights=weight, minlength=k * k)
        confusion = confusion.reshape(k, k)
        hits = np.diag(confusion)
        support, predicted_count = confusion.sum(axis=1), confusion.sum(axis=0)
        precision = np.divide(hits, predicted_count, out=np.zeros(k), where=predicted_count > 0)
        recall = np.divide(hits, support, out=np.zeros(k), where=support > 0)
        both = precision + recall
        f1 = np.divide(2 * precision * recall, both, out=np.zeros(k), where=both > 0)
        share = support / support.sum()
        metrics = {
            "accuracy": hits.sum() / weight.sum(),
            "weightedPrecision": share @ precision,
            "weightedRecall": share @ recall,
            "weightedF1": share @ f1,
            "macroPrecision": precision.mean(),
            "macroRecall": recall.mean(),
            "macroF1": f1.mean(),
        }
        names = self.get(self.METRICS_NAMES)
        return [
            Table({name: np.array([float(metrics[name])]) for name in names}, engine=table.engine)
        ]


def _numbers(stage: AlgoOperator, table: Table, col: str) -> np.ndarray:
    values = table.column(col, stage=stage.stage_name)
    if values.ndim != 1 or values.dtype.kind not in "biuf":
        raise stage.error(f"column '{col}' is {table.schema[col]}, expected numbers")
    out = values.astype(np.float64)
    if not np.isfinite(out).all():
        raise stage.error(f"column '{col}' has NaN or infinite values")
    return out


def _trapezoids(x: np.ndarray, y: np.ndarray) -> float:
    return float(((x[1:] - x[:-1]) * (y[1:] + y[:-1])).sum() / 2.0)
