"""``--workflow``: requests go through the workflow's per-record chain, the same code a batch
run applies to the same records."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import warnings
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from aiflow.errors import InvalidInput, InvalidPlan
from aiflow.serving.app import create_app
from aiflow.serving.chain import load_chain
from aiflow.store.sql_store import MetaStore
from aiflow.translators.usercode import WORKFLOW_MODULE
from tests.serving.conftest import fit, register

with warnings.catch_warnings():  # starlette would rather use httpx2; httpx works the same here
    warnings.simplefilter("ignore", UserWarning)
    from starlette.testclient import TestClient

HEADER = """
import pandas as pd
import aiflow as af


class AddSum(af.Transformer):
    def __init__(self, scale: float = 1.0) -> None:
        self.scale = scale

    def transform(self, batch: pd.DataFrame) -> pd.DataFrame:
        out = batch.copy()
        out["s"] = (out["f0"] + out["f1"]) * self.scale
        return out


class DropNegative(af.Transformer):
    def transform(self, batch: pd.DataFrame) -> pd.DataFrame:
        return batch[batch["f0"] >= 0]


class Fit(af.Trainer):
    def fit(self, batch: pd.DataFrame, base_model=None):
        from sklearn.linear_model import LogisticRegression

        return LogisticRegression().fit(batch[["f0", "f1", "s"]], batch["label"])


def passthrough(batch):
    return batch


points = af.Example(
    "points",
    schema={"f0": "double", "f1": "double", "label": "int"},
    batch_uri="points.csv",
)
"""

CHAIN = """
with af.workflow("points_wf") as wf:
    raw = af.read_example(points)
    feats = af.transform(raw, AddSum(scale=2.0))
    model = af.train(feats, Fit(), model=af.Model("points"))
    preds = af.predict(feats, model)
    af.write_example(preds, af.Example("preds", batch_uri="out/preds.csv"))

if __name__ == "__main__":
    af.run(wf, mode="batch")
"""


@pytest.fixture(autouse=True)
def _forget_workflow_module(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Each test loads its own file as ``aiflow_workflow``; none leaks into the next."""
    monkeypatch.delitem(sys.modules, WORKFLOW_MODULE, raising=False)
    yield


def workflow_file(tmp_path: Path, body: str = CHAIN) -> Path:
    path = tmp_path / "wf.py"
    path.write_text(HEADER + textwrap.dedent(body))
    return path


@pytest.mark.slow
def test_served_predictions_are_the_batch_runs(
    tmp_path: Path, aiflow_home: Path, store: MetaStore
) -> None:
    """The workflow runs in batch (training version 1 and predicting every record); the service
    then answers the same records with the same predictions, through the same transform."""
    records = pd.DataFrame({"f0": [-2.0, -0.4, 0.3, 1.5] * 5, "f1": [0.5, -1.0, 0.2, 1.0] * 5})
    records["label"] = ((records.f0 + records.f1) * 2.0 > 0).astype(int)
    records.to_csv(tmp_path / "points.csv", index=False)
    file = workflow_file(tmp_path)
    done = subprocess.run(
        [sys.executable, str(file)],
        cwd=tmp_path,
        env={**os.environ, "AIFLOW_HOME": str(aiflow_home)},
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    batch = pd.read_csv(tmp_path / "out" / "preds.csv")

    chain = load_chain(file, "points")
    with TestClient(create_app(store, "points", dev=True, chain=chain)) as client:
        instances = records[["f0", "f1"]].to_dict("records")  # no label: the predictor excludes it
        response = client.post("/v1/models/points:predict", json={"instances": instances})
        status = client.get("/v1/models/points").json()
    assert response.status_code == 200, response.text
    assert response.json()["predictions"] == batch["prediction"].tolist()
    assert response.json()["model_version"] == batch["model_version"].iloc[0] == 1
    assert (status["workflow"], status["predict_node"], status["transforms"]) == (
        "points_wf",
        "predict",
        ["add_sum"],
    )
    assert status["fields"] == {"f0": "double", "f1": "double", "label": "int"}
    assert status["optional_fields"] == ["label"]  # what the predictor excludes


def test_the_chain_transforms_before_predict(tmp_path: Path, store: MetaStore) -> None:
    """The model needs column ``s``, which only the transform makes: without the workflow a
    request must send it; with it, the example's fields are enough."""
    model = fit(seed=4, columns=["f0", "f1", "s"])
    register(store, "points", model)
    instance = {"f0": 0.4, "f1": -1.0}
    with TestClient(create_app(store, "points", dev=True)) as bare:
        missing = bare.post("/v1/models/points:predict", json={"instances": [instance]})
    assert (missing.status_code, missing.json()["field"]) == (422, "s")

    chain = load_chain(workflow_file(tmp_path), "points")
    with TestClient(create_app(store, "points", dev=True, chain=chain)) as client:
        response = client.post("/v1/models/points:predict", json={"instances": [instance]})
        wrong = client.post("/v1/models/points:predict", json={"instances": [{"f0": 1}]})
    expected = model.predict(pd.DataFrame({"f0": [0.4], "f1": [-1.0], "s": [-1.2]}))
    assert response.json() == {"predictions": expected.tolist(), "model_version": 1}
    assert (wrong.status_code, wrong.json()["field"]) == (422, "f1")


def test_a_transform_that_drops_records_is_refused_per_request(
    tmp_path: Path, store: MetaStore
) -> None:
    register(store, "points", fit(seed=4, columns=["f0", "f1", "s"]))
    file = workflow_file(
        tmp_path,
        """
        with af.workflow("filtering") as wf:
            kept = af.transform(af.read_example(points), DropNegative())
            af.predict(af.transform(kept, AddSum()), af.Model("points"))
        """,
    )
    chain = load_chain(file, "points")
    assert [step.node for step in chain.steps] == ["drop_negative", "add_sum"]
    with TestClient(create_app(store, "points", dev=True, chain=chain)) as client:
        kept = client.post("/v1/models/points:predict", json={"instances": [{"f0": 1, "f1": 1}]})
        dropped = client.post(
            "/v1/models/points:predict", json={"instances": [{"f0": -1, "f1": 1}]}
        )
    assert kept.status_code == 200
    assert dropped.status_code == 422 and dropped.json()["node"] == "drop_negative"
    assert "returned 0 rows for 1 instances" in dropped.json()["error"]


@pytest.mark.parametrize(
    ("body", "node", "words"),
    [
        (
            """
            with af.workflow("w") as wf:
                mixed = af.user_operation(passthrough, af.read_example(points))
                af.predict(mixed, af.Model("points"))
            """,
            "passthrough",
            "user_operation node",
        ),
        (
            """
            with af.workflow("w") as wf:
                picked = af.sql_transform(af.read_example(points), "SELECT * FROM input")
                af.predict(picked, af.Model("points"))
            """,
            "sql",
            "SQL transform",
        ),
    ],
)
def test_a_chain_that_is_not_per_record_is_refused_naming_the_node(
    tmp_path: Path, body: str, node: str, words: str
) -> None:
    with pytest.raises(InvalidPlan) as caught:
        load_chain(workflow_file(tmp_path, body), "points")
    assert caught.value.node == node and words in caught.value.message


def test_the_predict_node_must_be_found_once(tmp_path: Path) -> None:
    file = workflow_file(
        tmp_path,
        """
        with af.workflow("two") as wf:
            raw = af.read_example(points)
            af.predict(raw, af.Model("points"), name="plain")
            af.predict(af.transform(raw, AddSum()), af.Model("points"), name="summed")
        """,
    )
    with pytest.raises(InvalidInput, match=r"no predict node serves model 'other'.*points"):
        load_chain(file, "other")
    with pytest.raises(InvalidInput, match=r"two/plain, two/summed.*--node"):
        load_chain(file, "points")
    assert [s.node for s in load_chain(file, "points", node="summed").steps] == ["add_sum"]
    with pytest.raises(InvalidInput, match="no predict node 'nope'"):
        load_chain(file, "points", node="nope")
