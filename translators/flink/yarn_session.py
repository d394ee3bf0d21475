"""A Flink session cluster as a YARN application: ``aiflow flink start --yarn``.

Flink's own YARN support starts it: the ``apache-flink`` wheel's ``bin/yarn-session.sh -d``
(``FlinkYarnSessionCli`` and ``YarnClusterDescriptor`` in ``flink-dist``), run with the Hadoop
client jars of ``$HADOOP_CLASSPATH`` and the cluster's ``$HADOOP_CONF_DIR``, against a private
conf and lib tree under ``$AIFLOW_HOME/flink/yarn/`` (``clusterconf.link_tree``). YARN then runs
the JobManager as the application's master, and Flink asks YARN for TaskManager containers as
jobs need slots (and gives them back when idle).

What aiflow's Flink jobs get from it: ``rest_url``, the JobManager's own REST address (the
application's ``amRPCAddress`` in the ResourceManager's report; jobs are submitted there, as to
any session cluster), and ``web_ui_url``, the ResourceManager's proxy for the application, the
address a user can reach (``aiflow job show`` links each Flink job's page under it).

Why a session and not YARN application mode: application mode runs the job's Python ``main`` in
the JobManager container, so the job's credential would have to reach it through Flink's
``containerized.master.env.*``, which the NodeManager writes in clear into the container's
launch script, and every job would pay a JobManager start (~20 s here). A session is started
once; each job is submitted to it from the job's own container (``[yarn]`` deployer) or process,
in about a second, and keeps aiflow's per-attempt retries, logs and credentials.

State: ``flink/yarn-session.json`` (application id, ResourceManager, URLs). The application is
also tagged ``aiflow-flink-session`` and ``aiflow-flink-home-<hash of AIFLOW_HOME>``, so a
session whose state file was lost is still found (and not started twice) and can be stopped.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
import time
from contextlib import closing
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from aiflow.config import aiflow_home
from aiflow.errors import FlinkUnavailable, InvalidInput
from aiflow.hadoop.conf import Cluster
from aiflow.hadoop.rm import LIVE_STATES, ResourceManager, tags_of
from aiflow.translators.flink import clusterconf
from aiflow.translators.flink.settings import FlinkSettings, flink_settings
from aiflow.translators.flink.tableenv import find_java_home, pyflink_home

SESSION_TAG = "aiflow-flink-session"
APPLICATION_TYPE = "Apache Flink"  # what YarnClusterDescriptor submits as
_SUBMITTED = re.compile(r"Submitted application (application_\d+_\d+)")


@dataclass(frozen=True)
class YarnSessionInfo:
    """A running session: what ``start`` returns and ``status`` reports."""

    application_id: str
    rest_url: str
    web_ui_url: str
    resource_manager: str
    already_running: bool = False
    seconds: float = 0.0  # start to ready (0 when it was already running)
    state: str = "RUNNING"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class FlinkYarnSession:
    """The Flink session of one ``AIFLOW_HOME`` on one YARN cluster.

    ``cluster`` has the ResourceManager's REST address; ``conf_dir`` is the Hadoop
    configuration Flink's YARN client reads (it talks to the RM over RPC, not REST);
    ``python`` is the interpreter on the nodes (Flink's Python workers run it); ``queue`` and
    ``user`` are the application's YARN queue and user; ``hadoop_classpath`` the Hadoop client
    jars for Flink's YARN client (default ``$HADOOP_CLASSPATH``, as Flink's own scripts)."""

    def __init__(
        self,
        cluster: Cluster,
        conf_dir: Path | None,
        *,
        user: str,
        queue: str = "default",
        python: str | None = None,
        home: Path | None = None,
        settings: FlinkSettings | None = None,
        hadoop_classpath: str | None = None,
    ) -> None:
        base = (Path(home) if home else aiflow_home()).expanduser().resolve()
        self.root = base / "flink" / "yarn"
        self.state_file = base / "flink" / "yarn-session.json"
        self.home_tag = "aiflow-flink-home-" + hashlib.sha256(str(base).encode()).hexdigest()[:12]
        self.cluster = cluster
        self.conf_dir = conf_dir
        self.user = user
        self.queue = queue
        self.python = python or sys.executable
        self.settings = settings or flink_settings()
        self.hadoop_classpath = hadoop_classpath or os.environ.get("HADOOP_CLASSPATH", "")

    # -- public ------------------------------------------------------------------------------

    def start(self, timeout: float = 180.0) -> YarnSessionInfo:
        """Start the session and wait until its REST API answers; idempotent (a live session
        of this home is returned). On a failure or a timeout the application is killed again
        and the error carries the end of Flink's client log."""
        with clusterconf.locked(self.root.parent / "yarn-session.lock", timeout + 60):
            with self._rm() as rm:
                found = self._find(rm)
                if found is not None:
                    return self._wait_rest(rm, found, time.monotonic() + timeout, True, 0.0)
            env = self._client_env()
            self._prepare()
            began = time.monotonic()
            log = self.root / "log" / "yarn-session-client.log"
            app_id = self._run_client(env, log, timeout)
            try:
                with self._rm() as rm:
                    info = self._wait_rest(rm, app_id, began + timeout, False, began)
            except BaseException:
                self._kill(app_id)
                raise
            self._write_state(info)
            return info

    def status(self) -> YarnSessionInfo | None:
        """The live session of this home, from the ResourceManager; None when there is none."""
        with self._rm() as rm:
            app_id = self._find(rm)
            if app_id is None:
                return None
            report = rm.app(app_id) or {}
            return self._info(app_id, report, already_running=True)

    def stop(self, timeout: float = 60.0) -> str | None:
        """Kill the session's application (its jobs go down with it) and wait until YARN says
        it ended; returns its id, or None when none was running."""
        with clusterconf.locked(self.root.parent / "yarn-session.lock", timeout + 30):
            with self._rm() as rm:
                app_id = self._find(rm)
            if app_id is not None:
                self._kill(app_id, timeout)
            self.state_file.unlink(missing_ok=True)
            return app_id

    # -- start-up ------------------------------------------------------------------------------

    def _client_env(self) -> dict[str, str]:
        """``yarn-session.sh``'s environment; refuses to start without the two things Flink's
        YARN client cannot work without, naming them."""
        if self.conf_dir is None:
            raise InvalidInput(
                "a Flink session on YARN needs the Hadoop configuration (Flink's YARN client "
                "reads yarn-site.xml): set HADOOP_CONF_DIR or AIFLOW__YARN__HADOOP_CONF_DIR"
            )
        if not self.hadoop_classpath:
            raise InvalidInput(
                "a Flink session on YARN needs Hadoop's client jars: export "
                "HADOOP_CLASSPATH=$(hadoop classpath) (Flink ships no Hadoop)"
            )
        env = clusterconf.daemon_env(self.root, find_java_home(self.settings.java_home))
        env.update(
            HADOOP_CONF_DIR=str(self.conf_dir),
            HADOOP_CLASSPATH=self.hadoop_classpath,
            HADOOP_USER_NAME=self.user,
        )
        return env

    def _prepare(self) -> None:
        flink_home = pyflink_home()
        clusterconf.link_tree(self.root, flink_home)
        config = yarn_session_config(
            self.settings,
            flink_home,
            python=self.python,
            queue=self.queue,
            tags=["aiflow", SESSION_TAG, self.home_tag],
            properties_dir=self.root / "tmp",
        )
        (self.root / "conf" / "config.yaml").write_text(clusterconf.dump_yaml(config))

    def _run_client(self, env: dict[str, str], log: Path, timeout: float) -> str:
        """Run ``yarn-session.sh -d`` (it returns once the JobManager runs); the application
        id it submitted."""
        script = pyflink_home() / "bin" / "yarn-session.sh"
        with log.open("w") as out:
            proc = subprocess.Popen(
                ["bash", str(script), "-d"],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
            try:
                code = proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
                code = None
        text = log.read_text(errors="replace")
        match = _SUBMITTED.search(text)
        if code == 0 and match:
            return match.group(1)
        if match:
            self._kill(match.group(1))
        what = f"did not return within {timeout:.0f} s" if code is None else f"failed ({code})"
        raise FlinkUnavailable(
            f"starting a Flink session on YARN (ResourceManager {self.cluster.resource_manager}) "
            f"{what}; the end of {log}:\n{_tail(text)}"
        )

    def _wait_rest(
        self, rm: ResourceManager, app_id: str, deadline: float, already: bool, began: float
    ) -> YarnSessionInfo:
        from aiflow.translators.flink.rest import FlinkRest

        while True:
            report = rm.app(app_id) or {}
            state = str(report.get("state", "UNKNOWN"))
            if state not in LIVE_STATES:
                raise FlinkUnavailable(
                    f"the Flink session {app_id} is {state}: {report.get('diagnostics', '')}"
                )
            if state == "RUNNING" and report.get("amRPCAddress"):
                info = self._info(app_id, report, already_running=already)
                try:
                    FlinkRest(info.rest_url, timeout=2.0).overview()
                    seconds = 0.0 if already else round(time.monotonic() - began, 1)
                    return YarnSessionInfo(**{**info.to_dict(), "seconds": seconds})
                except FlinkUnavailable:
                    pass  # the JobManager registered but is not listening yet
            if time.monotonic() > deadline:
                raise FlinkUnavailable(
                    f"the Flink session {app_id} did not answer on its REST API in time "
                    f"(YARN state {state})"
                )
            time.sleep(0.5)

    # -- the application -------------------------------------------------------------------------

    def _find(self, rm: ResourceManager) -> str | None:
        """This home's live session: the recorded one if YARN still runs it, else one found
        by this home's tag (the state file may be gone)."""
        state = self._read_state()
        recorded = state.get("application_id")
        if recorded:
            report = rm.app(str(recorded))
            if report and report.get("state") in LIVE_STATES:
                return str(recorded)
        for app in rm.apps_tagged(self.home_tag, APPLICATION_TYPE):
            if app.get("state") in LIVE_STATES and self.home_tag in tags_of(app):
                return str(app["id"])
        return None

    def _info(self, app_id: str, report: dict[str, Any], already_running: bool) -> YarnSessionInfo:
        return YarnSessionInfo(
            application_id=app_id,
            rest_url=f"http://{report.get('amRPCAddress', '')}",
            web_ui_url=f"{self.cluster.resource_manager}/proxy/{app_id}/",
            resource_manager=self.cluster.resource_manager,
            already_running=already_running,
            state=str(report.get("state", "UNKNOWN")),
        )

    def _kill(self, app_id: str, timeout: float = 30.0) -> None:
        with self._rm() as rm:
            rm.kill_and_wait(app_id, timeout)

    def _rm(self) -> closing[ResourceManager]:
        return closing(ResourceManager(self.cluster.resource_manager, self.user))

    def _read_state(self) -> dict[str, Any]:
        try:
            return dict(json.loads(self.state_file.read_text()))
        except (OSError, ValueError):
            return {}

    def _write_state(self, info: YarnSessionInfo) -> None:
        data = {k: v for k, v in info.to_dict().items() if k not in ("already_running", "seconds")}
        tmp = self.state_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(data, indent=2) + "\n")
        tmp.replace(self.state_file)


def yarn_session_config(
    settings: FlinkSettings,
    flink_home: Path,
    *,
    python: str,
    queue: str,
    tags: list[str],
    properties_dir: Path,
) -> dict[str, Any]:
    """The session's Flink options (flat; ``dump_yaml`` nests them). No addresses or ports: YARN
    decides where the JobManager runs and Flink binds free ports there."""
    config: dict[str, Any] = {
        "env.java.opts.all": clusterconf.shipped_java_opts(flink_home),
        "jobmanager.memory.process.size": settings.jobmanager_memory,
        "taskmanager.memory.process.size": settings.taskmanager_memory,
        "taskmanager.numberOfTaskSlots": settings.slots,
        "parallelism.default": settings.parallelism,
        "restart-strategy.type": "none",  # aiflow's driver owns retries (as in cluster_config)
        "web.submit.enable": False,
        "metrics.fetcher.update-interval": 2000,
        # Flink gives idle TaskManager containers back to YARN after this; the next job then
        # waits for a new container (~30 s measured, docs/benchmarks.md "Flink on YARN")
        "resourcemanager.taskmanager-timeout": f"{round(settings.taskmanager_idle_timeout)} s",
        "python.executable": python,  # on the nodes: the TaskManagers' Python workers
        "python.client.executable": python,
        "yarn.application.name": "aiflow-flink",
        "yarn.application.queue": queue,
        "yarn.tags": ",".join(tags),
        # where yarn-session.sh notes the last application: ours, not /tmp for every user
        "yarn.properties-file.location": str(properties_dir),
    }
    if settings.checkpoints_dir:
        config["execution.checkpointing.dir"] = settings.checkpoints_dir
    return config


def _tail(text: str, lines: int = 30) -> str:
    return "\n".join(line[:300] for line in text.splitlines()[-lines:])
