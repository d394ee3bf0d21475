"""One attempt as a YARN application: its name, tags, resources and the AM's command.

The application's single container is the ApplicationMaster (``am/JobMaster.java``), which
runs the job's command as its child: ``max-app-attempts`` is 1 because retries belong to the
driver (as on the local and Kubernetes deployers), so a lost node or a crash fails the attempt
and the driver starts a new application.

What travels how: the job's argv and its non-secret variables go to the AM as base64 arguments
(the NodeManager's launch script quotes nothing, so ``"`` or ``$`` in a value would break it);
credentials (the job token, a meta store URL) go into the application's *credentials*
(``secrets``), which YARN hands only to the container, never writes in its launch script and
never shows in reports; the AM turns ``aiflow.env.NAME`` secrets into the child's variables.
"""

from __future__ import annotations

import base64
import sys
from typing import Any

from aiflow.deployers.base import JobLaunch
from aiflow.deployers.remote import forwarded_settings, secret_values
from aiflow.errors import DeploymentError, InvalidInput
from aiflow.translators.job_store import without_credentials

from .settings import YarnSettings

SECRET_PREFIX = "aiflow.env."
TAG_EXECUTION = "aiflow-execution-"
TAG_JOB = "aiflow-job-"
TAG_ATTEMPT = "aiflow-attempt-"
ARCHIVE_NAME = "environment"
_DEFAULT_CLASSPATH = (
    "$HADOOP_CONF_DIR",
    "$HADOOP_COMMON_HOME/share/hadoop/common/*",
    "$HADOOP_COMMON_HOME/share/hadoop/common/lib/*",
    "$HADOOP_HDFS_HOME/share/hadoop/hdfs/*",
    "$HADOOP_HDFS_HOME/share/hadoop/hdfs/lib/*",
    "$HADOOP_YARN_HOME/share/hadoop/yarn/*",
    "$HADOOP_YARN_HOME/share/hadoop/yarn/lib/*",
)
_OPTIONS = {"queue": str, "memory": int, "vcores": int, "env": dict}


def check_overrides(options: dict[str, Any], where: str) -> None:
    """A node's ``deploy={"yarn": {...}}``: ``queue``, ``memory`` (MB), ``vcores``, ``env``."""
    for key, value in options.items():
        kind = _OPTIONS.get(key)
        if kind is None:
            raise InvalidInput(
                f"{where}: unknown yarn option '{key}'; valid: {', '.join(sorted(_OPTIONS))}"
            )
        if not isinstance(value, kind) or isinstance(value, bool):
            raise InvalidInput(f"{where}: yarn option '{key}' must be a {kind.__name__}")
        if isinstance(value, int) and value <= 0:
            raise InvalidInput(f"{where}: yarn option '{key}' must be positive, not {value}")
        if isinstance(value, dict) and not all(isinstance(v, str) for v in value.values()):
            raise InvalidInput(f"{where}: yarn option 'env' must map names to strings")


def application_name(launch: JobLaunch) -> str:
    """``<workflow>/<job>#<execution>``, as ``yarn application -list`` shows it."""
    workflow = launch.workflow_name or "aiflow"
    return f"{workflow}/{launch.job_name}#{launch.execution_id}"


def tags(launch: JobLaunch) -> list[str]:
    """How attempts are found again (``find_attempts``); YARN lowercases tags."""
    return [
        "aiflow",
        f"{TAG_EXECUTION}{launch.execution_id}",
        f"{TAG_JOB}{launch.job_id}",
        f"{TAG_ATTEMPT}{launch.attempt}",
    ]


def context(
    launch: JobLaunch,
    settings: YarnSettings,
    *,
    app_id: str,
    am_jar: dict[str, Any],
    log_url: str,
    python_archive: dict[str, Any] | None,
) -> dict[str, Any]:
    """The submission JSON of ``POST /ws/v1/cluster/apps`` (its documented field names)."""
    if not launch.command:
        raise DeploymentError(f"job '{launch.job_name}': empty command")
    options = launch.overrides
    if options:
        check_overrides(options, f"job '{launch.job_name}'")
    secrets = secret_values(launch)
    public = {
        **forwarded_settings("yarn"),
        **without_credentials(launch.env),
        **options.get("env", {}),
    }
    arguments = ["--log", log_url, "--argv", _pack(command(launch, settings))]
    if public:
        arguments += ["--env", _pack([f"{key}={value}" for key, value in sorted(public.items())])]
    classpath = "<CPS>".join(
        ["{{PWD}}/" + "aiflow-am.jar", *(settings.application_classpath or _DEFAULT_CLASSPATH)]
    )
    am_command = " ".join(
        [
            "{{JAVA_HOME}}/bin/java",
            settings.am_java_options,
            "JobMaster",
            *arguments,
            "1><LOG_DIR>/am.stdout",
            "2><LOG_DIR>/am.stderr",
        ]
    )
    resources = {"aiflow-am.jar": am_jar}
    if python_archive is not None:
        resources[ARCHIVE_NAME] = python_archive
    spec: dict[str, Any] = {
        "local-resources": {"entry": _entries(resources)},
        "environment": {"entry": _entries({"CLASSPATH": classpath})},
        "commands": {"command": am_command},
    }
    if secrets:
        encoded = {
            SECRET_PREFIX + key: base64.b64encode(value.encode()).decode()
            for key, value in secrets.items()
        }
        spec["credentials"] = {"tokens": {}, "secrets": {"entry": _entries(encoded)}}
    return {
        "application-id": app_id,
        "application-name": application_name(launch),
        "application-type": settings.application_type,
        "application-tags": {"tag": tags(launch)},
        "queue": options.get("queue", settings.queue),
        "am-container-spec": spec,
        "unmanaged-AM": False,
        "max-app-attempts": 1,
        "keep-containers-across-application-attempts": False,
        "resource": {
            "memory": options.get("memory", settings.memory),
            "vCores": options.get("vcores", settings.vcores),
        },
    }


def command(launch: JobLaunch, settings: YarnSettings) -> list[str]:
    """The job's argv on the node: the driver's own interpreter means the configured one."""
    argv = list(launch.command)
    if argv[0] == sys.executable:
        if settings.python:
            argv[0] = settings.python
        elif settings.python_archive:
            argv[0] = f"{ARCHIVE_NAME}/bin/python"
    return argv


def _pack(values: list[str]) -> str:
    return base64.b64encode("\0".join(values).encode()).decode()


def _entries(mapping: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"key": key, "value": value} for key, value in mapping.items()]
