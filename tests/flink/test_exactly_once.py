"""Exactly-once file output of a Flink stream job across a TaskManager kill: the job fails, the
driver retries it, the new Flink job restores the newest retained checkpoint, and every input
record is in the output once — none lost, none duplicated."""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd
import psutil
import pytest

from tests.e2e.conftest import Cli, drop
from tests.flink.workflows import DOUBLE
from tests.services import wait_for

if TYPE_CHECKING:
    from aiflow.translators.flink.cluster import FlinkCluster

pytestmark = [pytest.mark.slow, pytest.mark.flink]

WORKFLOW = (
    DOUBLE
    + """
numbers = af.Example("numbers", schema={"x": "bigint"}, stream_uri="in/")
with af.workflow("once", engine="flink") as wf:
    doubled = af.transform(af.read_example(numbers, stream={"poll_interval": 0.5}), Double(),
                           retries=4, retry_delay=3)
    af.write_example(doubled, af.Example("doubled", stream_uri="out/"))
"""
)

FILES, ROWS = 6, 50


def _batch(tmp: Path, i: int) -> Path:
    path = tmp / f"numbers_{i}.csv"
    pd.DataFrame({"x": range(i * ROWS, (i + 1) * ROWS)}).to_csv(path, index=False)
    return path


def _output(out: Path) -> pd.DataFrame:
    parts = [pd.read_csv(p) for p in sorted(out.glob("part-*")) if p.stat().st_size]
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame({"x": []})


def _gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def test_taskmanager_kill_loses_and_duplicates_nothing(
    tmp_path: Path, aiflow_home: Path, flink_cluster: FlinkCluster, flink_session: str
) -> None:
    (tmp_path / "in").mkdir()
    (tmp_path / "wf.py").write_text(WORKFLOW)
    cli = Cli(
        aiflow_home,
        tmp_path,
        {"AIFLOW__FLINK__REST_URL": flink_session, "AIFLOW__FLINK__CHECKPOINT_INTERVAL": "1"},
    )
    started = cli.json("run", str(tmp_path / "wf.py"), "--mode", "stream", "--detach")
    out = tmp_path / "out"
    try:
        for i in range(FILES // 2):
            drop(_batch(tmp_path, i), tmp_path / "in")
        wait_for(lambda: len(_output(out)) >= FILES // 2 * ROWS, 240, "the first half")
        pid = flink_cluster.status().taskmanager_pid
        assert pid
        workers = psutil.Process(pid).children(recursive=True)  # its Python UDF workers
        assert workers
        os.kill(pid, signal.SIGKILL)
        # SIGKILL is asynchronous: a big JVM takes a while to exit, and a start() meanwhile
        # would find the TaskManager still alive and report the cluster already running
        wait_for(lambda: _gone(pid), 60, "the killed TaskManager to exit")
        for i in range(FILES // 2, FILES):  # arrive while the TaskManager is down
            drop(_batch(tmp_path, i), tmp_path / "in")
        flink_cluster.start(timeout=180)  # the cluster comes back; the job is retried
        # the dead TaskManager's workers, orphaned to init, were cleaned up by the restart
        assert not [w.pid for w in workers if w.is_running() and w.status() != "zombie"]
        wait_for(lambda: len(_output(out)) >= FILES * ROWS, 300, "every record after recovery")
        job = cli.json("job", "list", str(started["execution"]))[0]
        shown = cli.json("job", "show", str(job["id"]))
    finally:
        cli.run("execution", "stop", str(started["execution"]))
    frame = _output(out)
    assert sorted(frame["x"]) == list(range(FILES * ROWS))  # each record exactly once
    assert (frame["x2"] == frame["x"] * 2).all()
    assert job["attempt"] >= 2  # it did fail and was retried
    assert "restored_from" in shown["result"]["engine"]["flink"]
    assert shown["result"]["engine"]["flink"]["checkpoint_interval"] == 1.0  # files: their own
