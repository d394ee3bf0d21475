"""A Flink stream job's predictor follows the model's serving version without a restart: after
the alias ``deployed`` moves, the next records are predicted by the new version, and every
output row says which version made it."""

from __future__ import annotations

import time
from pathlib import Path

import pandas as pd
import pytest

from tests.e2e.conftest import Cli, drop
from tests.services import wait_for

pytestmark = [pytest.mark.slow, pytest.mark.flink]

WORKFLOW = """
import aiflow as af

class Threshold(af.Trainer):
    def __init__(self, cut: float = 0.0):
        self.cut = cut

    def fit(self, batch, base_model=None):
        return {"cut": self.cut}

class Above(af.Predictor):
    output_schema = {"x": "double", "prediction": "int"}

    def predict(self, batch, model):
        return batch.assign(prediction=(batch["x"] > model["cut"]).astype(int))

points = af.Example("points", schema={"x": "double"}, batch_uri="train.csv", stream_uri="in/")

with af.workflow("fit") as fit:
    af.train(af.read_example(points), Threshold(cut=CUT), model=af.Model("cut"))

with af.workflow("serve", engine="flink") as serve:
    scored = af.predict(af.read_example(points, stream={"poll_interval": 0.5}), af.Model("cut"),
                        Above(), stream={"model_refresh": 0.5})
    af.write_example(scored, af.Example("scored", stream_uri="out/"))
"""


def _scored(out: Path) -> pd.DataFrame:
    parts = [pd.read_csv(p) for p in out.glob("part-*.csv")] if out.is_dir() else []
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame({"x": []})


def test_stream_predictor_switches_to_the_deployed_version(cli: Cli, tmp_path: Path) -> None:
    (tmp_path / "in").mkdir()
    pd.DataFrame({"x": [0.0]}).to_csv(tmp_path / "train.csv", index=False)
    for cut in ("10.0", "0.0"):  # version 1 cuts at 10, version 2 at 0
        (tmp_path / "wf.py").write_text(WORKFLOW.replace("CUT", cut))
        cli.run("run", str(tmp_path / "wf.py"), "--workflow", "fit")
    cli.run("model", "alias", "cut", "deployed", "1")
    fast = Cli(cli.home, cli.cwd, {"AIFLOW__FLINK__CHECKPOINT_INTERVAL": "1"})
    started = fast.json(
        "run", str(tmp_path / "wf.py"), "--workflow", "serve", "--mode", "stream", "--detach"
    )
    out = tmp_path / "out"
    first, second = tmp_path / "first.csv", tmp_path / "second.csv"
    pd.DataFrame({"x": [1.0, 5.0, 20.0]}).to_csv(first, index=False)
    pd.DataFrame({"x": [2.0, 6.0, 30.0]}).to_csv(second, index=False)
    try:
        drop(first, tmp_path / "in")
        wait_for(lambda: len(_scored(out)) >= 3, 240, "the first file scored")
        cli.run("model", "alias", "cut", "deployed", "2")  # no restart of the job
        time.sleep(1.0)  # > model_refresh: the next batch is the first that may see it
        drop(second, tmp_path / "in")
        wait_for(lambda: len(_scored(out)) >= 6, 120, "the second file scored")
    finally:
        fast.run("execution", "stop", str(started["execution"]))
    scored = _scored(out).set_index("x")
    assert scored.loc[[1.0, 5.0, 20.0], "model_version"].tolist() == [1, 1, 1]
    assert scored.loc[[1.0, 5.0, 20.0], "prediction"].tolist() == [0, 0, 1]
    assert scored.loc[[2.0, 6.0, 30.0], "model_version"].tolist() == [2, 2, 2]
    assert scored.loc[[2.0, 6.0, 30.0], "prediction"].tolist() == [1, 1, 1]
