"""Flink on YARN end to end: a Flink session running as a YARN application (``flink_on_yarn``,
started by Flink's own ``yarn-session.sh`` from the PyFlink wheel with the Hadoop client jars),
aiflow's Flink jobs run as YARN applications of the ``yarn`` deployer that submit to it, their
web UI reached through the ResourceManager's proxy, and stream checkpoints on HDFS.

The stream test kills a job's YARN application from outside while it runs: the NodeManager
kills the container's process tree at once, so the job's Flink job is orphaned on the session
(still writing); the retry cancels it, restores the newest checkpoint on HDFS, and every input
record ends up in the output exactly once.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from tests.e2e import conftest as e2e
from tests.e2e.conftest import Cli, drop
from tests.flink.test_exactly_once import FILES, ROWS, WORKFLOW, _batch, _output
from tests.k8s.test_e2e_wine import FLINK_ENGINES, assert_wine_outputs
from tests.services import wait_for
from tests.yarn.cluster import HadoopCluster
from tests.yarn.fixtures import hadoop_classpath
from tests.yarn.test_e2e_wine import RUNNING_STATES, TAG_JOB, Yarn, run_on_yarn, tag_number, yarn_on

if TYPE_CHECKING:
    from aiflow.translators.flink.yarn_session import FlinkYarnSession

pytestmark = [pytest.mark.slow, pytest.mark.flink]
wine = e2e.wine  # a private copy of examples/wine with its data prepared (a fixture)


@pytest.fixture
def yarn(hadoop: HadoopCluster, monkeypatch: pytest.MonkeyPatch) -> Yarn:
    return yarn_on(hadoop, monkeypatch)


@pytest.fixture
def session(flink_on_yarn: FlinkYarnSession) -> dict[str, Any]:
    # start() returns the running session, or starts it again if an earlier test took it down
    # (a killed NodeManager may have held its JobManager)
    info = flink_on_yarn.start(timeout=240)
    assert info.state == "RUNNING", info
    return info.to_dict()


def flink_cli(
    aiflow_home: Path, cwd: Path, yarn: Yarn, session: dict[str, Any], **extra: str
) -> Cli:
    """The CLI pointed at the YARN cluster and at the session, as ``aiflow flink start --yarn``
    tells a user to (its two ``export`` lines)."""
    settings = {
        **yarn.settings,
        "AIFLOW__FLINK__REST_URL": session["rest_url"],
        "AIFLOW__FLINK__WEB_UI_URL": session["web_ui_url"],
        **extra,
    }
    return Cli(aiflow_home, cwd, settings)


def test_the_session_is_a_yarn_application_the_cli_finds_again(
    flink_on_yarn: FlinkYarnSession,
    session: dict[str, Any],
    yarn: Yarn,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    report = yarn.app(session["application_id"])
    assert report["applicationType"] == "Apache Flink" and report["state"] == "RUNNING"
    assert {"aiflow", "aiflow-flink-session", flink_on_yarn.home_tag} <= set(
        report["applicationTags"].split(",")
    )
    # The web UI through the ResourceManager's proxy is the JobManager's own REST API.
    proxied = httpx.get(session["web_ui_url"] + "overview", timeout=10).json()
    direct = httpx.get(session["rest_url"] + "/overview", timeout=10).json()
    assert proxied["flink-version"] == direct["flink-version"] == "2.3.0"

    # Same AIFLOW_HOME: `start` finds the running session (by its state file or its tag)
    # and prints the same two exports; `status` reports it.
    home = flink_on_yarn.state_file.parent.parent
    cli = Cli(home, tmp_path, {**yarn.settings, "HADOOP_CLASSPATH": hadoop_classpath(yarn.cluster)})
    started = cli.run("flink", "start", "--yarn")
    assert started.stdout.splitlines() == [
        f"export AIFLOW__FLINK__REST_URL={session['rest_url']}",
        f"export AIFLOW__FLINK__WEB_UI_URL={session['web_ui_url']}",
    ]
    assert "already running" in started.stderr
    status = cli.json("flink", "status", "--yarn")
    assert (status["running"], status["application_id"]) == (True, session["application_id"])

    # Another home has no session; starting one without Hadoop's jars says what is missing.
    other = Cli(tmp_path / "other-home", tmp_path, dict(yarn.settings))
    assert other.json("flink", "status", "--yarn") == {"running": False}
    monkeypatch.delenv("HADOOP_CLASSPATH", raising=False)
    failed = other.run("flink", "start", "--yarn", check=False)
    assert failed.returncode != 0
    assert "HADOOP_CLASSPATH=$(hadoop classpath)" in failed.stderr
    assert not (tmp_path / "other-home" / "flink" / "yarn-session.json").exists()


def test_wine_on_flink_with_storage_on_hdfs_submits_from_yarn_containers_to_the_session(
    aiflow_home: Path, tmp_path: Path, wine: Path, yarn: Yarn, session: dict[str, Any]
) -> None:
    """The issue's whole set-up: ``AIFLOW__STORAGE__ROOT=hdfs://...`` and the Flink session on
    YARN. The snapshot, the intermediates between jobs and the model's artifact are on HDFS
    (written by the driver, by Flink's TaskManagers and by local-engine jobs in containers,
    read back by the next job on whichever node), none under the driver's AIFLOW_HOME."""
    root = f"{yarn.cluster.default_fs}/aiflow-{uuid.uuid4().hex[:8]}"
    cli = flink_cli(aiflow_home, tmp_path, yarn, session, AIFLOW__STORAGE__ROOT=root)
    summary = run_on_yarn(cli, wine, "--engine", "flink", timeout=600)
    assert_wine_outputs(summary, wine)
    execution = summary["execution"]
    jobs = {j["name"]: j for j in cli.json("job", "list", str(execution))}
    assert {name: j["engine"] for name, j in jobs.items()} == FLINK_ENGINES
    assert all(j["status"] == "succeeded" for j in jobs.values())
    apps = yarn.wait_apps_ended(execution, len(jobs))  # each job an application of ours
    assert sorted(tag_number(a, TAG_JOB) for a in apps) == sorted(j["id"] for j in jobs.values())

    # The Flink job ran on the session; `job show` links its page behind the RM's proxy.
    shown = cli.json("job", "show", str(jobs["add_ratios"]["id"]))
    flink = shown["result"]["engine"]["flink"]
    proxy = session["web_ui_url"]
    assert flink["web_ui"] == f"{proxy}#/job/running/{flink['job_id']}/overview"
    seen = httpx.get(f"{proxy}jobs/{flink['job_id']}", timeout=10).json()
    assert seen["state"] == "FINISHED" and seen["name"].startswith("wine_sgd/add_ratios#")

    # Everything shared lives under the storage root on HDFS.
    assert shown["spec"]["snapshot_uri"].startswith(f"{root}/snapshots/")
    (version,) = cli.json("model", "versions", "wine_sgd")
    assert version["artifact_uri"].startswith(f"{root}/artifacts/")
    stored = _hdfs_files(root)
    assert any(f"/snapshots/{shown['spec']['source_hash']}" in f for f in stored)
    assert any(f"/executions/{execution}/" in f for f in stored), stored
    assert any("/artifacts/" in f for f in stored), stored
    for local in ("artifacts", "executions"):
        assert not (aiflow_home / local).exists(), f"{local} written on the driver's disk"
    assert not list((aiflow_home / "snapshots").glob("*.tar.gz"))


def test_stream_job_killed_with_its_application_restarts_from_its_hdfs_checkpoint(
    aiflow_home: Path,
    tmp_path: Path,
    yarn: Yarn,
    hadoop_nodes: HadoopCluster,
    session: dict[str, Any],
) -> None:
    checkpoints = f"{hadoop_nodes.default_fs}/aiflow-test/chk-{uuid.uuid4().hex[:8]}"
    (tmp_path / "in").mkdir()
    (tmp_path / "wf.py").write_text(WORKFLOW)
    cli = flink_cli(
        aiflow_home,
        tmp_path,
        yarn,
        session,
        AIFLOW__FLINK__CHECKPOINT_INTERVAL="1",
        AIFLOW__FLINK__CHECKPOINTS_DIR=checkpoints,
    )
    wf = str(tmp_path / "wf.py")
    started = cli.json("run", wf, "--deployer", "yarn", "--mode", "stream", "--detach")
    execution = started["execution"]
    out = tmp_path / "out"
    try:
        for i in range(FILES // 2):
            drop(_batch(tmp_path, i), tmp_path / "in")
        wait_for(lambda: len(_output(out)) >= FILES // 2 * ROWS, 300, "the first half")
        wait_for(lambda: bool(_completed_checkpoints(checkpoints)), 60, "a checkpoint")
        (running,) = [a for a in yarn.apps(execution) if a["state"] in RUNNING_STATES]
        _kill_from_outside(hadoop_nodes, running["id"])
        for i in range(FILES // 2, FILES):  # arrive while the job is down
            drop(_batch(tmp_path, i), tmp_path / "in")
        wait_for(lambda: len(_output(out)) >= FILES * ROWS, 300, "every record after the retry")
        (job,) = cli.json("job", "list", str(execution))
        shown = cli.json("job", "show", str(job["id"]))
    finally:
        cli.run("execution", "stop", str(execution))
    frame = _output(out)
    assert sorted(frame["x"]) == list(range(FILES * ROWS))  # each record exactly once
    assert job["attempt"] >= 2  # the kill failed the attempt; the driver retried it
    flink = shown["result"]["engine"]["flink"]
    assert flink["restored_from"].startswith(f"{checkpoints}/")
    assert len(yarn.apps(execution)) == job["attempt"]  # one application per attempt


def _hdfs_files(uri: str) -> list[str]:
    import fsspec

    import aiflow.hadoop.fs  # noqa: F401 (hdfs:// over WebHDFS)

    fs, root = fsspec.core.url_to_fs(uri)
    return [str(f) for f in fs.find(root)]


def _completed_checkpoints(uri: str) -> list[str]:
    """Completed checkpoints under ``uri``, listed over WebHDFS: Flink keeps them at
    ``<checkpoints_dir>/<workflow>/<job>/chk/<Flink job id>/chk-<n>/_metadata``."""
    import fsspec

    import aiflow.hadoop.fs  # noqa: F401 (hdfs:// over WebHDFS)

    fs, root = fsspec.core.url_to_fs(uri)
    return list(fs.glob(f"{root}/once/write_doubled/chk/*/chk-*/_metadata"))


def _kill_from_outside(cluster: HadoopCluster, app_id: str) -> None:
    reply = httpx.put(
        f"{cluster.resource_manager}/ws/v1/cluster/apps/{app_id}/state",
        params={"user.name": "operator"},
        json={"state": "KILLED"},
        timeout=10,
    )
    assert reply.status_code in (200, 202), reply.text
