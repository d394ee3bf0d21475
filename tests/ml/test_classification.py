"""LogisticRegression, LinearSVC and NaiveBayes against scikit-learn on its own datasets."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer, load_digits
from sklearn.linear_model import LogisticRegression as SkLogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.naive_bayes import CategoricalNB
from sklearn.preprocessing import StandardScaler
from sklearn.svm import LinearSVC as SkLinearSVC

from aiflow.errors import MLError
from aiflow.ml import Pipeline, Table, load
from aiflow.ml.classification import LinearSVC, LogisticRegression, NaiveBayes
from aiflow.ml.classification.logistic_regression import LogisticRegressionModel


@pytest.fixture(scope="module")
def cancer() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    x, y = load_breast_cancer(return_X_y=True)
    x_train, x_test, y_train, y_test = train_test_split(
        x, y, test_size=0.25, random_state=0, stratify=y
    )
    scaler = StandardScaler().fit(x_train)
    return scaler.transform(x_train), scaler.transform(x_test), y_train, y_test


def table(x: np.ndarray, y: np.ndarray | None = None) -> Table:
    columns: dict[str, object] = {"features": x}
    if y is not None:
        columns["label"] = y.astype(np.float64)
    return Table(columns)


def accuracy(model: object, x: np.ndarray, y: np.ndarray) -> float:
    (out,) = model.transform(table(x))  # type: ignore[attr-defined]
    return float((out.column("prediction") == y).mean())


def full_batch_lr(rows: int) -> LogisticRegression:
    # reg = 1 / (C n) is scikit-learn's objective with C = 1 (its default) in Flink ML's form.
    return LogisticRegression(
        global_batch_size=rows, learning_rate=1.0, max_iter=500, reg=1.0 / rows, tol=0.0
    )


def test_logistic_regression_matches_sklearn(cancer) -> None:
    x_train, x_test, y_train, y_test = cancer
    sk = SkLogisticRegression().fit(x_train, y_train)
    model = full_batch_lr(len(x_train)).fit(table(x_train, y_train))
    assert abs(accuracy(model, x_test, y_test) - sk.score(x_test, y_test)) <= 0.01
    (out,) = model.transform(table(x_test))
    raw = out.column("raw_prediction")
    assert raw.shape == (len(x_test), 2)
    np.testing.assert_allclose(raw.sum(axis=1), 1.0)
    # Same objective, so the same probabilities up to how far 500 rounds of GD got.
    np.testing.assert_allclose(raw[:, 1], sk.predict_proba(x_test)[:, 1], atol=0.05)


def test_logistic_regression_mini_batch_defaults_learn(cancer) -> None:
    x_train, x_test, y_train, y_test = cancer
    model = LogisticRegression(max_iter=200).fit(table(x_train, y_train))
    assert accuracy(model, x_test, y_test) > 0.93


def test_logistic_regression_model_data_layout(cancer) -> None:
    x_train, _, y_train, _ = cancer
    model = LogisticRegression(max_iter=5).fit(table(x_train, y_train))
    (data,) = model.get_model_data()
    assert data.schema == {
        "coefficient": "vector",
        "intercept": "double",
        "model_version": "bigint",
    }
    assert data.num_rows == 1 and data.vector("coefficient").shape == (1, x_train.shape[1])


def test_model_uses_the_newest_model_version(cancer) -> None:
    _, x_test, _, _ = cancer
    dims = x_test.shape[1]
    rows = Table(
        {
            "coefficient": np.stack([np.ones(dims), -np.ones(dims)]),
            "intercept": [0.0, 0.0],
            "model_version": np.array([2, 1]),
        }
    )
    (out,) = LogisticRegressionModel().set_model_data(rows).transform(table(x_test))
    expected = (x_test.sum(axis=1) >= 0).astype(float)
    np.testing.assert_array_equal(out.column("prediction"), expected)


def test_l1_penalty_zeroes_coefficients(cancer) -> None:
    x_train, _, y_train, _ = cancer
    rows = len(x_train)
    sparse = LogisticRegression(
        global_batch_size=rows, learning_rate=0.5, max_iter=300, reg=0.05, elastic_net=1.0
    ).fit(table(x_train, y_train))
    coefficient = sparse.get_model_data()[0].vector("coefficient")[0]
    assert (coefficient == 0).sum() >= 10


def test_weights_count_as_repeated_rows() -> None:
    rng = np.random.default_rng(3)
    x = rng.normal(size=(60, 3))
    y = (x[:, 0] + 0.5 * rng.normal(size=60) > 0).astype(float)
    twice = np.r_[np.arange(30), np.arange(60)]  # rows 0..29 twice
    settings = {"global_batch_size": 1000, "max_iter": 50, "tol": 0.0}
    weighted = LogisticRegression(weight_col="w", **settings).fit(
        Table({"features": x, "label": y, "w": np.r_[np.full(30, 2.0), np.ones(30)]})
    )
    repeated = LogisticRegression(**settings).fit(Table({"features": x[twice], "label": y[twice]}))
    np.testing.assert_allclose(
        weighted.get_model_data()[0].vector("coefficient"),
        repeated.get_model_data()[0].vector("coefficient"),
        rtol=1e-9,
    )


def test_linear_svc_matches_sklearn(cancer) -> None:
    x_train, x_test, y_train, y_test = cancer
    sk = SkLinearSVC().fit(x_train, y_train)
    rows = len(x_train)
    model = LinearSVC(
        global_batch_size=rows, learning_rate=0.1, max_iter=500, reg=1.0 / rows, tol=0.0
    ).fit(table(x_train, y_train))
    assert abs(accuracy(model, x_test, y_test) - sk.score(x_test, y_test)) <= 0.01
    (out,) = model.transform(table(x_test))
    raw = out.column("raw_prediction")
    np.testing.assert_array_equal(raw[:, 0], -raw[:, 1])  # element 1: the positive score
    np.testing.assert_array_equal(out.column("prediction"), (raw[:, 1] >= 0).astype(float))
    stricter = model.set(model.THRESHOLD, 1.0).transform(table(x_test))[0]
    assert stricter.column("prediction").sum() < out.column("prediction").sum()


def test_naive_bayes_matches_categorical_nb() -> None:
    x, y = load_digits(return_X_y=True)
    x_train, x_test, y_train, y_test = train_test_split(
        x, y, test_size=0.25, random_state=0, stratify=y
    )
    sk = CategoricalNB(alpha=1.0, min_categories=17).fit(x_train, y_train)
    model = NaiveBayes(smoothing=1.0).fit(table(x_train, y_train))
    assert abs(accuracy(model, x_test, y_test) - sk.score(x_test, y_test)) <= 0.01
    assert model.get_model_data()[0].num_rows == 10


def test_naive_bayes_follows_flink_ml_formula() -> None:
    x = np.array([[0.0, 1.0], [0.0, 2.0], [1.0, 1.0], [1.0, 1.0]])
    y = np.array([0.0, 0.0, 1.0, 1.0])
    model = NaiveBayes(smoothing=1.0).fit(table(x, y))
    per_label, per_category = model.get_model_data()
    np.testing.assert_array_equal(per_category.column("feature"), [0, 0, 1, 1])
    np.testing.assert_array_equal(per_category.column("value"), [0.0, 1.0, 1.0, 2.0])
    # label 0: feature 0 = 0 twice out of 2 rows, 2 categories: log((2 + 1) / (2 + 2))
    assert per_label.vector("theta")[0, 0] == pytest.approx(np.log(3 / 4))
    # prior: log((n_c * F + s) / (n * F + L * s)) = log(5 / 10)
    assert per_label.column("log_prior")[0] == pytest.approx(np.log(5 / 10))
    # A value never seen (feature 1 = 7) leaves that feature out; feature 0 decides.
    (out,) = model.transform(table(np.array([[1.0, 7.0], [0.0, 7.0]])))
    np.testing.assert_array_equal(out.column("prediction"), [1.0, 0.0])


@pytest.mark.parametrize(
    "estimator",
    [LogisticRegression(max_iter=30), LinearSVC(max_iter=30), NaiveBayes()],
    ids=["lr", "svc", "nb"],
)
def test_save_load_gives_identical_predictions(estimator, cancer, tmp_path) -> None:
    x_train, x_test, y_train, _ = cancer
    x_train, x_test = np.round(x_train), np.round(x_test)  # categorical for NaiveBayes
    model = estimator.fit(table(x_train, y_train))
    model.save(tmp_path / "m")
    loaded = load(tmp_path / "m")
    assert type(loaded) is type(model)
    assert loaded.get_param_map() == model.get_param_map()
    (before,) = model.transform(table(x_test))
    (after,) = loaded.transform(table(x_test))
    for col in before.columns:
        np.testing.assert_array_equal(after.column(col), before.column(col))


def test_logistic_regression_in_a_pipeline(cancer, tmp_path) -> None:
    x_train, x_test, y_train, y_test = cancer
    model = Pipeline([full_batch_lr(len(x_train))]).fit(table(x_train, y_train))
    model.save(tmp_path / "p")
    assert accuracy(load(tmp_path / "p"), x_test, y_test) > 0.95


# -- bad input --------------------------------------------------------------------------------


def test_invalid_params_name_stage_and_param() -> None:
    with pytest.raises(MLError, match="LogisticRegression: max_iter must be > 0"):
        LogisticRegression(max_iter=0)
    with pytest.raises(MLError, match="LinearSVC: elastic_net must be in"):
        LinearSVC(elastic_net=2.0)
    with pytest.raises(MLError, match="NaiveBayes: smoothing must be >= 0"):
        NaiveBayes(smoothing=-1.0)
    with pytest.raises(MLError, match="NaiveBayes: model_type must be one of"):
        NaiveBayes(model_type="gaussian")
    with pytest.raises(MLError, match="multinomial' is not supported"):
        LogisticRegression(multi_class="multinomial").fit(table(np.ones((2, 1)), np.array([0, 1])))


@pytest.mark.parametrize("estimator", [LogisticRegression(), LinearSVC(), NaiveBayes()])
def test_bad_training_tables(estimator) -> None:
    name = type(estimator).__name__
    empty = Table({"features": np.zeros((0, 2)), "label": np.zeros(0)})
    with pytest.raises(MLError, match=f"{name}: the input table is empty"):
        estimator.fit(empty)
    nan = np.array([[1.0, np.nan], [0.0, 1.0]])
    with pytest.raises(MLError, match=rf"{name}: column 'features' has NaN .* \(first: row 0\)"):
        estimator.fit(table(nan, np.array([0, 1])))
    with pytest.raises(MLError, match=f"{name}: column 'label' is not in the table"):
        estimator.fit(table(np.ones((2, 2))))
    strings = Table({"features": np.ones((2, 2)), "label": np.array(["a", "b"])})
    with pytest.raises(MLError, match=f"{name}: label column 'label' must hold numbers"):
        estimator.fit(strings)


def test_binary_classifiers_refuse_other_labels() -> None:
    with pytest.raises(MLError, match="LinearSVC: label column 'label' must hold 0 and 1"):
        LinearSVC().fit(table(np.ones((3, 2)), np.array([0, 1, 2])))


@pytest.mark.parametrize("estimator", [LogisticRegression(), LinearSVC(), NaiveBayes()])
def test_mismatched_vector_size_at_transform(estimator) -> None:
    model = estimator.fit(table(np.array([[0.0, 1.0], [1.0, 0.0]]), np.array([0, 1])))
    name = type(model).__name__
    with pytest.raises(MLError, match=f"{name}: column 'features' holds vectors of size 3, "):
        model.transform(table(np.ones((2, 3))))
    with pytest.raises(MLError, match=f"{name}: column 'x' is not in the table"):
        model.set_features_col("x").transform(table(np.ones((2, 2))))
