"""The shipped wine example end to end with ``--deployer yarn``, through the real CLI.

Each job attempt becomes a YARN application on the test Hadoop cluster (``hadoop``), whose
ApplicationMaster runs the job's command in its container on a NodeManager, a local process:
so these runs produce the example's real outputs, and the logs read back are the job's real
output, read by the deployer from the NodeManager or HDFS. What is checked here is what a user
and a cluster administrator see: outputs, model versions, ``aiflow job logs``, the applications
the ResourceManager lists by tag, and that a job's credential (the meta store URL of a plain
run, the job token under a server) is in no report and in no launch script the NodeManager
writes to disk, only in the container's credentials file. Lifecycle (stop, retries, kills,
a lost node, following a log) is in test_e2e_lifecycle.py.
"""

from __future__ import annotations

import base64
import json
import os
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e import conftest as e2e
from tests.e2e.conftest import Cli
from tests.k8s.test_e2e_wine import assert_wine_outputs, assert_wine_run
from tests.services import wait_for
from tests.yarn.cluster import HadoopCluster, NodeManager
from tests.yarn.fixtures import use_cluster

pytestmark = pytest.mark.slow
wine = e2e.wine  # a private copy of examples/wine with its data prepared (a fixture)

TAG_EXECUTION, TAG_JOB, TAG_ATTEMPT = "aiflow-execution-", "aiflow-job-", "aiflow-attempt-"
_APP_IN_PATH = re.compile(r"(application_\d+_\d+)")


@dataclass
class Yarn:
    """The test cluster under this test's own application type, and an administrator's view
    of it through the ResourceManager's REST API, to check what the deployer left there
    (never to drive it)."""

    cluster: HadoopCluster
    app_type: str
    settings: dict[str, str]  # the AIFLOW__YARN__* a CLI process gets

    def apps(self, execution: int, job: int | None = None) -> list[dict[str, Any]]:
        """The execution's applications (of one job, if given), found by tag as an operator
        would, oldest first. The tag filter matches any tag case-insensitively: checked."""
        answer = self.cluster.rm_get(
            f"/ws/v1/cluster/apps?applicationTags={TAG_EXECUTION}{execution}"
            f"&applicationTypes={self.app_type}"
        )
        found = [
            app
            for app in (answer.get("apps") or {}).get("app") or []
            if f"{TAG_EXECUTION}{execution}" in tags(app)
            and (job is None or f"{TAG_JOB}{job}" in tags(app))
        ]
        return sorted(found, key=lambda app: (app["startedTime"], app["id"]))

    def app(self, app_id: str) -> dict[str, Any]:
        return dict(self.cluster.rm_get(f"/ws/v1/cluster/apps/{app_id}")["app"])

    def wait_apps_ended(self, execution: int, count: int) -> list[dict[str, Any]]:
        """The execution's ``count`` applications once all have ended. The deployer may see
        an application's end a moment before the RM's report says FINISHED, hence the wait."""

        def ended() -> bool:
            found = self.apps(execution)
            return len(found) == count and all(a["state"] not in RUNNING_STATES for a in found)

        wait_for(ended, 30, f"{count} ended YARN applications of execution {execution}")
        return self.apps(execution)

    def node_of(self, report: dict[str, Any]) -> NodeManager:
        """The NodeManager running (or that ran) an application's AM container."""
        address = f"http://{report['amHostHttpAddress']}"
        return next(n for n in self.cluster.node_managers if n.http == address)


RUNNING_STATES = {"NEW", "NEW_SAVING", "SUBMITTED", "ACCEPTED", "RUNNING"}


def tags(app: dict[str, Any]) -> set[str]:
    return {tag.strip() for tag in str(app.get("applicationTags") or "").split(",") if tag}


def tag_number(app: dict[str, Any], prefix: str) -> int:
    (number,) = [int(t[len(prefix) :]) for t in tags(app) if t.startswith(prefix)]
    return number


def yarn_on(cluster: HadoopCluster, monkeypatch: pytest.MonkeyPatch) -> Yarn:
    """``cluster`` under an application type of this test's own. The CLI's commands get the
    ``AIFLOW__YARN__*`` settings explicitly (``Cli`` passes on no ``AIFLOW__*`` variable of
    this process); ``HADOOP_CONF_DIR`` they inherit."""
    app_type = use_cluster(monkeypatch, cluster)
    settings = {k: v for k, v in os.environ.items() if k.startswith("AIFLOW__YARN__")}
    return Yarn(cluster, app_type, settings)


@pytest.fixture
def yarn(hadoop: HadoopCluster, monkeypatch: pytest.MonkeyPatch) -> Yarn:
    return yarn_on(hadoop, monkeypatch)


@pytest.fixture
def ycli(aiflow_home: Path, tmp_path: Path, yarn: Yarn) -> Cli:
    """The CLI with the deployer configured through the environment, as a user would."""
    return Cli(aiflow_home, tmp_path, dict(yarn.settings))


def run_on_yarn(
    cli: Cli, workflow: Path, *args: str, server: str | None = None, timeout: float = 180
) -> Any:
    """``aiflow [--server URL] run WORKFLOW --deployer yarn ARGS --json``'s summary."""
    remote = ["--server", server] if server else []
    command = [*remote, "run", str(workflow), "--deployer", "yarn", *args, "--json"]
    return json.loads(cli.run(*command, timeout=timeout).stdout)


def assert_wine_applications(
    yarn: Yarn, summary: dict[str, Any], jobs: list[dict[str, Any]]
) -> None:
    """One finished, succeeded application per aiflow job (one attempt each), named
    ``<workflow>/<job>#<execution>``, tagged with its execution, job and attempt, of the
    configured type, and recorded as the job's log."""
    execution = summary["execution"]
    apps = yarn.wait_apps_ended(execution, len(jobs))
    by_job = {tag_number(app, TAG_JOB): app for app in apps}
    assert sorted(by_job) == sorted(j["id"] for j in jobs), [a["name"] for a in apps]
    for job in jobs:
        app = by_job[job["id"]]
        assert app["name"] == f"{summary['workflow']}/{job['name']}#{execution}"
        assert app["name"].startswith("wine")
        assert app["applicationType"] == yarn.app_type
        assert (app["state"], app["finalStatus"]) == ("FINISHED", "SUCCEEDED"), app
        assert tag_number(app, TAG_ATTEMPT) == 1
        assert "aiflow" in tags(app)
        assert job["log_uri"] == f"yarn://{app['id']}"


# -- what a NodeManager writes to disk -----------------------------------------------------------


class ContainerFiles:
    """Copies of the files a NodeManager writes for each container (``launch_container.sh``,
    the command and environment it runs; ``container_tokens``, the credentials), taken while
    the containers run: the NodeManager deletes an application's directories when it ends."""

    NAMES = ("launch_container.sh", "container_tokens")

    def __init__(self, base_dir: Path) -> None:
        self.base_dir = base_dir
        self.files: dict[Path, bytes] = {}
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._scan, daemon=True)

    def _scan(self) -> None:
        while not self._done.is_set():
            for name in self.NAMES:
                for path in self.base_dir.glob(f"nm-*/local/**/{name}"):
                    try:
                        data = path.read_bytes()
                    except OSError:  # deleted between the listing and the read
                        continue
                    if data:
                        self.files[path] = data
            self._done.wait(0.1)

    def of(self, app_id: str, name: str) -> list[bytes]:
        """Every copy of file ``name`` of application ``app_id`` (the container's directory
        and the NodeManager's private one hold one each)."""
        return [
            data
            for path, data in self.files.items()
            if path.name == name and app_id in _APP_IN_PATH.findall(str(path))
        ]

    @contextmanager
    def watching(self) -> Iterator[ContainerFiles]:
        self._thread.start()
        try:
            yield self
        finally:
            self._done.set()
            self._thread.join()


def assert_secret_only_in_credentials(
    yarn: Yarn, files: ContainerFiles, app_id: str, name: str, value: str
) -> None:
    """The job's credential ``name`` (its ``value``) is in the container's credentials file
    and nowhere in the launch script, its arguments decoded, or the application's report."""
    scripts = files.of(app_id, "launch_container.sh")
    credentials = files.of(app_id, "container_tokens")
    assert scripts and credentials, f"no launch script or credentials seen for {app_id}"
    assert any(value.encode() in data for data in credentials)
    for script in scripts:
        assert value.encode() not in script
        assert b"JobMaster" in script  # the AM's command is in it: the right file
        packed_args = re.findall(rb"--(?:env|argv) (\S+)", script)
        assert len(packed_args) == 2, script  # the job's argv and variables, base64
        for packed in packed_args:
            decoded = base64.b64decode(packed)
            assert value.encode() not in decoded
            assert f"{name}=".encode() not in decoded
    assert value not in json.dumps(yarn.app(app_id))


# -- batch on the local engine --------------------------------------------------------------------


def test_wine_batch_runs_as_yarn_applications(
    ycli: Cli, wine: Path, yarn: Yarn, aiflow_home: Path
) -> None:
    with ContainerFiles(yarn.cluster.base_dir).watching() as files:
        summary = run_on_yarn(ycli, wine)
    execution = assert_wine_run(ycli, summary, wine, "yarn")

    jobs = ycli.json("job", "list", str(execution))
    assert_wine_applications(yarn, summary, jobs)

    # The log is the deployer's (the AM's copy on HDFS), nothing written by the driver.
    train = next(j for j in jobs if j["name"] == "train_wine_sgd")
    logs = ycli.run("job", "logs", str(train["id"])).stdout
    assert "job train_wine_sgd done" in logs
    assert not (ycli.home / "logs" / str(execution) / "train_wine_sgd").exists()
    tail = ycli.run("job", "logs", str(train["id"]), "--tail", "1").stdout
    assert tail.count("\n") == 1 and logs.endswith(tail)

    # A plain run's jobs get the meta store's URL: a credential, given as one.
    store_uri = f"sqlite:///{aiflow_home / 'aiflow.db'}"
    for job in jobs:
        app_id = job["log_uri"].removeprefix("yarn://")
        assert_secret_only_in_credentials(yarn, files, app_id, "AIFLOW__METASTORE__URI", store_uri)


# -- under an aiflow server -----------------------------------------------------------------------


def test_wine_under_a_server_gives_the_am_a_job_token_through_yarn_credentials(
    tmp_path: Path, wine: Path, yarn: Yarn
) -> None:
    """``aiflow --server URL run --deployer yarn``: the server's driver gives each attempt a
    job token and the job API's URL, never the meta store's; the token reaches the job through
    the application's credentials (never its launch script or report), and dies with the
    attempt."""
    from aiflow.translators.job_store import NO_DIRECT_STORE
    from tests.server.conftest import create_role_tokens, running_server, server_env

    home = tmp_path / "server"
    home.mkdir()
    store_uri = f"sqlite:///{home / 'aiflow.db'}"
    tokens = create_role_tokens(store_uri)
    server = server_env(home, store_uri, **yarn.settings)
    with running_server(server, log=home / "server.log") as url:
        client = Cli(
            tmp_path / "client-home", tmp_path, {"AIFLOW__CLIENT__TOKEN": tokens["editor"]}
        )
        with ContainerFiles(yarn.cluster.base_dir).watching() as files:
            summary = run_on_yarn(client, wine, server=url, timeout=240)
        assert_wine_outputs(summary, wine)
        execution = summary["execution"]
        jobs = client.json("--server", url, "job", "list", str(execution))
        assert_wine_applications(yarn, summary, jobs)

        train = next(j for j in jobs if j["name"] == "train_wine_sgd")
        logs = client.run("--server", url, "job", "logs", str(train["id"])).stdout
        assert "job train_wine_sgd done" in logs  # read by the server's deployer

        for job in jobs:
            app_id = job["log_uri"].removeprefix("yarn://")
            credentials = b"".join(files.of(app_id, "container_tokens"))
            found = set(re.findall(rb"afj_[A-Za-z0-9_\-]+", credentials))
            assert len(found) == 1, f"one job token in {app_id}'s credentials: {found}"
            token = found.pop().decode()
            assert_secret_only_in_credentials(yarn, files, app_id, "AIFLOW_JOB_TOKEN", token)
            assert store_uri.encode() not in b"".join(files.of(app_id, "launch_container.sh"))
            assert NO_DIRECT_STORE.encode() in credentials  # the store's marker, not its URL
            assert store_uri.encode() not in credentials
            revoked = httpx.get(
                f"{url}/api/v1/job-api/jobs/{job['id']}",
                headers={"Authorization": f"Bearer {token}"},
                timeout=10,
            )
            assert revoked.status_code == 401, revoked.text  # ended with its attempt
