"""The shipped example through the real CLI in batch mode, and the CLI's error behaviour."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from tests.e2e.conftest import REPO, Cli

pytestmark = pytest.mark.slow


def test_batch_run_trains_evaluates_predicts_and_records_everything(cli: Cli, wine: Path) -> None:
    summary = cli.json("run", str(wine))
    assert summary["status"] == "succeeded", summary
    assert [(j["name"], j["status"]) for j in summary["jobs"]] == [
        ("train_wine_sgd", "succeeded"),
        ("write_wine_preds", "succeeded"),
    ]
    assert summary["model_versions"][0]["model"] == "wine_sgd"
    assert summary["model_versions"][0]["version"] == 1
    assert summary["metrics"]["evaluate_accuracy"]["accuracy"] > 0.9

    out = Path(summary["outputs"]["write_wine_preds"])
    assert out == wine.parent / "out" / "preds.csv"
    preds = pd.read_csv(out)
    source = pd.read_csv(wine.parent / "data" / "wine.csv")
    assert len(preds) == len(source) == 140
    assert set(preds["model_version"]) == {1}
    assert (preds["prediction"] == preds["label"]).mean() > 0.9
    assert "phenol_ratio" in preds.columns  # the transformer ran before predict

    versions = cli.json("model", "versions", "wine_sgd")
    assert [v["version"] for v in versions] == [1]
    assert versions[0]["metrics"]["accuracy"] == summary["metrics"]["evaluate_accuracy"]["accuracy"]
    assert versions[0]["execution_id"] == summary["execution"]

    examples = {e["name"]: e for e in cli.json("example", "list")}
    assert examples["wine"]["columns"]["label"] == "int"
    assert examples["wine_preds"]["batch_uri"] == str(out)

    train_job = summary["jobs"][0]
    logs = cli.run("job", "logs", str(train_job["id"])).stdout
    assert "job train_wine_sgd done" in logs

    events = cli.json("event", "list")
    assert {"MODEL_GENERATED", "JOB_RUNNING", "JOB_SUCCEEDED"} <= {e["type"] for e in events}
    assert [e["seq"] for e in events] == sorted(e["seq"] for e in events)

    # unchanged code -> same workflow version; a second run is a second execution of it
    again = cli.json("run", str(wine))
    assert again["status"] == "succeeded"
    assert len(cli.json("workflow", "show", "wine_sgd")["versions"]) == 1
    assert [e["id"] for e in cli.json("execution", "list")] == [
        again["execution"],
        summary["execution"],
    ]
    assert [v["version"] for v in cli.json("model", "versions", "wine_sgd")] == [2, 1]


def test_invalid_workflow_fails_clearly_and_writes_nothing(cli: Cli, wine: Path) -> None:
    (wine.parent / "data" / "wine.csv").unlink()
    done = cli.run("run", str(wine), check=False)
    assert done.returncode == 1
    assert "node 'read_wine'" in done.stderr and "wine.csv does not exist" in done.stderr
    assert "Traceback" not in done.stderr
    assert cli.json("workflow", "list") == []
    assert cli.json("execution", "list") == []
    assert cli.json("model", "list") == []

    debug = cli.run("--debug", "run", str(wine), check=False)
    assert debug.returncode == 1 and "Traceback" in debug.stderr


def test_unknown_engine_mode_and_deployer(cli: Cli, wine: Path) -> None:
    for args, message in [
        (["--engine", "spark"], "unknown engine 'spark'"),
        (["--mode", "realtime"], "unknown mode 'realtime'"),
        (["--deployer", "mesos"], "unknown deployer 'mesos'"),
    ]:
        done = cli.run("run", str(wine), *args, check=False)
        assert done.returncode == 1 and message in done.stderr, done.stderr
    assert cli.json("execution", "list") == []


def test_failing_user_code_fails_the_execution_and_keeps_the_log(cli: Cli, tmp_path: Path) -> None:
    wf = tmp_path / "broken" / "workflow.py"
    wf.parent.mkdir()
    (wf.parent / "in.csv").write_text("x\n1\n2\n")
    wf.write_text(
        "import aiflow as af\n"
        "class Boom(af.Transformer):\n"
        "    def transform(self, batch):\n"
        "        raise RuntimeError('boom in user code')\n"
        "src = af.Example('in', schema={'x': 'int'}, batch_uri='in.csv')\n"
        "with af.workflow('broken') as wf:\n"
        "    out = af.transform(af.read_example(src), Boom())\n"
        "    af.write_example(out, af.Example('o', batch_uri='o.csv'))\n"
    )
    done = cli.run("run", str(wf), check=False)
    assert done.returncode == 1
    assert "execution 1 of 'broken' failed" in done.stderr
    job = cli.json("job", "list", "1")[0]
    assert job["status"] == "failed"
    log = cli.run("job", "logs", str(job["id"])).stdout
    assert "node 'boom': RuntimeError: boom in user code" in log


def test_help_is_fast_and_imports_nothing_heavy() -> None:
    code = (
        "import sys, aiflow.cli.main as m; "
        "names = ('sqlalchemy', 'pandas', 'alembic', 'pyarrow', 'sklearn', 'fastapi', 'uvicorn', "
        "'starlette', 'prometheus_client', 'httpx'); "
        "heavy = [x for x in names if x in sys.modules]; "
        "print(heavy)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO
    )
    assert done.stdout.strip() == "[]"


def test_run_on_a_directory_says_to_pass_the_workflow_file(cli: Cli, wine: Path) -> None:
    done = cli.run("run", str(wine.parent), check=False)
    assert done.returncode == 1
    assert f"{wine.parent} is a directory" in done.stderr and "does not exist" not in done.stderr
    assert f"aiflow run {wine}" in done.stderr  # the file to pass instead
    missing = cli.run("run", str(wine.parent / "nope.py"), check=False)
    assert missing.returncode == 1 and "nope.py does not exist" in missing.stderr


SHADOWING_WORKFLOW = """
import helpers  # a sibling module of the user's own
import aiflow as af

src = af.Example("in", schema={"x": "double"}, batch_uri="in.csv")
with af.workflow("shadowed") as wf:
    doubled = af.transform(af.read_example(src), helpers.Double())
    model = af.train(doubled, helpers.Mean(), model=af.Model("mean"))
    preds = af.predict(doubled, model, helpers.Above())
    af.write_example(preds, af.Example("o", batch_uri="o.csv"))
"""

SHADOWING_HELPERS = """
import aiflow as af

class Double(af.Transformer):
    def transform(self, batch):
        return batch.assign(x=batch["x"] * 2)

class Mean(af.Trainer):
    def fit(self, batch, base_model=None):
        return {"mean": float(batch["x"].mean())}

class Above(af.Predictor):
    def predict(self, batch, model):
        return batch.assign(prediction=(batch["x"] > model["mean"]).astype(int))
"""


def test_sibling_modules_named_like_the_standard_library_shadow_nothing(
    cli: Cli, tmp_path: Path
) -> None:
    """A user's ``pickle.py``, ``json.py``, ... beside the workflow must not replace the standard
    library for aiflow (models are pickled, metadata is JSON), while the workflow's own
    ``import helpers`` of a sibling still works — in the CLI and in the job processes, also
    when run from inside the project directory."""
    project = tmp_path / "project"
    project.mkdir()
    (project / "in.csv").write_text("x\n1\n2\n3\n")
    (project / "workflow.py").write_text(SHADOWING_WORKFLOW)
    (project / "helpers.py").write_text(SHADOWING_HELPERS)
    for name in ("pickle", "json", "logging", "queue", "tarfile"):
        (project / f"{name}.py").write_text(f"raise ImportError('the user\\'s own {name}.py')\n")
    for cwd in (tmp_path, project):
        done = subprocess.run(
            [str(Path(sys.executable).parent / "aiflow"), "run", str(project / "workflow.py")],
            cwd=cwd,
            env=cli.env,
            capture_output=True,
            text=True,
            timeout=180,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        out = pd.read_csv(project / "o.csv")
        assert out["x"].tolist() == [2.0, 4.0, 6.0] and out["prediction"].tolist() == [0, 0, 1]
