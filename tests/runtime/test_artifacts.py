"""Model artifacts: a model that cannot be pickled fails its train node clearly and leaves
nothing behind — no artifact file, no model version."""

from __future__ import annotations

import textwrap
import threading
from pathlib import Path

import pandas as pd
import pytest

import aiflow as af
from aiflow.config import get_settings
from aiflow.errors import ExecutionFailed, UserCodeError
from aiflow.store.artifacts import load_model, save_model
from aiflow.store.sql_store import MetaStore
from aiflow.translators.usercode import load_workflow_file


def files_under(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


def test_save_writes_a_complete_artifact(tmp_path: Path) -> None:
    uri, flavor = save_model({"w": [1, 2]}, "m", str(tmp_path))
    assert flavor == "pickle" and load_model(uri) == {"w": [1, 2]}
    assert sorted(p.name for p in files_under(tmp_path)) == ["meta.json", "model.pkl"]


@pytest.mark.parametrize("model", [{"lock": threading.Lock()}, {"f": lambda x: x}])
def test_unpicklable_model_leaves_no_file(tmp_path: Path, model: object) -> None:
    with pytest.raises(UserCodeError, match=r"a model \(dict\) that could not be pickled"):
        save_model(model, "m", str(tmp_path))
    assert files_under(tmp_path) == []


WORKFLOW = """
import threading
import aiflow as af

class Locked(af.Trainer):
    def fit(self, batch, base_model=None):
        return {"mean": float(batch["x"].mean()), "lock": threading.Lock()}

class Plain(af.Trainer):
    def fit(self, batch, base_model=None):
        return {"mean": float(batch["x"].mean())}

src = af.Example("in", schema={"x": "double"}, batch_uri="in.csv")
with af.workflow("unpicklable") as wf:
    af.train(af.read_example(src), Locked(), model=af.Model("locked"))
with af.workflow("plain") as plain:
    af.train(af.read_example(src), Plain(), model=af.Model("locked"))
"""


@pytest.mark.slow
def test_train_node_with_unpicklable_model_fails_and_registers_nothing(tmp_path: Path) -> None:
    pd.DataFrame({"x": [1.0, 2.0]}).to_csv(tmp_path / "in.csv", index=False)
    (tmp_path / "workflow.py").write_text(textwrap.dedent(WORKFLOW))
    module = load_workflow_file(tmp_path / "workflow.py")
    store, artifacts = MetaStore(), get_settings().artifacts_uri

    with pytest.raises(ExecutionFailed):
        af.run(module.wf, progress=False)
    job = store.list_jobs(store.list_executions(workflow="unpicklable")[0].id)[0]
    assert job.status.value == "failed"
    log = "\n".join(af_logs(job.handle))
    assert "node 'train_locked': fit() returned a model (dict) that could not be pickled" in log
    assert files_under(Path(artifacts)) == []
    # the workflow declares the model (it is listed from submission on), with no version
    assert store.list_model_versions("locked") == []

    # an existing model keeps exactly the versions it had
    af.run(module.plain, progress=False)
    with pytest.raises(ExecutionFailed):
        af.run(module.wf, progress=False)
    assert [v.version for v in store.list_model_versions("locked")] == [1]
    assert len(files_under(Path(artifacts))) == 2  # version 1's model.pkl and meta.json


def af_logs(handle: dict | None) -> list[str]:
    from aiflow.deployers import get_deployer

    assert handle is not None
    return list(get_deployer("local").logs(handle))
