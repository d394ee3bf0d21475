"""A local batch job read -> transform -> predict -> write in chunks (``translators/local/
chunks.py``), through real job processes: the file it writes is the one a single call writes,
user code sees chunks indexed by input position, a bad record anywhere fails the job naming
its file and line and writes nothing, and a value only the exact rules read sends the job back
to one call."""

from __future__ import annotations

import os
import random
import textwrap
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import aiflow as af
from aiflow.errors import ExecutionFailed
from aiflow.store.sql_store import MetaStore
from aiflow.translators.usercode import load_workflow_file

pytestmark = pytest.mark.slow

ROWS = 3000
WORKFLOW = """
import pandas as pd
from threadpoolctl import threadpool_info
import aiflow as af

class Features(af.Transformer):
    def transform(self, batch):
        out = batch.copy()
        out["row"] = batch.index  # positions in the input, whatever the chunk
        out["call_rows"] = len(batch)  # how many records this call had
        blas = [i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"]
        out["blas_threads"] = min(blas, default=0)  # numpy's BLAS as the user's code has it
        out["ratio"] = out["x"] / (out["y"] + 1.0)
        if {extra!r} and batch.index[0] > 0:
            out["late"] = 1  # a column only later chunks have
        return out

class Sign(af.Trainer):
    def fit(self, batch, base_model=None):
        return {{"mean": 0.0}}

class AboveMean(af.Predictor):
    def predict(self, batch, model):
        out = batch.copy()
        out["prediction"] = (out["x"] > model["mean"]).astype(int)
        return out

SCHEMA = {{"x": "double", "y": "double", "n": "int", "ok": "bool", "tag": "string"}}
src = af.Example("points", schema=SCHEMA, batch_uri="in.csv")
with af.workflow("train_sign") as train:
    af.train(af.read_example(af.Example("first", schema=SCHEMA, batch_uri="train.csv")), Sign(),
             model=af.Model("sign"))
with af.workflow("score") as score:
    scored = af.predict(af.transform(af.read_example(src), Features()), af.Model("sign"),
                        AboveMean())
    af.write_example(scored, af.Example("out", batch_uri="out.{fmt}", format="{fmt}"))
"""


def _lines(rng: random.Random) -> list[str]:
    lines = ["x,y,n,ok,tag"]
    for k in range(ROWS):
        x = rng.choice([f"{rng.uniform(-50, 50):.3f}", "", "1e-05"])
        n = "" if 1200 <= k < 1300 and k % 3 == 0 else str(k % 7)  # nulls in one part only
        tag = rng.choice(["a", '"b,c"', '"say ""x"""', ""])
        lines.append(f"{x},{rng.uniform(0, 9):.2f},{n},{rng.choice(['true', '0'])},{tag}")
    return lines


def _project(root: Path, lines: list[str], fmt: str = "csv", extra: bool = False) -> af.Workflow:
    root.mkdir(parents=True, exist_ok=True)
    (root / "in.csv").write_text("\n".join(lines) + "\n")
    (root / "train.csv").write_text("x,y,n,ok,tag\n1.5,2.5,3,true,a\n")
    path = root / "workflow.py"
    path.write_text(textwrap.dedent(WORKFLOW.format(fmt=fmt, extra=extra)))
    workflows = load_workflow_file(path)
    train = workflows.train
    execution = af.run(train, progress=False)
    assert execution is not None and execution.status.value == "succeeded"
    return workflows.score  # type: ignore[no-any-return]


def _score(wf: af.Workflow, monkeypatch: pytest.MonkeyPatch, batch_rows: int) -> str:
    monkeypatch.setenv("AIFLOW__LOCAL__BATCH_ROWS", str(batch_rows))
    try:
        execution = af.run(wf, progress=False)
    except ExecutionFailed:
        return "failed"
    assert execution is not None
    return execution.status.value


def _jobs() -> list[Any]:
    """The jobs of the newest run of ``score``."""
    store = MetaStore()
    execution = store.list_executions(workflow="score", limit=1)[0]
    return store.list_jobs(execution.id)


@pytest.mark.parametrize("fmt", ["csv", "json"])
def test_chunks_write_the_file_one_call_writes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fmt: str
) -> None:
    wf = _project(tmp_path / "p", _lines(random.Random(7)), fmt)
    out = tmp_path / "p" / f"out.{fmt}"
    read = (lambda p: pd.read_csv(p)) if fmt == "csv" else (lambda p: pd.read_json(p, lines=True))

    assert _score(wf, monkeypatch, 0) == "succeeded"
    whole = read(out)
    assert _score(wf, monkeypatch, 500) == "succeeded"
    chunked = read(out)

    assert set(whole["call_rows"]) == {ROWS}  # one call
    assert chunked["call_rows"].max() < ROWS and chunked["call_rows"].sum() > ROWS  # chunks
    assert chunked["row"].tolist() == list(range(ROWS)) == whole["row"].tolist()
    # BLAS keeps off the cores the chunks' reader and writer use (its own default otherwise)
    if whole["blas_threads"][0]:
        assert set(chunked["blas_threads"]) == {max(1, (os.cpu_count() or 1) - 2)}
    ignored = ["call_rows", "blas_threads"]
    pd.testing.assert_frame_equal(chunked.drop(columns=ignored), whole.drop(columns=ignored))
    (job,) = _jobs()
    assert job.result is not None
    assert job.result["rows"]["read_points"]["out"] == ROWS
    assert job.result["rows"]["write_out"]["in"] == ROWS


def test_a_bad_record_in_a_late_chunk_fails_naming_its_line_and_writes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lines = _lines(random.Random(8))
    lines[2500] = "oops," + lines[2500].split(",", 1)[1]  # line 2501 of the file
    wf = _project(tmp_path / "p", lines)

    assert _score(wf, monkeypatch, 400) == "failed"

    (job,) = _jobs()
    assert job.result is not None
    error = job.result["failure"]["message"]
    assert "in.csv: line 2501" in error and "'oops'" in error
    left = sorted(p.name for p in (tmp_path / "p").iterdir())
    assert left == ["in.csv", "train.csv", "workflow.py"]  # no output, no temporary file


def test_a_number_only_the_exact_rules_read_sends_the_job_to_one_call(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lines = _lines(random.Random(9))
    lines[2800] = "0.30000000000000004," + lines[2800].split(",", 1)[1]
    wf = _project(tmp_path / "p", lines)

    assert _score(wf, monkeypatch, 0) == "succeeded"
    whole = (tmp_path / "p" / "out.csv").read_bytes()
    assert _score(wf, monkeypatch, 400) == "succeeded"

    out = pd.read_csv(tmp_path / "p" / "out.csv")
    assert set(out["call_rows"]) == {ROWS}  # read whole, in one call, after all
    assert (tmp_path / "p" / "out.csv").read_bytes() == whole


def test_chunks_with_other_columns_fail_naming_the_node(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    wf = _project(tmp_path / "p", _lines(random.Random(10)), extra=True)

    assert _score(wf, monkeypatch, 400) == "failed"

    (job,) = _jobs()
    assert job.result is not None
    error = job.result["failure"]
    assert error["node"] == "predict" and "same columns" in error["message"]
    assert not (tmp_path / "p" / "out.csv").exists()
