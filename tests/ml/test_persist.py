"""Save and load: the open folder format, round trips, what ``load`` refuses, no pickle."""

from __future__ import annotations

import ast
import json
import math
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import aiflow.ml
from aiflow.errors import MLError
from aiflow.ml import Table, load
from aiflow.ml.api import Stage
from aiflow.ml.param import Param
from aiflow.ml.persist import read_table, write_table
from tests.ml.toy_stages import TOYS, AddConst, MeanDiff, MeanDiffModel, ToyScaler, ToyScalerModel


class JsonParamStage(AddConst):
    ANY = Param("any", "Any value.", None)


def data(rows: int = 20, seed: int = 0) -> Table:
    rng = np.random.default_rng(seed)
    return Table({"x": rng.normal(3.0, 2.0, (rows, 3)), "label": rng.integers(0, 2, rows)})


def fitted() -> ToyScalerModel:
    scaler = ToyScaler(input_col="x", output_col="centered", shift=math.nan)
    return scaler.set(ToyScaler.SHIFT, 0.5).fit(data())


def test_a_model_saves_as_json_and_parquet(tmp_path: Path) -> None:
    model = fitted()
    model.save(tmp_path / "m")
    assert sorted(p.name for p in (tmp_path / "m").rglob("*")) == [
        "0.parquet",
        "metadata.json",
        "model_data",
    ]
    metadata = json.loads((tmp_path / "m" / "metadata.json").read_text())
    assert metadata == {
        "class": f"{TOYS}.ToyScalerModel",
        "format_version": 1,
        "params": {"input_col": "x", "output_col": "centered", "shift": 0.5},
        "model_data": 1,
    }
    saved = pq.read_table(tmp_path / "m" / "model_data" / "0.parquet")  # any tool reads it
    assert saved.schema.field("mean").type == pa.list_(pa.float64())
    assert saved.column("mean").to_pylist() == [list(model.mean)]


def test_model_round_trip_gives_identical_outputs(tmp_path: Path) -> None:
    model = fitted()
    model.save(tmp_path / "m")
    same = ToyScalerModel.load(tmp_path / "m")  # the caller names the class: trusted
    assert same.get_param_map() == model.get_param_map()
    (expected,) = model.transform(data(seed=1))
    (actual,) = same.transform(data(seed=1))
    np.testing.assert_array_equal(actual.vector("centered"), expected.vector("centered"))
    again = load(tmp_path / "m", allowed_modules=[TOYS])
    assert isinstance(again, ToyScalerModel)
    np.testing.assert_array_equal(again.mean, model.mean)


def test_estimator_round_trip_keeps_params_nan_included(tmp_path: Path) -> None:
    scaler = ToyScaler(input_col="x", output_col="y", shift=math.nan)
    scaler.save(tmp_path / "e")
    assert json.loads((tmp_path / "e" / "metadata.json").read_text())["params"]["shift"] == "nan"
    same = ToyScaler.load(tmp_path / "e")
    assert math.isnan(same.get(ToyScaler.SHIFT)) and same.get_output_col() == "y"
    assert not (tmp_path / "e" / "model_data").exists()


def test_several_model_data_tables(tmp_path: Path) -> None:
    table = data()
    model = MeanDiff(input_col="x", output_col="s").fit(table.take(slice(0, 10)), table)
    model.save(tmp_path / "m")
    same = MeanDiffModel.load(tmp_path / "m")
    assert len(same.get_model_data()) == 2
    for a, b in zip(same.transform(table), model.transform(table), strict=True):
        np.testing.assert_array_equal(a.column("s"), b.column("s"))


def test_load_refuses_classes_outside_aiflow_ml(tmp_path: Path) -> None:
    fitted().save(tmp_path / "m")
    with pytest.raises(
        MLError, match=r"refusing to load class 'tests\.ml\.toy_stages\.ToyScalerModel'"
    ):
        load(tmp_path / "m")
    with pytest.raises(MLError, match="refusing"):
        Stage.load(tmp_path / "m")


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("os.system", "refusing to load class 'os.system'"),
        ("subprocess.Popen", "refusing to load class 'subprocess.Popen'"),
        ("aiflow.ml.table.np", "'aiflow.ml.table.np' is not a concrete aiflow.ml stage class"),
        ("aiflow.ml.api.Stage", "is not a concrete aiflow.ml stage class"),
        ("aiflow.ml.api.Model", "is not a concrete aiflow.ml stage class"),
        ("aiflow.ml.table.Table", "is not a concrete aiflow.ml stage class"),
        ("aiflow.ml.nothing.Here", "cannot import the module of class 'aiflow.ml.nothing.Here'"),
        ("__import__('os').system", "'class' must be a 'module.Class' path"),
        (None, "'class' must be a 'module.Class' path"),
    ],
)
def test_load_never_imports_what_the_file_names(tmp_path: Path, name: object, message: str) -> None:
    (tmp_path / "metadata.json").write_text(json.dumps({"class": name, "format_version": 1}))
    with pytest.raises(MLError) as caught:
        load(tmp_path, allowed_modules=[TOYS])
    assert message in str(caught.value)
    assert str(tmp_path / "metadata.json") in str(caught.value)


@pytest.mark.parametrize(
    ("metadata", "message"),
    [
        ("{not json", "cannot read it as JSON"),
        ("[1]", "expected a JSON object"),
        ('{"class": "x.Y", "format_version": 2}', "format_version 2, this aiflow reads 1"),
        (
            json.dumps({"class": f"{TOYS}.AddConst", "format_version": 1, "params": {"zz": 1}}),
            "AddConst has no param zz",
        ),
        (
            json.dumps({"class": f"{TOYS}.AddConst", "format_version": 1, "params": {"value": 0}}),
            "",  # loads: the bad one is the next case
        ),
        (
            json.dumps({"class": f"{TOYS}.AddConst", "format_version": 1, "model_data": 1}),
            "model_data/0.parquet: cannot read model data",
        ),
        (
            json.dumps(
                {"class": f"{TOYS}.AddConst", "format_version": 1, "params": {"value": None}}
            ),
            "AddConst: value must be set (not None), got None",
        ),
    ],
)
def test_a_damaged_folder_is_an_error_naming_the_file(
    tmp_path: Path, metadata: str, message: str
) -> None:
    (tmp_path / "metadata.json").write_text(metadata)
    if not message:
        assert load(tmp_path, allowed_modules=[TOYS]).get_param_map() == {
            "input_col": "input",
            "output_col": "output",
            "value": 0.0,
        }
        return
    with pytest.raises(MLError) as caught:
        load(tmp_path, allowed_modules=[TOYS])
    assert message in str(caught.value)
    assert str(tmp_path) in str(caught.value)


def test_missing_folder_and_wrong_class(tmp_path: Path) -> None:
    with pytest.raises(MLError, match=r"metadata\.json: not found"):
        load(tmp_path / "nothing")
    AddConst().save(tmp_path / "a")
    with pytest.raises(MLError, match="holds a stage of class AddConst, not ToyScaler"):
        ToyScaler.load(tmp_path / "a", allowed_modules=[TOYS])


def test_save_refuses_a_non_empty_folder_unless_overwrite(tmp_path: Path) -> None:
    target = tmp_path / "m"
    AddConst(value=1.0).save(target)
    with pytest.raises(MLError, match="the folder is not empty"):
        AddConst(value=2.0).save(target)
    AddConst(value=3.0).save(target, overwrite=True)
    assert AddConst.load(target).get(AddConst.VALUE) == 3.0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m"]  # no temp folder left
    (tmp_path / "empty").mkdir()
    AddConst().save(tmp_path / "empty")
    assert (tmp_path / "empty" / "metadata.json").is_file()
    (tmp_path / "file").write_text("x")
    with pytest.raises(MLError, match="it is a file"):
        AddConst().save(tmp_path / "file")


def test_a_failed_save_leaves_nothing(tmp_path: Path) -> None:
    model = MeanDiffModel().set_model_data(Table({"mean": np.array([1, "a"], dtype=object)}))
    with pytest.raises(MLError, match="MeanDiffModel: cannot save column 'mean'"):
        model.save(tmp_path / "m")
    assert list(tmp_path.iterdir()) == []


def test_a_param_that_is_no_json_is_an_error(tmp_path: Path) -> None:
    model = JsonParamStage().set(JsonParamStage.ANY, {1, 2})
    with pytest.raises(MLError, match="JsonParamStage: its params cannot be written as JSON"):
        model.save(tmp_path / "m")
    assert list(tmp_path.iterdir()) == []


def test_a_class_defined_in_a_function_cannot_be_saved(tmp_path: Path) -> None:
    class Local(AddConst):
        pass

    with pytest.raises(MLError, match="defined inside a function"):
        Local().save(tmp_path / "m")


def test_tables_round_trip_every_column_type(tmp_path: Path) -> None:
    table = Table(
        {
            "vec": np.arange(6, dtype=float).reshape(3, 2),
            "d": np.array([0.5, math.nan, -1.0]),
            "i": np.array([1, 2, 3]),
            "b": np.array([True, False, True]),
            "s": np.array(["a", "bb", ""], dtype=object),
        }
    )
    write_table(table, tmp_path / "t.parquet")
    back = read_table(tmp_path / "t.parquet")
    assert back.schema == table.schema
    for name in table.columns:
        np.testing.assert_array_equal(back.column(name), table.column(name))
    empty = Table({"vec": np.zeros((0, 4))})
    write_table(empty, tmp_path / "e.parquet")
    assert read_table(tmp_path / "e.parquet").vector("vec").shape == (0, 4)


def test_a_ragged_list_column_is_no_vector(tmp_path: Path) -> None:
    pq.write_table(pa.table({"v": [[1.0, 2.0], [3.0]]}), tmp_path / "r.parquet")
    with pytest.raises(MLError, match="column 'v' is not a vector column of size 2"):
        read_table(tmp_path / "r.parquet")


def test_no_pickle_in_aiflow_ml() -> None:
    banned = {"pickle", "cloudpickle", "dill", "joblib", "marshal", "shelve"}
    root = Path(aiflow.ml.__file__).parent
    for path in root.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            else:
                continue
            assert not {n.split(".")[0] for n in names} & banned, f"{path}: imports {names}"


def test_a_stage_saved_with_params_still_unset_loads(tmp_path: Path) -> None:
    from aiflow.ml.feature import Bucketizer

    Bucketizer().save(tmp_path / "b")
    loaded = load(tmp_path / "b")
    assert isinstance(loaded, Bucketizer) and loaded.get_param_map()["output_cols"] is None
