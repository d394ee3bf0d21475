"""LinearRegression against scikit-learn's least squares on its diabetes dataset."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import load_diabetes
from sklearn.linear_model import LinearRegression as SkLinearRegression
from sklearn.linear_model import Ridge
from sklearn.preprocessing import StandardScaler

from aiflow.errors import MLError
from aiflow.ml import Table, load
from aiflow.ml.regression import LinearRegression


@pytest.fixture(scope="module")
def diabetes() -> tuple[np.ndarray, np.ndarray]:
    return load_diabetes(return_X_y=True)


def fitted(model: object) -> tuple[np.ndarray, float]:
    (data,) = model.get_model_data()  # type: ignore[attr-defined]
    return data.vector("coefficient")[0], float(data.column("intercept")[0])


def test_coefficients_equal_sklearn(diabetes) -> None:
    x, y = diabetes
    sk = SkLinearRegression().fit(x, y)
    coefficient, intercept = fitted(LinearRegression().fit(Table({"features": x, "label": y})))
    np.testing.assert_allclose(coefficient, sk.coef_, rtol=1e-6)
    assert intercept == pytest.approx(sk.intercept_, rel=1e-6)


def test_weighted_ridge_equals_sklearn(diabetes) -> None:
    x, y = diabetes
    w = np.random.default_rng(0).uniform(0.5, 2.0, len(y))
    reg = 0.01
    # Ours: weighted mean loss / 2 + reg / 2 |c|^2; Ridge: sum w (..)^2 + alpha |c|^2.
    sk = Ridge(alpha=reg * w.sum()).fit(x, y, sample_weight=w)
    model = LinearRegression(reg=reg, weight_col="w").fit(
        Table({"features": x, "label": y, "w": w})
    )
    coefficient, intercept = fitted(model)
    np.testing.assert_allclose(coefficient, sk.coef_, rtol=1e-6)
    assert intercept == pytest.approx(sk.intercept_, rel=1e-6)


def test_without_intercept(diabetes) -> None:
    x, y = diabetes
    sk = SkLinearRegression(fit_intercept=False).fit(x, y)
    model = LinearRegression(fit_intercept=False).fit(Table({"features": x, "label": y}))
    coefficient, intercept = fitted(model)
    np.testing.assert_allclose(coefficient, sk.coef_, rtol=1e-6)
    assert intercept == 0.0


def test_sgd_solver_approaches_the_optimum(diabetes) -> None:
    x, y = diabetes
    x = StandardScaler().fit_transform(x)
    sk = SkLinearRegression().fit(x, y)
    model = LinearRegression(
        solver="sgd", global_batch_size=len(y), learning_rate=0.4, max_iter=4000, tol=1e-12
    ).fit(Table({"features": x, "label": y}))
    coefficient, intercept = fitted(model)
    np.testing.assert_allclose(coefficient, sk.coef_, rtol=0.05, atol=0.5)
    assert intercept == pytest.approx(sk.intercept_, rel=1e-6)


def test_l1_uses_sgd_and_zeroes_coefficients(diabetes) -> None:
    x, y = diabetes
    x = StandardScaler().fit_transform(x)
    model = LinearRegression(
        reg=5.0, elastic_net=1.0, global_batch_size=len(y), learning_rate=0.4, max_iter=500
    ).fit(Table({"features": x, "label": y}))
    coefficient, _ = fitted(model)
    assert (coefficient == 0).sum() >= 3
    with pytest.raises(MLError, match="LinearRegression: solver 'normal' has no L1 penalty"):
        LinearRegression(solver="normal", reg=1.0, elastic_net=0.5).fit(
            Table({"features": x, "label": y})
        )


def test_predictions_and_save_load(diabetes, tmp_path) -> None:
    x, y = diabetes
    sk = SkLinearRegression().fit(x, y)
    model = LinearRegression(prediction_col="y_hat").fit(Table({"features": x, "label": y}))
    (out,) = model.transform(Table({"features": x}))
    np.testing.assert_allclose(out.column("y_hat"), sk.predict(x), rtol=1e-9)
    model.save(tmp_path / "m")
    (again,) = load(tmp_path / "m").transform(Table({"features": x}))
    np.testing.assert_array_equal(again.column("y_hat"), out.column("y_hat"))


def test_bad_input() -> None:
    with pytest.raises(MLError, match="LinearRegression: solver must be one of"):
        LinearRegression(solver="lbfgs")
    with pytest.raises(MLError, match="LinearRegression: reg must be >= 0"):
        LinearRegression(reg=-1.0)
    good = Table({"features": np.eye(3), "label": [1.0, 2.0, 3.0]})
    with pytest.raises(MLError, match="LinearRegression: label column 'label' has NaN"):
        LinearRegression().fit(Table({"features": np.eye(3), "label": [1.0, np.nan, 3.0]}))
    with pytest.raises(MLError, match="LinearRegression: weight column 'w' must hold finite"):
        LinearRegression(weight_col="w").fit(good.with_columns({"w": [1.0, -1.0, 1.0]}))
    with pytest.raises(MLError, match="LinearRegression: the input table is empty"):
        LinearRegression().fit(good.take(slice(0, 0)))
    model = LinearRegression().fit(good)
    with pytest.raises(MLError, match="LinearRegressionModel: column 'features' holds vectors"):
        model.transform(Table({"features": np.eye(2)}))


def test_diverging_sgd_is_an_error_naming_the_stage(diabetes) -> None:
    x, y = diabetes
    big = Table({"features": x * 1e6, "label": y})
    with pytest.raises(MLError, match="LinearRegression: the loss diverged in round"):
        LinearRegression(solver="sgd", learning_rate=10.0, max_iter=200).fit(big)
