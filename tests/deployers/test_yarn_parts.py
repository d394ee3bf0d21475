"""The yarn deployer's pure parts, without a cluster: reading Hadoop configuration, turning
application reports into job states, the submission's shape, the NodeManager's log framing.
What the cluster makes of them is tests/deployers/test_yarn_deployer.py."""

from __future__ import annotations

import base64
import sys
from pathlib import Path

import pytest

from aiflow.deployers.base import JobLaunch
from aiflow.deployers.yarn import logs, submission
from aiflow.deployers.yarn.deployer import assess
from aiflow.deployers.yarn.settings import YarnSettings
from aiflow.errors import DeploymentError, InvalidInput
from aiflow.hadoop import conf as hadoop_conf


def site(path: Path, **properties: str) -> None:
    body = "".join(
        f"<property><name>{key}</name><value>{value}</value></property>"
        for key, value in properties.items()
    )
    path.write_text(f"<?xml version='1.0'?><configuration>{body}</configuration>")


def test_addresses_follow_references_and_defaults(tmp_path: Path) -> None:
    site(
        tmp_path / "yarn-site.xml",
        **{
            "yarn.resourcemanager.hostname": "rm.example",
            "yarn.resourcemanager.webapp.address": "${yarn.resourcemanager.hostname}:8188",
        },
    )
    site(tmp_path / "core-site.xml", **{"fs.defaultFS": "hdfs://nn.example:8020"})
    cluster = hadoop_conf.resolve(YarnSettings(hadoop_conf_dir=tmp_path))
    assert cluster.resource_manager == "http://rm.example:8188"
    assert cluster.default_fs == "hdfs://nn.example:8020"
    assert cluster.webhdfs == "http://nn.example:9870"  # 0.0.0.0 means the NameNode's host
    explicit = YarnSettings(resource_manager="https://rm:8090", webhdfs="nn:50070")
    assert hadoop_conf.resolve(explicit).resource_manager == "https://rm:8090"
    (tmp_path / "hdfs-site.xml").write_text("<configuration><property>")
    with pytest.raises(InvalidInput, match=r"hdfs-site\.xml: not a valid Hadoop configuration"):
        hadoop_conf.resolve(YarnSettings(hadoop_conf_dir=tmp_path))


@pytest.mark.parametrize(
    ("report", "expected"),
    [
        ({"state": "ACCEPTED"}, (True, None, None)),
        ({"state": "FINISHED", "finalStatus": "SUCCEEDED"}, (False, 0, None)),
        (
            {"state": "FINISHED", "finalStatus": "FAILED", "diagnostics": "aiflow exit code: 3"},
            (False, 3, "exited with code 3"),
        ),
        (
            {"state": "FINISHED", "finalStatus": "FAILED", "diagnostics": "aiflow exit code: 137"},
            (False, -9, "killed by SIGKILL (signal 9)"),
        ),
    ],
)
def test_reports_become_job_states(report: dict[str, str], expected: tuple[object, ...]) -> None:
    state = assess("application_1_1", report)
    assert (state.running, state.exit_code, state.error) == expected


def test_failures_keep_the_reason_without_the_stack_trace() -> None:
    diagnostics = (
        "Application application_1_2 failed 1 times due to AM Container exited with exitCode: "
        "-1000\nFailing this attempt.Diagnostics: File file:/x.jar does not exist\n"
        "java.io.FileNotFoundException: File file:/x.jar does not exist\n\tat a.b.C(C.java:1)\n"
    )
    state = assess("application_1_2", {"state": "FAILED", "diagnostics": diagnostics})
    assert state.exit_code is None and "File file:/x.jar does not exist" in (state.error or "")
    assert "C.java" not in (state.error or "")
    killed = assess("application_1_3", {"state": "KILLED", "diagnostics": "killed by user bob"})
    assert killed.error == "its YARN application was killed: killed by user bob"
    gone = assess("application_1_4", None)
    assert "does not know YARN application application_1_4" in (gone.error or "")


def test_the_submission_keeps_credentials_out_of_commands(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIFLOW__FLINK__REST_URL", "http://flink:8081")
    monkeypatch.setenv("AIFLOW__YARN__QUEUE", "driver-only")
    launch = JobLaunch(
        job_id=4,
        execution_id=9,
        job_name="train",
        attempt=2,
        command=[sys.executable, "-m", "aiflow.runtime", "--job-id", "4"],
        env={"AIFLOW_JOB_TOKEN": "afj_secret", "A": "1"},
        log_path=Path("/tmp/x"),
        workdir=Path("/tmp"),
        overrides={"queue": "ml", "env": {"B": "2"}},
        workflow_name="wine",
    )
    settings = YarnSettings(python="/opt/env/bin/python")
    context = submission.context(
        launch,
        settings,
        app_id="application_1_5",
        am_jar={},
        log_url="hdfs://nn/l",
        python_archive=None,
    )
    assert context["application-name"] == "wine/train#9"
    assert context["queue"] == "ml" and context["max-app-attempts"] == 1
    assert context["application-tags"]["tag"] == [
        "aiflow",
        "aiflow-execution-9",
        "aiflow-job-4",
        "aiflow-attempt-2",
    ]
    spec = context["am-container-spec"]
    command = spec["commands"]["command"]
    assert "afj_secret" not in str(spec["environment"]) and "afj_secret" not in command
    (secret,) = spec["credentials"]["secrets"]["entry"]
    assert secret["key"] == "aiflow.env.AIFLOW_JOB_TOKEN"
    assert base64.b64decode(secret["value"]) == b"afj_secret"
    words = command.split()
    argv = base64.b64decode(words[words.index("--argv") + 1]).decode().split("\0")
    assert argv == ["/opt/env/bin/python", "-m", "aiflow.runtime", "--job-id", "4"]
    env = base64.b64decode(words[words.index("--env") + 1]).decode().split("\0")
    assert {"A=1", "B=2", "AIFLOW__FLINK__REST_URL=http://flink:8081"} <= set(env)
    assert not any(v.startswith(("AIFLOW_JOB_TOKEN", "AIFLOW__YARN__")) for v in env)


def test_a_command_is_required() -> None:
    launch = JobLaunch(1, 1, "x", 1, [], {}, Path("/tmp/x"), Path("/tmp"))
    with pytest.raises(DeploymentError, match="empty command"):
        submission.context(
            launch, YarnSettings(), app_id="a", am_jar={}, log_url="l", python_archive=None
        )


def test_the_node_managers_framing_is_removed() -> None:
    body = (
        b"Container: container_1_0001_01_000001 on host:1\nLogAggregationType: LOCAL\n===\n"
        b"LogType:job.log\nLogLastModifiedTime:Sun\nLogLength:12\nLogContents:\nline 1\nline2\n"
        b"End of LogType:job.log.This log file belongs to a running container\n"
    )
    assert logs._contents(body) == b"line 1\nline2"
    assert logs._contents(b"<html>not a log</html>") is None
    assert logs.app_of("yarn://application_12_0034") == "application_12_0034"
    assert logs.app_of("yarn://../etc/passwd") is None
    assert logs.app_of("kubernetes://ns/job") is None
