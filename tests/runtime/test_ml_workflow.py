"""``aiflow.ml`` stages in a workflow, through ``af.run`` and real job processes: the plan's
adapters are rebuilt from the source snapshot, ``af.train`` registers an ``aiflow.ml`` version
(JSON + Parquet, no pickle), ``af.predict`` applies it as the pipeline run by hand would,
``af.transform`` applies a Transformer, and a damaged artifact fails its version."""

from __future__ import annotations

import textwrap
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import aiflow as af
from aiflow.deployers import get_deployer
from aiflow.errors import ExecutionFailed
from aiflow.ml import Pipeline, Table
from aiflow.ml.classification import LogisticRegression
from aiflow.ml.clustering import KMeans, KMeansModel
from aiflow.ml.feature import StandardScaler, VectorAssembler
from aiflow.scheduler.driver import request_stop, run_execution
from aiflow.scheduler.submit import submit_workflow
from aiflow.store.artifacts import load_model
from aiflow.store.sql_store import MetaStore
from aiflow.translators.usercode import load_workflow_file

pytestmark = pytest.mark.slow

WORKFLOW = """
import aiflow as af
from aiflow.ml import Pipeline
from aiflow.ml.classification import LogisticRegression
from aiflow.ml.feature import StandardScaler, VectorAssembler

points = af.Example("points", schema={"a": "double", "b": "double", "label": "double"},
                    batch_uri="points.csv")


def pipeline():
    return Pipeline([
        VectorAssembler(input_cols=["a", "b"], output_col="features"),
        StandardScaler(input_col="features", output_col="scaled", with_mean=True),
        LogisticRegression(features_col="scaled", label_col="label", max_iter=60),
    ])


with af.workflow("ml_train") as wf:
    data = af.read_example(points)
    model = af.train(data, pipeline(), model=af.Model("lr"))
    af.write_example(af.predict(data, model),
                     af.Example("scored", batch_uri="scored.parquet", format="parquet"))
    feats = af.transform(data, VectorAssembler(input_cols=["b", "a"], output_col="v"))
    af.write_example(feats, af.Example("feats", batch_uri="feats.parquet", format="parquet"))

with af.workflow("ml_score") as scorer:
    af.write_example(af.predict(af.read_example(points), af.Model("lr")),
                     af.Example("rescored", batch_uri="rescored.parquet", format="parquet"))
"""


def by_hand(data: pd.DataFrame) -> Table:
    pipe = Pipeline(
        [
            VectorAssembler(input_cols=["a", "b"], output_col="features"),
            StandardScaler(input_col="features", output_col="scaled", with_mean=True),
            LogisticRegression(features_col="scaled", label_col="label", max_iter=60),
        ]
    )
    table = Table.from_pandas(data)
    (out,) = pipe.fit(table).transform(table)
    return out


def test_train_predict_and_transform_with_aiflow_ml_stages(tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    data = pd.DataFrame({"a": rng.normal(size=300), "b": rng.normal(size=300)})
    data["label"] = (data.a + 0.5 * data.b + rng.normal(scale=0.3, size=300) > 0).astype(float)
    data.to_csv(tmp_path / "points.csv", index=False)
    (tmp_path / "wf.py").write_text(textwrap.dedent(WORKFLOW))
    module = load_workflow_file(tmp_path / "wf.py")

    execution = af.run(module.wf, progress=False)
    assert execution is not None and execution.status.value == "succeeded"
    store = MetaStore()
    (version,) = store.list_model_versions("lr")
    assert version.flavor == "aiflow.ml"
    artifact = Path(version.artifact_uri)
    files = {p.relative_to(artifact).as_posix() for p in artifact.rglob("*") if p.is_file()}
    assert {"meta.json", "metadata.json", "stages/2/model_data/0.parquet"} <= files
    assert not [f for f in files if f.endswith(".pkl")]

    scored = pd.read_parquet(tmp_path / "scored.parquet")
    source = pd.read_csv(tmp_path / "points.csv")  # what the jobs read
    expected = by_hand(source)
    assert list(scored.columns) == [
        "a",
        "b",
        "label",
        "features",
        "scaled",
        "prediction",
        "raw_prediction",
        "model_version",
    ]
    assert np.array_equal(scored["prediction"].to_numpy(), expected.column("prediction"))
    assert np.allclose(
        np.stack(list(scored["raw_prediction"])),
        expected.vector("raw_prediction"),
        rtol=0,
        atol=1e-12,
    )
    assert set(scored["model_version"]) == {1}
    feats = pd.read_parquet(tmp_path / "feats.parquet")
    assert np.array_equal(np.stack(list(feats["v"])), source[["b", "a"]].to_numpy())

    # a damaged Parquet file: the next job to load the version marks it failed and fails
    parquet = artifact / "stages/2/model_data/0.parquet"
    parquet.write_bytes(parquet.read_bytes()[:64])
    with pytest.raises(ExecutionFailed):
        af.run(module.scorer, progress=False)
    assert store.get_model_version("lr", 1).stage == "failed"
    failure = [c for c in store.model_history("lr", version=1) if c.to_value == "failed"]
    assert failure and "changed: stages/2/model_data/0.parquet" in (failure[0].reason or "")
    assert not (tmp_path / "rescored.parquet").exists()


STREAM = """
import aiflow as af
from aiflow.ml.clustering import KMeans
from aiflow.ml.feature import VectorAssembler

points = af.Example("points", schema={"x": "double", "y": "double"}, stream_uri="in/")
with af.workflow("ml_online") as wf:
    raw = af.read_example(points, stream={"poll_interval": 0.1})
    feats = af.transform(raw, VectorAssembler(input_cols=["x", "y"], output_col="v"))
    af.train(feats, KMeans(k=2, features_col="v", max_iter=1), model=af.Model("km"))
    af.write_example(feats, af.Example("feats", stream_uri="out/", format="parquet"))
"""


def test_stream_windows_continue_an_estimator_from_the_base_version(tmp_path: Path) -> None:
    """Each micro-batch is transformed, then a window: version 1 fits from scratch, version 2
    starts from version 1's centroids (KMeans has ``set_initial_model_data``)."""
    (tmp_path / "in").mkdir()
    rng = np.random.default_rng(9)
    blobs = np.concatenate([rng.normal(c, 0.5, size=(40, 2)) for c in (-3.0, 3.0)])
    square = rng.uniform(-1.0, 1.0, size=(80, 2))  # no clusters: where a fit starts shows
    for i, points in enumerate((blobs, square)):
        pd.DataFrame(points, columns=["x", "y"]).to_csv(tmp_path / "in" / f"b{i}.csv", index=False)
    (tmp_path / "wf.py").write_text(textwrap.dedent(STREAM))
    wf = load_workflow_file(tmp_path / "wf.py").wf
    store = MetaStore()
    execution, _ = submit_workflow(wf, mode="stream")
    runner = threading.Thread(
        target=run_execution, args=(store, execution.id, get_deployer("local")), daemon=True
    )
    runner.start()
    deadline = time.monotonic() + 90
    while len(store.list_model_versions("km")) < 2 and time.monotonic() < deadline:
        time.sleep(0.2)
    request_stop(store, execution.id, get_deployer)
    runner.join(30)
    second, first = store.list_model_versions("km")
    assert (first.version, second.version, second.parent_version) == (1, 2, 1)

    windows = []
    for i in range(2):
        frame = pd.read_csv(tmp_path / "in" / f"b{i}.csv")
        windows.append(Table({"v": frame[["x", "y"]].to_numpy()}))
    kmeans = KMeans(k=2, features_col="v", max_iter=1)
    (scratch,) = kmeans.fit(windows[0]).get_model_data()
    v1, v2 = (load_model(v.artifact_uri, checksum=v.checksum) for v in (first, second))
    assert isinstance(v1, KMeansModel) and isinstance(v2, KMeansModel)
    assert np.array_equal(v1.get_model_data()[0].vector("centroids"), scratch.vector("centroids"))
    (continued,) = (
        KMeans(k=2, features_col="v", max_iter=1)
        .set_initial_model_data(*v1.get_model_data())
        .fit(windows[1])
        .get_model_data()
    )
    (refit,) = kmeans.fit(windows[1]).get_model_data()
    got = v2.get_model_data()[0].vector("centroids")
    assert np.array_equal(got, continued.vector("centroids"))
    assert not np.array_equal(got, refit.vector("centroids"))
    parts = sorted((tmp_path / "out").glob("*.parquet"))
    assert len(parts) == 2  # the transform's output, one part per micro-batch
    assert all(len(np.stack(list(pd.read_parquet(p)["v"]))) == 80 for p in parts)
