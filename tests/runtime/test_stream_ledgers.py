"""Each stream job keeps its own place in the stream (``translators/replicate.py``): an
execution that ends while its predict job lags behind its training job loses nothing, because
the next execution's predict job resumes from *its* ledger, not from the trainer's."""

from __future__ import annotations

import textwrap
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

import aiflow as af
from aiflow.config import reset_settings
from aiflow.deployers import get_deployer
from aiflow.scheduler.driver import request_stop, run_execution
from aiflow.scheduler.submit import submit_workflow
from aiflow.store.sql_store import MetaStore
from aiflow.translators.usercode import load_workflow_file

pytestmark = pytest.mark.slow

# The predictor waits while the file ``hold`` exists (at most 20 s): predictions lag behind
# training for as long as the test wants.
WORKFLOW = """
import os, time
import aiflow as af

class Mean(af.Trainer):
    def fit(self, batch, base_model=None):
        return {"mean": float(batch.x.mean())}

class Held(af.Predictor):
    def predict(self, batch, model):
        deadline = time.monotonic() + 20
        while os.path.exists("hold") and time.monotonic() < deadline:
            time.sleep(0.05)
        return batch.assign(prediction=(batch.x > model["mean"]).astype(int))

clicks = af.Example("clicks", schema={"x": "double", "rid": "bigint"}, batch_uri="history.csv",
                    stream_uri="stream/")

with af.workflow("lag") as wf:
    raw = af.read_example(clicks, stream={"poll_interval": 0.1})
    model = af.train(raw, Mean(), model=af.Model("lag"), stream={"every_records": 10})
    af.write_example(af.predict(raw, model, Held()),
                     af.Example("scores", batch_uri="out/scores.csv", stream_uri="out/s/"))
"""


def test_records_trained_but_not_yet_predicted_are_predicted_by_the_next_execution(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AIFLOW__SCHEDULER__KILL_GRACE", "1")
    reset_settings()
    project = tmp_path / "lag"
    (project / "stream").mkdir(parents=True)
    monkeypatch.chdir(project)
    pd.DataFrame({"x": [0.0, 1.0], "rid": [-1, -2]}).to_csv(project / "history.csv", index=False)
    (project / "workflow.py").write_text(textwrap.dedent(WORKFLOW))
    wf = load_workflow_file(project / "workflow.py").wf
    assert af.run(wf, progress=False).status.value == "succeeded"  # type: ignore[union-attr]
    store = MetaStore()
    (project / "hold").touch()
    first = _start(store, wf)
    for i in range(4):
        staging = project / "stream" / f".part-{i}.csv"
        pd.DataFrame(
            {"x": [float(j) for j in range(10)], "rid": range(10 * i, 10 * i + 10)}
        ).to_csv(staging, index=False)
        staging.rename(project / "stream" / f"part-{i}.csv")
    _wait(lambda: len(store.consumed_files("workflow/lag/read_clicks")) == 4, "training all 4")
    predicted = store.consumed_files("workflow/lag/read_clicks~write_scores")
    assert len(predicted) < 4, "the predict job lags behind (held)"
    request_stop(store, first.id, get_deployer, wait=60)

    (project / "hold").unlink()
    second = _start(store, wf)
    try:
        _wait(lambda: len(list((project / "out" / "s").glob("part-*.csv"))) == 4, "4 parts")
    finally:
        request_stop(store, second.id, get_deployer, wait=60)
    out = pd.concat(pd.read_csv(p) for p in (project / "out" / "s").glob("part-*.csv"))
    assert sorted(out["rid"]) == list(range(40)), "every record predicted exactly once"
    assert store.consumed_files("workflow/lag/read_clicks~write_scores") == {
        f"part-{i}.csv" for i in range(4)
    }


def _start(store: MetaStore, wf: af.Workflow) -> af.Execution:
    execution, _ = submit_workflow(wf, mode="stream")
    threading.Thread(
        target=run_execution, args=(store, execution.id, get_deployer("local")), daemon=True
    ).start()
    return execution


def _wait(condition: Callable[[], bool], what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)
