"""``aiflow.ml`` stages in the DSL: ``af.train`` / ``af.transform`` record them as adapters whose
only parameter is the stage's saved params (JSON), the job rebuilds the same stage from the
plan, and ``af.predict``'s default predictor applies a fitted model's transform."""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pandas as pd
import pytest

import aiflow as af
from aiflow.dsl.ml_stage import MLTrainer, MLTransformer, apply_stage, build_stage, stage_spec
from aiflow.errors import InvalidPlan, MLError
from aiflow.ml import Pipeline, PipelineModel, Table
from aiflow.ml.classification import LogisticRegression
from aiflow.ml.clustering import KMeans
from aiflow.ml.feature import Imputer, StandardScaler, StringIndexer, VectorAssembler
from aiflow.plan.model import LogicalPlan
from aiflow.translators.usercode import UserCode
from tests.ml.toy_stages import ToyScaler

POINTS = af.Example(
    "points", schema={"a": "double", "b": "double", "label": "double"}, batch_uri="points.csv"
)


def pipeline(max_iter: int = 30) -> Pipeline:
    return Pipeline(
        [
            VectorAssembler(input_cols=["a", "b"], output_col="features"),
            StandardScaler(input_col="features", output_col="scaled", with_mean=True),
            LogisticRegression(features_col="scaled", label_col="label", max_iter=max_iter),
        ]
    )


def frame(rows: int = 120, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    out = pd.DataFrame({"a": rng.normal(size=rows), "b": rng.normal(size=rows)})
    out["label"] = (out.a - out.b > 0).astype(float)
    return out


def build(name: str = "ml", max_iter: int = 30) -> af.Workflow:
    with af.workflow(name) as wf:
        data = af.read_example(POINTS)
        model = af.train(data, pipeline(max_iter), model=af.Model("lr"))
        af.predict(af.transform(data, VectorAssembler(input_cols=["a"], output_col="v")), model)
        af.train(data, KMeans(k=2, features_col="a"))  # default model name from the class
    return wf


def test_the_plan_records_json_params_and_its_hash_is_stable() -> None:
    plan = build().plan
    assert plan.hash() == build().plan.hash()
    assert plan.hash() != build(max_iter=31).plan.hash()  # a param is part of the plan
    assert LogicalPlan.model_validate_json(plan.model_dump_json()) == plan
    train = plan.node("train_lr")
    assert train.component is not None
    assert (train.component.module, train.component.qualname) == (
        "aiflow.dsl.ml_stage",
        "MLTrainer",
    )
    files = train.component.params["stage"]["files"]
    assert sorted(files) == ["metadata.json"] + [f"stages/{i}/metadata.json" for i in range(3)]
    assert files["stages/2/metadata.json"]["params"]["max_iter"] == 30
    assert plan.node("vector_assembler").component.qualname == "MLTransformer"  # type: ignore[union-attr]
    assert plan.node("train_ml.k_means").model == "ml.k_means"


def test_the_job_rebuilds_the_same_stages_from_the_plan() -> None:
    plan = build().plan
    code = UserCode(None, None)
    trainer = code.instantiate(plan.node("train_lr").component, "train_lr")
    assert isinstance(trainer, MLTrainer)
    rebuilt = build_stage(trainer.spec)
    assert isinstance(rebuilt, Pipeline)
    for mine, theirs in zip(pipeline().stages, rebuilt.stages, strict=True):
        assert type(mine) is type(theirs) and mine.get_param_map() == theirs.get_param_map()
    data = frame()
    (expected,) = pipeline().fit(Table.from_pandas(data)).transform(Table.from_pandas(data))
    (got,) = trainer.fit(data).transform(Table.from_pandas(data))
    assert np.array_equal(got.column("prediction"), expected.column("prediction"))
    assert np.array_equal(got.vector("raw_prediction"), expected.vector("raw_prediction"))

    transformer = code.instantiate(plan.node("vector_assembler").component, "x")
    assert isinstance(transformer, MLTransformer)
    out = transformer.transform(data)
    assert list(out.columns) == ["a", "b", "label", "v"]
    assert np.array_equal(np.stack(list(out["v"])), data[["a"]].to_numpy())


@pytest.mark.parametrize(
    ("call", "words"),
    [
        (lambda d: af.train(d, VectorAssembler(input_cols=["a"], output_col="v")), "af.transform"),  # type: ignore[arg-type]
        (lambda d: af.transform(d, StandardScaler(input_col="a", output_col="s")), "af.train"),  # type: ignore[arg-type]
        (
            lambda d: af.transform(
                d, StandardScaler(input_col="a", output_col="s").fit(Table({"a": [1.0, 2.0]}))
            ),
            "holds tables",
        ),
        (lambda d: af.train(d, ToyScaler(input_col="a", output_col="s")), "not an aiflow.ml class"),
        (
            lambda d: af.train(d, Pipeline([ToyScaler(input_col="a", output_col="s")])),
            "not an aiflow.ml class",
        ),
    ],
)
def test_stages_that_cannot_be_recorded_are_refused_when_the_workflow_is_built(
    call: Any, words: str
) -> None:
    with pytest.raises(InvalidPlan, match=words), af.workflow("bad"):
        call(af.read_example(POINTS))


def test_a_spec_names_only_metadata_files() -> None:
    spec = stage_spec(VectorAssembler(input_cols=["a"], output_col="v"))
    spec["files"]["../escape/metadata.json"] = spec["files"]["metadata.json"]
    with pytest.raises(MLError, match="unexpected file"):
        build_stage(spec)


def test_an_estimator_with_initial_model_data_continues_from_the_base_version() -> None:
    """Stream windows: KMeans (``set_initial_model_data``) starts from the base version's
    centroids, alone or inside a pipeline; a batch estimator is refitted from scratch."""
    data = frame(200, seed=1)
    table = Table.from_pandas(data)
    kmeans = KMeans(k=2, features_col="a", max_iter=1)
    base = KMeans(k=2, features_col="a", seed=7).fit(Table({"a": [-5.0, -4.0, 4.0, 5.0]}))
    (centroids,) = base.get_model_data()

    by_hand = KMeans(k=2, features_col="a", max_iter=1).set_initial_model_data(centroids)
    (expected,) = by_hand.fit(table).get_model_data()
    (fresh,) = kmeans.fit(table).get_model_data()
    (got,) = MLTrainer(stage=stage_spec(kmeans)).fit(data, base_model=base).get_model_data()
    assert np.array_equal(got.vector("centroids"), expected.vector("centroids"))
    assert not np.array_equal(fresh.vector("centroids"), expected.vector("centroids"))

    pipe = Pipeline([StandardScaler(input_col="b", output_col="s"), kmeans])
    base_pipe = PipelineModel([StandardScaler(input_col="b", output_col="s").fit(table), base])
    continued = MLTrainer(stage=stage_spec(pipe)).fit(data, base_model=base_pipe)
    (got,) = continued.stages[1].get_model_data()  # type: ignore[attr-defined]
    assert np.array_equal(got.vector("centroids"), expected.vector("centroids"))

    lr = LogisticRegression(features_col="a", label_col="label")
    refit = MLTrainer(stage=stage_spec(lr)).fit(data, base_model=lr.fit(table.take(slice(0, 50))))
    (coef,) = refit.get_model_data()
    (alone,) = lr.fit(table).get_model_data()
    assert np.array_equal(coef.vector("coefficient"), alone.vector("coefficient"))


def test_a_base_the_estimator_cannot_start_from_is_logged_and_ignored(
    caplog: pytest.LogCaptureFixture,
) -> None:
    kmeans = KMeans(k=3, features_col="a")
    base = KMeans(k=2, features_col="a").fit(Table({"a": [0.0, 1.0, 5.0]}))  # k differs
    with caplog.at_level(logging.WARNING, "aiflow.runtime"):
        model = MLTrainer(stage=stage_spec(kmeans)).fit(frame(), base_model=base)
    assert len(model.get_model_data()[0].vector("centroids")) == 3
    assert "KMeans fits from scratch" in caplog.text and "initial model data has 2" in caplog.text


def test_the_default_predictor_applies_a_fitted_stage_keeping_the_batch() -> None:
    data = frame().set_index(pd.RangeIndex(100, 220))
    model = pipeline().fit(Table.from_pandas(data))
    out = af.Predictor().predict(data, model)
    (expected,) = model.transform(Table.from_pandas(data))
    assert list(out.index) == list(data.index)
    assert list(out.columns) == [
        "a",
        "b",
        "label",
        "features",
        "scaled",
        "prediction",
        "raw_prediction",
    ]
    assert np.array_equal(out["prediction"].to_numpy(), expected.column("prediction"))
    assert np.array_equal(np.stack(list(out["raw_prediction"])), expected.vector("raw_prediction"))
    assert af.Predictor().predict(data.head(0), model).empty  # an empty micro-batch


def test_replaced_columns_and_dropped_rows() -> None:
    data = pd.DataFrame({"x": [1.0, np.nan, 3.0], "c": ["p", "q", "p"]})
    imputer = Imputer(input_cols=["x"], output_cols=["x"]).fit(Table({"x": [1.0, 3.0]}))
    out = apply_stage(imputer, data, keep_rows=True)
    assert list(out.columns) == ["x", "c"] and out["x"].tolist() == [1.0, 2.0, 3.0]

    indexer = StringIndexer(input_cols=["c"], output_cols=["i"], handle_invalid="skip").fit(
        Table({"c": np.array(["p"], dtype=object)})
    )
    assert apply_stage(indexer, data, keep_rows=False)["i"].tolist() == [0, 0]
    with pytest.raises(MLError, match="returned 2 rows for 3; a predictor must keep every"):
        apply_stage(indexer, data, keep_rows=True)
