"""A Flink stream job that writes files commits a checkpoint's records as one part: its Python
bundles end at checkpoints, a bundle is one call of the user's code, and the call's text is a
part of its own, committed by the checkpoint that ended the bundle (records visible about half
an interval after they arrive, not two intervals: docs/flink.md, "Exactly-once files")."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from tests.e2e.conftest import Cli, drop
from tests.services import wait_for

pytestmark = [pytest.mark.slow, pytest.mark.flink]

WORKFLOW = """
import json
import aiflow as af

class Logged(af.Transformer):
    \"\"\"Doubles x; writes each call's records, a line a call, to CALLS.\"\"\"
    output_schema = {{"x": "bigint", "x2": "bigint"}}

    def transform(self, batch):
        with open({calls!r}, "a") as log:
            log.write(json.dumps(sorted(int(x) for x in batch["x"])) + "\\n")
        return batch.assign(x2=batch["x"] * 2)

numbers = af.Example("numbers", schema={{"x": "bigint"}}, stream_uri="in/")
with af.workflow("parts", engine="flink") as wf:
    logged = af.transform(af.read_example(numbers, stream={{"poll_interval": 0.1}}), Logged())
    af.write_example(logged, af.Example("doubled", stream_uri="out/", format={fmt!r}))
"""

FILES, ROWS = 20, 5


def _parts(out: Path, fmt: str = "csv") -> list[pd.DataFrame]:
    read = pd.read_csv if fmt == "csv" else pd.read_parquet
    return [read(p) for p in sorted(out.glob(f"part-*.{fmt}"))] if out.is_dir() else []


def _run(
    tmp_path: Path, aiflow_home: Path, fmt: str, files: int
) -> tuple[list[pd.DataFrame], Path]:
    """Runs the workflow with ``fmt`` output in stream mode (4 s checkpoints), drops ``files``
    files of ``ROWS`` records in a burst, and stops it once every record is committed."""
    calls = tmp_path / "calls.jsonl"
    (tmp_path / "in").mkdir()
    (tmp_path / "wf.py").write_text(WORKFLOW.format(calls=str(calls), fmt=fmt))
    cli = Cli(aiflow_home, tmp_path, {"AIFLOW__FLINK__CHECKPOINT_INTERVAL": "4"})
    started = cli.json("run", str(tmp_path / "wf.py"), "--mode", "stream", "--detach")
    out = tmp_path / "out"
    try:
        for i in range(files):  # a burst: most of it before the next checkpoint
            path = tmp_path / f"numbers_{i}.csv"
            pd.DataFrame({"x": range(i * ROWS, (i + 1) * ROWS)}).to_csv(path, index=False)
            drop(path, tmp_path / "in")
        expected = files * ROWS
        committed = lambda: sum(map(len, _parts(out, fmt))) >= expected  # noqa: E731
        wait_for(committed, 300, "every record committed")
    finally:
        cli.run("execution", "stop", str(started["execution"]))
    parts = _parts(out, fmt)
    records = sorted(x for part in parts for x in part["x"])
    assert records == list(range(expected))  # each once
    assert all((part["x2"] == part["x"] * 2).all() for part in parts)
    # a staged part is deleted once turned: the staging directory does not grow with the output
    staging = list((aiflow_home / "flink" / "jobs").glob("parts/*/staging/*"))
    assert staging, "no staging directory where the job keeps its state"
    assert not [f for d in staging for f in d.iterdir() if not f.name.startswith(".")]
    return parts, calls


def test_each_checkpoint_commits_one_call_as_one_part(tmp_path: Path, aiflow_home: Path) -> None:
    parts, calls = _run(tmp_path, aiflow_home, "csv", FILES)
    logged = [json.loads(line) for line in calls.read_text().splitlines()]
    # a part is exactly one call's records (with 200 ms bundles a part gathered several calls)
    for part in parts:
        assert sorted(part["x"]) in logged, (sorted(part["x"]), logged)
    # the burst took a few checkpoints' calls, not one a file or one a 200 ms bundle
    assert len(parts) <= 4, [len(p) for p in parts]


def test_parquet_stream_output_commits_every_record_once(tmp_path: Path, aiflow_home: Path) -> None:
    """Parquet is staged as a json line a record; its part rolls once idle after a
    checkpoint's burst (``io.rolling``) and the job process turns it into a parquet file."""
    parts, _ = _run(tmp_path, aiflow_home, "parquet", 5)
    assert 1 <= len(parts) <= 4, [len(p) for p in parts]
