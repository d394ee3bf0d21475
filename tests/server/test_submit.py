"""Remote submission (``POST /executions``): the shipped wine example uploaded as a source
snapshot and run by the server, and every way an upload is refused without recording a thing.
"""

from __future__ import annotations

import io
import os
import re
import tarfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from aiflow.client import Client
from aiflow.errors import UserCodeError
from aiflow.plan import snapshot
from aiflow.schemas.entities import ExecutionStatus
from aiflow.store.sql_store import MetaStore
from aiflow.translators.usercode import load_workflow_file
from tests.server import seed

API = "/api/v1"
Http = Callable[[str], httpx.Client]
RUN_TIMEOUT = 120


@pytest.fixture(scope="module")
def wine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return seed.wine_copy(tmp_path_factory.mktemp("wine") / "wine")


@pytest.fixture
def client(api: Any) -> Iterator[Client]:
    with Client(api.url, api.tokens["editor"]) as client:
        yield client


def load(file: Path) -> Any:
    return load_workflow_file(file).wf


@pytest.mark.slow
def test_submitted_example_runs_and_records_model_and_metrics(
    api: Any, client: Client, wine: Path
) -> None:
    wf = load(wine)
    execution = client.submit(wf, "batch")
    assert execution.workflow_name == "wine_sgd" and execution.mode == "batch"
    final = client.wait_for_execution(execution.id, timeout=RUN_TIMEOUT)
    assert final.status is ExecutionStatus.SUCCEEDED, final.error
    assert {job.status.value for job in client.list_jobs(final.id)} == {"succeeded"}
    trained = [v for v in client.page_model_versions("wine_sgd").data if v.execution_id == final.id]
    assert len(trained) == 1 and trained[0].flavor == "sklearn"
    assert 0.5 < trained[0].metrics["accuracy"] <= 1.0
    version_metrics = client.list_model_version_metrics("wine_sgd", trained[0].version)
    assert {m.name for m in version_metrics} == {"accuracy", "rows"}
    assert {m.name for m in client.list_execution_metrics(final.id)} == {"accuracy", "rows"}
    assert "aiflow: job" in client.get_job_logs(client.list_jobs(final.id)[0].id, tail=100)
    assert (wine.parent / "out" / "preds.csv").exists()  # the absolute output path was used

    # The same code again: the same workflow version (and one stored archive).
    again = client.submit(load(wine), "batch")
    assert again.workflow_version_id == final.workflow_version_id
    stopped = client.stop_execution(again.id, wait=30)
    assert stopped.status in (ExecutionStatus.KILLED, ExecutionStatus.SUCCEEDED)
    archives = list((api.home / "snapshots").glob("*.tar.gz"))
    assert snapshot.collect(wine).hash in [a.name.removesuffix(".tar.gz") for a in archives]

    # A rerun is a new execution of the same version with the same jobs, run by its own
    # driver. (Its specs are the ones that just succeeded, so it is stopped, not run again.)
    rerun = client.rerun_execution(final.id)
    assert rerun.id != final.id and rerun.workflow_version_id == final.workflow_version_id
    old_jobs, new_jobs = client.list_jobs(final.id), client.list_jobs(rerun.id)
    assert [(j.name, j.spec) for j in new_jobs] == [(j.name, j.spec) for j in old_jobs]
    names = {j.id: j.name for j in new_jobs} | {j.id: j.name for j in old_jobs}
    assert [[names[d] for d in j.depends_on] for j in new_jobs] == [
        [names[d] for d in j.depends_on] for j in old_jobs
    ]
    deadline = time.monotonic() + 30
    while client.get_execution(rerun.id).driver_pid is None and time.monotonic() < deadline:
        time.sleep(0.1)
    assert client.get_execution(rerun.id).driver_pid is not None, "no driver claimed the rerun"
    assert client.stop_execution(rerun.id, wait=30).status.finished


# -- refused uploads ------------------------------------------------------------------------------


def tar_gz(members: list[tuple[str, bytes | str]]) -> bytes:
    """An archive of regular files, or symlinks where the content is a ``str`` (the target)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, content in members:
            info = tarfile.TarInfo(name)
            if isinstance(content, str):
                info.type, info.linkname = tarfile.SYMTYPE, content
                tar.addfile(info)
            else:
                info.size = len(content)
                tar.addfile(info, io.BytesIO(content))
    return buffer.getvalue()


def upload(
    http: httpx.Client, archive: bytes, source_hash: str, fields: dict[str, str] | None = None
) -> httpx.Response:
    form = {"source_hash": source_hash, "entrypoint": "workflow.py", "workflow": "wine_sgd"}
    files = {"snapshot": ("snapshot.tar.gz", archive, "application/gzip")}
    return http.post(f"{API}/executions", data={**form, **(fields or {})}, files=files, timeout=60)


def recorded(api: Any) -> tuple[Any, ...]:
    """Everything a submission records: versions, executions, stored archives."""
    store = MetaStore(api.store_uri)
    versions = [store.count_workflow_versions(w.name) for w in store.page_workflows(limit=500)]
    archives = sorted(p.name for p in (api.home / "snapshots").glob("*.tar.gz"))
    leftovers = list((api.home / "snapshots" / ".incoming").glob("*"))
    return versions, store.count_executions(), archives, leftovers


def test_bad_archives_are_422_and_record_nothing(api: Any, http: Http, wine: Path) -> None:
    editor = http("editor")
    snap = snapshot.collect(wine)
    good = snap.archive()
    before = recorded(api)
    cases = {
        "tampered": (tar_gz([("workflow.py", b"import os\n")]), snap.hash, "does not match"),
        "dot-dot": (tar_gz([("../evil.py", b"x = 1\n")]), snap.hash, "outside"),
        "absolute": (tar_gz([("/tmp/evil.py", b"x = 1\n")]), snap.hash, "outside"),
        "symlink": (tar_gz([("workflow.py", "/etc/passwd")]), snap.hash, "regular file"),
        "not gzip": (b"just bytes", snap.hash, "not a valid tar.gz"),
        "empty": (tar_gz([]), snap.hash, "empty"),
        "other hash": (good, "0" * 64, "does not match"),
    }
    for case, (archive, source_hash, words) in cases.items():
        response = upload(editor, archive, source_hash)
        assert response.status_code == 422, (case, response.text)
        assert words in response.json()["detail"], (case, response.json())
    missing_entry = upload(editor, good, snap.hash, {"entrypoint": "main.py"})
    assert "entrypoint 'main.py'" in missing_entry.json()["detail"]
    for field, value in [("source_hash", "../../x"), ("entrypoint", "../x.py"), ("mode", "now")]:
        response = upload(editor, good, snap.hash, {field: value})
        assert response.status_code == 422, (field, response.text)
        assert response.json()["errors"][0]["field"] == f"body.{field}"
    no_file = editor.post(f"{API}/executions", data={"source_hash": snap.hash}, files={})
    assert no_file.status_code == 422
    assert recorded(api) == before

    accepted = upload(editor, good, snap.hash)  # the control: the same upload, untampered
    assert accepted.status_code == 201, accepted.text
    assert accepted.headers["location"] == f"{API}/executions/{accepted.json()['id']}"
    assert recorded(api)[1] == before[1] + 1
    editor.post(f"{API}/executions/{accepted.json()['id']}/stop", params={"wait": 30})


def test_oversized_upload_is_413(api: Any, http: Http) -> None:
    before = recorded(api)
    too_big = os.urandom(64) * (50 * 1024 * 1024 // 64 + 1)  # server.max_upload_bytes + 64
    response = upload(http("editor"), too_big, "0" * 64)
    assert response.status_code == 413, response.text[:300]
    assert response.json()["code"] == "payload_too_large"
    assert str(50 * 1024 * 1024) in response.json()["detail"]
    assert recorded(api) == before


@pytest.mark.slow
def test_workflows_the_server_cannot_run_are_refused_before_recording(
    api: Any, client: Client, http: Http, tmp_path: Path
) -> None:
    before = recorded(api)
    # Relative paths resolve against the submitter's base_dir (tests/server/test_submit_paths.py);
    # an upload without one cannot resolve them anywhere but in the code-only snapshot.
    relative = snapshot.collect(seed.wine_copy(tmp_path / "relative", absolute=False))
    refused = upload(http("editor"), relative.archive(), relative.hash)
    assert refused.status_code == 422, refused.text
    assert re.search(r"relative path 'data/wine\.csv'.*absolute path", refused.json()["detail"])

    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "workflow.py").write_text(
        "import aiflow as af\n"
        "with af.workflow('broken') as wf:\n"
        "    af.write_example(af.read_example(af.Example('e', batch_uri='/x.csv')),\n"
        "                     af.Example('o', batch_uri='/y.csv'))\n"
        "raise RuntimeError('not today')\n"
    )
    wf = _defined_then_broken(broken)
    with pytest.raises(UserCodeError, match="RuntimeError: not today"):
        client.submit(wf)
    assert recorded(api) == before


def _defined_then_broken(directory: Path) -> Any:
    """A workflow object whose file raises when the server imports it (the client never
    imports it: it is built here from a clean copy, then the file is replaced)."""
    clean = directory / "workflow.py"
    broken_source = clean.read_text()
    clean.write_text(broken_source.replace("raise RuntimeError('not today')\n", ""))
    wf = load(clean)
    clean.write_text(broken_source)
    return wf
