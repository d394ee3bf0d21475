"""Imputer against scikit-learn's SimpleImputer on the datasets it ships (NaN holes punched at
seeded random places), a missing_value placeholder, save/load and bad input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from sklearn.datasets import load_diabetes, load_wine
from sklearn.impute import SimpleImputer

from aiflow.errors import MLError
from aiflow.ml import Table, load
from aiflow.ml.feature import Imputer, ImputerModel


def with_holes(x: np.ndarray, fraction: float = 0.2, seed: int = 7) -> np.ndarray:
    holes = np.random.default_rng(seed).random(x.shape) < fraction
    return np.where(holes, np.nan, x)


def as_table(x: np.ndarray) -> tuple[Table, list[str]]:
    names = [f"f{j}" for j in range(x.shape[1])]
    return Table({n: x[:, j] for j, n in enumerate(names)}), names


CASES = [
    ("diabetes", "mean"),
    ("diabetes", "median"),
    ("wine", "mean"),
    ("wine", "median"),
    ("wine", "most_frequent"),  # wine's values repeat (one or two decimals): modes matter
]


@pytest.mark.parametrize(("dataset", "strategy"), CASES)
def test_imputer_equals_sklearn_simple_imputer(dataset: str, strategy: str) -> None:
    loader = load_diabetes if dataset == "diabetes" else load_wine
    x = with_holes(loader(return_X_y=True)[0])
    table, names = as_table(x)
    model = Imputer(input_cols=names, output_cols=[n + "_i" for n in names], strategy=strategy).fit(
        table
    )
    (out,) = model.transform(table)
    expected = SimpleImputer(strategy=strategy).fit_transform(x)
    actual = np.column_stack([out.column(n + "_i") for n in names])
    np.testing.assert_allclose(actual, expected, rtol=0, atol=1e-9)
    np.testing.assert_array_equal(out.column("f0"), x[:, 0])  # the input stays as it was


def test_imputer_with_a_missing_value_placeholder() -> None:
    x = np.floor(load_wine(return_X_y=True)[0][:, :3])
    x[::5, 0] = -1.0  # -1 marks missing; NaN counts as missing too
    x[1, 1] = np.nan
    table, names = as_table(x)
    model = Imputer(input_cols=names, output_cols=names, missing_value=-1.0, strategy="median")
    (out,) = model.fit(table).transform(table)
    reference = SimpleImputer(missing_values=-1.0, strategy="median")
    expected = reference.fit_transform(np.where(np.isnan(x), -1.0, x))
    actual = np.column_stack([out.column(n) for n in names])
    np.testing.assert_allclose(actual, expected, rtol=0, atol=1e-9)


def test_most_frequent_takes_the_smallest_on_ties() -> None:
    table = Table({"a": [3.0, 3.0, 1.0, 1.0, np.nan, 2.0]})
    model = Imputer(input_cols=["a"], output_cols=["b"], strategy="most_frequent").fit(table)
    (data,) = model.get_model_data()
    assert data.to_pandas().to_dict("list") == {"input_col": ["a"], "surrogate": [1.0]}
    np.testing.assert_array_equal(model.transform(table)[0].column("b")[4], 1.0)


def test_integer_columns_are_imputed_as_doubles() -> None:
    table = Table({"a": np.array([1, -1, 4])})
    model = Imputer(input_cols=["a"], output_cols=["b"], missing_value=-1).fit(table)
    (out,) = model.transform(table)
    np.testing.assert_array_equal(out.column("b"), [1.0, 2.5, 4.0])
    assert out.schema["b"] == "double"


def test_the_model_looks_columns_up_by_name(tmp_path: Path) -> None:
    table = Table({"a": [1.0, np.nan, 3.0], "b": [np.nan, 10.0, 20.0]})
    model = Imputer(input_cols=["a", "b"], output_cols=["a2", "b2"]).fit(table)
    model.save(tmp_path / "m")
    loaded = load(tmp_path / "m")
    assert isinstance(loaded, ImputerModel)
    (out,) = loaded.set_input_cols(["b"]).set_output_cols(["b3"]).transform(table)
    np.testing.assert_array_equal(out.column("b3"), [15.0, 10.0, 20.0])
    (again,) = ImputerModel.load(tmp_path / "m").transform(table)
    (first,) = model.transform(table)
    for name in ("a2", "b2"):
        np.testing.assert_array_equal(again.column(name), first.column(name))


def test_bad_input_names_the_stage_and_the_param_or_column() -> None:
    with pytest.raises(MLError, match="Imputer: strategy must be one of 'mean', 'median'"):
        Imputer(strategy="mode")
    with pytest.raises(MLError, match=r"Imputer: column 'a' has no value .* all are NaN"):
        Imputer(input_cols=["a"], output_cols=["b"]).fit(Table({"a": [np.nan, np.nan]}))
    with pytest.raises(MLError, match="Imputer: column 'a' is a vector column, expected numbers"):
        Imputer(input_cols=["a"], output_cols=["b"]).fit(Table({"a": np.ones((2, 2))}))
    with pytest.raises(MLError, match="Imputer: the input table is empty"):
        Imputer(input_cols=["a"], output_cols=["b"]).fit(Table({"a": np.array([])}))
    model = Imputer(input_cols=["a"], output_cols=["b"]).fit(Table({"a": [1.0, 2.0]}))
    with pytest.raises(MLError, match=r"ImputerModel: no surrogate for column 'z'.* fitted on a"):
        model.set_input_cols(["z"]).transform(Table({"z": [1.0]}))
    with pytest.raises(MLError, match="ImputerModel: output_cols is not set"):
        ImputerModel(input_cols=["a"]).set_model_data(
            Table({"input_col": np.array(["a"], dtype=object), "surrogate": [1.0]})
        ).transform(Table({"a": [1.0]}))
