"""GraphBuilder: a DAG fitted and applied equals its stages run by hand; model-data wiring;
save/load; errors naming the stage."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from aiflow.errors import MLError
from aiflow.ml import GraphBuilder, Table, load
from aiflow.ml.graph import GraphAlgoOperator, GraphEstimator, GraphModel, TableId
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


def data(rows: int = 40, seed: int = 0) -> Table:
    rng = np.random.default_rng(seed)
    return Table({"x": rng.normal(2.0, 3.0, (rows, 3)), "label": rng.integers(0, 2, rows)})


def two_input_graph() -> GraphEstimator:
    """train, other -> scaler(train) -> split -> MeanDiff(pos, neg); other -> +1 -> scaler
    model -> MeanDiff model: outputs scored pos, scored neg, scored other."""
    builder = GraphBuilder()
    train, other = builder.create_table_id(), builder.create_table_id()
    scaler = ToyScaler(input_col="x", output_col="c")
    (scaled,) = builder.add_estimator(scaler, train)
    positive, negative = builder.add_algo_operator(SplitByLabel(), scaled, num_outputs=2)
    diff = MeanDiff(input_col="c", output_col="s")
    scored_pos, scored_neg = builder.add_estimator(diff, positive, negative, num_outputs=2)
    (shifted,) = builder.add_algo_operator(AddConst(input_col="x", output_col="x"), other)
    scaler_data = builder.get_model_data_from_estimator(scaler)
    twin = ToyScaler(input_col="x", output_col="c")  # fitted on `shifted`, then given scaler's data
    (other_scaled,) = builder.add_estimator(twin, shifted)
    builder.set_model_data_on_estimator(twin, *scaler_data)
    builder.set_model_data_on_model(twin, *scaler_data)
    diff_again = MeanDiffModel(input_col="c", output_col="s")  # given diff's model data
    (other_scored,) = builder.add_algo_operator(diff_again, other_scaled)
    diff_data = builder.get_model_data_from_estimator(diff, 2)
    builder.set_model_data_on_estimator(diff_again, *diff_data)
    builder.set_model_data_on_model(diff_again, *diff_data)
    return builder.build_estimator([train, other], [scored_pos, scored_neg, other_scored])


def by_hand(train: Table, other: Table) -> list[Table]:
    scaler = ToyScaler(input_col="x", output_col="c").fit(train)
    (scaled,) = scaler.transform(train)
    positive, negative = SplitByLabel().transform(scaled)
    diff = MeanDiff(input_col="c", output_col="s").fit(positive, negative)
    (shifted,) = AddConst(input_col="x", output_col="x").transform(other)
    (other_scaled,) = scaler.transform(shifted)  # the twin uses scaler's model data
    return [*diff.transform(positive, negative), *diff.transform(other_scaled)]


def assert_tables_equal(actual: list[Table], expected: list[Table]) -> None:
    assert len(actual) == len(expected)
    for a, b in zip(actual, expected, strict=True):
        assert a.columns == b.columns
        for name in a.columns:
            np.testing.assert_array_equal(a.column(name), b.column(name))


def test_fit_and_transform_equal_the_stages_run_by_hand() -> None:
    model = two_input_graph().fit(data(), data(seed=1))
    assert isinstance(model, GraphModel)
    kinds = [type(s).__name__ for s in model.stages]
    assert kinds == [
        "ToyScalerModel",
        "SplitByLabel",
        "MeanDiffModel",
        "AddConst",
        "ToyScalerModel",
        "MeanDiffModel",
    ]
    test, other = data(seed=2), data(seed=3)
    assert_tables_equal(model.transform(test, other), _expected(test, other))


def _expected(test: Table, other: Table) -> list[Table]:
    """The fitted graph applied to new tables, by hand: models from training data."""
    train = data()
    scaler = ToyScaler(input_col="x", output_col="c").fit(train)
    positive, negative = SplitByLabel().transform(scaler.transform(train)[0])
    diff = MeanDiff(input_col="c", output_col="s").fit(positive, negative)
    test_pos, test_neg = SplitByLabel().transform(scaler.transform(test)[0])
    (shifted,) = AddConst(input_col="x", output_col="x").transform(other)
    return [*diff.transform(test_pos, test_neg), *diff.transform(scaler.transform(shifted)[0])]


def test_fit_wires_model_data_between_estimators() -> None:
    train, other = data(), data(seed=1)
    model = two_input_graph().fit(train, other)
    twin = model.stages[4]
    assert isinstance(twin, ToyScalerModel)
    np.testing.assert_array_equal(twin.mean, train.vector("x").mean(axis=0))
    expected = by_hand(train, other)
    assert_tables_equal(model.transform(train, other), expected)


def test_graph_model_save_and_load(tmp_path: Path) -> None:
    model = two_input_graph().fit(data(), data(seed=1))
    model.save(tmp_path / "g")
    assert sorted(p.name for p in (tmp_path / "g" / "stages").iterdir()) == [
        str(i) for i in range(6)
    ]
    loaded = load(tmp_path / "g", allowed_modules=[TOYS])
    assert isinstance(loaded, GraphModel)
    test, other = data(seed=5), data(seed=6)
    assert_tables_equal(loaded.transform(test, other), model.transform(test, other))


def test_graph_estimator_save_load_then_fit(tmp_path: Path) -> None:
    two_input_graph().save(tmp_path / "e")
    loaded = GraphEstimator.load(tmp_path / "e", allowed_modules=[TOYS])
    train, other = data(), data(seed=1)
    assert_tables_equal(loaded.fit(train, other).transform(train, other), by_hand(train, other))


def model_data_graph() -> tuple[GraphModel, ToyScalerModel]:
    builder = GraphBuilder()
    table, mean = builder.create_table_id(), builder.create_table_id()
    scaler = ToyScalerModel(input_col="x", output_col="c")
    (out,) = builder.add_algo_operator(scaler, table)
    builder.set_model_data_on_model(scaler, mean)
    (plus,) = builder.add_algo_operator(AddConst(input_col="c", output_col="d", value=2.0), out)
    out_data = builder.get_model_data_from_model(scaler)
    return builder.build_model([table], [plus], [mean], out_data), scaler


def test_graph_model_takes_and_gives_model_data(tmp_path: Path) -> None:
    model, _ = model_data_graph()
    means = Table({"mean": np.array([[1.0, 2.0, 3.0]])})
    with pytest.raises(
        MLError, match=r"GraphModel: no model data: call set_model_data\(1 tables\)"
    ):
        model.transform(data())
    with pytest.raises(MLError, match="GraphModel: takes 1 model data table"):
        model.set_model_data(means, means)
    (out,) = model.set_model_data(means).transform(data())
    np.testing.assert_allclose(out.vector("d"), data().vector("x") - [1, 2, 3] + 2)
    (given,) = model.get_model_data()
    np.testing.assert_array_equal(given.vector("mean"), means.vector("mean"))

    model.save(tmp_path / "m")
    loaded = GraphModel.load(tmp_path / "m", allowed_modules=[TOYS])
    assert (tmp_path / "m" / "model_data" / "0.parquet").is_file()
    (again,) = loaded.transform(data())
    np.testing.assert_array_equal(again.vector("d"), out.vector("d"))


def test_algo_operator_graph() -> None:
    builder = GraphBuilder()
    table = builder.create_table_id()
    positive, negative = builder.add_algo_operator(SplitByLabel(), table, num_outputs=2)
    (joined,) = builder.add_algo_operator(Concat(), negative, positive)
    operator = builder.build_algo_operator([table], [joined, positive])
    assert isinstance(operator, GraphAlgoOperator)
    out, pos = operator.transform(data())
    expected_pos, expected_neg = SplitByLabel().transform(data())
    assert_tables_equal([out, pos], [Table.concat([expected_neg, expected_pos]), expected_pos])


def test_build_errors() -> None:
    builder = GraphBuilder()
    table = builder.create_table_id()
    scaler = ToyScaler()
    builder.add_estimator(scaler, table)
    with pytest.raises(MLError, match="this ToyScaler is already in the graph"):
        builder.add_estimator(scaler, table)
    with pytest.raises(MLError, match="AddConst is not an Estimator"):
        builder.add_estimator(AddConst(), table)  # type: ignore[arg-type]
    with pytest.raises(MLError, match="this AddConst was not added"):
        builder.set_model_data_on_model(AddConst(), table)
    with pytest.raises(MLError, match="ToyScaler is an Estimator; use build_estimator"):
        builder.build_model([table], [])
    stray = GraphBuilder().create_table_id()
    with pytest.raises(MLError, match="output table id 0 is never produced"):
        GraphBuilder().build_algo_operator([], [stray])
    other = GraphBuilder()
    source = other.create_table_id()
    other.add_algo_operator(AddConst(), TableId(7))
    with pytest.raises(MLError, match="AddConst reads table id 7, which is neither"):
        other.build_algo_operator([source], [])


def test_bad_input_names_the_stage() -> None:
    estimator = two_input_graph()
    with pytest.raises(MLError, match="GraphEstimator: expected 2 input table"):
        estimator.fit(data())
    empty = Table({"x": np.zeros((0, 3)), "label": np.zeros(0, dtype=int)})
    with pytest.raises(MLError, match="ToyScaler: the input table is empty"):
        estimator.fit(empty, data())
    with pytest.raises(MLError, match="ToyScaler: column 'x' is not in the table"):
        estimator.fit(data().drop(["x"]), data())
    builder = GraphBuilder()
    table = builder.create_table_id()
    outs = builder.add_algo_operator(SplitByLabel(), table, num_outputs=3)
    operator = builder.build_algo_operator([table], [outs[2]])
    with pytest.raises(
        MLError, match=r"GraphAlgoOperator: SplitByLabel returned 2 table\(s\), but 3 are wired"
    ):
        operator.transform(data())
