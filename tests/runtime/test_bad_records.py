"""Bad records on the local engine, through real job processes (issue 8, defect 4): a record
with a field too many or too few follows the example's ``on_error`` policy like one whose value
does not fit — kept with its line and raw text by ``dead_letter``, failing the job by ``fail`` —
and an empty file is zero records."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

import aiflow as af
from aiflow.errors import AiflowError
from aiflow.store.sql_store import MetaStore

pytestmark = pytest.mark.slow

SCHEMA = {"x": "double", "label": "int"}
# line 1 is the header
LINES = ["x,label", "1.5,0", "2.5,1,surplus", "oops,1", "3.5", "4.5,1"]


def _workflow(root: Path, name: str, **policy: str) -> af.Workflow:
    src = af.Example("points", schema=SCHEMA, batch_uri=root / "in", **policy)  # type: ignore[arg-type]
    with af.workflow(name) as wf:
        af.write_example(af.read_example(src), af.Example("out", batch_uri=root / "out.csv"))
    return wf


def test_wrong_field_counts_are_dead_lettered_with_line_and_raw_text(tmp_path: Path) -> None:
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.csv").write_text("\n".join(LINES) + "\n")
    (tmp_path / "in" / "b.csv").write_text("")  # an empty file: no records, no error
    wf = _workflow(
        tmp_path, "fields", on_error="dead_letter", dead_letter_uri=str(tmp_path / "bad")
    )

    execution = af.run(wf, progress=False)

    assert execution is not None and execution.status.value == "succeeded"
    assert pd.read_csv(tmp_path / "out.csv")["x"].tolist() == [1.5, 4.5]
    kept = [
        json.loads(line)
        for part in sorted((tmp_path / "bad").rglob("part-*"))
        for line in part.read_text().splitlines()
    ]
    assert [(r["line"], r["record"]) for r in kept] == [
        (3, "2.5,1,surplus"),
        (4, "oops,1"),
        (5, "3.5"),
    ]
    assert all(r["path"].endswith("a.csv") for r in kept)
    assert "has 3 fields" in kept[0]["error"] and "has 1 field" in kept[2]["error"]
    (job,) = MetaStore().list_jobs(execution.id)
    assert job.result is not None and job.result["dead_letters"]["read_points"]["count"] == 3


def test_a_missing_field_fails_the_job_under_fail_naming_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.csv").write_text("x,label\n1.5,0\n3.5\n")
    wf = _workflow(tmp_path, "missing")

    with pytest.raises(AiflowError, match="failed"):
        af.run(wf, progress=False)

    store = MetaStore()
    (execution,) = store.list_executions(workflow="missing")
    (job,) = store.list_jobs(execution.id)
    assert job.log_uri is not None
    log = Path(job.log_uri).read_text()
    assert f"{tmp_path / 'in' / 'a.csv'}: line 3: record '3.5' has 1 field" in log
    assert not (tmp_path / "out.csv").exists()
