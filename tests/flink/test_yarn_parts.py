"""The Flink engine's YARN and checkpoint parts that need no cluster: the session's Flink
options, where checkpoints go and which one a restart restores, the web UI base. The session
on a real YARN cluster is tests/yarn/test_e2e_flink.py."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from aiflow.config import Settings
from aiflow.errors import InvalidInput
from aiflow.hadoop.conf import Cluster
from aiflow.translators.flink.engine import checkpoint_location, checkpoint_options
from aiflow.translators.flink.rest import FlinkRest
from aiflow.translators.flink.settings import FlinkSettings
from aiflow.translators.flink.tableenv import pyflink_home
from aiflow.translators.flink.yarn_session import FlinkYarnSession, yarn_session_config


def test_the_session_config_leaves_addresses_to_yarn(tmp_path: Path) -> None:
    settings = FlinkSettings(slots=3, checkpoints_dir="hdfs://nn:8020/chk")
    config = yarn_session_config(
        settings,
        pyflink_home(),
        python="/opt/venv/bin/python",
        queue="ml",
        tags=["aiflow", "aiflow-flink-session"],
        properties_dir=tmp_path,
    )
    # YARN places the JobManager and Flink binds free ports there: nothing of this machine
    assert not [k for k in config if k.startswith(("rest.", "jobmanager.rpc", "taskmanager.host"))]
    assert config["python.executable"] == "/opt/venv/bin/python"  # the nodes' interpreter
    assert (config["yarn.application.queue"], config["yarn.tags"]) == (
        "ml",
        "aiflow,aiflow-flink-session",
    )
    assert config["taskmanager.numberOfTaskSlots"] == 3
    assert config["restart-strategy.type"] == "none"
    assert config["resourcemanager.taskmanager-timeout"] == "300 s"  # warm for 5 minutes
    assert config["execution.checkpointing.dir"] == "hdfs://nn:8020/chk"
    assert "--add-opens" in config["env.java.opts.all"]
    unset = yarn_session_config(
        FlinkSettings(), pyflink_home(), python="p", queue="q", tags=[], properties_dir=tmp_path
    )
    assert "execution.checkpointing.dir" not in unset


def test_the_session_refuses_to_start_without_hadoop_config_or_jars(tmp_path: Path) -> None:
    cluster = Cluster("http://rm:8088", "hdfs://nn:8020", "http://nn:9870")
    no_conf = FlinkYarnSession(cluster, None, user="u", home=tmp_path, hadoop_classpath="x")
    with pytest.raises(InvalidInput, match="HADOOP_CONF_DIR"):
        no_conf._client_env()
    no_jars = FlinkYarnSession(cluster, tmp_path, user="u", home=tmp_path, hadoop_classpath="")
    no_jars.hadoop_classpath = ""  # as when $HADOOP_CLASSPATH is unset too
    with pytest.raises(InvalidInput, match=r"HADOOP_CLASSPATH=\$\(hadoop classpath\)"):
        no_jars._client_env()
    env = FlinkYarnSession(
        cluster, tmp_path, user="etl", home=tmp_path, hadoop_classpath="/h/*"
    )._client_env()
    assert (env["HADOOP_CONF_DIR"], env["HADOOP_CLASSPATH"], env["HADOOP_USER_NAME"]) == (
        str(tmp_path),
        "/h/*",
        "etl",
    )
    assert env["FLINK_CONF_DIR"].startswith(str(tmp_path.resolve()))


def test_sessions_of_different_homes_have_different_tags(tmp_path: Path) -> None:
    cluster = Cluster("http://rm:8088", "hdfs://nn:8020", None)
    one = FlinkYarnSession(cluster, None, user="u", home=tmp_path / "a")
    two = FlinkYarnSession(cluster, None, user="u", home=tmp_path / "b")
    again = FlinkYarnSession(cluster, None, user="u", home=tmp_path / "a")
    assert one.home_tag != two.home_tag and one.home_tag == again.home_tag
    assert one.python == sys.executable  # default: this interpreter


class _Spec:
    workflow, name = "wf", "job"


def test_checkpoints_go_under_checkpoints_dir_when_set(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AIFLOW_HOME", str(tmp_path))
    local = checkpoint_location(Settings(), _Spec())  # type: ignore[arg-type]
    assert local == (tmp_path / "flink" / "jobs" / "wf" / "job" / "chk").as_uri()

    class WithDir(Settings):
        flink: FlinkSettings = FlinkSettings(checkpoints_dir="hdfs://nn:8020/aiflow/chk/")

    remote = checkpoint_location(WithDir(), _Spec())  # type: ignore[arg-type]
    assert remote == "hdfs://nn:8020/aiflow/chk/wf/job/chk"


def test_a_restart_restores_the_newest_completed_checkpoint(tmp_path: Path) -> None:
    first = checkpoint_options(tmp_path)
    assert first["execution.checkpointing.dir"] == tmp_path.as_uri()
    assert "execution.state-recovery.path" not in first  # nothing to restore yet

    def checkpoint(job: str, n: int, mtime: float, complete: bool = True) -> Path:
        directory = tmp_path / job / f"chk-{n}"
        directory.mkdir(parents=True)
        if complete:
            (directory / "_metadata").write_text("m")
        os.utime(directory, (mtime, mtime))
        return directory

    checkpoint("old-job", 40, 1_000)
    newest = checkpoint("new-job", 3, 2_000)  # a later Flink job restarts its numbering
    checkpoint("new-job", 4, 3_000, complete=False)  # in progress: no _metadata
    for location in (tmp_path, tmp_path.as_uri()):
        options = checkpoint_options(location)
        assert options["execution.state-recovery.path"] == newest.as_uri()
        assert options["execution.checkpointing.num-retained"] == "2"


def test_the_web_ui_base_may_differ_from_the_rest_url() -> None:
    direct = FlinkRest("http://jm:8081")
    assert (
        direct.web_ui_url("a" * 32, "RUNNING")
        == f"http://jm:8081/#/job/running/{'a' * 32}/overview"
    )
    proxied = FlinkRest("http://jm:8081", web_ui="http://rm:8088/proxy/application_1_0001/")
    assert proxied.web_ui_url() == "http://rm:8088/proxy/application_1_0001/#/overview"
