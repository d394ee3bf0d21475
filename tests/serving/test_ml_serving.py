"""``aiflow serve`` with an ``aiflow.ml`` model version: requests go through the same code as
``af.predict`` (the default predictor applies the fitted model's transform), alone or behind a
workflow's ``aiflow.ml`` transforms."""

from __future__ import annotations

import sys
import textwrap
import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from aiflow.ml import Pipeline, PipelineModel, Table
from aiflow.ml.api import Stage
from aiflow.ml.classification import LogisticRegression
from aiflow.ml.feature import StandardScaler, VectorAssembler
from aiflow.serving.app import create_app
from aiflow.serving.chain import load_chain
from aiflow.store.sql_store import MetaStore
from aiflow.translators.usercode import WORKFLOW_MODULE
from tests.serving.conftest import register

with warnings.catch_warnings():  # as in test_chain: starlette would rather use httpx2
    warnings.simplefilter("ignore", UserWarning)
    from starlette.testclient import TestClient

WORKFLOW = """
import aiflow as af
from aiflow.ml.feature import VectorAssembler

points = af.Example("points", schema={"f0": "double", "f1": "double"}, batch_uri="points.csv")
with af.workflow("ml_serve") as wf:
    feats = af.transform(af.read_example(points), VectorAssembler(input_cols=["f0", "f1"],
                                                                  output_col="v"))
    af.predict(feats, af.Model("lr"))
"""


@pytest.fixture(autouse=True)
def _forget_workflow_module(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.delitem(sys.modules, WORKFLOW_MODULE, raising=False)
    yield


def fitted(*stages: Stage) -> PipelineModel:
    """``stages`` then a logistic regression on ``s``, fitted on f0, f1 (and ``v``: both)."""
    rng = np.random.default_rng(2)
    f0, f1 = rng.normal(size=100), rng.normal(size=100)
    label = (f0 - f1 > 0).astype(float)
    table = Table({"f0": f0, "f1": f1, "v": np.column_stack([f0, f1]), "label": label})
    return Pipeline([*stages, LogisticRegression(features_col="s", label_col="label")]).fit(table)


INSTANCES = [{"f0": 0.5, "f1": -1.0}, {"f0": -2.0, "f1": 0.3}, {"f0": 0.1, "f1": 0.2}]


def expected(model: PipelineModel, with_v: bool) -> list[float]:
    f0 = np.array([i["f0"] for i in INSTANCES])
    f1 = np.array([i["f1"] for i in INSTANCES])
    columns = {"f0": f0, "f1": f1} | ({"v": np.column_stack([f0, f1])} if with_v else {})
    (out,) = model.transform(Table(columns))
    return [float(p) for p in out.column("prediction")]


def test_an_aiflow_ml_version_is_served_by_the_default_chain(store: MetaStore) -> None:
    model = fitted(
        VectorAssembler(input_cols=["f0", "f1"], output_col="raw"),
        StandardScaler(input_col="raw", output_col="s"),
    )
    register(store, "lr", model)
    with TestClient(create_app(store, "lr", dev=True)) as client:
        response = client.post("/v1/models/lr:predict", json={"instances": INSTANCES})
    assert response.status_code == 200, response.text
    assert response.json() == {"predictions": expected(model, False), "model_version": 1}


def test_a_workflow_chain_runs_its_aiflow_ml_transform_before_the_model(
    tmp_path: Path, store: MetaStore
) -> None:
    model = fitted(StandardScaler(input_col="v", output_col="s"))  # needs v: the transform's
    register(store, "lr", model)
    (tmp_path / "wf.py").write_text(textwrap.dedent(WORKFLOW))
    chain = load_chain(tmp_path / "wf.py", "lr")
    assert [step.node for step in chain.steps] == ["vector_assembler"]
    with TestClient(create_app(store, "lr", dev=True, chain=chain)) as client:
        response = client.post("/v1/models/lr:predict", json={"instances": INSTANCES})
    assert response.status_code == 200, response.text
    assert response.json()["predictions"] == expected(model, True)
