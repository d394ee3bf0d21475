"""Pipelines and the stage API around them: fit order, chained transform, multi-input and
multi-output stages, save/load, and bad input naming the stage."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from aiflow.errors import MLError
from aiflow.ml import Pipeline, PipelineModel, Table, load
from aiflow.ml.api import AlgoOperator, Estimator, Model, Stage, Transformer
from tests.ml.toy_stages import (
    TOYS,
    AddConst,
    Concat,
    MeanDiff,
    MeanDiffModel,
    SplitByLabel,
    ToyScaler,
    ToyScalerModel,
)


def data(rows: int = 30, seed: int = 0) -> Table:
    rng = np.random.default_rng(seed)
    return Table({"x": rng.normal(5.0, 2.0, (rows, 2)), "label": rng.integers(0, 2, rows)})


def stages() -> list[Stage]:
    return [
        AddConst(input_col="x", output_col="x1", value=10.0),
        ToyScaler(input_col="x1", output_col="x2"),
        ToyScaler(input_col="x2", output_col="x3", shift=1.0),
    ]


def by_hand(train: Table, test: Table) -> Table:
    add, first, second = stages()
    assert isinstance(add, AddConst)
    assert isinstance(first, ToyScaler) and isinstance(second, ToyScaler)
    (t,) = add.transform(train)
    model1 = first.fit(t)
    (t,) = model1.transform(t)
    model2 = second.fit(t)
    (out,) = add.transform(test)
    (out,) = model1.transform(out)
    (out,) = model2.transform(out)
    return out


def test_the_class_tree() -> None:
    assert issubclass(Model, Transformer) and issubclass(Transformer, AlgoOperator)
    assert issubclass(PipelineModel, Model) and issubclass(Pipeline, Estimator)


def test_fit_and_transform_equal_the_stages_run_by_hand() -> None:
    model = Pipeline(stages()).fit(data())
    assert isinstance(model, PipelineModel)
    assert [type(s) for s in model.stages] == [AddConst, ToyScalerModel, ToyScalerModel]
    (out,) = model.transform(data(seed=1))
    expected = by_hand(data(), data(seed=1))
    assert out.columns == expected.columns == ["x", "label", "x1", "x2", "x3"]
    np.testing.assert_allclose(out.vector("x3"), expected.vector("x3"), rtol=0, atol=0)
    first = model.stages[1]
    assert isinstance(first, ToyScalerModel)
    assert first.get_model_data()[0].vector("mean")[0] == pytest.approx([15, 15], abs=2)


def test_stages_after_the_last_estimator_are_kept_not_run() -> None:
    class Exploding(AddConst):
        def transform(self, *tables: Table) -> list[Table]:
            raise AssertionError("fit must not run the stage after the last estimator")

    tail = Exploding(input_col="x", output_col="y")
    model = Pipeline([ToyScaler(input_col="x", output_col="c"), tail]).fit(data())
    assert model.stages[1] is tail


def test_a_pipeline_of_transformers_only() -> None:
    model = Pipeline([AddConst(input_col="x", output_col="x")] * 2).fit(data())
    (out,) = model.transform(data())
    np.testing.assert_allclose(out.vector("x"), data().vector("x") + 2)


def test_multi_output_feeds_multi_input() -> None:
    table = data()
    split, concat = SplitByLabel(), Concat()
    positive, other = split.transform(table)
    assert positive.num_rows + other.num_rows == table.num_rows
    assert (positive.column("label") == 1).all() and (other.column("label") == 0).all()
    (joined,) = Pipeline([split, concat]).fit(table).transform(table)
    np.testing.assert_array_equal(joined.column("label"), np.sort(table.column("label"))[::-1])


def test_multi_input_estimator_and_two_model_data_tables() -> None:
    table = data()
    split = SplitByLabel()
    pipeline = Pipeline([split, MeanDiff(input_col="x", output_col="s")])
    model = pipeline.fit(table)
    diff = model.stages[1]
    assert isinstance(diff, MeanDiffModel) and len(diff.get_model_data()) == 2
    scored_pos, scored_other = model.transform(table)
    assert scored_pos.num_rows + scored_other.num_rows == table.num_rows
    assert scored_pos.column("s").mean() < 0 < scored_other.column("s").mean()


def test_save_and_load_both(tmp_path: Path) -> None:
    pipeline = Pipeline(stages())
    pipeline.save(tmp_path / "p")
    assert sorted(p.name for p in (tmp_path / "p" / "stages").iterdir()) == ["0", "1", "2"]
    metadata = json.loads((tmp_path / "p" / "metadata.json").read_text())
    assert metadata["class"] == "aiflow.ml.pipeline.Pipeline" and metadata["stages"] == 3
    same = Pipeline.load(tmp_path / "p", allowed_modules=[TOYS])
    assert [s.get_param_map() for s in same.stages] == [s.get_param_map() for s in stages()]

    model = same.fit(data())
    model.save(tmp_path / "m")
    loaded = load(tmp_path / "m", allowed_modules=[TOYS])
    assert isinstance(loaded, PipelineModel)
    (a,) = loaded.transform(data(seed=2))
    (b,) = model.transform(data(seed=2))
    np.testing.assert_array_equal(a.vector("x3"), b.vector("x3"))
    second = loaded.stages[2]
    assert isinstance(second, ToyScalerModel)
    assert (tmp_path / "m" / "stages" / "2" / "model_data" / "0.parquet").is_file()
    with pytest.raises(MLError, match=r"refusing to load class 'tests\.ml\.toy_stages\.AddConst'"):
        load(tmp_path / "m")


def test_pipeline_model_data_belong_to_its_stages() -> None:
    model = Pipeline(stages()).fit(data())
    with pytest.raises(MLError, match="PipelineModel: model data belong to its stages"):
        model.get_model_data()


def test_bad_stages_are_named() -> None:
    with pytest.raises(MLError, match="Pipeline: stage 1 is a str, not: Estimator or AlgoOperator"):
        Pipeline([AddConst(), "scaler"])  # type: ignore[list-item]
    with pytest.raises(MLError, match="PipelineModel: stage 0 is a ToyScaler, not: AlgoOperator"):
        PipelineModel([ToyScaler()])  # type: ignore[list-item]
    with pytest.raises(MLError, match="stages must be a list"):
        Pipeline(AddConst())  # type: ignore[arg-type]


def test_empty_table_and_missing_column_name_the_stage() -> None:
    empty = Table({"x": np.zeros((0, 2))})
    with pytest.raises(MLError, match=r"ToyScaler: the input table is empty \(columns: x\)"):
        Pipeline([ToyScaler(input_col="x", output_col="y")]).fit(empty)
    with pytest.raises(MLError, match="ToyScaler: column 'features' is not in the table"):
        Pipeline([AddConst(input_col="x", output_col="y"), ToyScaler(input_col="features")]).fit(
            data()
        )
    with pytest.raises(MLError, match="ToyScaler: expected 1 input table"):
        ToyScaler().fit(data(), data())
    with pytest.raises(MLError, match="ToyScaler: input 0 is a DataFrame, expected a Table"):
        ToyScaler().fit(data().to_pandas())  # type: ignore[arg-type]
    with pytest.raises(MLError, match="ToyScalerModel: no model data"):
        ToyScalerModel().transform(data())


def test_tables_of_two_engines_in_one_call() -> None:
    flink = Table({"x": np.ones((2, 2))}, engine="flink")
    with pytest.raises(MLError, match="Concat: tables of different engines"):
        Concat().transform(data(), flink)
