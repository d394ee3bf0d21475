"""StringIndexer and OneHotEncoder against scikit-learn's encoders on the datasets it ships:
label orders, drop_last, handle_invalid error/skip/keep, save/load and bad input."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from sklearn import preprocessing
from sklearn.datasets import load_breast_cancer, load_iris, load_wine

from aiflow.errors import MLError
from aiflow.ml import Table, load
from aiflow.ml.feature import OneHotEncoder, OneHotEncoderModel, StringIndexer, StringIndexerModel


def categorical() -> Table:
    """Text columns with unequal frequencies: wine's class names and iris's floored lengths."""
    wine = load_wine()
    iris = load_iris()
    rows = len(iris.target)
    return Table(
        {
            "wine": np.array([f"class_{c}" for c in wine.target[:rows]], dtype=object),
            "length": np.floor(iris.data[:, 0]).astype(np.int64),  # numbers, indexed as text
            "cancer": load_breast_cancer().target_names[load_breast_cancer().target[:rows]],
        }
    )


def order(values: np.ndarray, kind: str) -> list[str]:
    """The label order ``kind`` asks for, computed independently (ties alphabetical)."""
    counts = Counter(str(v) for v in values)
    if kind == "alphabetAsc":
        return sorted(counts)
    if kind == "alphabetDesc":
        return sorted(counts, reverse=True)
    sign = -1 if kind == "frequencyDesc" else 1
    return sorted(counts, key=lambda v: (sign * counts[v], v))


COLUMNS = ["wine", "length", "cancer"]


@pytest.mark.parametrize(
    "kind", ["frequencyDesc", "frequencyAsc", "alphabetAsc", "alphabetDesc", "arbitrary"]
)
def test_string_indexer_equals_sklearn_ordinal_encoder(kind: str) -> None:
    table = categorical()
    model = StringIndexer(
        input_cols=COLUMNS, output_cols=[c + "_i" for c in COLUMNS], string_order_type=kind
    ).fit(table)
    (out,) = model.transform(table)
    for i, name in enumerate(COLUMNS):
        text = table.column(name).astype(str)
        expected_order = (
            list(dict.fromkeys(text)) if kind == "arbitrary" else order(text, kind)
        )  # arbitrary: here, the order of first appearance
        assert model.label_arrays[i] == expected_order
        encoder = preprocessing.OrdinalEncoder(categories=[expected_order])
        expected = encoder.fit_transform(text.reshape(-1, 1))[:, 0]
        np.testing.assert_array_equal(out.column(name + "_i"), expected)
        assert out.schema[name + "_i"] == "bigint"


def test_string_indexer_alphabet_order_equals_sklearn_label_encoder() -> None:
    table = categorical()
    model = StringIndexer(
        input_cols=["wine"], output_cols=["i"], string_order_type="alphabetAsc"
    ).fit(table)
    expected = preprocessing.LabelEncoder().fit_transform(table.column("wine"))
    np.testing.assert_array_equal(model.transform(table)[0].column("i"), expected)


def test_string_indexer_model_data_layout() -> None:
    table = Table({"a": np.array(["x", "y", "y"], dtype=object), "b": np.array([3, 3, 1])})
    model = StringIndexer(
        input_cols=["a", "b"], output_cols=["ai", "bi"], string_order_type="frequencyDesc"
    ).fit(table)
    (data,) = model.get_model_data()
    frame = data.to_pandas()
    assert frame.to_dict("list") == {
        "column_index": [0, 0, 1, 1],
        "index": [0, 1, 0, 1],
        "value": ["y", "x", "3", "1"],
    }


def indexer(mode: str) -> StringIndexerModel:
    train = Table({"s": np.array(["a", "b", "b"], dtype=object), "n": np.array([1, 2, 3])})
    return StringIndexer(
        input_cols=["s", "n"],
        output_cols=["si", "ni"],
        string_order_type="alphabetAsc",
        handle_invalid=mode,
    ).fit(train)


UNSEEN = Table(
    {
        "s": np.array(["a", "zz", None, "b"], dtype=object),
        "n": np.array([1, 2, 3, 9]),
    }
)


def test_string_indexer_handle_invalid() -> None:
    with pytest.raises(
        MLError,
        match=r"StringIndexerModel: column 's' has values not seen .* in 2 row\(s\) "
        r"\(first: row 1\)",
    ):
        indexer("error").transform(UNSEEN)
    (kept,) = indexer("keep").transform(UNSEEN)
    np.testing.assert_array_equal(kept.column("si"), [0, 2, 2, 1])  # unseen: len(labels)
    np.testing.assert_array_equal(kept.column("ni"), [0, 1, 2, 3])
    (skipped,) = indexer("skip").transform(UNSEEN)
    np.testing.assert_array_equal(skipped.column("si"), [0])  # rows 1, 2 (s) and 3 (n) dropped
    assert skipped.columns == ["s", "n", "si", "ni"]


def test_string_indexer_missing_values_when_fitting() -> None:
    table = Table({"s": np.array(["a", None, "a", "b"], dtype=object)})
    with pytest.raises(MLError, match=r"StringIndexer: column 's' has missing values .* row 1"):
        StringIndexer(input_cols=["s"], output_cols=["i"]).fit(table)
    model = StringIndexer(input_cols=["s"], output_cols=["i"], handle_invalid="keep").fit(table)
    assert model.label_arrays == [["a", "b"]]
    np.testing.assert_array_equal(model.transform(table)[0].column("i"), [0, 2, 0, 1])


@pytest.mark.parametrize("drop_last", [False, True])
def test_one_hot_encoder_equals_sklearn(drop_last: bool) -> None:
    iris = load_iris()
    codes = np.floor(iris.data).astype(np.int64)  # four integer columns, categories 0..max
    table = Table({f"c{j}": codes[:, j] for j in range(4)})
    names = [f"c{j}" for j in range(4)]
    model = OneHotEncoder(
        input_cols=names, output_cols=[n + "_v" for n in names], drop_last=drop_last
    ).fit(table)
    (out,) = model.transform(table)
    for j, name in enumerate(names):
        largest = int(codes[:, j].max())
        encoder = preprocessing.OneHotEncoder(
            categories=[list(range(largest + 1))],
            drop=[largest] if drop_last else None,
            sparse_output=False,
        )
        expected = encoder.fit_transform(codes[:, [j]])
        np.testing.assert_array_equal(out.vector(name + "_v"), expected)
    (data,) = model.get_model_data()
    np.testing.assert_array_equal(data.column("max_index"), codes.max(axis=0))
    np.testing.assert_array_equal(data.column("column_index"), [0, 1, 2, 3])


def test_string_indexer_then_one_hot_encoder_equals_sklearn_on_text() -> None:
    table = categorical()
    (indexed,) = (
        StringIndexer(input_cols=["wine"], output_cols=["i"], string_order_type="alphabetAsc")
        .fit(table)
        .transform(table)
    )
    ohe = OneHotEncoder(input_cols=["i"], output_cols=["v"], drop_last=False).fit(indexed)
    expected = preprocessing.OneHotEncoder(sparse_output=False).fit_transform(
        table.column("wine").reshape(-1, 1)
    )
    np.testing.assert_array_equal(ohe.transform(indexed)[0].vector("v"), expected)


def encoder(mode: str, drop_last: bool) -> OneHotEncoderModel:
    train = Table({"c": np.array([0, 1, 2])})
    return OneHotEncoder(
        input_cols=["c"], output_cols=["v"], handle_invalid=mode, drop_last=drop_last
    ).fit(train)


BAD_INDICES = Table({"c": np.array([1.0, 3.0, np.nan, -1.0, 0.5, 2.0])})


def test_one_hot_encoder_handle_invalid() -> None:
    with pytest.raises(
        MLError,
        match=r"OneHotEncoderModel: column 'c' has values that are not category indices 0..2 "
        r"in 4 row\(s\) \(first: row 1\)",
    ):
        encoder("error", True).transform(BAD_INDICES)
    (skipped,) = encoder("skip", False).transform(BAD_INDICES)
    np.testing.assert_array_equal(skipped.vector("v"), [[0, 1, 0], [0, 0, 1]])
    (kept,) = encoder("keep", False).transform(BAD_INDICES)  # an extra, fourth category
    expected = [[0, 1, 0, 0]] + [[0, 0, 0, 1]] * 4 + [[0, 0, 1, 0]]
    np.testing.assert_array_equal(kept.vector("v"), expected)
    (kept,) = encoder("keep", True).transform(BAD_INDICES)  # the extra one is dropped
    np.testing.assert_array_equal(kept.vector("v"), [[0, 1, 0]] + [[0, 0, 0]] * 4 + [[0, 0, 1]])


def test_one_hot_encoder_fit_refuses_non_indices() -> None:
    with pytest.raises(
        MLError, match=r"OneHotEncoder: column 'c' has values that are not .* row 1"
    ):
        OneHotEncoder(input_cols=["c"], output_cols=["v"]).fit(Table({"c": [0.0, 1.5]}))
    model = OneHotEncoder(input_cols=["c"], output_cols=["v"], handle_invalid="skip").fit(
        Table({"c": [0.0, 1.5, 2.0]})
    )
    np.testing.assert_array_equal(model.get_model_data()[0].column("max_index"), [2])


@pytest.mark.parametrize("which", ["indexer", "encoder"])
def test_save_load_gives_identical_outputs(which: str, tmp_path: Path) -> None:
    model = indexer("keep") if which == "indexer" else encoder("keep", True)
    data = UNSEEN if which == "indexer" else BAD_INDICES
    model.save(tmp_path / "m")
    loaded = load(tmp_path / "m")
    assert type(loaded) is type(model) and loaded.get_param_map() == model.get_param_map()
    (expected,), (actual,) = model.transform(data), loaded.transform(data)
    for name in expected.columns:
        np.testing.assert_array_equal(actual.column(name), expected.column(name))


def test_bad_input_names_the_stage_and_the_param_or_column() -> None:
    with pytest.raises(MLError, match="StringIndexer: input_cols is not set"):
        StringIndexer(output_cols=["x"]).fit(categorical())
    with pytest.raises(MLError, match=r"StringIndexer: input_cols has 2 column\(s\) .* has 1"):
        StringIndexer(input_cols=["wine", "length"], output_cols=["x"]).fit(categorical())
    with pytest.raises(MLError, match="StringIndexer: string_order_type must be one of"):
        StringIndexer(string_order_type="random")
    with pytest.raises(MLError, match="OneHotEncoder: column 'wine' is string, expected numbers"):
        OneHotEncoder(input_cols=["wine"], output_cols=["v"]).fit(categorical())
    with pytest.raises(MLError, match="OneHotEncoder: the input table is empty"):
        OneHotEncoder(input_cols=["c"], output_cols=["v"]).fit(Table({"c": np.array([], int)}))
    with pytest.raises(MLError, match=r"OneHotEncoderModel: input_cols has 2 .* fitted on 1"):
        encoder("error", True).set_input_cols(["c", "c"]).set_output_cols(["a", "b"]).transform(
            BAD_INDICES
        )
    with pytest.raises(MLError, match="StringIndexerModel: column 'gone' is not in the table"):
        indexer("error").set_input_cols(["gone", "n"]).transform(UNSEEN)
