"""OnlineLogisticRegression: progressive (test-then-train) accuracy against River on a drifting
stream, model data switching in the model, mini-batching, save/load and bad input."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from aiflow.errors import MLError
from aiflow.ml import Pipeline, Table, load
from aiflow.ml.classification import (
    LogisticRegression,
    OnlineLogisticRegression,
    OnlineLogisticRegressionModel,
)
from aiflow.ml.classification.logistic_regression import LogisticRegressionModel
from aiflow.ml.feature import StandardScaler

DIMS = 10


def drifting_stream(
    rows: int, *, seed: int = 0, noisy: bool = True
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Gaussian features; labels from a logistic concept whose weights turn to an orthogonal
    direction half-way (so the first concept's model is right half of the time on the second).
    ``noisy``: labels drawn from the logistic probability (best accuracy ~83%), else its sign.
    Returns x, y, and both concepts' weights."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(rows, DIMS))
    w1, w2 = rng.normal(size=DIMS), rng.normal(size=DIMS)
    w2 -= (w2 @ w1) / (w1 @ w1) * w1
    w1 *= 3.0 / np.linalg.norm(w1)
    w2 *= 3.0 / np.linalg.norm(w2)
    z = np.where(np.arange(rows) < rows // 2, x @ w1, x @ w2) + 0.5
    if noisy:
        y = (rng.random(rows) < 1.0 / (1.0 + np.exp(-z))).astype(np.float64)
    else:
        y = (z > 0).astype(np.float64)
    return x, y, w1, w2


def zero_model() -> Table:
    return Table({"coefficient": np.zeros((1, DIMS)), "intercept": [0.0], "model_version": [0]})


def accuracy(model: LogisticRegressionModel, x: np.ndarray, y: np.ndarray) -> float:
    (out,) = model.transform(Table({"features": x}))
    return float((out.column("prediction") == y).mean())


def progressive_accuracy(
    estimator: OnlineLogisticRegression, x: np.ndarray, y: np.ndarray
) -> float:
    """Test-then-train per mini-batch: each mini-batch is predicted by the model of the
    mini-batches before it, then trained on."""
    size = estimator.get_global_batch_size()
    batches = list(Table({"features": x, "label": y}).batches(size))
    model = OnlineLogisticRegressionModel().set_model_data(zero_model())
    correct = 0.0
    for batch, model_data in zip(batches, estimator.fit_stream(batches), strict=True):
        (out,) = model.transform(batch)
        assert (out.column("model_version") == model.model_version).all()
        correct += float((out.column("prediction") == batch.column("label")).sum())
        model.set_model_data(model_data)
    return correct / len(y)


def river_progressive_accuracy(model: object, x: np.ndarray, y: np.ndarray) -> float:
    """River's test-then-train, one record at a time."""
    correct = 0
    for row, label in zip(x.tolist(), y, strict=True):
        features = dict(enumerate(row))
        correct += model.predict_one(features) == bool(label)  # type: ignore[attr-defined]
        model.learn_one(features, bool(label))  # type: ignore[attr-defined]
    return correct / len(y)


@pytest.fixture(scope="module")
def stream() -> tuple[np.ndarray, np.ndarray]:
    x, y, _, _ = drifting_stream(20_000, seed=0)
    return x, y


@pytest.fixture(scope="module")
def river_accuracies(stream: tuple[np.ndarray, np.ndarray]) -> dict[str, float]:
    pytest.importorskip("river")
    from river import linear_model, optim

    x, y = stream
    return {
        "sgd": river_progressive_accuracy(linear_model.LogisticRegression(), x, y),
        "ftrl": river_progressive_accuracy(
            linear_model.LogisticRegression(
                optimizer=optim.FTRLProximal(alpha=0.5, beta=0.1, l1=0.0, l2=0.0)
            ),
            x,
            y,
        ),
    }


@pytest.mark.parametrize(
    "params",
    [
        {"optimizer": "ftrl", "alpha": 0.5, "beta": 0.1},
        {"optimizer": "sgd", "learning_rate": 0.5},
    ],
    ids=["ftrl", "sgd"],
)
def test_progressive_accuracy_is_at_least_rivers(
    stream: tuple[np.ndarray, np.ndarray], river_accuracies: dict[str, float], params: dict
) -> None:
    # 20,000 rows, the concept turning half-way; ours updates per mini-batch of 32 rows, River
    # per record. Measured: ours 0.828 (ftrl) / 0.829 (sgd); River 0.828 (SGD 0.01, its
    # default) / 0.828 (FTRL-Proximal, same alpha and beta); the best possible is about 0.83.
    x, y = stream
    ours = progressive_accuracy(OnlineLogisticRegression(global_batch_size=32, **params), x, y)
    best_river = max(river_accuracies.values())
    assert ours >= best_river - 0.01, (ours, river_accuracies)
    assert ours > 0.8


def test_predictions_change_when_new_model_data_arrive() -> None:
    x, y, _, _ = drifting_stream(40_000, seed=1, noisy=False)
    first, second = slice(0, 20_000), slice(20_000, None)
    base = LogisticRegression(max_iter=200, global_batch_size=1000, learning_rate=1.0).fit(
        Table({"features": x[first], "label": y[first]})
    )
    (base_data,) = base.get_model_data()
    held_x, held_y = x[second][-2000:], y[second][-2000:]  # the new concept, not trained on
    train = Table({"features": x[second][:-2000], "label": y[second][:-2000]})

    estimator = OnlineLogisticRegression(alpha=0.5).set_initial_model_data(base_data)
    model = OnlineLogisticRegressionModel().set_model_data(base_data)
    assert 0.4 < accuracy(model, held_x, held_y) < 0.6  # the old concept: a coin toss

    seen = []
    for model_data in estimator.fit_stream(train):
        model.set_model_data(model_data)  # a serving model receiving the stream of models
        seen.append(model.model_version)
    assert seen == list(range(1, len(seen) + 1))
    assert len(seen) == -(-train.num_rows // 32)
    (out,) = model.transform(Table({"features": held_x}))
    assert (out.column("model_version") == seen[-1]).all()
    assert float((out.column("prediction") == held_y).mean()) > 0.9

    model.set_model_data(base_data)  # switching back to version 0 predicts as before
    assert 0.4 < accuracy(model, held_x, held_y) < 0.6
    fitted = estimator.fit(train)  # fit: the same training, the last model data
    assert fitted.model_version == seen[-1]
    assert accuracy(fitted, held_x, held_y) > 0.9


def test_a_table_of_many_versions_predicts_with_the_newest() -> None:
    x, y, _, _ = drifting_stream(4000, seed=2, noisy=False)
    versions = list(
        OnlineLogisticRegression(global_batch_size=400).fit_stream(
            Table({"features": x, "label": y})
        )
    )
    shuffled = Table.concat([versions[i] for i in (3, 9, 0, 5)])
    model = OnlineLogisticRegressionModel().set_model_data(shuffled)
    assert model.model_version == 10
    np.testing.assert_array_equal(model.linear.coefficient, versions[9].vector("coefficient")[0])


def test_one_version_per_global_batch_size_rows_whatever_the_source_sizes() -> None:
    x, y, _, _ = drifting_stream(1050, seed=3)
    whole = Table({"features": x, "label": y, "other": np.arange(1050).astype(str)})
    cuts = [0, 7, 57, 58, 300, 301, 777, 1050]
    pieces = [whole.take(slice(a, b)) for a, b in itertools.pairwise(cuts)]
    estimator = OnlineLogisticRegression(global_batch_size=100)
    from_table = list(estimator.fit_stream(whole))
    from_pieces = list(estimator.fit_stream(iter([*pieces, whole.take(slice(0, 0))])))
    assert len(from_table) == len(from_pieces) == 11  # the last 50 rows: a shorter last batch
    for a, b in zip(from_table, from_pieces, strict=True):
        assert a.columns == ["coefficient", "intercept", "model_version"]
        np.testing.assert_array_equal(a.vector("coefficient"), b.vector("coefficient"))
        assert a.column("model_version")[0] == b.column("model_version")[0]
    assert [t.column("model_version")[0] for t in from_table] == list(range(1, 12))


def test_versions_continue_from_the_initial_model_and_an_endless_stream_works() -> None:
    rng = np.random.default_rng(4)
    w = rng.normal(size=DIMS)

    def endless() -> Iterator[Table]:
        while True:
            x = rng.normal(size=(10, DIMS))
            yield Table({"features": x, "label": (x @ w > 0).astype(float)})

    start = zero_model().with_columns({"model_version": [41]})
    estimator = OnlineLogisticRegression(global_batch_size=25).set_initial_model_data(start)
    got = list(itertools.islice(estimator.fit_stream(endless()), 6))
    assert [t.column("model_version")[0] for t in got] == [42, 43, 44, 45, 46, 47]


def test_ftrl_keeps_the_initial_model() -> None:
    # Flink ML's FTRL starts its accumulators at 0, which pulls the first update towards 0;
    # here one mini-batch moves a coordinate by less than alpha.
    x, y, _, _ = drifting_stream(20_000, seed=5, noisy=False)
    data = Table({"features": x[:10_000], "label": y[:10_000]})
    base = LogisticRegression(max_iter=100, global_batch_size=1000, learning_rate=1.0).fit(data)
    (base_data,) = base.get_model_data()
    estimator = OnlineLogisticRegression(alpha=0.1).set_initial_model_data(base_data)
    (after_one,) = itertools.islice(estimator.fit_stream(data.take(slice(0, 32))), 1)
    moved = np.abs(after_one.vector("coefficient")[0] - base.linear.coefficient)
    assert moved.max() < 0.1
    model = OnlineLogisticRegressionModel().set_model_data(after_one)
    assert accuracy(model, x[:10_000], y[:10_000]) >= accuracy(base, x[:10_000], y[:10_000]) - 0.01


def test_l1_drops_noise_features() -> None:
    rng = np.random.default_rng(6)
    x = rng.normal(size=(8000, DIMS))
    y = (x[:, 0] - 2 * x[:, 1] + 0.2 * rng.normal(size=8000) > 0).astype(float)
    data = Table({"features": x, "label": y})
    # FTRL's L1 bounds the accumulated gradient (McMahan's lambda_1): exact zeros
    ftrl = OnlineLogisticRegression(reg=1.0, elastic_net=1.0, alpha=0.5).fit(data)
    coef = ftrl.linear.coefficient
    assert (coef[2:] == 0).all() and coef[0] > 0 > coef[1], coef
    # SGD's L1 is a per-step soft threshold: each mini-batch's noise moves them again a little
    sgd = OnlineLogisticRegression(optimizer="sgd", reg=0.05, elastic_net=1.0, learning_rate=0.5)
    coef = sgd.fit(data).linear.coefficient
    assert np.abs(coef[2:]).max() < 0.05 and coef[0] > 0.5 and coef[1] < -1.0, coef


def test_weights_and_fit_intercept() -> None:
    x, y, _, _ = drifting_stream(3000, seed=7)
    plain = OnlineLogisticRegression().fit(Table({"features": x, "label": y}))
    doubled = OnlineLogisticRegression(weight_col="w").fit(
        Table({"features": x, "label": y, "w": np.full(3000, 2.0)})
    )
    np.testing.assert_allclose(doubled.linear.coefficient, plain.linear.coefficient, rtol=1e-12)
    # rows of weight 0 with flipped labels do not count; with weight 1 they would cancel out
    x, y = x[:1500], (x[:1500] @ np.arange(1.0, DIMS + 1) > 0).astype(float)
    rows = np.random.default_rng(0).permutation(3000)
    for zero, least, most in ((0.0, 0.95, 1.0), (1.0, 0.0, 0.8)):
        flipped = Table(
            {
                "features": np.vstack([x, x]),
                "label": np.concatenate([y, 1 - y]),
                "w": np.concatenate([np.ones(1500), np.full(1500, zero)]),
            }
        ).take(rows)
        model = OnlineLogisticRegression(weight_col="w", alpha=0.5).fit(flipped)
        assert least <= accuracy(model, x, y) <= most
    no_intercept = OnlineLogisticRegression(fit_intercept=False).fit(
        Table({"features": x, "label": y})
    )
    assert no_intercept.linear.intercept == 0.0


def test_in_a_pipeline() -> None:
    x, y, _, _ = drifting_stream(4000, seed=8, noisy=False)
    data = Table({"raw": x[:2000] * 10.0 + 3.0, "label": y[:2000]})
    model = Pipeline(
        [
            StandardScaler(input_col="raw", output_col="features", with_mean=True),
            OnlineLogisticRegression(alpha=0.5, global_batch_size=64),
        ]
    ).fit(data)
    (out,) = model.transform(data)
    assert float((out.column("prediction") == y[:2000]).mean()) > 0.9
    assert set(out.column("model_version")) == {-(-2000 // 64)}


def test_save_load_estimator_with_initial_model_and_model(tmp_path: Path) -> None:
    x, y, _, _ = drifting_stream(2000, seed=9)
    data = Table({"features": x, "label": y})
    start = zero_model().with_columns({"coefficient": np.ones((1, DIMS)), "model_version": [7]})
    estimator = OnlineLogisticRegression(
        alpha=0.3, beta=0.5, reg=0.01, elastic_net=0.5, global_batch_size=50
    ).set_initial_model_data(start)
    estimator.save(tmp_path / "est")
    same = load(tmp_path / "est")
    assert isinstance(same, OnlineLogisticRegression)
    assert same.get_param_map() == estimator.get_param_map()
    (initial,) = same.get_initial_model_data()
    np.testing.assert_array_equal(initial.vector("coefficient"), np.ones((1, DIMS)))
    model, again = estimator.fit(data), same.fit(data)
    assert model.model_version == again.model_version == 7 + 40
    np.testing.assert_array_equal(model.linear.coefficient, again.linear.coefficient)

    model.save(tmp_path / "model")
    loaded = OnlineLogisticRegressionModel.load(tmp_path / "model")
    (a,), (b,) = model.transform(data), loaded.transform(data)
    for col in ("prediction", "raw_prediction", "model_version"):
        np.testing.assert_array_equal(a.column(col), b.column(col))


@pytest.mark.parametrize(
    ("params", "words"),
    [
        ({"alpha": 0.0}, ["alpha", "> 0"]),
        ({"beta": -1.0}, ["beta"]),
        ({"optimizer": "adam"}, ["optimizer", "ftrl"]),
        ({"global_batch_size": 0}, ["global_batch_size"]),
        ({"elastic_net": 2.0}, ["elastic_net"]),
        ({"reg": -0.1}, ["reg"]),
    ],
)
def test_invalid_params(params: dict, words: list[str]) -> None:
    with pytest.raises(MLError) as err:
        OnlineLogisticRegression(**params)
    for word in words:
        assert word in str(err.value)


def test_bad_input() -> None:
    x, y, _, _ = drifting_stream(200, seed=10)
    est = OnlineLogisticRegression(global_batch_size=50)

    def fails(stream: object, *words: str) -> None:
        with pytest.raises(MLError) as err:
            est.fit(stream)  # type: ignore[arg-type]
        assert "OnlineLogisticRegression" in str(err.value)
        for word in words:
            assert word in str(err.value), str(err.value)

    fails(Table({"features": x[:0], "label": y[:0]}), "no rows")
    fails([], "no rows")
    fails("features", "Table or an iterable")
    fails([Table({"features": x, "label": y}), {"features": x}], "stream item 1", "dict")
    fails(Table({"features": x}), "'label'")
    bad_x = x.copy()
    bad_x[120, 3] = np.nan
    fails(Table({"features": bad_x, "label": y}), "NaN", "mini-batch 2", "rows 100 to 149")
    fails(Table({"features": x, "label": y * 2}), "0 and 1")
    with pytest.raises(MLError, match="'w'"):
        OnlineLogisticRegression(weight_col="w").fit(
            Table({"features": x, "label": y, "w": -np.ones(200)})
        )
    fails(
        [
            Table({"features": x[:30], "label": y[:30]}),
            Table({"features": x[:30, :4], "label": y[:30]}),
        ],
        "vector sizes differ",
        "'features'",
    )
    with pytest.raises(MLError, match="size 4, the model expects 10"):
        est.set_initial_model_data(zero_model()).fit(Table({"features": x[:, :4], "label": y}))
    with pytest.raises(MLError, match="one stream"):
        OnlineLogisticRegression().fit(Table({"features": x, "label": y}), Table({"features": x}))
    with pytest.raises(MLError, match="'coefficient'"):
        OnlineLogisticRegression().set_initial_model_data(Table({"weights": [1.0]}))
    with pytest.raises(MLError, match="no model data"):
        OnlineLogisticRegressionModel().transform(Table({"features": x}))
