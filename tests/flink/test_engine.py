"""The flink engine end to end: the shipped example on Flink (embedded mini-cluster and a real
session cluster) gives the local engine's outputs; bad records follow the example's policy;
user errors come back naming the node."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pandas as pd
import pytest

from tests.e2e.conftest import Cli, drop
from tests.services import wait_for

pytestmark = [pytest.mark.slow, pytest.mark.flink]


def _preds(wine: Path) -> pd.DataFrame:
    return pd.read_csv(wine.parent / "out" / "preds.csv")


def _assert_same(a: pd.DataFrame, b: pd.DataFrame) -> None:
    assert list(a.columns) == list(b.columns)
    assert len(a) == len(b) > 0
    for column in a.columns:
        if pd.api.types.is_float_dtype(a[column]):
            assert (a[column] - b[column]).abs().max() <= 1e-9, column
        else:
            assert a[column].tolist() == b[column].tolist(), column


def test_wine_batch_on_flink_mini_cluster_matches_local(cli: Cli, wine: Path) -> None:
    cli.run("run", str(wine), "--engine", "local")
    local = _preds(wine)
    done = cli.run("run", str(wine), "--engine", "flink", timeout=600)
    assert "write_wine_preds wrote" in done.stdout
    flink = _preds(wine)
    # the second run trains version 2 (same data, same seed: the same model)
    assert set(local["model_version"]) == {1} and set(flink["model_version"]) == {2}
    _assert_same(flink.drop(columns="model_version"), local.drop(columns="model_version"))
    jobs = {j["name"]: j for j in cli.json("job", "list", "2")}
    # Flink runs the per-record chain; training and evaluation fall back to local
    assert {n: j["engine"] for n, j in jobs.items()} == {
        "add_ratios": "flink",
        "train_wine_sgd": "local",
        "evaluate_accuracy": "local",
        "write_wine_preds": "flink",
    }
    assert all(j["status"] == "succeeded" for j in jobs.values())
    # on the mini-cluster the Python workers run in the job process, booted over its socket
    shown = cli.json("job", "show", str(jobs["write_wine_preds"]["id"]))
    assert shown["result"]["engine"]["flink"]["python_workers_booted_fast"] >= 1


def test_wine_batch_on_session_cluster(cli: Cli, wine: Path, flink_session: str) -> None:
    cli.run("run", str(wine), "--engine", "local")
    local = _preds(wine)
    remote = Cli(cli.home, cli.cwd, {"AIFLOW__FLINK__REST_URL": flink_session})
    remote.run("run", str(wine), "--engine", "flink", timeout=600)
    _assert_same(_preds(wine).drop(columns="model_version"), local.drop(columns="model_version"))
    job = next(j for j in remote.json("job", "list", "2") if j["name"] == "add_ratios")
    shown = remote.json("job", "show", str(job["id"]))
    flink_id = shown["result"]["engine"]["flink"]["job_id"]
    assert shown["result"]["engine"]["flink"]["web_ui"].startswith(flink_session)
    # the cluster's TaskManager starts its own Python workers: none through the job process
    assert shown["result"]["engine"]["flink"]["python_workers_booted_fast"] == 0
    # the job ran on the cluster, named after the execution and job, operators after nodes
    info = httpx.get(f"{flink_session}/jobs/{flink_id}", timeout=10).json()
    assert info["state"] == "FINISHED" and info["name"] == "wine_sgd/add_ratios#2"
    plan = httpx.get(f"{flink_session}/jobs/{flink_id}/plan", timeout=10).json()["plan"]
    described = " ".join(n["description"] for n in plan["nodes"])
    assert "read_wine" in described and "add_ratios(" in described
    logs = remote.run("job", "logs", str(job["id"])).stdout  # the TaskManager's side via REST
    assert f"--- Flink TaskManager log of {flink_id}" in logs and flink_id in logs.split("---")[-1]


def test_batch_job_over_many_bundles_writes_every_record_once_in_order(
    cli: Cli, tmp_path: Path
) -> None:
    """``flink.batch_bundle_rows`` bounds the records a batch job's Python function holds in
    flight (the JVM keeps each one's row and result until the bundle ends): its calls get
    at most that many, and the records of every bundle reach the output once, in order."""
    rows = 5_000
    (tmp_path / "in.csv").write_text("x,label\n" + "".join(f"{i}.5,{i % 3}\n" for i in range(rows)))
    (tmp_path / "wf.py").write_text(
        """
import aiflow as af

class Sized(af.Transformer):
    output_schema = {"x": "double", "label": "int", "call_rows": "int"}

    def transform(self, batch):
        return batch.assign(call_rows=len(batch))

points = af.Example("points", schema={"x": "double", "label": "int"}, batch_uri="in.csv")

with af.workflow("bundles") as wf:
    af.write_example(af.transform(af.read_example(points), Sized()),
                     af.Example("out", batch_uri="out.csv"))
"""
    )
    bundled = Cli(cli.home, cli.cwd, {"AIFLOW__FLINK__BATCH_BUNDLE_ROWS": "700"})
    bundled.run("run", str(tmp_path / "wf.py"), "--engine", "flink", timeout=300)
    out = pd.read_csv(tmp_path / "out.csv")
    assert out["x"].tolist() == [i + 0.5 for i in range(rows)]
    assert out["label"].tolist() == [i % 3 for i in range(rows)]
    # a call per bundle of 700 lines, not one for all 5,000 records: the first bundle's
    # header line is no record, and the last bundle holds the 101 lines left
    assert out["call_rows"].tolist() == [699] * 699 + [700] * 6 * 700 + [101] * 101


BAD_CSV = "x,label\n1.5,0\nnot-a-number,1\n2.5,1\n3.5,x\n"


def _small_workflow(directory: Path, on_error: str, extra: str = "") -> Path:
    (directory / "in.csv").write_text(BAD_CSV)
    dead_letters = ", dead_letter_uri='bad/'" if on_error == "dead_letter" else ""
    path = directory / "wf.py"
    path.write_text(
        f"""
import aiflow as af

class Double(af.Transformer):
    output_schema = {{"x": "double", "label": "int", "x2": "double"}}

    def transform(self, batch):
        # a header line or a bad record reaching user code would be a NaN here
        assert batch["x"].notna().all(), "a record that is not one reached the transformer"
        out = batch.copy()
        out["x2"] = out["x"] * 2
        return {extra or "out"}

points = af.Example("points", schema={{"x": "double", "label": "int"}}, batch_uri="in.csv",
                    on_error={on_error!r}{dead_letters})

with af.workflow("small") as wf:
    af.write_example(af.transform(af.read_example(points), Double()),
                     af.Example("out", batch_uri="out.csv"))
"""
    )
    return path


@pytest.mark.parametrize("engine", ["local", "flink"])
def test_bad_records_are_dead_lettered_and_counted(cli: Cli, tmp_path: Path, engine: str) -> None:
    """Both engines accept, reject and keep the same records."""
    wf = _small_workflow(tmp_path, "dead_letter")
    cli.run("run", str(wf), "--engine", engine, timeout=300)
    out = pd.read_csv(tmp_path / "out.csv")
    assert out["x"].tolist() == [1.5, 2.5] and out["x2"].tolist() == [3.0, 5.0]
    kept = [
        json.loads(line)
        for f in sorted((tmp_path / "bad" / "execution=1").iterdir())
        if not f.name.startswith(".")
        for line in f.read_text().splitlines()
    ]
    assert sorted(r["record"] for r in kept) == ["3.5,x", "not-a-number,1"]
    assert all(r["path"].endswith("in.csv") for r in kept)
    assert any("'not-a-number' is not a double" in r["error"] for r in kept)
    job = cli.json("job", "list", "1")[0]
    shown = cli.json("job", "show", str(job["id"]))
    assert shown["result"]["dead_letters"]["read_points"]["count"] == 2
    # aiflow's own log lines survive PyFlink's in-process worker (it empties the root logger)
    assert f"job {job['name']} done:" in Path(shown["log_uri"]).read_text()
    if engine == "flink":  # the attempt's JVM log is its own, beside the job's log
        jvm_logs = Path(shown["result"]["engine"]["flink"]["jvm_log_dir"])
        assert jvm_logs.parent == Path(shown["log_uri"]).parent
        text = "".join(p.read_text() for p in jvm_logs.glob("*.log"))
        assert "MiniCluster" in text and "FINISHED" in text


def test_paths_holding_a_quote_are_read_and_written(cli: Cli, tmp_path: Path) -> None:
    """Paths reach Flink's SQL as string literals: a quote in one is part of the name."""
    directory = tmp_path / "it's here"
    directory.mkdir()
    wf = _small_workflow(directory, "dead_letter")
    cli.run("run", str(wf), "--engine", "flink", timeout=300)
    assert pd.read_csv(directory / "out.csv")["x"].tolist() == [1.5, 2.5]
    bad = [f for f in (directory / "bad" / "execution=1").iterdir() if not f.name.startswith(".")]
    kept = [json.loads(line) for f in bad for line in f.read_text().splitlines()]
    assert len(kept) == 2 and all(r["path"].endswith("it's here/in.csv") for r in kept)


def test_bad_record_with_fail_policy_names_file_and_record(cli: Cli, tmp_path: Path) -> None:
    wf = _small_workflow(tmp_path, "fail")
    done = cli.run("run", str(wf), "--engine", "flink", check=False, timeout=300)
    assert done.returncode != 0
    job = cli.json("job", "list", "1")[0]
    log = Path(cli.json("job", "show", str(job["id"]))["log_uri"]).read_text()
    assert "InvalidInput: node 'read_points'" in log
    assert f"{tmp_path / 'in.csv'}" in log and "'not-a-number' is not a double" in log
    assert not (tmp_path / "out.csv").exists()


def test_transformer_dropping_rows_is_reported_naming_the_node(cli: Cli, tmp_path: Path) -> None:
    wf = _small_workflow(tmp_path, "skip", extra="out.head(1)")
    done = cli.run("run", str(wf), "--engine", "flink", check=False, timeout=300)
    assert done.returncode != 0
    job = cli.json("job", "list", "1")[0]
    log = Path(cli.json("job", "show", str(job["id"]))["log_uri"]).read_text()
    assert "UserCodeError: node 'double': transform() returned 1 rows for 2 input rows" in log


SQL_WORKFLOW = """
import aiflow as af

points = af.Example("points", schema={"x": "double", "label": "int"}, batch_uri="in.csv")

class OnlyLabelOne(af.Transformer):
    output_schema = {"x": "double", "label": "int", "x_sq": "double", "band": "string"}

    def transform(self, batch):
        # Flink's planner would run this before the query's WHERE unless aiflow prevents it
        assert (batch["label"] == 1).all(), "a row the query filtered out reached a transformer"
        return batch

with af.workflow("sql") as wf:
    features = af.sql_transform(
        af.read_example(points),
        "SELECT x, label, x * x AS x_sq, CASE WHEN x > 2 THEN 'high' ELSE 'low' END AS band "
        "FROM input WHERE label = 1",
        name="features",
    )
    checked = af.transform(features, OnlyLabelOne())
    af.write_example(checked, af.Example("out", batch_uri="out.csv"))
"""


def test_sql_transform_means_the_same_on_duckdb_and_flink_sql(cli: Cli, tmp_path: Path) -> None:
    (tmp_path / "in.csv").write_text("x,label\n1.5,1\n2.5,0\n3.5,1\n-1.0,1\n")
    (tmp_path / "wf.py").write_text(SQL_WORKFLOW)
    outputs = {}
    for engine in ("local", "flink"):
        cli.run("run", str(tmp_path / "wf.py"), "--engine", engine, timeout=300)
        outputs[engine] = pd.read_csv(tmp_path / "out.csv")
    _assert_same(outputs["flink"], outputs["local"])
    assert outputs["local"].to_dict("list") == {
        "x": [1.5, 3.5, -1.0],
        "label": [1, 1, 1],
        "x_sq": [2.25, 12.25, 1.0],
        "band": ["low", "high", "low"],
    }


def test_check_finds_the_shipped_example_identical_on_all_paths(cli: Cli, wine: Path) -> None:
    cli.run("run", str(wine))  # a model version to predict with
    fast = Cli(cli.home, cli.cwd, {"AIFLOW__FLINK__CHECKPOINT_INTERVAL": "2"})
    report = {r["path"]: r for r in fast.json("check", str(wine), "--rows", "40")}
    assert set(report) == {
        "local/batch",
        "local/stream",
        "flink/batch",
        "flink/stream",
        "serve/request",  # aiflow serve --workflow: the same chain, request by request
    }
    for path, result in report.items():
        assert result["ok"], (path, result)
        assert result["rows"] == {"write_wine_preds": 40}
    columns = report["flink/stream"]["columns"]["write_wine_preds"]
    assert columns["phenol_ratio"] == [0, 0.0] and columns["prediction"][0] == 0


def test_check_reports_a_difference_and_fails(cli: Cli, tmp_path: Path) -> None:
    """An engine-dependent transformer is caught, column by column."""
    (tmp_path / "in.csv").write_text("x\n1.0\n2.0\n")
    (tmp_path / "wf.py").write_text(
        """
import inspect
import aiflow as af

class WhereAmI(af.Transformer):
    output_schema = {"x": "double", "y": "double"}

    def transform(self, batch):  # called by PyFlink's worker on Flink
        on_flink = any("pyflink" in frame.filename for frame in inspect.stack())
        return batch.assign(y=float(on_flink))

points = af.Example("points", schema={"x": "double"}, batch_uri="in.csv")
with af.workflow("odd") as wf:
    af.write_example(af.transform(af.read_example(points), WhereAmI()),
                     af.Example("out", batch_uri="out.csv"))
"""
    )
    done = cli.run("check", str(tmp_path / "wf.py"), "--modes", "batch", "--json", check=False)
    assert done.returncode == 1
    report = {r["path"]: r for r in json.loads(done.stdout)}
    assert report["local/batch"]["ok"] and not report["flink/batch"]["ok"]
    assert report["flink/batch"]["columns"]["write_out"]["y"] == [2, 1.0]
    assert report["flink/batch"]["columns"]["write_out"]["x"] == [0, 0.0]


def test_wine_stream_on_session_cluster(cli: Cli, wine: Path, flink_session: str) -> None:
    """Online learning and serving of the shipped example as Flink streaming jobs on the real
    cluster: every dropped record is predicted, by a version the stream itself trained."""
    cli.run("run", str(wine))  # version 1, offline
    remote = Cli(
        cli.home,
        cli.cwd,
        {"AIFLOW__FLINK__REST_URL": flink_session, "AIFLOW__FLINK__CHECKPOINT_INTERVAL": "1"},
    )
    stream_in, out = wine.parent / "data" / "wine_stream", wine.parent / "out" / "preds_stream"
    stream_in.mkdir(parents=True, exist_ok=True)
    started = remote.json("run", str(wine), "--mode", "stream", "--engine", "flink", "--detach")
    holdout = sorted((wine.parent / "data" / "holdout").glob("*.csv"))
    expected = sum(len(pd.read_csv(f)) for f in holdout)

    def predicted() -> pd.DataFrame:
        parts = [pd.read_csv(p) for p in out.glob("part-*.csv")] if out.is_dir() else []
        return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()

    try:
        for f in holdout:
            drop(f, stream_in)
        wait_for(lambda: len(predicted()) >= expected, 300, "every dropped record predicted")
        jobs = remote.json("job", "list", str(started["execution"]))
    finally:
        remote.run("execution", "stop", str(started["execution"]))
    frame = predicted()
    assert len(frame) == expected  # once each
    assert {j["name"]: j["engine"] for j in jobs}["write_wine_preds"] == "flink"
    versions = cli.json("model", "versions", "wine_sgd")
    assert len(versions) >= 2  # the stream trained new versions online
    assert set(frame["model_version"]) <= {v["version"] for v in versions}
