"""YarnDeployer against the test Hadoop cluster (``hadoop``): what the ResourceManager, the
NodeManagers and HDFS make of its applications. The shared contract (exit codes, stop, logs,
retries, reconciliation through the driver) is tests/contracts/test_deployer_contract.py; the
CLI end to end is tests/yarn/; this file is what only YARN has, and its bad input.
"""

from __future__ import annotations

import socket
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from aiflow.config import reset_settings
from aiflow.deployers.base import Handle, JobLaunch, JobState
from aiflow.deployers.yarn import YarnDeployer
from aiflow.errors import DeploymentError, InvalidInput, NotFound
from tests.services import free_port, wait_for
from tests.yarn.cluster import HadoopCluster
from tests.yarn.fixtures import use_cluster

TOKEN = "afj_not_in_any_launch_script"


class Tracked(YarnDeployer):
    """Remembers what it submitted, so that a failed test leaves nothing running."""

    def __init__(self) -> None:
        super().__init__()
        self.handles: list[Handle] = []

    def submit(self, launch: JobLaunch) -> Handle:
        handle = super().submit(launch)
        self.handles.append(handle)
        return handle


@pytest.fixture
def deployer(hadoop_nodes: HadoopCluster, monkeypatch: pytest.MonkeyPatch) -> Iterator[Tracked]:
    use_cluster(monkeypatch, hadoop_nodes)
    d = Tracked()
    yield d
    for handle in d.handles:
        d.stop(handle, grace=0)
    d.close()


def launch(tmp_path: Path, code: str, **changes: object) -> JobLaunch:
    fields: dict[str, object] = {
        "job_id": 7,
        "execution_id": 3,
        "job_name": "train",
        "attempt": 1,
        "command": [sys.executable, "-c", code],
        "env": {"AIFLOW_JOB_TOKEN": TOKEN, "PLAIN": 'a "quoted" $value'},
        "log_path": tmp_path / "job.log",
        "workdir": tmp_path,
        "workflow_name": "wine",
    }
    fields.update(changes)
    return JobLaunch(**fields)


def wait_done(d: YarnDeployer, handle: Handle, timeout: float = 90) -> JobState:
    wait_for(lambda: not d.poll(handle).running, timeout=timeout, what="the attempt to end")
    return d.poll(handle)


def test_an_attempt_is_a_named_tagged_application_and_its_secrets_stay_secret(
    deployer: Tracked, hadoop_nodes: HadoopCluster, tmp_path: Path
) -> None:
    code = f"import os; print(os.environ['AIFLOW_JOB_TOKEN'] == {TOKEN!r}, os.environ['PLAIN'])"
    handle = deployer.submit(launch(tmp_path, code))
    state = wait_done(deployer, handle)
    assert (state.running, state.exit_code, state.error) == (False, 0, None)
    assert list(deployer.logs(handle)) == ['True a "quoted" $value']
    app = hadoop_nodes.rm_get(f"/ws/v1/cluster/apps/{handle['application']}")["app"]
    assert app["name"] == "wine/train#3"
    assert app["applicationType"] == deployer.config.application_type
    assert set(app["applicationTags"].split(",")) == {
        "aiflow",
        "aiflow-execution-3",
        "aiflow-job-7",
        "aiflow-attempt-1",
    }
    outcome = (app["state"], app["finalStatus"], app["queue"])
    assert outcome == ("FINISHED", "SUCCEEDED", "root.default")
    assert TOKEN not in str(app)
    app_path = f"/ws/v1/cluster/apps/{handle['application']}"
    wait_for(  # the report may show the container a moment after FINISHED (seen in CI)
        lambda: hadoop_nodes.rm_get(app_path)["app"]["allocatedMB"] in (-1, 0),
        timeout=30,
        what="the finished application's container to be released",
    )
    # The NodeManager writes every container's launch script to disk: the token is not in it.
    number = handle["application"].removeprefix("application_")
    scripts = list(hadoop_nodes.base_dir.rglob(f"*{number}*/launch_container.sh"))
    assert scripts, "the container's launch script was not found"
    assert all(TOKEN not in script.read_text() for script in scripts)
    assert all('"quoted"' not in script.read_text() for script in scripts)


def test_resources_and_queue_come_from_settings_and_the_node(
    deployer: Tracked, hadoop_nodes: HadoopCluster, tmp_path: Path
) -> None:
    job = launch(tmp_path, "import time; time.sleep(60)", overrides={"memory": 768, "vcores": 2})
    handle = deployer.submit(job)
    app_path = f"/ws/v1/cluster/apps/{handle['application']}"
    wait_for(
        lambda: hadoop_nodes.rm_get(app_path)["app"]["state"] == "RUNNING",
        timeout=60,
        what="the application to run",
    )
    app = hadoop_nodes.rm_get(app_path)["app"]
    assert (app["allocatedMB"], app["allocatedVCores"]) == (768, 2)
    deployer.stop(handle, grace=1)
    state = deployer.poll(handle)
    assert not state.running and "killed" in (state.error or "")


def test_an_unknown_queue_fails_with_the_resource_managers_reason(
    deployer: Tracked, tmp_path: Path
) -> None:
    job = launch(tmp_path, "print('never')", overrides={"queue": "no-such-queue"})
    try:
        handle = deployer.submit(job)
    except DeploymentError as exc:  # some schedulers refuse at once
        assert "no-such-queue" in exc.message
        return
    state = wait_done(deployer, handle, timeout=30)
    assert state.exit_code is None and "no-such-queue" in (state.error or "")


def test_a_too_large_request_is_refused_with_the_reason(deployer: Tracked, tmp_path: Path) -> None:
    with pytest.raises(DeploymentError) as caught:
        handle = deployer.submit(launch(tmp_path, "print('never')", overrides={"memory": 999999}))
        state = wait_done(deployer, handle, timeout=30)
        raise DeploymentError(state.error or "")  # refused after submission: same check
    message = caught.value.message
    assert "Requested more memory than configured max" in message
    assert "asked for 999999 MB and 1 vcores in queue 'default'" in message


def test_logs_come_from_the_node_manager_then_hdfs(deployer: Tracked, tmp_path: Path) -> None:
    code = "import time\nfor i in range(3): print('line', i, flush=True)\ntime.sleep(60)"
    handle = deployer.submit(launch(tmp_path, code))
    wait_for(lambda: len(list(deployer.logs(handle))) == 3, timeout=60, what="three lines, live")
    assert list(deployer.logs(handle, tail=1)) == ["line 2"]  # from the NodeManager
    followed = deployer.logs(handle, follow=True)  # from HDFS, as the job writes
    assert [next(followed) for _ in range(3)] == ["line 0", "line 1", "line 2"]
    deployer.stop(handle, grace=1)
    after = list(deployer.logs(handle["log_uri"]))  # a stored URI: read from HDFS now
    assert after[:3] == ["line 0", "line 1", "line 2"]
    with pytest.raises(NotFound):
        list(deployer.logs("yarn://application_1_1"))
    with pytest.raises(NotFound):
        list(deployer.logs("yarn://../../etc/passwd"))


def test_a_password_in_the_store_url_is_refused(deployer: Tracked, tmp_path: Path) -> None:
    env = {"AIFLOW__METASTORE__URI": "postgresql://aiflow:hunter2@db/aiflow"}
    with pytest.raises(DeploymentError, match="server") as caught:
        deployer.submit(launch(tmp_path, "print(1)", env=env))
    assert "hunter2" not in caught.value.message
    assert deployer.handles == []


def test_an_unreachable_resource_manager_is_named_within_seconds(
    hadoop: HadoopCluster, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    use_cluster(monkeypatch, hadoop)
    closed = f"http://127.0.0.1:{free_port()}"
    silent = socket.socket()  # accepts connections (the kernel's backlog), never answers
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    mute = f"http://127.0.0.1:{silent.getsockname()[1]}"
    try:
        for address, timeout in [(closed, "10"), (mute, "3")]:
            monkeypatch.setenv("AIFLOW__YARN__RESOURCE_MANAGER", address)
            monkeypatch.setenv("AIFLOW__YARN__REQUEST_TIMEOUT", timeout)
            reset_settings()
            d = YarnDeployer()
            started = time.monotonic()
            with pytest.raises(DeploymentError, match=f"ResourceManager at {address}"):
                d.submit(launch(tmp_path, "print('never')"))
            assert time.monotonic() - started < 10
            d.close()
    finally:
        silent.close()


def test_bad_overrides_are_named_at_submit(tmp_path: Path) -> None:
    d = YarnDeployer()
    for options, fault in [
        ({"memroy": 1}, "unknown yarn option 'memroy'"),
        ({"memory": "lots"}, "'memory' must be a int"),
        ({"vcores": 0}, "'vcores' must be positive"),
        ({"env": {"A": 1}}, "'env' must map names to strings"),
    ]:
        with pytest.raises(InvalidInput, match=fault) as caught:
            d.check_overrides(options, "node 'train'")
        assert "node 'train'" in caught.value.message


def test_the_resource_manager_address_comes_from_hadoop_conf(
    hadoop: HadoopCluster, monkeypatch: pytest.MonkeyPatch
) -> None:
    from aiflow.deployers.yarn.settings import YarnSettings
    from aiflow.hadoop import conf as hadoop_conf

    monkeypatch.delenv("HADOOP_CONF_DIR", raising=False)
    with pytest.raises(InvalidInput, match="AIFLOW__YARN__RESOURCE_MANAGER"):
        hadoop_conf.resolve(YarnSettings())
    cluster = hadoop_conf.resolve(YarnSettings(hadoop_conf_dir=hadoop.conf_dir))
    assert cluster.resource_manager == hadoop.resource_manager
    assert cluster.default_fs == hadoop.default_fs
    assert cluster.webhdfs == hadoop.namenode_http
    assert httpx.get(f"{cluster.resource_manager}/ws/v1/cluster/info").status_code == 200


def test_a_packed_environment_is_shipped_and_its_python_runs_the_job(
    hadoop: HadoopCluster, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """``python_archive``: YARN localizes the archive as ``environment/`` in the container and
    the job runs with ``environment/bin/python``. The archive here holds a launcher script in
    place of a packed venv (packing aiflow's would take minutes): what is tested is YARN's
    shipping and unpacking, and that the job's interpreter is the archive's."""
    import getpass
    import io
    import tarfile

    from aiflow.deployers.yarn.staging import Staging
    from aiflow.hadoop import conf as hadoop_conf

    use_cluster(monkeypatch, hadoop)
    launcher = f'#!/bin/sh\necho "python from the archive"\nexec {sys.executable} "$@"\n'.encode()
    packed = tmp_path / "env.tar.gz"
    with tarfile.open(packed, "w:gz") as tar:
        entry = tarfile.TarInfo("bin/python")
        entry.size, entry.mode = len(launcher), 0o755
        tar.addfile(entry, io.BytesIO(launcher))
    config = YarnDeployer().config
    staging = Staging(hadoop_conf.resolve(config), config.staging_dir, getpass.getuser())
    remote = staging.path("test-envs", f"{tmp_path.name}.tar.gz")
    staging.upload(packed, remote)
    monkeypatch.setenv("AIFLOW__YARN__PYTHON_ARCHIVE", staging.url(remote))
    reset_settings()
    d = YarnDeployer()
    handle = d.submit(launch(tmp_path, "import os, sys; print(os.path.basename(sys.argv[0]))"))
    try:
        state = wait_done(d, handle)
        assert (state.exit_code, state.error) == (0, None)
        assert list(d.logs(handle)) == ["python from the archive", "-c"]
    finally:
        d.stop(handle, grace=0)
        d.close()


def test_two_drivers_staging_one_jar_at_once_both_succeed(
    hadoop: HadoopCluster, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A localized file must never change under YARN (its size and time are in submissions):
    concurrent uploads of one content-named file leave exactly one, and no temporary files."""
    import getpass
    import os
    import threading

    from aiflow.deployers.yarn.staging import Staging
    from aiflow.hadoop import conf as hadoop_conf

    use_cluster(monkeypatch, hadoop)
    config = YarnDeployer().config
    local = tmp_path / "am.jar"
    local.write_bytes(os.urandom(3 * 2**20 + 17))
    target = f"/tmp/aiflow-test-staging/{tmp_path.name}/am.jar"
    errors: list[BaseException] = []

    def upload() -> None:
        staging = Staging(hadoop_conf.resolve(config), config.staging_dir, getpass.getuser())
        try:
            staging.upload(local, target)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=upload) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    staging = Staging(hadoop_conf.resolve(config), config.staging_dir, getpass.getuser())
    assert staging.read(target) == local.read_bytes()
    assert staging.fs.ls(os.path.dirname(target)) == [target]
