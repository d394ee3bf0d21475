"""A deployed version whose artifact does not match its checksum is never served: the stream
predictor marks it failed, ``deployed`` goes back to the version it replaced, and every record
is still predicted (by the previous version), once."""

from __future__ import annotations

import pickle
import textwrap
import threading
from pathlib import Path

import pandas as pd
import pytest

from aiflow.deployers import get_deployer
from aiflow.scheduler.driver import request_stop, run_execution
from aiflow.scheduler.submit import submit_workflow
from aiflow.store.artifacts import artifact_checksum, save_model
from aiflow.store.sql_store import MetaStore
from aiflow.translators.usercode import load_workflow_file
from tests.services import wait_for

pytestmark = pytest.mark.slow

WORKFLOW = """
import aiflow as af

class Cut(af.Predictor):
    def predict(self, batch, model):
        return batch.assign(prediction=(batch.x > model["cut"]).astype(int))

points = af.Example("points", schema={"x": "double"}, stream_uri="in/")

with af.workflow("serve") as wf:
    scored = af.predict(af.read_example(points, stream={"poll_interval": 0.1}), af.Model("cut"),
                        Cut())
    af.write_example(scored, af.Example("scored", stream_uri="out/"))
"""


def _scored(out: Path) -> pd.DataFrame:
    parts = [pd.read_csv(p) for p in out.glob("part-*.csv")] if out.is_dir() else []
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame({"x": []})


def _register(store: MetaStore, root: Path, cut: float) -> int:
    uri, flavor = save_model({"cut": cut}, "cut", str(root))
    version = store.register_model_version("cut", uri, flavor, checksum=artifact_checksum(uri))
    return version.version


def test_a_corrupt_deployed_version_is_failed_and_the_previous_keeps_serving(
    tmp_path: Path,
) -> None:
    (tmp_path / "in").mkdir()
    (tmp_path / "wf.py").write_text(textwrap.dedent(WORKFLOW))
    wf = load_workflow_file(tmp_path / "wf.py").wf
    store = MetaStore()
    artifacts = tmp_path / "artifacts"
    first = _register(store, artifacts, 10.0)
    store.promote_model_version("cut", first)
    second = _register(store, artifacts, 0.0)
    # the second version's pickle is replaced after registration: a valid pickle, wrong bytes
    target = Path(store.get_model_version("cut", second).artifact_uri) / "model.pkl"
    target.write_bytes(pickle.dumps({"cut": -100.0}))

    execution, _ = submit_workflow(wf, mode="stream")
    runner = threading.Thread(
        target=run_execution, args=(store, execution.id, get_deployer("local")), daemon=True
    )
    runner.start()
    out = tmp_path / "out"
    try:
        pd.DataFrame({"x": [1.0, 20.0]}).to_csv(tmp_path / "in" / "a.csv", index=False)
        wait_for(lambda: len(_scored(out)) >= 2, 90, "the first file scored")
        store.promote_model_version("cut", second)  # deploys the corrupt version
        pd.DataFrame({"x": [2.0, 30.0]}).to_csv(tmp_path / "in" / "b.csv", index=False)
        wait_for(lambda: len(_scored(out)) >= 4, 90, "the second file scored")
    finally:
        request_stop(store, execution.id, get_deployer)
        runner.join(60)
    scored = _scored(out).set_index("x")
    assert scored["model_version"].tolist() == [first] * 4  # never the corrupt one
    assert scored.loc[[1.0, 2.0, 20.0, 30.0], "prediction"].tolist() == [0, 0, 1, 1]
    broken = store.get_model_version("cut", second)
    assert broken.stage == "failed" and "deployed" not in broken.aliases
    assert "deployed" in store.get_model_version("cut", first).aliases
    failure = [c for c in store.model_history("cut", version=second) if c.to_value == "failed"]
    assert failure and "changed after the version was registered" in (failure[0].reason or "")
    assert any(e.type == "MODEL_FAILED" for e in store.list_events(key="cut", limit=100))
