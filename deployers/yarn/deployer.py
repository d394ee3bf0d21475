"""``YarnDeployer``: each job attempt a YARN application whose ApplicationMaster runs the job.

Submitting is: stage the AM jar on HDFS once per cluster and source version (``am``), ask the
ResourceManager for an application id, submit (``submission``). The handle records the id;
``poll`` reads the application's report (answering from memory once it ended), ``stop`` kills
the application and waits until the ResourceManager says it is over, ``logs`` reads the
NodeManager or the HDFS copy (``logs``), and ``find_attempts`` lists an execution's
applications by tag for whoever reconciles after a crash.

Handle: ``{"application", "resource_manager", "attempt", "log_uri"}``.
"""

from __future__ import annotations

import getpass
import re
import threading
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from aiflow.deployers.base import Deployer, Handle, JobLaunch, JobState, describe_exit
from aiflow.deployers.remote import refuse_store_password
from aiflow.errors import DeploymentError
from aiflow.hadoop import conf as hadoop_conf
from aiflow.hadoop.rm import LIVE_STATES, ResourceManager, tags_of

from . import am, logs, submission
from .settings import YarnSettings
from .staging import Staging

if TYPE_CHECKING:
    from aiflow.config import Settings

_STOP_SLACK = 15.0  # s past the grace for the ResourceManager to report the kill done
_REPOLL = 0.25  # s: a running attempt's report is read at most this often
_EXIT_CODE = re.compile(r"aiflow exit code: (-?\d+)")


class YarnDeployer(Deployer):
    """Job attempts as YARN applications on the cluster ``[yarn]`` (or HADOOP_CONF_DIR) names."""

    name = "yarn"
    supports_follow_logs = True

    def __init__(self, settings: Settings | None = None) -> None:
        super().__init__(settings)
        self._lock = threading.Lock()
        self._rm: ResourceManager | None = None
        self._staging: Staging | None = None
        self._am_jar: dict[str, Any] | None = None
        self._final: dict[str, JobState] = {}
        self._seen: dict[str, tuple[float, JobState]] = {}

    @property
    def config(self) -> YarnSettings:
        return self.settings.section("yarn", YarnSettings)

    # -- Deployer API -----------------------------------------------------------------------

    def check_overrides(self, overrides: dict[str, Any], where: str) -> None:
        submission.check_overrides(overrides, where)

    def submit(self, launch: JobLaunch) -> Handle:
        refuse_store_password(launch, self.name)
        config = self.config
        rm, staging = self._clients()
        am_jar = self._am_resource(staging)
        archive = None
        if config.python_archive:
            archive = {**staging.resource(_path_of(config.python_archive)), "type": "ARCHIVE"}
        app_id = rm.new_application()
        context = submission.context(
            launch,
            config,
            app_id=app_id,
            am_jar=am_jar,
            log_url=staging.url(logs.hdfs_path(staging, app_id)),
            python_archive=archive,
        )
        try:
            rm.submit(context)
        except DeploymentError as exc:
            asked = context["resource"]
            raise DeploymentError(
                f"{exc.message} (job '{launch.job_name}' asked for {asked['memory']} MB and "
                f"{asked['vCores']} vcores in queue '{context['queue']}')"
            ) from None
        return {
            "application": app_id,
            "resource_manager": rm.url,
            "attempt": launch.attempt,
            "log_uri": logs.log_uri(app_id),
        }

    def poll(self, handle: Handle) -> JobState:
        app_id = _app_id(handle)
        if app_id in self._final:
            return self._final[app_id]
        seen = self._seen.get(app_id)
        if seen is not None and time.monotonic() - seen[0] < _REPOLL:
            return seen[1]
        rm, _ = self._clients()
        state = assess(app_id, rm.app(app_id))
        if state.running:
            self._seen[app_id] = (time.monotonic(), state)
        else:
            self._final[app_id] = state
            self._seen.pop(app_id, None)
        return state

    def stop(self, handle: Handle, grace: float) -> None:
        app_id = _app_id(handle)
        rm, _ = self._clients()
        report = rm.kill_and_wait(app_id, max(grace, 0.0) + _STOP_SLACK)
        self._final.setdefault(app_id, assess(app_id, report))  # a known end stays the truth
        self._seen.pop(app_id, None)

    def logs(
        self,
        handle_or_log_uri: Handle | str,
        *,
        follow: bool = False,
        tail: int | None = None,
        offset: int | None = None,
        until: Callable[[], bool] | None = None,
    ) -> Iterator[str]:
        self.refuse_offset(offset)
        if isinstance(handle_or_log_uri, dict):
            app_id = handle_or_log_uri.get("application")
        else:
            app_id = logs.app_of(handle_or_log_uri)
        if not isinstance(app_id, str) or not logs.is_app_id(app_id):
            raise logs.missing()
        rm, staging = self._clients()
        if follow:
            attempt = {"application": app_id}
            return logs.follow(
                staging,
                app_id,
                tail=tail,
                until=until,
                ended=lambda: not self.poll(attempt).running,
            )
        return iter(logs.read(staging, app_id, rm.app(app_id), tail))

    # -- beyond the interface -----------------------------------------------------------------

    def find_attempts(self, execution_id: int) -> list[Handle]:
        """Handles of every application of execution ``execution_id``, found by tag (what a
        reconciler needs to stop attempts a dead driver started but had not recorded)."""
        rm, _ = self._clients()
        tag = f"{submission.TAG_EXECUTION}{execution_id}"
        handles = []
        for app in rm.apps_tagged(tag, self.config.application_type):
            tags = tags_of(app)
            handles.append(
                {
                    "application": app["id"],
                    "resource_manager": rm.url,
                    "job_id": _tag_number(tags, submission.TAG_JOB),
                    "attempt": _tag_number(tags, submission.TAG_ATTEMPT),
                    "log_uri": logs.log_uri(app["id"]),
                }
            )
        return handles

    def close(self) -> None:
        if self._rm is not None:
            self._rm.close()

    # -- helpers ------------------------------------------------------------------------------

    def _clients(self) -> tuple[ResourceManager, Staging]:
        with self._lock:
            if self._rm is None or self._staging is None:
                config = self.config
                cluster = hadoop_conf.resolve(config)
                user = config.user or getpass.getuser()
                self._rm = ResourceManager(cluster.resource_manager, user, config.request_timeout)
                self._staging = Staging(cluster, config.staging_dir, user)
            return self._rm, self._staging

    def _am_resource(self, staging: Staging) -> dict[str, Any]:
        if self._am_jar is None:
            configured = self.config.am_jar
            if configured:
                self._am_jar = staging.resource(_path_of(configured))
            else:
                jar = am.ensure_jar()
                path = staging.path("am", jar.name)
                staging.upload(jar, path)
                self._am_jar = staging.resource(path)
        return self._am_jar


def assess(app_id: str, report: dict[str, Any] | None) -> JobState:
    """An attempt's state from its application report (None: unknown to the RM)."""
    if report is None:
        return JobState(
            running=False,
            error=f"the ResourceManager does not know YARN application {app_id} (any more)",
        )
    state = str(report.get("state") or "")
    if state in LIVE_STATES:
        return JobState(running=True)
    final = str(report.get("finalStatus") or "")
    diagnostics = _readable(str(report.get("diagnostics") or ""))
    if final == "SUCCEEDED":
        return JobState(running=False, exit_code=0)
    match = _EXIT_CODE.search(diagnostics)
    if match:
        code = int(match.group(1))
        if 128 < code < 160:  # Java reports a child killed by signal N as 128 + N
            code = 128 - code
        return JobState(running=False, exit_code=code, error=describe_exit(code))
    if state == "KILLED":
        return JobState(running=False, error=f"its YARN application was killed: {diagnostics}")
    return JobState(
        running=False, error=f"YARN application {app_id} {state.lower()}: {diagnostics}"
    )


def _readable(diagnostics: str, limit: int = 1500) -> str:
    """YARN's diagnostics without Java stack frames (the reason stays, the trace goes)."""
    lines = [line for line in diagnostics.splitlines() if not line.lstrip().startswith("at ")]
    text = " ".join(line.strip() for line in lines if line.strip())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _app_id(handle: Handle) -> str:
    app_id = handle.get("application")
    if not isinstance(app_id, str) or not logs.is_app_id(app_id):
        raise DeploymentError(f"not a yarn deployer handle: {handle!r}")
    return app_id


def _tag_number(tags: set[str], prefix: str) -> int:
    for tag in tags:
        if tag.startswith(prefix) and tag[len(prefix) :].isdigit():
            return int(tag[len(prefix) :])
    return 0


def _path_of(url: str) -> str:
    """The path part of an ``hdfs://`` URL (or a plain path on the default file system)."""
    return urlsplit(url).path
