"""Stream mode through the real CLI: the same wine file learns and predicts online from files
dropped into its watched directory; every record is written exactly once, also when a job dies
mid-stream and is retried."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pandas as pd
import psutil
import pytest

from tests.e2e.conftest import Cli, drop
from tests.services import wait_for

pytestmark = pytest.mark.slow


def _running_execution(cli: Cli) -> int:
    found: list[int] = []

    def running() -> bool:
        found[:] = [e["id"] for e in cli.json("execution", "list") if e["status"] == "running"]
        return bool(found)

    wait_for(running, what="a running execution")
    return found[0]


def _rows(directory: Path) -> pd.DataFrame:
    parts = sorted(directory.glob("part-*.csv"))
    return (
        pd.concat([pd.read_csv(p) for p in parts], ignore_index=True) if parts else pd.DataFrame()
    )


def test_shipped_example_streams_learns_and_predicts_each_record_once(cli: Cli, wine: Path) -> None:
    data, out = wine.parent / "data", wine.parent / "out" / "preds_stream"
    proc = cli.popen("run", str(wine), "--mode", "stream")
    try:
        execution = _running_execution(cli)
        holdout = sorted((data / "holdout").glob("*.csv"))
        for src in holdout:
            drop(src, data / "wine_stream")
        expected = pd.concat([pd.read_csv(p) for p in holdout], ignore_index=True)
        wait_for(lambda: len(list(out.glob("part-*.csv"))) == len(holdout), what="4 output parts")
        wait_for(lambda: len(_rows(out)) >= len(expected), what="all rows predicted")

        stopped = cli.run("execution", "stop", str(execution))
        assert f"execution {execution}: killed" in stopped.stdout
        assert proc.wait(timeout=60) == 0
    finally:
        if proc.poll() is None:
            proc.kill()

    got = _rows(out)
    features = list(expected.columns)
    # every dropped record predicted exactly once (as a multiset of full rows)
    key = lambda f: sorted(map(tuple, f[features].round(9).itertuples(index=False)))  # noqa: E731
    assert key(got) == key(expected)
    assert got["prediction"].isin([0, 1, 2]).all() and got["model_version"].min() >= 1

    versions = cli.json("model", "versions", "wine_sgd")
    assert len(versions) == len(holdout)  # one online update per micro-batch
    jobs = cli.json("job", "list", str(execution))
    assert {j["status"] for j in jobs} == {"killed"}
    assert not any(
        "aiflow.runtime" in " ".join(p.cmdline())
        for p in psutil.process_iter()
        if p.pid != os.getpid() and _safe_env_home(p) == str(cli.home)
    )


def _safe_env_home(proc: psutil.Process) -> str | None:
    try:
        return proc.environ().get("AIFLOW_HOME")
    except (psutil.Error, OSError):
        return None


FLAKY_WORKFLOW = '''
import os
from pathlib import Path
import aiflow as af

HERE = Path(__file__).parent
events = af.Example("events", schema={"id": "int", "v": "double"}, stream_uri="in/", format="csv")


def fail_once(batch, marker: str):
    """Fails the first time it sees id 15: after the sink wrote its part, before the commit."""
    if 15 in set(batch["id"]) and not os.path.exists(marker):
        Path(marker).write_text("failed once")
        raise RuntimeError("simulated crash between write and commit")
    return None


with af.workflow("flaky_stream") as wf:
    raw = af.read_example(events, stream={"poll_interval": 0.1}, retries=3)
    af.write_example(raw, af.Example("copy", stream_uri="out/", format="csv"), retries=3)
    af.user_operation(fail_once, raw, params={"marker": str(HERE / "marker")}, retries=3)
'''


def test_replayed_and_killed_micro_batches_are_written_exactly_once(
    cli: Cli, tmp_path: Path
) -> None:
    project = tmp_path / "flaky"
    (project / "in").mkdir(parents=True)
    (project / "workflow.py").write_text(FLAKY_WORKFLOW)
    files = []
    for i in range(4):
        src = tmp_path / f"batch_{i}.csv"
        pd.DataFrame({"id": range(i * 10, i * 10 + 10), "v": [0.5] * 10}).to_csv(src, index=False)
        files.append(src)

    proc = cli.popen("run", str(project / "workflow.py"), "--mode", "stream")
    try:
        execution = _running_execution(cli)
        drop(files[0], project / "in")
        wait_for(lambda: (project / "out" / "part-batch_0.csv").exists(), what="first part")

        # kill -9 the job's process: the driver retries it and it resumes from the ledger
        job = cli.json("job", "list", str(execution))[0]
        os.kill(job["handle"]["pid"], signal.SIGKILL)
        wait_for(
            lambda: (
                cli.json("job", "list", str(execution))[0]["attempt"] == 2
                and cli.json("job", "list", str(execution))[0]["status"] == "running"
            ),
            what="the retried attempt",
        )

        for src in files[1:]:  # batch_1 holds id 15: its pass fails once after writing
            drop(src, project / "in")
        wait_for(lambda: len(_rows(project / "out")) >= 40, what="all parts")
        wait_for(lambda: cli.json("job", "list", str(execution))[0]["attempt"] == 3, what="replay")
        assert (project / "marker").exists()

        proc.send_signal(signal.SIGINT)  # Ctrl-C on the foreground run stops it cleanly
        assert proc.wait(timeout=60) == 0
    finally:
        if proc.poll() is None:
            proc.kill()

    got = _rows(project / "out")
    assert sorted(got["id"]) == list(range(40))  # nothing lost, nothing twice
    assert sorted(p.name for p in (project / "out").iterdir()) == [
        f"part-batch_{i}.csv" for i in range(4)
    ]
    final = cli.json("execution", "show", str(execution))
    assert final["status"] == "killed"
