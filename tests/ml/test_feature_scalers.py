"""StandardScaler and MinMaxScaler against scikit-learn on the datasets it ships, plus Flink ML's
deliberate differences (sample std, constant features), save/load and bad input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from sklearn import preprocessing
from sklearn.datasets import load_breast_cancer, load_diabetes, load_iris, load_wine

from aiflow.errors import MLError
from aiflow.ml import Table, load
from aiflow.ml.api import Estimator, Model
from aiflow.ml.feature import MinMaxScaler, MinMaxScalerModel, StandardScaler, StandardScalerModel

DATASETS = [load_iris, load_wine, load_breast_cancer, load_diabetes]


def features(loader: object) -> np.ndarray:
    return loader(return_X_y=True)[0]  # type: ignore[operator]


def output(table: Table, name: str = "out") -> np.ndarray:
    return table.vector(name)


@pytest.mark.parametrize("loader", DATASETS, ids=lambda f: f.__name__)
@pytest.mark.parametrize(("with_mean", "with_std"), [(True, True), (False, True), (True, False)])
def test_standard_scaler_equals_sklearn_up_to_the_sample_std(
    loader: object, with_mean: bool, with_std: bool
) -> None:
    x = features(loader)
    n = len(x)
    table = Table({"x": x})
    model = StandardScaler(
        input_col="x", output_col="out", with_mean=with_mean, with_std=with_std
    ).fit(table)
    (out,) = model.transform(table)
    expected = preprocessing.StandardScaler(with_mean=with_mean, with_std=with_std).fit_transform(x)
    # Flink ML divides by the sample std (ddof=1), sklearn by the population one (ddof=0).
    ratio = np.sqrt((n - 1) / n) if with_std else 1.0
    np.testing.assert_allclose(output(out), expected * ratio, rtol=0, atol=1e-9)
    (data,) = model.get_model_data()
    np.testing.assert_allclose(data.vector("mean")[0], x.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(data.vector("std")[0], x.std(axis=0, ddof=1), rtol=1e-12)


def test_standard_scaler_defaults_follow_flink_ml() -> None:
    scaler = StandardScaler()
    assert (scaler.get_with_mean(), scaler.get_with_std()) == (False, True)
    assert (scaler.get_input_col(), scaler.get_output_col()) == ("input", "output")


def test_standard_scaler_maps_a_constant_feature_to_zero() -> None:
    x = np.column_stack([np.arange(5.0), np.full(5, 7.0)])
    table = Table({"x": x})
    (out,) = StandardScaler(input_col="x", output_col="out").fit(table).transform(table)
    np.testing.assert_array_equal(output(out)[:, 1], np.zeros(5))
    np.testing.assert_allclose(output(out)[:, 0], x[:, 0] / x[:, 0].std(ddof=1))


def test_standard_scaler_scales_a_number_column_as_one_dimension() -> None:
    table = Table({"x": np.array([1.0, 2.0, 3.0])})
    (out,) = StandardScaler(input_col="x", output_col="out").fit(table).transform(table)
    np.testing.assert_allclose(output(out)[:, 0], [1.0, 2.0, 3.0])  # std (ddof=1) is 1


@pytest.mark.parametrize("loader", DATASETS, ids=lambda f: f.__name__)
@pytest.mark.parametrize(("low", "high"), [(0.0, 1.0), (-3.0, 5.0)])
def test_minmax_scaler_equals_sklearn(loader: object, low: float, high: float) -> None:
    x = features(loader)
    table = Table({"x": x})
    model = MinMaxScaler(input_col="x", output_col="out", min=low, max=high).fit(table)
    (out,) = model.transform(table)
    expected = preprocessing.MinMaxScaler(feature_range=(low, high)).fit_transform(x)
    np.testing.assert_allclose(output(out), expected, rtol=0, atol=1e-9)
    (data,) = model.get_model_data()
    np.testing.assert_array_equal(data.vector("min_vector")[0], x.min(axis=0))
    np.testing.assert_array_equal(data.vector("max_vector")[0], x.max(axis=0))


def test_minmax_scaler_maps_a_constant_feature_to_the_middle_and_does_not_clip() -> None:
    train = Table({"x": np.array([[0.0, 2.0], [10.0, 2.0]])})
    test = Table({"x": np.array([[20.0, 2.0], [-10.0, 3.0]])})
    (out,) = MinMaxScaler(input_col="x", output_col="out", min=-1, max=1).fit(train).transform(test)
    np.testing.assert_allclose(output(out), [[3.0, 0.0], [-3.0, 0.0]])


@pytest.mark.parametrize(
    "estimator",
    [
        StandardScaler(input_col="x", output_col="out", with_mean=True),
        MinMaxScaler(input_col="x", output_col="out", min=-2.0, max=2.0),
    ],
    ids=["standard", "minmax"],
)
def test_save_load_gives_identical_outputs(estimator: Estimator, tmp_path: Path) -> None:
    table = Table({"x": features(load_wine)})
    model = estimator.fit(table)
    model.save(tmp_path / "m")
    loaded = load(tmp_path / "m")
    assert isinstance(loaded, Model) and type(loaded) is type(model)
    assert loaded.get_param_map() == model.get_param_map()
    np.testing.assert_array_equal(
        output(loaded.transform(table)[0]), output(model.transform(table)[0])
    )


def test_a_model_built_from_model_data_by_hand_transforms() -> None:
    data = Table({"mean": np.array([[1.0, 2.0]]), "std": np.array([[2.0, 0.0]])})
    model = StandardScalerModel(input_col="x", output_col="out", with_mean=True)
    (out,) = model.set_model_data(data).transform(Table({"x": np.array([[3.0, 5.0]])}))
    np.testing.assert_allclose(output(out), [[1.0, 0.0]])


def test_transform_of_an_empty_table_is_empty() -> None:
    model = StandardScaler(input_col="x", output_col="out").fit(Table({"x": np.ones((3, 2))}))
    (out,) = model.transform(Table({"x": np.empty((0, 2))}))
    assert out.num_rows == 0 and output(out).shape == (0, 2)


@pytest.mark.parametrize("cls", [StandardScaler, MinMaxScaler])
def test_bad_input_names_the_stage_and_the_column(cls: type) -> None:
    stage = cls(input_col="x", output_col="out")
    name = cls.__name__
    with pytest.raises(MLError, match=rf"{name}: column 'nope' is not in the table"):
        stage.set_input_col("nope").fit(Table({"x": np.ones((3, 2))}))
    stage.set_input_col("x")
    with pytest.raises(MLError, match=rf"{name}: the input table is empty"):
        stage.fit(Table({"x": np.empty((0, 2))}))
    with pytest.raises(MLError, match=rf"{name}: column 'x' has NaN or infinite values in 1 row"):
        stage.fit(Table({"x": np.array([[1.0, 2.0], [np.nan, 1.0]])}))
    with pytest.raises(MLError, match=rf"{name}: column 'x' is string"):
        stage.fit(Table({"x": np.array(["a", "b"], dtype=object)}))
    model = stage.fit(Table({"x": np.ones((3, 2))}))
    with pytest.raises(
        MLError, match=rf"{name}Model: column 'x' holds vectors of size 3, .* size 2"
    ):
        model.transform(Table({"x": np.ones((3, 3))}))


def test_bad_params_and_model_data_are_refused() -> None:
    with pytest.raises(MLError, match="StandardScaler: with_mean must be a boolean"):
        StandardScaler(with_mean="yes")
    with pytest.raises(MLError, match=r"MinMaxScaler: min must be < max, got min=1\.0, max=1\.0"):
        MinMaxScaler(input_col="x", min=1.0, max=1.0).fit(Table({"x": np.ones((2, 2))}))
    with pytest.raises(MLError, match="MinMaxScalerModel: no model data"):
        MinMaxScalerModel().transform(Table({"input": np.ones((2, 2))}))
    with pytest.raises(MLError, match="StandardScalerModel: column 'std' is not in the table"):
        StandardScalerModel().set_model_data(Table({"mean": np.ones((1, 2))}))
