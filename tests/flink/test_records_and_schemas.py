"""Issue 8's defects on the flink engine, in one workflow (each Flink job costs a JVM): a
transformer without ``output_schema`` between two Flink jobs (defect 2: the intermediate's
schema is recorded by its writer and read by the next job, in both directions), ``limit`` on a
Flink read (defect 3: implemented, not ignored), and records with a wrong number of fields
(defect 4: dead-lettered with their line and raw text, like a bad value)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from tests.e2e.conftest import Cli

# two Flink jobs and a local one: allow for a busy machine
pytestmark = [pytest.mark.slow, pytest.mark.flink, pytest.mark.timeout(900)]

LINES = ["x,label", "1.5,0", "2.5,1,surplus", "oops,1", "3.5", "4.5,1", "5.5,0"]

WORKFLOW = """
import aiflow as af

class Enrich(af.Transformer):  # no output_schema: the engines find the types themselves
    def transform(self, batch):
        return batch.assign(z=batch["x"] * 2, n=batch["label"] * 3, tag="a")

points = af.Example("points", schema={"x": "double", "label": "int"}, batch_uri="in.csv",
                    on_error="dead_letter", dead_letter_uri="bad/")

with af.workflow("crossing") as wf:
    raw = af.read_example(points, batch={"limit": 2})
    enriched = af.transform(raw, Enrich(), engine="local")
    af.write_example(enriched, af.Example("out", batch_uri="out.csv"))
"""


def test_undeclared_schema_limit_and_field_counts_on_flink(cli: Cli, tmp_path: Path) -> None:
    (tmp_path / "in.csv").write_text("\n".join(LINES) + "\n")
    (tmp_path / "wf.py").write_text(WORKFLOW)

    cli.run("run", str(tmp_path / "wf.py"), "--engine", "flink", timeout=600)

    jobs = cli.json("job", "list", "1")
    assert [j["engine"] for j in jobs] == ["flink", "local", "flink"]  # two boundaries crossed
    out = pd.read_csv(tmp_path / "out.csv")
    assert out.to_dict("list") == {
        "x": [1.5, 4.5],  # limit 2 of the records that fit
        "label": [0, 1],
        "z": [3.0, 9.0],
        "n": [0, 3],
        "tag": ["a", "a"],
    }
    kept = sorted(
        (
            json.loads(line)
            for f in (tmp_path / "bad" / "execution=1").iterdir()
            if f.name[0] not in "._"
            for line in f.read_text().splitlines()
        ),
        key=lambda r: r["line"],
    )
    assert [(r["line"], r["record"]) for r in kept] == [
        (3, "2.5,1,surplus"),
        (4, "oops,1"),
        (5, "3.5"),
    ]
    assert "has 3 fields" in kept[0]["error"] and "'oops' is not a double" in kept[1]["error"]
    assert all(r["path"].endswith("in.csv") for r in kept)
