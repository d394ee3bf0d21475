"""The feature stages composed with the core: a Pipeline of all seven against the same steps in
scikit-learn, saved and loaded as one folder, and inside a GraphBuilder graph."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn import preprocessing
from sklearn.datasets import load_wine
from sklearn.impute import SimpleImputer
from sklearn.pipeline import make_pipeline

from aiflow.ml import GraphBuilder, Pipeline, PipelineModel, Table, load
from aiflow.ml.feature import (
    Bucketizer,
    Imputer,
    MinMaxScaler,
    OneHotEncoder,
    StandardScaler,
    StringIndexer,
    VectorAssembler,
)

NUMBERS = ["alcohol", "malic_acid", "ash", "magnesium"]


def wine_frame() -> pd.DataFrame:
    wine = load_wine(as_frame=True)
    frame = wine.frame[NUMBERS].copy()
    holes = np.random.default_rng(3).random(frame.shape) < 0.1
    frame = frame.mask(holes)
    frame["kind"] = [f"class_{c}" for c in wine.target]
    return frame


def pipeline() -> Pipeline:
    filled = [n + "_filled" for n in NUMBERS]
    return Pipeline(
        [
            Imputer(input_cols=NUMBERS, output_cols=filled, strategy="median"),
            VectorAssembler(input_cols=filled, output_col="raw"),
            StandardScaler(input_col="raw", output_col="std", with_mean=True),
            MinMaxScaler(input_col="std", output_col="scaled"),
            StringIndexer(
                input_cols=["kind"], output_cols=["kind_index"], string_order_type="alphabetAsc"
            ),
            OneHotEncoder(input_cols=["kind_index"], output_cols=["kind_vec"], drop_last=False),
            Bucketizer(
                input_cols=["alcohol_filled"],
                output_cols=["alcohol_bucket"],
                splits_array=[[-np.inf, 12.0, 13.0, np.inf]],
            ),
        ]
    )


def test_a_pipeline_of_every_stage_equals_sklearn() -> None:
    frame = wine_frame()
    table = Table.from_pandas(frame)
    model = pipeline().fit(table)
    assert isinstance(model, PipelineModel) and len(model.stages) == 7
    (out,) = model.transform(table)

    reference = make_pipeline(
        SimpleImputer(strategy="median"),
        preprocessing.StandardScaler(),
        preprocessing.MinMaxScaler(),
    )
    # min-max after a linear rescaling is the same whatever std was divided by: exact match
    np.testing.assert_allclose(
        out.vector("scaled"), reference.fit_transform(frame[NUMBERS]), rtol=0, atol=1e-9
    )
    kinds = frame[["kind"]].to_numpy()
    onehot = preprocessing.OneHotEncoder(sparse_output=False).fit_transform(kinds)
    np.testing.assert_array_equal(out.vector("kind_vec"), onehot)
    filled = SimpleImputer(strategy="median").fit_transform(frame[NUMBERS])[:, 0]
    np.testing.assert_array_equal(out.column("alcohol_bucket"), np.digitize(filled, [12, 13]))


def test_the_fitted_pipeline_saves_loads_and_predicts_the_same(tmp_path: Path) -> None:
    table = Table.from_pandas(wine_frame())
    model = pipeline().fit(table)
    model.save(tmp_path / "model")
    saved = json.loads((tmp_path / "model" / "stages" / "2" / "metadata.json").read_text())
    assert saved["class"] == "aiflow.ml.feature.standard_scaler.StandardScalerModel"
    assert (tmp_path / "model" / "stages" / "4" / "model_data" / "0.parquet").is_file()
    loaded = PipelineModel.load(tmp_path / "model")
    (expected,), (actual,) = model.transform(table), loaded.transform(table)
    assert actual.columns == expected.columns
    for name in expected.columns:
        np.testing.assert_array_equal(actual.column(name), expected.column(name))


def test_the_unfitted_pipeline_saves_loads_and_fits_the_same(tmp_path: Path) -> None:
    table = Table.from_pandas(wine_frame())
    pipeline().save(tmp_path / "pipe")
    loaded = load(tmp_path / "pipe")
    assert isinstance(loaded, Pipeline)
    (expected,) = pipeline().fit(table).transform(table)
    (actual,) = loaded.fit(table).transform(table)
    np.testing.assert_array_equal(actual.vector("scaled"), expected.vector("scaled"))


def test_a_graph_of_feature_stages_equals_them_run_by_hand() -> None:
    table = Table.from_pandas(wine_frame())
    imputer = Imputer(input_cols=NUMBERS, output_cols=NUMBERS)
    assembler = VectorAssembler(input_cols=NUMBERS, output_col="raw")
    scaler = StandardScaler(input_col="raw", output_col="std")
    builder = GraphBuilder()
    source = builder.create_table_id()
    (filled,) = builder.add_estimator(imputer, source)
    (raw,) = builder.add_algo_operator(assembler, filled)
    (scaled,) = builder.add_estimator(scaler, raw)
    graph_model = builder.build_estimator([source], [scaled]).fit(table)
    (actual,) = graph_model.transform(table)

    (by_hand,) = imputer.fit(table).transform(table)
    (by_hand,) = assembler.transform(by_hand)
    (by_hand,) = scaler.fit(by_hand).transform(by_hand)
    np.testing.assert_array_equal(actual.vector("std"), by_hand.vector("std"))


@pytest.mark.parametrize("mode", ["skip", "keep"])
def test_handle_invalid_flows_through_a_pipeline(mode: str) -> None:
    train = Table({"s": np.array(["a", "b", "a"], dtype=object)})
    test = Table({"s": np.array(["a", "c", "b"], dtype=object)})
    model = Pipeline(
        [
            StringIndexer(input_cols=["s"], output_cols=["i"], handle_invalid=mode),
            OneHotEncoder(input_cols=["i"], output_cols=["v"], handle_invalid=mode),
        ]
    ).fit(train)
    (out,) = model.transform(test)
    if mode == "skip":
        np.testing.assert_array_equal(out.vector("v"), [[1.0], [0.0]])
    else:  # StringIndexer: 'c' -> 2, a category OneHotEncoder never saw: its extra, dropped one
        np.testing.assert_array_equal(out.column("i"), [0, 2, 1])
        np.testing.assert_array_equal(out.vector("v"), [[1.0, 0.0], [0.0, 0.0], [0.0, 1.0]])
