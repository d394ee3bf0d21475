"""VectorAssembler (against numpy's column stacking) and Bucketizer (against scikit-learn's
KBinsDiscretizer and np.digitize) on the datasets scikit-learn ships: handle_invalid
error/skip/keep, input_sizes, save/load and bad input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer, load_diabetes, load_iris
from sklearn.preprocessing import KBinsDiscretizer

from aiflow.errors import MLError
from aiflow.ml import Table, load
from aiflow.ml.api import AlgoOperator
from aiflow.ml.feature import Bucketizer, VectorAssembler


def mixed() -> tuple[Table, np.ndarray]:
    """Breast cancer's 30 features as: a number, a 10-vector, a number, an 18-vector."""
    x = load_breast_cancer(return_X_y=True)[0]
    table = Table({"a": x[:, 0], "v": x[:, 1:11], "b": x[:, 11], "w": x[:, 12:]})
    return table, x


def test_vector_assembler_concatenates_numbers_and_vectors_in_order() -> None:
    table, x = mixed()
    (out,) = VectorAssembler(input_cols=["a", "v", "b", "w"], output_col="f").transform(table)
    np.testing.assert_array_equal(out.vector("f"), x)
    (out,) = VectorAssembler(input_cols=["w", "a"], output_col="f").transform(table)
    np.testing.assert_array_equal(out.vector("f"), np.column_stack([x[:, 12:], x[:, 0]]))


def test_vector_assembler_checks_input_sizes() -> None:
    table, x = mixed()
    stage = VectorAssembler(input_cols=["a", "v"], output_col="f", input_sizes=[1, 10])
    np.testing.assert_array_equal(stage.transform(table)[0].vector("f"), x[:, :11])
    stage.set_input_sizes([1, 9])
    with pytest.raises(MLError, match="VectorAssembler: column 'v' has size 10 but input_sizes"):
        stage.transform(table)
    assert stage.set_handle_invalid("skip").transform(table)[0].num_rows == 0
    np.testing.assert_array_equal(
        stage.set_handle_invalid("keep").transform(table)[0].vector("f"), x[:, :11]
    )
    with pytest.raises(MLError, match=r"VectorAssembler: input_sizes has 1 size\(s\) .* has 2"):
        stage.set_input_sizes([1]).transform(table)
    with pytest.raises(MLError, match="VectorAssembler: input_sizes must be None or a non-empty"):
        VectorAssembler(input_sizes=[1, 0])


NAN_ROWS = Table(
    {
        "a": np.array([1.0, np.nan, 3.0, 4.0]),
        "v": np.array([[1.0, 2.0], [3.0, 4.0], [np.nan, 6.0], [7.0, 8.0]]),
    }
)


def test_vector_assembler_handle_invalid_on_nan() -> None:
    stage = VectorAssembler(input_cols=["a", "v"], output_col="f")
    with pytest.raises(
        MLError, match=r"VectorAssembler: column 'a' has NaN in 1 row\(s\) \(first: row 1\)"
    ):
        stage.transform(NAN_ROWS)
    (skipped,) = stage.set_handle_invalid("skip").transform(NAN_ROWS)
    np.testing.assert_array_equal(skipped.vector("f"), [[1, 1, 2], [4, 7, 8]])
    np.testing.assert_array_equal(skipped.column("a"), [1.0, 4.0])
    (kept,) = stage.set_handle_invalid("keep").transform(NAN_ROWS)
    np.testing.assert_array_equal(kept.vector("f")[1:3], [[np.nan, 3, 4], [3, np.nan, 6]])


def test_vector_assembler_bad_columns_name_the_column() -> None:
    table = Table({"a": [1.0, 2.0], "s": np.array(["x", "y"], dtype=object)})
    with pytest.raises(MLError, match="VectorAssembler: column 's' is string"):
        VectorAssembler(input_cols=["a", "s"], output_col="f").transform(table)
    with pytest.raises(MLError, match="VectorAssembler: column 'z' is not in the table"):
        VectorAssembler(input_cols=["z"], output_col="f").transform(table)
    with pytest.raises(MLError, match="VectorAssembler: input_cols is not set"):
        VectorAssembler(output_col="f").transform(table)


@pytest.mark.parametrize(
    ("loader", "strategy"),
    [
        (load_iris, "uniform"),
        (load_iris, "quantile"),
        (load_diabetes, "uniform"),  # its binary "sex" feature has no 5 quantile bins
        (load_breast_cancer, "quantile"),
    ],
    ids=["iris-uniform", "iris-quantile", "diabetes-uniform", "cancer-quantile"],
)
def test_bucketizer_equals_kbins_discretizer(loader: object, strategy: str) -> None:
    x = loader(return_X_y=True)[0]  # type: ignore[operator]
    bins = KBinsDiscretizer(n_bins=5, encode="ordinal", strategy=strategy, quantile_method="linear")
    expected = bins.fit_transform(x)
    # KBinsDiscretizer clips outside its edges: open ends give the same buckets.
    splits = [[-np.inf, *edges[1:-1], np.inf] for edges in bins.bin_edges_]
    names = [f"f{j}" for j in range(x.shape[1])]
    table = Table({n: x[:, j] for j, n in enumerate(names)})
    stage = Bucketizer(input_cols=names, output_cols=[n + "_b" for n in names], splits_array=splits)
    (out,) = stage.transform(table)
    actual = np.column_stack([out.column(n + "_b") for n in names])
    np.testing.assert_array_equal(actual, expected)


def test_bucketizer_equals_digitize_and_closes_the_last_bucket() -> None:
    x = load_iris(return_X_y=True)[0][:, 0]
    splits = [x.min(), 5.0, 5.8, 6.5, x.max()]
    (out,) = Bucketizer(input_cols=["x"], output_cols=["b"], splits_array=[splits]).transform(
        Table({"x": x})
    )
    expected = np.digitize(x, splits) - 1
    expected[x == x.max()] = 3  # digitize opens a bucket past the end; Flink ML closes the last
    np.testing.assert_array_equal(out.column("b"), expected)
    assert out.schema["b"] == "bigint"


OUT_OF_RANGE = Table({"x": np.array([0.5, -1.0, np.nan, 2.0, 3.5]), "y": np.arange(5.0)})


def test_bucketizer_handle_invalid() -> None:
    stage = Bucketizer(
        input_cols=["x", "y"], output_cols=["xb", "yb"], splits_array=[[0, 1, 2], [0, 2, 4]]
    )
    with pytest.raises(
        MLError,
        match=r"Bucketizer: column 'x' has NaN or values outside \[0.0, 2.0\] in 3 row\(s\) "
        r"\(first: row 1\)",
    ):
        stage.transform(OUT_OF_RANGE)
    (skipped,) = stage.set_handle_invalid("skip").transform(OUT_OF_RANGE)
    np.testing.assert_array_equal(skipped.column("xb"), [0, 1])
    np.testing.assert_array_equal(skipped.column("yb"), [0, 1])
    (kept,) = stage.set_handle_invalid("keep").transform(OUT_OF_RANGE)
    np.testing.assert_array_equal(kept.column("xb"), [0, 2, 2, 1, 2])  # 2: the extra bucket
    np.testing.assert_array_equal(kept.column("yb"), [0, 0, 1, 1, 1])


@pytest.mark.parametrize(
    "stage",
    [
        Bucketizer(
            input_cols=["x"],
            output_cols=["b"],
            splits_array=[[-np.inf, 0, np.inf]],
            handle_invalid="keep",
        ),
        VectorAssembler(input_cols=["x", "y"], output_col="f", input_sizes=[1, 1]),
    ],
    ids=["bucketizer", "assembler"],
)
def test_save_load_keeps_params_and_outputs(stage: AlgoOperator, tmp_path: Path) -> None:
    table = Table({"x": [-1.0, 0.0, 2.0], "y": [1.0, 2.0, 3.0]})
    stage.save(tmp_path / "s")
    loaded = load(tmp_path / "s")
    assert isinstance(loaded, AlgoOperator) and type(loaded) is type(stage)
    assert loaded.get_param_map() == stage.get_param_map()
    (expected,), (actual,) = stage.transform(table), loaded.transform(table)
    for name in expected.columns:
        np.testing.assert_array_equal(actual.column(name), expected.column(name))


def test_bucketizer_bad_params_name_the_param() -> None:
    with pytest.raises(MLError, match="Bucketizer: splits_array must be a non-empty list of"):
        Bucketizer(splits_array=[[0.0, 1.0]])  # two points: one bucket
    with pytest.raises(MLError, match="Bucketizer: splits_array must be a non-empty list of"):
        Bucketizer(splits_array=[[0.0, 2.0, 1.0]])
    with pytest.raises(MLError, match="Bucketizer: splits_array must be a list of lists"):
        Bucketizer(splits_array=[0.0, 1.0, 2.0])
    stage = Bucketizer(input_cols=["x", "y"], output_cols=["a", "b"], splits_array=[[0, 1, 2]])
    with pytest.raises(MLError, match=r"Bucketizer: splits_array has 1 split list\(s\) .* has 2"):
        stage.transform(OUT_OF_RANGE)
    with pytest.raises(MLError, match="Bucketizer: splits_array is not set"):
        Bucketizer(input_cols=["x"], output_cols=["a"]).transform(OUT_OF_RANGE)
