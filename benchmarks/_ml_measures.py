"""What ``benchmarks/ml.py`` measures, one function per ``measure.kind`` of a config entry.

Each gets the entry's stage (built from its params), its generated data and the ``measure``
object, runs aiflow and the peer on the same numbers one after the other, and returns the
figures (for the results JSON) and the rows of the printed table. Only the work is timed:
generating data, converting it to the peer's format and imports are not. Nothing here asserts
on time; a goal not met shows as ``NO`` in the table.

* ``kmeans_vs_sklearn``: ``KMeans.fit`` from the same initial centroids (``init_seed``: k rows
  drawn at random) as ``sklearn.cluster.KMeans(init=those, **measure.sklearn)``; with
  ``tol=0`` both run ``max_iter`` Lloyd rounds unless the assignment stops changing
  (``n_iter_`` is printed, and the final centroids compared, to show they did the same work).
* ``classifier_vs_sklearn``: ``fit`` on the training rows, accuracy of both on the held-out
  rows (``input.test_rows``), beside ``sklearn.linear_model.LogisticRegression(**sklearn)``.

Online learning and inference live in ``_ml_online``.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np
from _ml_data import Data

from aiflow.ml import Table

T = TypeVar("T")


@dataclass(frozen=True)
class Row:
    """One line of the printed table."""

    figure: str
    aiflow: str
    peer: str = ""
    ratio: str = ""
    goal: str = ""
    met: str = ""


Outcome = tuple[dict[str, Any], list[Row]]


def timed(fn: Callable[[], T], repeat: int = 1) -> tuple[float, T]:
    """The best wall time of ``repeat`` calls of ``fn`` (seconds) and the last call's result."""
    best, result = float("inf"), None
    for _ in range(max(1, repeat)):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return best, result  # type: ignore[return-value]


def met(ok: bool) -> str:
    return "yes" if ok else "NO"


def secs(value: float) -> str:
    return f"{value:.3f} s" if value < 10 else f"{value:.1f} s"


def rate(value: float) -> str:
    """A per-second figure, readable: 1.23M/s, 45.6k/s, 789/s."""
    if value >= 1e6:
        return f"{value / 1e6:.2f}M/s"
    if value >= 1e3:
        return f"{value / 1e3:.1f}k/s"
    return f"{value:.0f}/s"


def pct(value: float) -> str:
    return f"{100 * value:.2f}%"


def kmeans_vs_sklearn(stage: Any, data: Data, measure: dict[str, Any]) -> Outcome:
    from sklearn.cluster import KMeans as SklearnKMeans

    table = data.table
    x = table.vector(stage.get_features_col())
    k, max_iter = stage.get_k(), stage.get_max_iter()
    rng = np.random.default_rng(measure.get("init_seed", 1))
    init = np.array(x[rng.choice(len(x), size=k, replace=False)])
    stage.set_initial_model_data(Table({"centroids": init}))
    ours, model = timed(lambda: stage.fit(table), measure.get("repeat", 1))
    sklearn_params = dict(measure.get("sklearn", {}))
    peer = SklearnKMeans(n_clusters=k, init=init, **sklearn_params)
    theirs, _ = timed(lambda: peer.fit(x), measure.get("repeat", 1))
    (centroids,) = model.get_model_data()
    diff = float(np.abs(centroids.vector("centroids") - peer.cluster_centers_).max())
    rounds = int(peer.n_iter_)
    ratio = ours / theirs
    goal = measure.get("goal_max_ratio", 1.2)
    figures = {
        "rows": len(x),
        "dims": x.shape[1],
        "k": k,
        "max_iter": max_iter,
        "sklearn_n_iter": rounds,
        "aiflow_s": ours,
        "sklearn_s": theirs,
        "ratio": ratio,
        "aiflow_records_per_s_per_iteration": len(x) * rounds / ours,
        "sklearn_records_per_s_per_iteration": len(x) * rounds / theirs,
        "max_centroid_diff": diff,
    }
    rows = [
        Row(
            f"fit time, {rounds} Lloyd rounds",
            secs(ours),
            f"{secs(theirs)} sklearn",
            f"{ratio:.2f}x",
            f"<= {goal}x sklearn",
            met(ratio <= goal),
        ),
        Row(
            "records/s per iteration",
            rate(figures["aiflow_records_per_s_per_iteration"]),
            rate(figures["sklearn_records_per_s_per_iteration"]),
        ),
        Row("same centroids as sklearn", f"max |diff| {diff:.1e}"),
    ]
    return figures, rows


def classifier_vs_sklearn(stage: Any, data: Data, measure: dict[str, Any]) -> Outcome:
    from sklearn.linear_model import LogisticRegression as SklearnLR

    if data.test is None:
        raise ValueError("classifier_vs_sklearn needs held-out rows: set input.test_rows")
    features, label = stage.get_features_col(), stage.get_label_col()
    x, y = data.table.vector(features), data.table.column(label)
    x_test, y_test = data.test.vector(features), data.test.column(label)
    ours, model = timed(lambda: stage.fit(data.table), measure.get("repeat", 1))
    (scored,) = model.transform(data.test)
    our_accuracy = float((scored.column(stage.get_prediction_col()) == y_test).mean())
    peer = SklearnLR(**measure.get("sklearn", {}))
    theirs, _ = timed(lambda: peer.fit(x, y), measure.get("repeat", 1))
    their_accuracy = float((peer.predict(x_test) == y_test).mean())
    gap = 100 * (our_accuracy - their_accuracy)
    tolerance = measure.get("accuracy_tolerance_points", 0.5)
    ratio = ours / theirs
    figures = {
        "rows": len(x),
        "dims": x.shape[1],
        "test_rows": len(x_test),
        "aiflow_s": ours,
        "sklearn_s": theirs,
        "ratio": ratio,
        "aiflow_accuracy": our_accuracy,
        "sklearn_accuracy": their_accuracy,
        "accuracy_gap_points": gap,
        "sklearn_n_iter": int(np.max(peer.n_iter_)),
    }
    rows = [
        Row("fit time", secs(ours), f"{secs(theirs)} sklearn", f"{ratio:.2f}x", "(at equal acc.)"),
        Row(
            "held-out accuracy",
            pct(our_accuracy),
            pct(their_accuracy),
            f"{gap:+.2f} pt",
            f"within {tolerance} pt",
            met(abs(gap) <= tolerance),
        ),
    ]
    return figures, rows


def kmeans_on_flink(stage: Any, data: Data, measure: dict[str, Any]) -> Outcome:
    """``KMeans.fit`` on the table on engine ``flink`` (the initial centroids the local run
    used), ``measure.flink_parallelism`` tasks on the embedded mini-cluster, after a warm-up
    fit (PyFlink's JVM starts once per process). A fit pays the job start and shipping the
    shards once, then its rounds; the per-iteration figure is the
    difference of a ``max_iter`` fit and a one-round fit, divided by the extra rounds, and the
    one with everything counted is printed beside it."""
    from aiflow.config import reset_settings

    os.environ["AIFLOW__FLINK__PARALLELISM"] = str(measure.get("flink_parallelism", 2))
    os.environ.pop("AIFLOW__FLINK__REST_URL", None)
    reset_settings()
    table = data.table.on("flink")
    rows, max_iter = table.num_rows, stage.get_max_iter()
    one_round = type(stage)().copy_params_from(stage).set_max_iter(1)
    one_round.set_initial_model_data(*stage.get_initial_model_data())
    one_round.fit(table.take(slice(0, 1000)))  # warm-up: the JVM gateway starts once
    first, _ = timed(lambda: one_round.fit(table))
    total, _ = timed(lambda: stage.fit(table))
    per_round = (total - first) / max(1, max_iter - 1)
    figures = {
        "flink_parallelism": int(os.environ["AIFLOW__FLINK__PARALLELISM"]),
        "flink_fit_s": total,
        "flink_one_round_fit_s": first,
        "flink_s_per_iteration": per_round,
        "flink_records_per_s_per_iteration": rows / per_round if per_round > 0 else None,
        "flink_records_per_s_all_counted": rows * max_iter / total,
    }
    goal_rate = float(measure.get("flink_goal_records_per_s", 140_000))
    achieved = figures["flink_records_per_s_per_iteration"] or 0.0
    out = [
        Row(
            f"flink: records/s per iteration ({figures['flink_parallelism']} tasks)",
            rate(achieved),
            "1.4k/s Flink ML",
            f"{achieved / 1400:.0f}x",
            f">= {rate(goal_rate)}",
            met(achieved >= goal_rate),
        ),
        Row(
            f"flink: fit, {max_iter} rounds, job start counted",
            secs(total),
            rate(figures["flink_records_per_s_all_counted"]),
        ),
    ]
    return figures, out
