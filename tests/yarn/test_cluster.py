"""The Hadoop test cluster behaves like a real one: the RM lists its nodes, HDFS stores files
over WebHDFS, and losing a host (a NodeManager's process tree) is seen by the RM as a LOST node
whose containers are gone, until a new NodeManager brings the capacity back."""

from __future__ import annotations

import subprocess
import uuid
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest

from tests.services import wait_for
from tests.yarn.cluster import HadoopCluster, HadoopError, NodeManager, wait_daemon_ready
from tests.yarn.processes import alive


def test_the_resource_manager_lists_the_running_nodemanagers(hadoop: HadoopCluster) -> None:
    assert hadoop.rm_get("/ws/v1/cluster/info")["clusterInfo"]["state"] == "STARTED"
    running = {node["id"] for node in hadoop.nodes() if node["state"] == "RUNNING"}
    assert running == {node.id for node in hadoop.running_nodemanagers()}
    assert len(running) == 2
    for node in hadoop.running_nodemanagers():
        assert httpx.get(f"{node.http}/ws/v1/node/info", timeout=10).status_code == 200


def test_the_cluster_exposes_what_clients_and_containers_need(hadoop: HadoopCluster) -> None:
    for name in ("core-site.xml", "hdfs-site.xml", "yarn-site.xml"):
        assert hadoop.default_fs in (hadoop.conf_dir / name).read_text()
    conf_dir, jars = hadoop.classpath
    assert conf_dir == str(hadoop.conf_dir)
    assert jars.endswith("/*") and any(hadoop.jar_dir.glob("*hadoop-yarn-client*.jar"))
    assert (hadoop.java_home / "bin" / "java").exists()


def test_webhdfs_writes_then_reads_a_file(hadoop: HadoopCluster) -> None:
    path = f"/webhdfs/v1/tmp/aiflow-test/{uuid.uuid4().hex}.txt"
    data = "hello from aiflow\n" * 1000
    with httpx.Client(base_url=hadoop.namenode_http, timeout=30) as client:
        # CREATE answers 307 with the DataNode to send the bytes to (WebHDFS's two steps).
        step = client.put(path, params={"op": "CREATE", "user.name": "aiflow"})
        assert step.status_code == 307, step.text
        created = httpx.put(step.headers["location"], content=data.encode(), timeout=30)
        assert created.status_code == 201, created.text
        status = client.get(path, params={"op": "GETFILESTATUS"}).json()["FileStatus"]
        assert status["length"] == len(data) and status["owner"] == "aiflow"
        read = client.get(path, params={"op": "OPEN"}, follow_redirects=True)
        assert read.status_code == 200 and read.text == data


def test_a_killed_nodemanager_is_lost_with_its_containers_and_can_be_replaced(
    hadoop_nodes: HadoopCluster,
) -> None:
    cluster = hadoop_nodes
    app_id = _submit_sleeper(cluster)
    host = _node_running_am(cluster, app_id)
    wait_for(lambda: _sleepers(host), timeout=60, what=f"the AM container's sleep on {host.id}")
    containers = _sleepers(host)
    environment = psutil.Process(containers[0]).environ()  # what YARN gave the container
    assert environment["JAVA_HOME"] == str(cluster.java_home)
    assert environment["HADOOP_CONF_DIR"] == str(cluster.conf_dir)

    killed = cluster.kill_nodemanager(host.index)

    assert not host.running
    assert {host.pid, *containers} <= set(killed)
    assert not any(alive(pid) for pid in killed)
    nodes = cluster.wait_nodes(1)  # the RM marks it LOST after its 10 s expiry
    assert {node["id"]: node["state"] for node in nodes}[host.id] == "LOST"
    wait_for(lambda: _app(cluster, app_id)["state"] == "FAILED", 60, "the app's attempt to fail")

    index = cluster.start_nodemanager()

    cluster.wait_nodes(2)
    metrics = cluster.rm_get("/ws/v1/cluster/metrics")["clusterMetrics"]
    assert metrics["activeNodes"] == 2 and metrics["lostNodes"] >= 1
    assert metrics["totalMB"] == 2 * 6144  # MiniHadoop.java: yarn.nodemanager.resource.memory-mb
    assert cluster.node_managers[index].id != host.id


# -- helpers ------------------------------------------------------------------------------------


def _submit_sleeper(cluster: HadoopCluster) -> str:
    """An application whose AM container only sleeps (it never registers, which YARN tolerates
    for 10 minutes): a container process to lose with its host."""
    new = httpx.post(f"{cluster.resource_manager}/ws/v1/cluster/apps/new-application", timeout=10)
    app_id = str(new.raise_for_status().json()["application-id"])
    spec = {
        "application-id": app_id,
        "application-name": "aiflow-test-sleeper",
        "am-container-spec": {
            "commands": {"command": "sleep 600 1><LOG_DIR>/stdout 2><LOG_DIR>/stderr"}
        },
        "unmanaged-AM": False,
        "max-app-attempts": 1,
        "resource": {"memory": 128, "vCores": 1},
        "application-type": "YARN",
    }
    submitted = httpx.post(f"{cluster.resource_manager}/ws/v1/cluster/apps", json=spec, timeout=10)
    assert submitted.status_code == 202, submitted.text
    return app_id


def _app(cluster: HadoopCluster, app_id: str) -> dict[str, Any]:
    return dict(cluster.rm_get(f"/ws/v1/cluster/apps/{app_id}")["app"])


def _node_running_am(cluster: HadoopCluster, app_id: str) -> NodeManager:
    attempts: list[dict[str, Any]] = []

    def launched() -> bool:
        nonlocal attempts
        answer = cluster.rm_get(f"/ws/v1/cluster/apps/{app_id}/appattempts")
        attempts = (answer.get("appAttempts") or {}).get("appAttempt") or []
        return bool(attempts) and bool(attempts[0].get("nodeId"))

    wait_for(launched, timeout=60, what=f"{app_id}'s AM container to be allocated")
    node_id = attempts[0]["nodeId"]
    return next(node for node in cluster.running_nodemanagers() if node.id == node_id)


def _sleepers(node: NodeManager) -> list[int]:
    """Pids of the ``sleep`` processes among the NodeManager's descendants (its containers)."""
    try:
        children = psutil.Process(node.pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []
    found = []
    for child in children:
        try:
            if child.name() == "sleep":
                found.append(child.pid)
        except psutil.NoSuchProcess:
            continue
    return found


def test_a_daemon_that_exits_before_ready_fails_with_its_log_tail(tmp_path: Path) -> None:
    log_file = tmp_path / "nm-9.log"
    with log_file.open("wb") as log:
        script = "for i in $(seq 1 60); do echo line $i; done; echo 'FATAL no RM' >&2; exit 3"
        process = subprocess.Popen(
            ["sh", "-c", script], stdin=subprocess.PIPE, stdout=log, stderr=subprocess.STDOUT
        )
    with pytest.raises(HadoopError, match=r"NodeManager exited with 3") as failure:
        wait_daemon_ready(process, log_file, timeout=30, what="NodeManager")
    message = str(failure.value)
    assert "FATAL no RM" in message and "line 60" in message and "line 20\n" not in message
