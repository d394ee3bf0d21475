"""Kafka through the flink engine against the real broker: a stream job reads a topic, runs the
user's transformer and writes another topic exactly-once, dead-lettering bad records to a third;
a batch job reads what a topic holds into a file. An unreachable broker fails fast, naming it."""

from __future__ import annotations

import time
from pathlib import Path

import pandas as pd
import pytest

from tests.e2e.conftest import Cli
from tests.fixtures_kafka import KafkaBroker

pytestmark = [pytest.mark.slow, pytest.mark.flink, pytest.mark.kafka]

WORKFLOW = """
import aiflow as af

class Double(af.Transformer):
    output_schema = {{"x": "double", "label": "int", "x2": "double"}}

    def transform(self, batch):
        out = batch.copy()
        out["x2"] = out["x"] * 2
        return out

events = af.Example("events", schema={{"x": "double", "label": "int"}}, format="json",
                    batch_uri="{source}", stream_uri="{source}",
                    on_error="dead_letter", dead_letter_uri="{dead}")

with af.workflow("kafka_flow", engine="flink") as wf:
    doubled = af.transform(af.read_example(events), Double())
    af.write_example(doubled, af.Example("doubled", format="json", batch_uri="{batch_out}",
                                         stream_uri="{stream_out}"))
"""


def _workflow(directory: Path, **uris: str) -> Path:
    path = directory / "wf.py"
    path.write_text(WORKFLOW.format(**uris))
    return path


GOOD = [{"x": float(i), "label": i % 2} for i in range(6)]
BAD = ['{"x": "oops", "label": 1}', '{"label": 0}', "not json"]


def test_stream_from_topic_to_topic_with_dead_letters(
    cli: Cli, tmp_path: Path, kafka_broker: KafkaBroker
) -> None:
    src, out, dead = (kafka_broker.create_topic() for _ in range(3))
    base = f"kafka://{kafka_broker.bootstrap}"
    wf = _workflow(
        tmp_path,
        source=f"{base}/{src}",
        dead=f"{base}/{dead}",
        batch_out=str(tmp_path / "unused.csv"),
        stream_out=f"{base}/{out}",
    )
    kafka_broker.produce(src, [*GOOD[:3], *BAD, *GOOD[3:]])
    fast = Cli(cli.home, cli.cwd, {"AIFLOW__FLINK__CHECKPOINT_INTERVAL": "2"})
    started = fast.json("run", str(wf), "--mode", "stream", "--detach")
    try:
        got = kafka_broker.consume_json(out, len(GOOD), timeout=240)
        dead_letters = kafka_broker.consume_json(dead, len(BAD), timeout=60)
        kafka_broker.produce(src, [{"x": 10.0, "label": 0}])  # the running job picks it up
        more = kafka_broker.consume_json(out, len(GOOD) + 1, timeout=60)
    finally:
        fast.run("execution", "stop", str(started["execution"]))
    (job,) = fast.json("job", "list", str(started["execution"]))
    flink = fast.json("job", "show", str(job["id"]))["result"]["engine"]["flink"]
    assert flink["checkpoint_interval"] == 0.5  # all outputs topics: not the files' 2 s
    assert sorted(r["x2"] for r in got) == [2 * r["x"] for r in GOOD]
    assert sorted(r["x"] for r in more) == sorted([r["x"] for r in GOOD] + [10.0])
    assert sorted(d["record"] for d in dead_letters) == sorted(BAD)
    assert all(d["path"].startswith(f"{base}/{src}#0@") for d in dead_letters)
    assert any("'oops' is not a double" in d["error"] for d in dead_letters)
    assert any("lacks field(s) ['x']" in d["error"] for d in dead_letters)


def test_batch_reads_what_the_topic_holds(
    cli: Cli, tmp_path: Path, kafka_broker: KafkaBroker
) -> None:
    src, dead = kafka_broker.create_topic(), kafka_broker.create_topic()
    base = f"kafka://{kafka_broker.bootstrap}"
    kafka_broker.produce(src, GOOD)
    wf = _workflow(
        tmp_path,
        source=f"{base}/{src}",
        dead=f"{base}/{dead}",
        batch_out=str(tmp_path / "doubled.csv"),
        stream_out=str(tmp_path / "stream_out/"),
    )
    cli.run("run", str(wf), timeout=300)
    frame = pd.read_json(tmp_path / "doubled.csv", lines=True)  # the example says json
    assert sorted(frame["x2"]) == [2 * r["x"] for r in GOOD]


def test_unreachable_broker_fails_fast_naming_it(cli: Cli, tmp_path: Path) -> None:
    wf = _workflow(
        tmp_path,
        source="kafka://127.0.0.1:9/none",
        dead="kafka://127.0.0.1:9/dead",
        batch_out=str(tmp_path / "o.csv"),
        stream_out=str(tmp_path / "o/"),
    )
    began = time.monotonic()
    done = cli.run("run", str(wf), check=False, timeout=300)
    assert done.returncode != 0
    job = cli.json("job", "list", "1")[0]
    log = Path(cli.json("job", "show", str(job["id"]))["log_uri"]).read_text()
    assert "no Kafka broker answered at 127.0.0.1:9" in log
    assert time.monotonic() - began < 120  # bounded: not the client's endless retries
