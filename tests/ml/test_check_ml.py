"""``aiflow check``'s ``ml-fit/<node>`` entries: an ``aiflow.ml`` estimator that a train node
fits is fitted on the node's input sample locally and on Flink, and the two models' outputs are
compared; a Flink fit that differs fails the check, naming the node and the column.

Every Flink job costs seconds here: the node's input goes through an ``af.transform`` in this
process (no job) and the estimator is a one-stage pipeline, so each comparison is one job."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

from aiflow import check_ml
from aiflow.check import ColumnDiff, PathResult
from aiflow.check_ml import compare_tables, ml_fit_results
from aiflow.cli.main import app
from aiflow.dsl.workflow import Workflow
from aiflow.ml import Table
from aiflow.translators.usercode import load_workflow_file

WORKFLOW = """
import aiflow as af
from aiflow.ml import Pipeline
from aiflow.ml.classification import LogisticRegression
from aiflow.ml.feature import VectorAssembler

points = af.Example(
    "points", schema={"a": "double", "b": "double", "label": "double"}, batch_uri="points.csv"
)
with af.workflow("mlcheck") as wf:
    data = af.read_example(points)
    features = af.transform(data, VectorAssembler(input_cols=["a", "b"], output_col="f"))
    lr = LogisticRegression(features_col="f", label_col="label", max_iter=15)
    af.train(features, Pipeline([lr]), model=af.Model("lr"))
    af.write_example(data, af.Example("copy", batch_uri="copy.csv"))
"""


@pytest.fixture
def workflow_file(tmp_path: Path) -> Path:
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=60), rng.normal(size=60)
    lines = [f"{float(x)!r},{float(y)!r},{float(x - y > 0)}" for x, y in zip(a, b, strict=True)]
    (tmp_path / "points.csv").write_text("a,b,label\n" + "\n".join(lines) + "\n")
    (tmp_path / "wf.py").write_text(WORKFLOW)
    return tmp_path / "wf.py"


def load(file: Path) -> Workflow:
    module = load_workflow_file(file)
    return next(v for v in vars(module).values() if isinstance(v, Workflow))


def test_without_flink_among_the_engines_nothing_is_fitted(workflow_file: Path) -> None:
    assert ml_fit_results(load(workflow_file), {"local", "serve"}) == []


def test_tables_compare_per_row_with_the_tolerance_and_by_row_count() -> None:
    ref = Table({"v": np.array([[0.0, 1.0], [2.0, 3.0]]), "s": np.array(["x", "y"])})
    close = Table({"v": np.array([[0.0, 1.0 + 1e-12], [2.0, 3.5]]), "s": np.array(["x", "z"])})
    result = PathResult("ml-fit", "train")
    compare_tables(ref, close, "flink", result, 1e-9)
    assert [(d.column, d.differing, d.max_abs) for d in result.diffs["flink"]] == [
        ("v", 1, 0.5),
        ("s", 1, None),
    ]
    assert not result.ok
    short = PathResult("ml-fit", "train")
    compare_tables(ref, ref.take(slice(0, 1)), "flink", short, 1e-9)
    assert short.problems == ["flink: 1 rows instead of 2"] and not short.ok


def test_the_cli_reports_the_entry_and_fails_on_it(
    workflow_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``aiflow check`` passes its paths' engines and reports an ``ml-fit`` entry like a path:
    in its JSON and in its exit code (the entry here stands for a Flink fit that differs)."""
    asked: list[set[str]] = []

    def differing(wf: Workflow, engines: set[str], **options: Any) -> list[PathResult]:
        asked.append(set(engines))
        result = PathResult("ml-fit", "train_lr", rows={"local": 40, "flink": 40})
        result.diffs["flink"] = [ColumnDiff("prediction", 3, 1.0)]
        return [result]

    monkeypatch.setattr(check_ml, "ml_fit_results", differing)
    args = ["check", str(workflow_file), "--engines", "local", "--modes", "batch", "--no-serve"]
    done = CliRunner().invoke(app, [*args, "--json"])
    assert asked == [{"local"}]  # --engines: no Flink here, so the real one would fit nothing
    assert done.exit_code == 1, done.output
    report = {r["path"]: r for r in json.loads(done.stdout)}
    assert report["local/batch"]["ok"] and not report["ml-fit/train_lr"]["ok"]
    assert report["ml-fit/train_lr"]["columns"] == {"flink": {"prediction": [3, 1.0]}}


@pytest.mark.slow
@pytest.mark.flink
def test_the_flink_fit_is_the_local_one(workflow_file: Path, two_tasks: None) -> None:
    (result,) = ml_fit_results(load(workflow_file), {"local", "flink"}, rows=40)
    assert result.name == "ml-fit/train_lr" and result.ok, result
    assert result.rows == {"local": 40, "flink": 40}
    diffs = {d.column: d for d in result.diffs["flink"]}
    assert set(diffs) == {"a", "b", "label", "f", "prediction", "raw_prediction"}
    assert diffs["raw_prediction"].max_abs is not None  # compared as floats, per element


@pytest.mark.slow
@pytest.mark.flink
def test_a_flink_fit_with_other_coefficients_fails_naming_the_column(
    workflow_file: Path, two_tasks: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The real Flink fit, its coefficients then doubled: the outputs differ."""
    from aiflow.ml.classification import LogisticRegressionModel
    from aiflow.ml.flink import engine
    from aiflow.ml.linear import LinearModelData

    real = engine.run

    def doubled(stage: Any, method: Any, tables: Any) -> Any:
        out = real(stage, method, tables)
        if isinstance(out, LogisticRegressionModel):
            data = out.linear
            out.set_model_data(LinearModelData(data.coefficient * 2, data.intercept).to_table())
        return out

    monkeypatch.setattr(engine, "run", doubled)
    (result,) = ml_fit_results(load(workflow_file), {"local", "flink"}, rows=40)
    assert result.name == "ml-fit/train_lr" and not result.ok and not result.problems
    diffs = {d.column: d for d in result.diffs["flink"]}
    assert diffs["raw_prediction"].differing > 0 and diffs["raw_prediction"].max_abs > 1e-3  # type: ignore[operator]
    assert diffs["f"].differing == 0 and diffs["label"].differing == 0  # the same input
