"""The online-learning loop with predict on Flink and training, validation and push on the local
engine (``--engine flink``: the nodes Flink has no operator for fall back to local): the
predictor serves what the push deployed. (In stream mode the Flink predictor's switch to each
deployed version without a restart is ``test_model_switch``; the whole stream loop on Flink
took ~4 min here, too long for CI.)"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pandas as pd
import pytest

from aiflow.store.sql_store import MetaStore
from tests.e2e.conftest import Cli
from tests.runtime.test_online_loop import WORKFLOW, _records

pytestmark = [pytest.mark.slow, pytest.mark.flink]


def _project(tmp_path: Path) -> Path:
    (tmp_path / "stream").mkdir()
    _records(0.0, 40, 0).to_csv(tmp_path / "history.csv", index=False)
    _records(2.0, 60, 10_000).to_csv(tmp_path / "holdout.csv", index=False)
    (tmp_path / "workflow.py").write_text(textwrap.dedent(WORKFLOW))
    return tmp_path / "workflow.py"


def _deployed(store: MetaStore) -> int | None:
    found = store.get_model_version_by_alias("ctr", "deployed")
    return None if found is None else found.version


def _scored(out: Path) -> pd.DataFrame:
    parts = [pd.read_csv(p) for p in out.glob("part-*.csv")] if out.is_dir() else []
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame({"rid": []})


def test_batch_loop_with_predict_on_flink(cli: Cli, tmp_path: Path) -> None:
    workflow = _project(tmp_path)
    store = MetaStore()  # the test's AIFLOW_HOME, as the CLI's

    # batch: version 1 validated and pushed; Flink predicts with it. (A rejected version is
    # never served: the local loop test shows it; here it would cost another Flink batch run.)
    cli.run("run", str(workflow), "--mode", "batch", "--engine", "flink")
    scores = pd.read_csv(tmp_path / "out" / "scores.csv")
    assert len(scores) == 40 and set(scores["model_version"]) == {1}
    assert store.get_model_version("ctr", 1).stage == "deployed"
