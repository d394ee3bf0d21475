"""Where a remotely submitted workflow's examples may point (defect 9 of issue 8).

Relative paths resolve against the workflow file on the submitting host, as a local run
resolves them, so ``af.run(wf, server=...)`` and ``aiflow --server URL run FILE`` of a workflow
with ``batch_uri="data/in.csv"`` run on a server that sees the same files (same host, shared
mount). What the server cannot read, or must not touch (its own ``AIFLOW_HOME``), is refused
naming the example and the path, before anything is recorded.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import aiflow as af
from aiflow.client import Client
from aiflow.errors import InvalidInput
from aiflow.schemas.entities import ExecutionStatus
from aiflow.translators.usercode import load_workflow_file
from tests.server.conftest import unique
from tests.server.test_submit import recorded

pytestmark = pytest.mark.parametrize("api", ["sqlite"], indirect=True)

ROWS = "x\n17\n42\n"
RUN_TIMEOUT = 120


@pytest.fixture
def client(api: Any) -> Iterator[Client]:
    with Client(api.url, api.tokens["editor"]) as client:
        yield client


def copy_workflow(
    directory: Path,
    *,
    batch_uri: str = "data/in.csv",
    out_uri: str = "out/copy.csv",
    stream_uri: str | None = None,
    **options: str,
) -> tuple[Path, str]:
    """A workflow that copies ``data/in.csv`` (beside it) to ``out_uri``; returns its file and
    name (unique: the server is shared by the whole session)."""
    name = unique("paths")
    (directory / "data").mkdir(parents=True)
    (directory / "data" / "in.csv").write_text(ROWS)
    extra = "".join(f", {key}={value!r}" for key, value in options.items())
    workflow = directory / "workflow.py"
    workflow.write_text(
        "import aiflow as af\n\n"
        f"source = af.Example({name + '-in'!r}, schema={{'x': 'int'}}, batch_uri={batch_uri!r}, "
        f"stream_uri={stream_uri!r}{extra})\n"
        f"target = af.Example({name + '-out'!r}, batch_uri={out_uri!r})\n"
        f"with af.workflow({name!r}) as wf:\n"
        "    af.write_example(af.read_example(source), target)\n"
    )
    return workflow, name


def load(file: Path) -> Any:
    return load_workflow_file(file).wf


def copied(directory: Path) -> list[str]:
    return (directory / "out" / "copy.csv").read_text().split()


def test_af_run_on_a_server_resolves_relative_paths_against_the_file(
    api: Any, tmp_path: Path
) -> None:
    workflow, _ = copy_workflow(tmp_path / "wf")
    wf = load(workflow)
    final = af.run(wf, server=api.url, token=api.tokens["editor"], progress=False)
    assert final is not None and final.status is ExecutionStatus.SUCCEEDED, final
    assert copied(tmp_path / "wf") == ROWS.split()
    # The recorded plan names the data as a local run's plan does.
    with Client(api.url, api.tokens["viewer"]) as client:
        jobs = client.list_jobs(final.id)
    recorded_spec = json.dumps(jobs[0].spec)
    local = {n.example.batch_uri for n in wf.plan.nodes if n.example is not None}
    assert local == {str(tmp_path / "wf" / "data" / "in.csv"), str(tmp_path / "wf/out/copy.csv")}
    assert all(uri in recorded_spec for uri in local), recorded_spec


def test_cli_run_on_a_server_resolves_relative_paths_against_the_file(
    api: Any, tmp_path: Path
) -> None:
    workflow, _ = copy_workflow(tmp_path / "wf", out_uri="../elsewhere/copy.csv")
    elsewhere = tmp_path / "cwd"  # neither the file's directory nor the server's
    elsewhere.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIFLOW")}
    env |= {
        "AIFLOW_HOME": str(tmp_path / "client-home"),
        "AIFLOW__CLIENT__TOKEN": api.tokens["editor"],
    }
    done = subprocess.run(
        [sys.executable, "-m", "aiflow", "--server", api.url, "run", str(workflow)],
        env=env,
        cwd=elsewhere,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
    )
    assert done.returncode == 0, done.stderr
    assert "succeeded" in done.stdout
    assert (tmp_path / "elsewhere" / "copy.csv").read_text().split() == ROWS.split()


def test_paths_the_server_cannot_use_are_refused_before_recording(
    api: Any, client: Client, tmp_path: Path
) -> None:
    before = recorded(api)
    missing = tmp_path / "nowhere" / "in.csv"
    workflow, name = copy_workflow(tmp_path / "missing", batch_uri=str(missing))
    with pytest.raises(InvalidInput) as refused:
        client.submit(load(workflow))
    message = str(refused.value)
    assert f"example '{name}-in'" in message and str(missing) in message, message
    assert "cannot read" in message and "no such file" in message, message
    assert "shared mount" in message and "s3://" in message, message

    # An output under a regular file: its directory cannot be created.
    blocked = tmp_path / "blocked"
    workflow, name = copy_workflow(blocked, out_uri=str(blocked / "data" / "in.csv" / "o.csv"))
    with pytest.raises(InvalidInput, match=rf"example '{name}-out'.*cannot write.*not a dir"):
        client.submit(load(workflow))

    # A stream run reads the stream view: it must be there (a batch run does not need it).
    workflow, name = copy_workflow(tmp_path / "stream", stream_uri="data/incoming/")
    pattern = rf"example '{name}-in' \(stream view\).*cannot read .*/incoming/: no such file"
    with pytest.raises(InvalidInput, match=pattern):
        client.submit(load(workflow), "stream")
    assert recorded(api) == before


def test_the_servers_own_files_are_refused(api: Any, client: Client, tmp_path: Path) -> None:
    """An editor's example pointed at the server's meta store, config or snapshots would read
    them into a job (a bad record's raw line is shown in the job's error) or write predictions
    over them: anything in ``AIFLOW_HOME`` is refused, except its ``data`` area."""
    before = recorded(api)
    home = api.home
    cases = {
        "write the meta store": {"out_uri": str(home / "aiflow.db")},
        "write home itself": {"out_uri": f"{home}/"},
        "read the meta store": {"batch_uri": str(home / "aiflow.db")},
        "read through ..": {"batch_uri": f"{home.parent}/nothing/../{home.name}/aiflow.db"},
        "read as a file:// URI": {"batch_uri": f"file://{home}/aiflow.db"},
        "a stream view in the snapshots": {"stream_uri": str(home / "snapshots")},
        "dead letters into the logs": {
            "on_error": "dead_letter",
            "dead_letter_uri": str(home / "logs"),
        },
        "the runtime's placeholder": {"out_uri": "/{execution_dir}/../../aiflow.db"},
    }
    for case, options in cases.items():
        directory = tmp_path / case.replace(" ", "-").replace("/", "")
        workflow, name = copy_workflow(directory, **options)
        with pytest.raises(InvalidInput) as refused:
            client.submit(load(workflow))
        message = str(refused.value)
        assert f"example '{name}-" in message, (case, message)
        assert "AIFLOW_HOME" in message or "reserved" in message, (case, message)
    assert recorded(api) == before
    assert (home / "aiflow.db").stat().st_size > 0

    # Its data area is for example data the server keeps.
    data = home / "data" / unique("area")
    data.mkdir(parents=True)
    (data / "in.csv").write_text(ROWS)
    workflow, _ = copy_workflow(
        tmp_path / "area", batch_uri=str(data / "in.csv"), out_uri=str(data / "out.csv")
    )
    execution = client.submit(load(workflow))
    final = client.wait_for_execution(execution.id, timeout=RUN_TIMEOUT)
    assert final.status is ExecutionStatus.SUCCEEDED, final.error
    assert (data / "out.csv").read_text().split() == ROWS.split()
