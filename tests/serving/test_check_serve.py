"""``aiflow check`` covers the prediction service: the sample records, sent as instances of a
``:predict`` request through the workflow's chain, get the predictions the batch run wrote;
a transformer that behaves differently when serving is caught."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.e2e.conftest import Cli

pytestmark = pytest.mark.slow

WORKFLOW = """
import sys

import aiflow as af

class Mean(af.Trainer):
    def fit(self, batch, base_model=None):
        return {"mean": float(batch["x2"].mean())}

class Square(af.Transformer):
    output_schema = {"x": "double", "x2": "double"}

    def transform(self, batch):
        online = "aiflow.serving.app" in sys.modules and ODD
        return batch.assign(x2=batch["x"] ** 2 + (100.0 if online else 0.0))

class Above(af.Predictor):
    def predict(self, batch, model):
        return batch.assign(prediction=(batch["x2"] > model["mean"]).astype(int))

points = af.Example("points", schema={"x": "double"}, batch_uri="in.csv")
with af.workflow("sq") as wf:
    features = af.transform(af.read_example(points), Square())
    model = af.train(features, Mean(), model=af.Model("sq"))
    af.write_example(af.predict(features, model, Above()), af.Example("out", batch_uri="out.csv"))
"""


@pytest.mark.parametrize("odd", [False, True])
def test_check_sends_the_sample_to_the_service(cli: Cli, tmp_path: Path, odd: bool) -> None:
    (tmp_path / "in.csv").write_text("x\n" + "\n".join(str(i / 4) for i in range(12)) + "\n")
    (tmp_path / "wf.py").write_text(WORKFLOW.replace("ODD", str(odd)))
    cli.run("run", str(tmp_path / "wf.py"))  # version 1 to serve
    done = cli.run(
        "check",
        str(tmp_path / "wf.py"),
        "--engines",
        "local",
        "--modes",
        "batch",
        "--json",
        check=False,
    )
    report = {r["path"]: r for r in json.loads(done.stdout)}
    assert set(report) == {"local/batch", "serve/request"}
    served = report["serve/request"]
    assert served["rows"] == {"write_out": 12}
    if not odd:
        assert done.returncode == 0 and served["ok"], served
        assert served["columns"]["write_out"]["prediction"] == [0, None]
    else:  # every x2 is 100 higher when serving: all predictions become 1
        assert done.returncode == 1 and not served["ok"]
        assert served["columns"]["write_out"]["prediction"][0] > 0
