"""The engine contract: every registered engine reads, transforms, predicts and writes the shared
sample to the same rows, in batch and in stream mode, and keeps or rejects bad records as the
example's policy says (``skip``, ``dead_letter``, ``fail``).

Only the public surface is used: workflows written with the DSL (``sample/workflows.py``), run
with ``af.run``, observed through the meta store, the job's deployer (its logs) and the files
written. "Identical outputs" means each engine's output equals the same expected text, so an
engine is checked on its own and a new one needs no run of the others.

Flink costs a JVM per job on a 2-core machine: each case is one workflow run (one Flink job but
for the job-boundary case), the sample is a handful of rows, and the model every scoring run
uses is trained once per module on the local engine (Flink trains on ``local`` anyway).
Cases that fail today because of a defect are strict xfails for that engine (``KNOWN_DEFECTS``):
fixing the defect turns them into failures, and then the entry is removed.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import aiflow as af
from aiflow.config import get_settings, reset_settings
from aiflow.deployers import get_deployer
from aiflow.errors import AiflowError
from aiflow.scheduler.driver import request_stop
from aiflow.schemas.entities import Execution, ExecutionStatus, Job, JobStatus
from aiflow.store.sql_store import MetaStore
from tests.contracts.sample import workflows as sample
from tests.services import wait_for

pytestmark = pytest.mark.slow

HEADER = "x,label,name"
GOOD = ["1.5,0,a", "2.5,1,b", "-0.5,0,c", "4.0,1,d"]  # mean of x: 1.875
EXPECTED = (  # x2 = 2x (transform); prediction = x > mean, by model version 1 (predict)
    "x,label,name,x2,prediction,model_version\n"
    "1.5,0,a,3.0,0,1\n"
    "2.5,1,b,5.0,1,1\n"
    "-0.5,0,c,-1.0,0,1\n"
    "4.0,1,d,8.0,1,1\n"
)
# line number (header: 1) -> a record that does not fit: bad values, a field too many or too few
BAD = {3: "oops,1,e", 5: "5.0,1,g,extra", 7: "3.0,x,f", 8: "6.0,1"}
STREAM_TIMEOUT = 240.0  # s; a Flink stream job starts a JVM and commits on checkpoints

# (test, engine) -> why the case fails today; empty: every engine passes every case.
KNOWN_DEFECTS: dict[tuple[str, str], str] = {}


def known_defect(request: pytest.FixtureRequest, engine: str) -> None:
    reason = KNOWN_DEFECTS.get((request.node.originalname, engine))
    if reason is not None:
        request.applymarker(pytest.mark.xfail(strict=True, reason=reason))


def csv_lines(good: list[str], extra: dict[int, str]) -> str:
    """The good records with ``extra`` put at their (1-based, header = 1) line numbers."""
    lines = [HEADER, *good]
    for number in sorted(extra):
        lines.insert(number - 1, extra[number])
    return "\n".join(lines) + "\n"


def records(text: str) -> list[dict[str, str]]:
    header, *rows = text.splitlines()
    return [dict(zip(header.split(","), row.split(","), strict=True)) for row in rows]


@pytest.fixture(scope="module")
def contract_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """One ``AIFLOW_HOME`` for the module, with version 1 of ``sample.MODEL`` trained on the
    good records: training once instead of per test saves a job per test. Every test uses its
    own workflow names, examples and data directory, so they still do not see each other."""
    root = tmp_path_factory.mktemp("engine-contract")
    (root / "train").mkdir()
    (root / "train" / "in.csv").write_text(csv_lines(GOOD, {}))
    with pytest.MonkeyPatch.context() as env:
        for name in [name for name in os.environ if name.startswith("AIFLOW__")]:
            env.delenv(name)
        env.setenv("AIFLOW_HOME", str(root / "home"))
        reset_settings()
        af.run(sample.training(root / "train"), engine="local", progress=False)
    reset_settings()
    yield root / "home"


@pytest.fixture(autouse=True)
def aiflow_home(aiflow_home: Path, contract_home: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The suite's isolation (no ``AIFLOW__*`` from the shell), on the module's home."""
    monkeypatch.setenv("AIFLOW_HOME", str(contract_home))
    reset_settings()
    return contract_home


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """This test's data directory."""
    return tmp_path


def only_execution(store: MetaStore, workflow: str) -> Execution:
    (execution,) = store.list_executions(workflow=workflow)
    return execution


def failed_job(store: MetaStore, execution: Execution) -> Job:
    (job,) = [j for j in store.list_jobs(execution.id) if j.status == JobStatus.FAILED]
    return job


def dead_letter_count(store: MetaStore, execution: Execution, node: str) -> int:
    """What the job results say about ``node``'s kept records."""
    reported = [(j.result or {}).get("dead_letters") or {} for j in store.list_jobs(execution.id)]
    counts = [dead_letters[node]["count"] for dead_letters in reported if node in dead_letters]
    assert len(counts) == 1, f"one job should report dead letters of {node}: {counts}"
    return int(counts[0])


def job_log(job: Job, deployer: str) -> str:
    assert job.handle is not None
    return "\n".join(get_deployer(deployer).logs(job.handle))


def kept(directory: Path) -> list[dict[str, Any]]:
    """The records kept by a skip / dead_letter policy (json lines), in no particular order."""
    files = [f for f in sorted(directory.rglob("*")) if f.is_file() and f.name[0] not in "._"]
    return [json.loads(line) for f in files for line in f.read_text().splitlines() if line]


# -- batch ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("policy", ["skip", "dead_letter"])
def test_batch_chain_gives_the_expected_rows_and_keeps_bad_records(
    engine: str, root: Path, policy: str
) -> None:
    """read -> transform -> predict -> write on the sample with bad records among the good:
    the output has the expected rows; every record that does not fit (a bad value, a field
    too many or too few) is kept where the policy says with its file, line and error, counted
    in the job's result, and never reaches user code — nor the sample an engine may run the
    undeclared predictor on to learn its output types."""
    (root / "in.csv").write_text(csv_lines(GOOD, BAD))
    bad_uri = str(root / "bad") if policy == "dead_letter" else None
    tag = f"{policy}_{engine}"
    wf = sample.scoring(root, tag, sample.AboveMean(), on_error=policy, dead_letter_uri=bad_uri)

    execution = af.run(wf, engine=engine, progress=False)

    assert execution is not None and execution.status == ExecutionStatus.SUCCEEDED
    assert (root / "out.csv").read_text() == EXPECTED
    where = {
        "skip": get_settings().home / "executions" / str(execution.id) / "dead_letter",
        "dead_letter": root / "bad" / f"execution={execution.id}",
    }[policy]
    kept_records = kept(where)
    assert {r["record"]: r["line"] for r in kept_records} == {v: k for k, v in BAD.items()}
    assert all(r["path"].endswith("in.csv") for r in kept_records), kept_records
    assert any("'oops' is not a double" in r["error"] for r in kept_records), kept_records
    assert dead_letter_count(MetaStore(), execution, f"read_points_{tag}") == len(BAD)


def test_fail_policy_fails_naming_file_and_record(engine: str, root: Path) -> None:
    """Under ``fail`` (the default) a record that does not fit fails the job, naming the file
    and the record; here a field too few, which must never become a silent null."""
    (root / "in.csv").write_text(csv_lines(GOOD, {4: "6.0,1"}))
    wf = sample.scoring(root, f"fail_{engine}")

    with pytest.raises(AiflowError, match="failed"):
        af.run(wf, engine=engine, progress=False)

    store = MetaStore()
    execution = only_execution(store, wf.name)
    assert execution.status == ExecutionStatus.FAILED
    log = job_log(failed_job(store, execution), execution.deployer)
    assert str(root / "in.csv") in log and "6.0,1" in log
    assert not (root / "out.csv").exists()


# -- stream ---------------------------------------------------------------------------------------


def drop(directory: Path, name: str, text: str) -> None:
    """Put a file into a watched directory atomically, as producers must."""
    tmp = directory / f".{name}.tmp"
    tmp.write_text(text)
    tmp.rename(directory / name)


def streamed(directory: Path) -> list[dict[str, str]]:
    parts = sorted(directory.glob("part-*")) if directory.is_dir() else []
    return [row for part in parts for row in records(part.read_text())]


def test_stream_chain_gives_the_batch_rows(engine: str, root: Path) -> None:
    """The same chain in stream mode: every record of two micro-batches (one there before the
    start, one dropped while it runs) is written once, with the batch run's values."""
    stream_in, out = root / "in_stream", root / "out_stream"
    stream_in.mkdir()
    drop(stream_in, "b0.csv", csv_lines(GOOD[:2], {}))
    wf = sample.scoring(root, f"stream_{engine}", sample.AboveMean())
    execution = af.run(wf, mode="stream", engine=engine, detach=True, progress=False)
    assert execution is not None
    store = MetaStore()

    def written(rows: int) -> bool:
        """``rows`` records are out; fails at once (saying why) if the execution ended."""
        now = store.get_execution(execution.id)
        assert not now.status.finished, (now.error, [j.error for j in store.list_jobs(now.id)])
        return len(streamed(out)) >= rows

    try:
        wait_for(lambda: written(2), STREAM_TIMEOUT, "the first micro-batch")
        drop(stream_in, "b1.csv", csv_lines(GOOD[2:], {}))
        wait_for(lambda: written(4), STREAM_TIMEOUT, "the second micro-batch")
    finally:
        final = request_stop(store, execution.id, get_deployer, wait=60)
    assert final.status == ExecutionStatus.KILLED
    by_name = sorted(streamed(out), key=lambda row: row["name"])
    assert by_name == sorted(records(EXPECTED), key=lambda row: row["name"])


# -- cases an engine failed when the suite was written ---------------------------------------------


def test_declared_predictor_output(engine: str, root: Path, request: pytest.FixtureRequest) -> None:
    """A predictor that declares ``output_schema`` (without ``model_version``, which the engine
    adds) gives the same rows."""
    known_defect(request, engine)
    (root / "in.csv").write_text(csv_lines(GOOD, {}))
    wf = sample.scoring(root, f"declared_{engine}", sample.AboveMeanDeclared())

    execution = af.run(wf, engine=engine, progress=False)

    assert execution is not None and execution.status == ExecutionStatus.SUCCEEDED
    assert (root / "out.csv").read_text() == EXPECTED


def test_undeclared_schema_crosses_job_boundaries(engine: str, root: Path) -> None:
    """A transformer without ``output_schema`` feeds a job boundary (training is its own job)
    and the next job reads its materialized output: the engine learns the types itself
    (issue 8 defect 2)."""
    (root / "in.csv").write_text(csv_lines(GOOD, {}))
    wf = sample.across_jobs(root, f"boundary_{engine}")

    execution = af.run(wf, engine=engine, progress=False)

    assert execution is not None and execution.status == ExecutionStatus.SUCCEEDED
    assert len(MetaStore().list_jobs(execution.id)) > 1, "no job boundary was crossed"
    assert (root / "out.csv").read_text() == EXPECTED
