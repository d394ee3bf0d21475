"""``aiflow.ml`` on Flink: the same stages on ``Table(engine="flink")`` give the local engine's
results -- fits (the iterative ones data-parallel in one Flink job, the others in one task),
row-wise transforms over shards put back in row order, the iteration engine's bodies and
listeners -- on the embedded mini-cluster with two tasks and on the session cluster (separate
Python workers reaching the driver over TCP); errors in a task come back as the stage's own.

Every Flink job costs seconds here, so each test runs few of them."""

from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_breast_cancer, make_blobs

from aiflow.config import reset_settings
from aiflow.errors import MLError
from aiflow.ml import Pipeline, Table, load
from aiflow.ml.classification import (
    LinearSVC,
    LogisticRegression,
    NaiveBayes,
    OnlineLogisticRegression,
)
from aiflow.ml.clustering import KMeans, OnlineKMeans
from aiflow.ml.evaluation import BinaryClassificationEvaluator, MulticlassClassificationEvaluator
from aiflow.ml.feature import (
    Bucketizer,
    Imputer,
    MinMaxScaler,
    OneHotEncoder,
    StandardScaler,
    StringIndexer,
    VectorAssembler,
)
from aiflow.ml.iteration import (
    IterationBodyResult,
    IterationContext,
    IterationListener,
    ReplayableData,
    ShardedBody,
    iterate_bounded,
    terminate_on_max_iteration,
)
from aiflow.ml.regression import LinearRegression
from aiflow.store.sql_store import MetaStore
from tests.e2e.conftest import Cli

pytestmark = [pytest.mark.slow, pytest.mark.flink]


def cancer() -> Table:
    x, y = load_breast_cancer(return_X_y=True)
    return Table({"x": x, "label": y, "group": np.where(x[:, 0] > 14, "big", "small")})


def assert_tables_close(local: Table, flink: Table, atol: float = 1e-9) -> None:
    assert flink.engine == "flink" and local.columns == flink.columns
    for name in local.columns:
        a, b = local.column(name), flink.column(name)
        if a.dtype.kind in "fiub":
            np.testing.assert_allclose(b, a, rtol=0, atol=atol, err_msg=name)
        else:
            assert list(a) == list(b), name


def test_a_pipeline_fits_and_transforms_on_flink_as_locally(two_tasks: None) -> None:
    pipe = Pipeline(
        [
            StringIndexer(input_cols=["group"], output_cols=["group_index"]),
            StandardScaler(input_col="x", output_col="scaled"),
            LogisticRegression(features_col="scaled", max_iter=40, global_batch_size=200),
        ]
    )
    data = cancer()
    local_model = pipe.fit(data)
    flink_model = pipe.fit(data.on("flink"))
    for a, b in zip(local_model.stages, flink_model.stages, strict=True):
        for ta, tb in zip(a.get_model_data(), b.get_model_data(), strict=True):
            assert_tables_close(ta, tb.on("flink"), atol=1e-12)
    # one Flink job transforms the shards (two tasks) and puts the rows back in order
    (local_out,) = local_model.transform(data)
    (flink_out,) = flink_model.transform(data.on("flink"))
    assert_tables_close(local_out, flink_out)
    (auc,) = BinaryClassificationEvaluator(label_col="label").transform(flink_out)
    assert auc.engine == "flink" and auc.column("areaUnderROC")[0] > 0.95


def test_every_stage_agrees_with_the_local_engine(two_tasks: None) -> None:
    """Every feature stage, classifier and clusterer in one pipeline, and both evaluators:
    the Flink fit's model data and outputs equal the local ones within 1e-9 (sums over
    shards add in another order: the stated tolerance). The pipeline fit takes four jobs."""
    rng = np.random.default_rng(11)
    rows = 400
    a, b = rng.normal(size=rows), rng.normal(size=rows)
    a[::17] = np.nan
    color = rng.choice(np.array(["red", "green", "blue"], dtype=object), size=rows)
    label = ((np.nan_to_num(a) + b + (color == "red")) > 0.5).astype(np.int64)
    data = Table({"a": a, "b": b, "color": color, "label": label})
    pipe = Pipeline(
        [
            Imputer(input_cols=["a", "b"], output_cols=["a_i", "b_i"]),
            Bucketizer(input_cols=["a_i"], output_cols=["a_bucket"], splits_array=[[-9, 0, 9]]),
            StringIndexer(input_cols=["color"], output_cols=["color_index"]),
            OneHotEncoder(input_cols=["color_index"], output_cols=["color_vec"]),
            VectorAssembler(input_cols=["a_i", "b_i", "color_vec"], output_col="features"),
            VectorAssembler(input_cols=["a_bucket", "color_index"], output_col="categories"),
            MinMaxScaler(input_col="features", output_col="unit"),
            StandardScaler(input_col="unit", output_col="scaled"),
            NaiveBayes(features_col="categories", prediction_col="nb"),
            LinearSVC(features_col="scaled", prediction_col="svc", raw_prediction_col="svc_raw"),
            OnlineKMeans(features_col="scaled", prediction_col="cluster", k=2, seed=3),
            OnlineLogisticRegression(
                features_col="scaled", prediction_col="olr", raw_prediction_col="olr_raw"
            ),
        ]
    )
    local_model, flink_model = pipe.fit(data), pipe.fit(data.on("flink"))
    for a_stage, b_stage in zip(local_model.stages, flink_model.stages, strict=True):
        assert type(a_stage) is type(b_stage)
        if hasattr(a_stage, "get_model_data") and a_stage.state_tables():
            for ta, tb in zip(a_stage.get_model_data(), b_stage.get_model_data(), strict=True):
                assert_tables_close(ta, tb.on("flink"))
    (local_out,) = local_model.transform(data)
    (flink_out,) = flink_model.transform(data.on("flink"))
    assert_tables_close(local_out, flink_out)
    for evaluator in (
        BinaryClassificationEvaluator(raw_prediction_col="svc_raw"),
        MulticlassClassificationEvaluator(prediction_col="nb"),
    ):
        (local_metrics,) = evaluator.transform(local_out)
        (flink_metrics,) = evaluator.transform(flink_out)
        assert_tables_close(local_metrics, flink_metrics)


def test_iterative_fits_run_data_parallel_and_match_local(two_tasks: None, tmp_path: Path) -> None:
    x, _ = make_blobs(2_000, 4, centers=5, random_state=3)
    y = x @ np.array([1.0, -2.0, 0.5, 3.0]) + 4.0
    data = Table({"features": x, "label": y})
    kmeans = KMeans(k=5, seed=7, max_iter=20)
    local_km, flink_km = kmeans.fit(data), kmeans.fit(data.on("flink"))
    assert_tables_close(local_km.get_model_data()[0], flink_km.get_model_data()[0].on("flink"))
    sgd = LinearRegression(solver="sgd", max_iter=50, learning_rate=0.05, tol=0.0)
    local_lr, flink_lr = sgd.fit(data), sgd.fit(data.on("flink"))
    np.testing.assert_allclose(
        flink_lr.linear.coefficient, local_lr.linear.coefficient, rtol=1e-9, atol=1e-12
    )
    # a model fitted on Flink saves and loads like any other
    flink_km.save(tmp_path / "km")
    (again,) = load(tmp_path / "km").transform(data)
    (first,) = local_km.transform(data)
    assert np.array_equal(again.column("prediction"), first.column("prediction"))


class Rounds(IterationListener):
    def on_epoch_watermark_incremented(self, epoch, ctx, collect) -> None:  # type: ignore[no-untyped-def]
        collect(Table({"seen": [epoch]}))


def test_iteration_bodies_on_flink(two_tasks: None) -> None:
    points = Table({"v": np.arange(10.0)}, engine="flink")
    start = Table({"total": [0.0]}, engine="flink")

    def shard_sums(variables: list[Table], data: list[Table], ctx: IterationContext) -> list[Table]:
        return [Table({"sum": [float(data[0].column("v").sum())], "offset": [ctx.row_offset]})]

    def add(variables: list[Table], partials: list[list[Table]], ctx: IterationContext):  # type: ignore[no-untyped-def]
        total = float(variables[0].column("total")[0])
        offsets = [int(p[0].column("offset")[0]) for p in partials]
        total += sum(float(p[0].column("sum")[0]) for p in partials)
        return IterationBodyResult(
            feedback=[Table({"total": [total]})],
            outputs=[Table({"total": [total], "shards": [len(partials)], "second": [offsets[1]]})],
            termination=terminate_on_max_iteration(3, ctx.epoch),
        )

    # replay=False: only round 0 sees the rows; two tasks, one shard each (offsets 0 and 5)
    out, seen = iterate_bounded(
        [start],
        ReplayableData([points], replay=False),
        ShardedBody(shard_sums, add),
        listeners=[Rounds()],
    )
    assert out.engine == "flink"
    assert list(out.column("total")) == [45.0, 45.0, 45.0]
    assert set(out.column("shards")) == {2} and set(out.column("second")) == {5}
    assert list(seen.column("seen")) == [0, 1, 2]

    def double(variables: list[Table], data: list[Table], ctx: IterationContext):  # type: ignore[no-untyped-def]
        value = float(variables[0].column("total")[0]) * 2 + len(data[0])
        return IterationBodyResult(
            feedback=[Table({"total": [value]})],
            outputs=[Table({"value": [value]})],
            termination=terminate_on_max_iteration(2, ctx.epoch),
        )

    (plain,) = iterate_bounded([start], ReplayableData([points]), double)
    assert list(plain.column("value")) == [10.0, 30.0]


def test_online_training_runs_its_mini_batches_in_a_flink_task(two_tasks: None) -> None:
    x, y = load_breast_cancer(return_X_y=True)
    x = (x - x.mean(axis=0)) / x.std(axis=0)
    data = Table({"features": x, "label": y})
    online = OnlineLogisticRegression(global_batch_size=64, learning_rate=0.5)
    local = list(online.fit_stream(data.batches(100)))
    # an endless-style generator of Flink tables: one task runs the rounds as batches arrive
    flink = list(online.fit_stream(batch.on("flink") for batch in data.batches(100)))
    assert len(flink) == len(local) == -(-len(y) // 64)
    for a, b in zip(local, flink, strict=True):
        assert_tables_close(a, b, atol=1e-12)
    assert list(flink[-1].column("model_version")) == [len(local)]
    # what a stream train node under --engine flink does with each window: continue from the
    # base version's model data, the fit in a Flink task
    base = LogisticRegression(max_iter=5).fit(data)
    window = data.take(slice(0, 200))
    local_next = online.set_initial_model_data(*base.get_model_data()).fit(window)
    flink_next = online.fit(window.on("flink"))
    assert_tables_close(local_next.get_model_data()[0], flink_next.get_model_data()[0].on("flink"))
    assert flink_next.get_model_data()[0].column("model_version")[0] == 200 // 64 + 1


def test_errors_in_flink_tasks_come_back_as_the_stages_own(two_tasks: None) -> None:
    bad = Table({"features": np.array([[1.0, 2.0], [3.0, -1.0]]), "label": [0, 1]}, engine="flink")
    with pytest.raises(MLError, match=r"StandardScaler: column 'nope' is not in the table"):
        StandardScaler(input_col="nope").fit(bad)

    def broken(variables: list[Table], data: list[Table], ctx: IterationContext):  # type: ignore[no-untyped-def]
        return 1 / 0

    with pytest.raises(MLError, match="Flink task 0 failed: ZeroDivisionError"):
        iterate_bounded([Table({"a": [1]}, engine="flink")], ReplayableData([bad]), broken)


def test_fits_on_the_session_cluster(flink_session: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Separate Python workers on the TaskManager: tasks connect back to this driver."""
    monkeypatch.setenv("AIFLOW__FLINK__REST_URL", flink_session)
    monkeypatch.setenv("AIFLOW__FLINK__PARALLELISM", "2")
    reset_settings()
    try:
        x, _ = make_blobs(600, 3, centers=3, random_state=0)
        data = Table({"features": x})
        local = KMeans(k=3, seed=1).fit(data)
        remote = KMeans(k=3, seed=1).fit(data.on("flink"))
        assert_tables_close(local.get_model_data()[0], remote.get_model_data()[0].on("flink"))
    finally:
        reset_settings()


WORKFLOW = """
import aiflow as af
from aiflow.ml import Pipeline
from aiflow.ml.classification import LogisticRegression, OnlineLogisticRegression
from aiflow.ml.feature import VectorAssembler

points = af.Example("points", schema={"a": "double", "b": "double", "label": "double"},
                    batch_uri="points.csv")

with af.workflow("ml_on_flink") as wf:
    data = af.read_example(points)
    model = af.train(data, Pipeline([
        VectorAssembler(input_cols=["a", "b"], output_col="features"),
        LogisticRegression(max_iter=30)]), model=af.Model("lr"))
    af.write_example(af.predict(data, model),
                     af.Example("scored", batch_uri="scored.csv"))
"""


def test_engine_flink_fits_the_workflows_estimator_on_flink(
    cli: Cli, tmp_path: Path, flink_session: str
) -> None:
    from aiflow.translators.flink.rest import FlinkRest

    rng = np.random.default_rng(2)
    frame = pd.DataFrame({"a": rng.normal(size=200), "b": rng.normal(size=200)})
    frame["label"] = (frame.a - frame.b > 0).astype(float)
    frame.to_csv(tmp_path / "points.csv", index=False)
    (tmp_path / "wf.py").write_text(textwrap.dedent(WORKFLOW))
    cli.settings["AIFLOW__FLINK__REST_URL"] = flink_session
    before = {j.job_id for j in FlinkRest(flink_session).jobs()}
    cli.run("run", str(tmp_path / "wf.py"), "--engine", "flink")
    ml_jobs = [
        j.name
        for j in FlinkRest(flink_session).jobs()
        if j.job_id not in before and j.name.startswith("aiflow.ml/")
    ]
    assert ml_jobs, "the fit did not run on the Flink cluster"
    (version,) = MetaStore().list_model_versions("lr")
    assert version.flavor == "aiflow.ml"
    scored = pd.read_csv(tmp_path / "scored.csv")
    accuracy = float((scored["prediction"] == frame["label"]).mean())
    assert len(scored) == 200 and accuracy > 0.9
