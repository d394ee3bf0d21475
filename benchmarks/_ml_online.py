"""``benchmarks/ml.py``'s online-learning and inference measures (see ``_ml_measures``).

* ``online_vs_river``: progressive validation (test, then train) over one stream, the way River
  evaluates (``river.evaluate.progressive_val_score``). aiflow: ``fit_stream`` over the table;
  each mini-batch is predicted, before the estimator trains on it, by the model data of the
  previous mini-batch (zeros before the first), through the stage's ``...Model``. River:
  ``river.linear_model.LogisticRegression`` (SGD, ``river.lr``), ``predict_one`` then
  ``learn_one`` per record. Rows are converted to River's dicts beforehand, 10,000 at a time,
  untimed (River's best case). records/s counts predicting and training.
* ``inference_vs_numpy``: a ``...Model`` given ``model_data``, ``transform`` on the whole table
  and on consecutive batches (``batch_sizes``; 0 = the whole table), beside the bare numpy work
  of the same shape -- ``x @ coefficient + intercept``, a sigmoid and the 0/1 prediction -- the
  physical limit (aiflow also writes ``raw_prediction`` [P(0), P(1)] and checks the features are
  finite: that is what the share below 100% pays for). Batch tables and numpy slices are cut
  beforehand, untimed.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Hashable
from typing import Any

import numpy as np
from _ml_data import Data
from _ml_measures import Outcome, Row, met, pct, rate, timed

from aiflow.ml import Table

CHUNK = 10_000  # River rows converted to dicts per step (untimed)


def model_class(stage: Any) -> Any:
    """The model class of an estimator: ``<Name>Model`` in the estimator's module."""
    module = sys.modules[type(stage).__module__]
    name = type(stage).__name__ + "Model"
    found = getattr(module, name, None)
    if found is None:
        raise ValueError(f"no class {name} beside {type(stage).__name__} in {module.__name__}")
    return found


def online_vs_river(stage: Any, data: Data, measure: dict[str, Any]) -> Outcome:
    table = data.table
    features, label = stage.get_features_col(), stage.get_label_col()
    x, y = table.vector(features), table.column(label)
    rows, dims = x.shape
    size = stage.get_global_batch_size()
    predictor = model_class(stage)().copy_params_from(stage)
    zero = Table({"coefficient": np.zeros((1, dims)), "intercept": [0.0], "model_version": [0]})

    def aiflow_run() -> int:
        correct = 0
        predictor.set_model_data(zero)
        prediction = predictor.get_prediction_col()
        batches = stage.fit_stream(table)
        for start in range(0, rows, size):
            batch = table.take(slice(start, start + size))
            (scored,) = predictor.transform(batch)
            correct += int((scored.column(prediction) == batch.column(label)).sum())
            predictor.set_model_data(next(batches))
        return correct

    ours, our_correct = timed(aiflow_run, measure.get("repeat", 1))
    theirs, their_correct = _river(x, y, measure.get("river", {}))
    our_accuracy, their_accuracy = our_correct / rows, their_correct / rows
    ratio = theirs / ours
    goal = measure.get("goal_min_ratio", 20)
    tolerance = measure.get("accuracy_tolerance_points", 0.5)
    gap = 100 * (our_accuracy - their_accuracy)
    figures = {
        "rows": rows,
        "dims": dims,
        "global_batch_size": size,
        "aiflow_s": ours,
        "river_s": theirs,
        "aiflow_records_per_s": rows / ours,
        "river_records_per_s": rows / theirs,
        "speedup": ratio,
        "aiflow_progressive_accuracy": our_accuracy,
        "river_progressive_accuracy": their_accuracy,
        "accuracy_gap_points": gap,
    }
    return figures, [
        Row(
            "records/s (predict + train)",
            rate(rows / ours),
            f"{rate(rows / theirs)} River",
            f"{ratio:.1f}x",
            f">= {goal}x River",
            met(ratio >= goal),
        ),
        Row(
            "progressive accuracy",
            pct(our_accuracy),
            pct(their_accuracy),
            f"{gap:+.2f} pt",
            f">= River - {tolerance} pt",
            met(gap >= -tolerance),
        ),
    ]


def _river(x: np.ndarray, y: np.ndarray, params: dict[str, Any]) -> tuple[float, int]:
    """River's progressive validation over the rows: (seconds spent in River, correct)."""
    from river import linear_model, optim

    model = linear_model.LogisticRegression(optimizer=optim.SGD(params.get("lr", 0.01)))
    keys = range(x.shape[1])
    spent, correct = 0.0, 0
    for start in range(0, len(x), CHUNK):
        records: list[dict[Hashable, Any]] = [
            dict(zip(keys, row, strict=True)) for row in x[start : start + CHUNK].tolist()
        ]
        truths = [bool(v) for v in y[start : start + CHUNK]]
        begin = time.perf_counter()
        for record, truth in zip(records, truths, strict=True):
            correct += model.predict_one(record) == truth
            model.learn_one(record, truth)
        spent += time.perf_counter() - begin
    return spent, correct


def inference_vs_numpy(stage: Any, data: Data, measure: dict[str, Any]) -> Outcome:
    table = data.table
    x = table.vector(stage.get_features_col())
    (model_data,) = stage.get_model_data()
    coefficient = np.array(model_data.vector("coefficient")[0])
    intercept = float(model_data.column("intercept")[0])
    repeat = measure.get("repeat", 3)
    goal = measure.get("goal_min_ratio", 0.5)
    figures: dict[str, Any] = {"rows": len(x), "dims": x.shape[1], "repeat": repeat}
    rows: list[Row] = []
    for size in measure.get("batch_sizes", [0]):
        size = size or len(x)
        tables = list(table.batches(size))
        slices = [x[start : start + size] for start in range(0, len(x), size)]

        def aiflow_run(tables: list[Table] = tables) -> None:
            for batch in tables:
                stage.transform(batch)

        def numpy_run(slices: list[np.ndarray] = slices) -> None:
            for part in slices:
                z = part @ coefficient + intercept
                _ = 1.0 / (1.0 + np.exp(-z)), z >= 0

        ours, _ = timed(aiflow_run, repeat)
        theirs, _ = timed(numpy_run, repeat)
        what = "whole table" if size == len(x) else f"batches of {size:,}"
        ratio = theirs / ours
        figures[f"batch_{size}"] = {
            "aiflow_s": ours,
            "numpy_s": theirs,
            "aiflow_predictions_per_s": len(x) / ours,
            "numpy_predictions_per_s": len(x) / theirs,
            "share_of_numpy": ratio,
        }
        rows.append(
            Row(
                f"predictions/s, {what}",
                rate(len(x) / ours),
                f"{rate(len(x) / theirs)} numpy",
                pct(ratio),
                f">= {pct(goal)} of numpy",
                met(ratio >= goal),
            )
        )
    return figures, rows
