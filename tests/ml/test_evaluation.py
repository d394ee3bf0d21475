"""The evaluators against sklearn.metrics (and Flink ML's row-by-row definitions)."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn import metrics

from aiflow.errors import MLError
from aiflow.ml import Table, load
from aiflow.ml.evaluation import BinaryClassificationEvaluator, MulticlassClassificationEvaluator

ALL_BINARY = ["areaUnderROC", "areaUnderPR", "ks", "areaUnderLorenz"]
ALL_MULTICLASS = [
    "accuracy",
    "weightedPrecision",
    "weightedRecall",
    "weightedF1",
    "macroPrecision",
    "macroRecall",
    "macroF1",
]


def scored(rows: int, *, ties: bool, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    label = rng.integers(0, 2, rows).astype(np.float64)
    score = rng.random(rows) + 0.5 * label
    return label, (np.round(score, 1) if ties else score)


def evaluate(table: Table, **params: object) -> dict[str, float]:
    (out,) = BinaryClassificationEvaluator(metrics_names=ALL_BINARY, **params).transform(table)
    assert out.num_rows == 1 and out.columns == ALL_BINARY
    return {name: float(out.column(name)[0]) for name in out.columns}


def sklearn_binary(label, score, weight=None) -> dict[str, float]:
    precision, recall, _ = metrics.precision_recall_curve(label, score, sample_weight=weight)
    fpr, tpr, _ = metrics.roc_curve(label, score, sample_weight=weight, drop_intermediate=False)
    w = np.ones_like(label) if weight is None else weight
    pos, neg = w[label == 1].sum(), w[label == 0].sum()
    share = (tpr * pos + fpr * neg) / (pos + neg)
    return {
        "areaUnderROC": metrics.roc_auc_score(label, score, sample_weight=weight),
        "areaUnderPR": metrics.auc(recall, precision),
        "ks": float(np.abs(tpr - fpr).max()),
        "areaUnderLorenz": metrics.auc(share, tpr),
    }


def flink_ml_row_by_row(label, score) -> dict[str, float]:
    """Flink ML's BinaryClassificationEvaluator loop (rows by descending score, one curve point
    per row), for distinct scores."""
    order = np.argsort(-score)
    positive = label[order] == 1
    tp, fp = np.cumsum(positive), np.cumsum(~positive)
    tpr = np.r_[0.0, tp / tp[-1]]
    fpr = np.r_[0.0, fp / fp[-1]]
    precision = np.r_[1.0, tp / (tp + fp)]
    rate = np.r_[0.0, (tp + fp) / len(label)]
    area = lambda x, y: float(((x[1:] - x[:-1]) * (y[1:] + y[:-1]) / 2).sum())  # noqa: E731
    return {
        "areaUnderPR": area(tpr, precision),
        "ks": float(np.abs(tpr - fpr).max()),
        "areaUnderLorenz": area(rate, tpr),
    }


@pytest.mark.parametrize("ties", [False, True], ids=["distinct", "ties"])
def test_binary_metrics_equal_sklearn(ties) -> None:
    label, score = scored(2000, ties=ties)
    ours = evaluate(Table({"label": label, "raw_prediction": score}))
    for name, expected in sklearn_binary(label, score).items():
        assert ours[name] == pytest.approx(expected, abs=1e-9), name


def test_binary_metrics_equal_flink_ml_for_distinct_scores() -> None:
    label, score = scored(500, ties=False, seed=4)
    ours = evaluate(Table({"label": label, "raw_prediction": score}))
    for name, expected in flink_ml_row_by_row(label, score).items():
        assert ours[name] == pytest.approx(expected, abs=1e-9), name


def test_weighted_binary_metrics_equal_sklearn() -> None:
    label, score = scored(1000, ties=True, seed=1)
    weight = np.random.default_rng(2).uniform(0.1, 3.0, len(label))
    ours = evaluate(
        Table({"y": label, "s": score, "w": weight}),
        label_col="y",
        raw_prediction_col="s",
        weight_col="w",
    )
    for name, expected in sklearn_binary(label, score, weight).items():
        assert ours[name] == pytest.approx(expected, abs=1e-9), name


def test_vector_raw_prediction_uses_element_one() -> None:
    label, score = scored(300, ties=False, seed=3)
    as_vector = Table({"label": label, "raw_prediction": np.column_stack([1 - score, score])})
    assert evaluate(as_vector) == evaluate(Table({"label": label, "raw_prediction": score}))


def test_default_metrics_and_one_class() -> None:
    (out,) = BinaryClassificationEvaluator().transform(
        Table({"label": [1.0, 1.0], "raw_prediction": [0.2, 0.8]})
    )
    assert out.columns == ["areaUnderROC", "areaUnderPR"]
    assert np.isnan(out.column("areaUnderROC")[0])


def test_multiclass_metrics_equal_sklearn() -> None:
    rng = np.random.default_rng(5)
    label = rng.integers(0, 4, 600)
    predicted = np.where(rng.random(600) < 0.7, label, rng.integers(0, 5, 600))  # 4: never true
    weight = rng.uniform(0.5, 2.0, 600)
    table = Table({"label": label, "prediction": predicted.astype(np.float64), "w": weight})
    for w in (None, weight):
        evaluator = MulticlassClassificationEvaluator(
            metrics_names=ALL_MULTICLASS, weight_col=None if w is None else "w"
        )
        (out,) = evaluator.transform(table)
        assert out.columns == ALL_MULTICLASS
        got = {name: float(out.column(name)[0]) for name in out.columns}
        kw = {"sample_weight": w, "zero_division": 0}
        expected = {
            "accuracy": metrics.accuracy_score(label, predicted, sample_weight=w),
            "weightedPrecision": metrics.precision_score(
                label, predicted, average="weighted", **kw
            ),
            "weightedRecall": metrics.recall_score(label, predicted, average="weighted", **kw),
            "weightedF1": metrics.f1_score(label, predicted, average="weighted", **kw),
            "macroPrecision": metrics.precision_score(label, predicted, average="macro", **kw),
            "macroRecall": metrics.recall_score(label, predicted, average="macro", **kw),
            "macroF1": metrics.f1_score(label, predicted, average="macro", **kw),
        }
        for name, value in expected.items():
            assert got[name] == pytest.approx(value, abs=1e-9), name


def test_save_load(tmp_path) -> None:
    evaluator = BinaryClassificationEvaluator(metrics_names=["ks"], raw_prediction_col="p")
    evaluator.save(tmp_path / "e")
    again = load(tmp_path / "e")
    assert again.get_param_map() == evaluator.get_param_map()


def test_bad_input() -> None:
    with pytest.raises(MLError, match="BinaryClassificationEvaluator: metrics_names must be"):
        BinaryClassificationEvaluator(metrics_names=["accuracy"])
    with pytest.raises(MLError, match="MulticlassClassificationEvaluator: metrics_names must"):
        MulticlassClassificationEvaluator(metrics_names=["accuracy", "accuracy"])
    evaluator = BinaryClassificationEvaluator()
    with pytest.raises(MLError, match="BinaryClassificationEvaluator: column 'raw_prediction' is"):
        evaluator.transform(Table({"label": [1.0]}))
    with pytest.raises(MLError, match="BinaryClassificationEvaluator: column 'raw_prediction' has"):
        evaluator.transform(Table({"label": [1.0, 0.0], "raw_prediction": [np.nan, 0.1]}))
    with pytest.raises(MLError, match="BinaryClassificationEvaluator: the input table is empty"):
        evaluator.transform(Table({"label": np.zeros(0), "raw_prediction": np.zeros(0)}))
    with pytest.raises(MLError, match="MulticlassClassificationEvaluator: column 'label' is"):
        MulticlassClassificationEvaluator().transform(
            Table({"label": ["a", "b"], "prediction": [1.0, 0.0]})
        )
