"""The node agent's Node object: registration, status heartbeat and the node Lease.

The Node says where its "kubelet" listens (InternalIP 127.0.0.1 and
``daemonEndpoints.kubeletEndpoint.Port``: the API server reaches the log endpoint there; the
test API server prefers InternalIP addresses), what it can hold (cpu 64, memory 256Gi, 500 pods,
so that the scheduler never refuses a test's pod for room) and that it is Ready. The node
lifecycle controller marks a node NotReady (and taints it) when neither its status nor its Lease
in ``kube-node-lease`` is renewed within its grace period: both are renewed every 10 s.
"""

from __future__ import annotations

import datetime as dt
import logging
import platform
import threading
from typing import Any

from tests.k8s.agent_env import NODE_CPU, NODE_MEMORY, POD_IP

log = logging.getLogger("node_agent.node")
HEARTBEAT = 10.0  # s
LEASE_SECONDS = 40
KUBELET_VERSION = "v1.33.0-aiflow-agent"
CAPACITY = {"cpu": NODE_CPU, "memory": NODE_MEMORY, "pods": "500", "ephemeral-storage": "1Ti"}


def _now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _micro_now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def node_status(port: int, since: str) -> dict[str, Any]:
    """The status a healthy kubelet reports; ``since`` is the Ready transition time."""
    heartbeat = _now()
    quiet = [
        ("MemoryPressure", "KubeletHasSufficientMemory"),
        ("DiskPressure", "KubeletHasNoDiskPressure"),
        ("PIDPressure", "KubeletHasSufficientPID"),
    ]
    conditions = [
        {
            "type": kind,
            "status": "False",
            "reason": reason,
            "message": "node agent",
            "lastHeartbeatTime": heartbeat,
            "lastTransitionTime": since,
        }
        for kind, reason in quiet
    ]
    conditions.append({
        "type": "Ready",
        "status": "True",
        "reason": "KubeletReady",
        "message": "aiflow node agent is posting ready status",
        "lastHeartbeatTime": heartbeat,
        "lastTransitionTime": since,
    })  # fmt: skip
    return {
        "capacity": CAPACITY,
        "allocatable": CAPACITY,
        "conditions": conditions,
        "addresses": [{"type": "InternalIP", "address": POD_IP}],
        "daemonEndpoints": {"kubeletEndpoint": {"Port": port}},
        "nodeInfo": {
            "machineID": "aiflow-node-agent",
            "systemUUID": "aiflow-node-agent",
            "bootID": "aiflow-node-agent",
            "kernelVersion": platform.release(),
            "osImage": "aiflow node agent (local processes)",
            "containerRuntimeVersion": "aiflow-agent://1",
            "kubeletVersion": KUBELET_VERSION,
            "kubeProxyVersion": KUBELET_VERSION,
            "operatingSystem": "linux",
            "architecture": {"x86_64": "amd64", "aarch64": "arm64"}.get(
                platform.machine(), platform.machine()
            ),
        },
    }


class NodeKeeper:
    """Registers the node and keeps its status and Lease fresh from a daemon thread."""

    def __init__(self, core: Any, coordination: Any, node: str, port: int) -> None:
        self.core = core
        self.coordination = coordination
        self.node = node
        self.port = port
        self.since = _now()
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._loop, name="node-heartbeat", daemon=True)

    def register(self) -> None:
        """Create the Node (or take over an existing one of that name), then report status."""
        from kubernetes.client.exceptions import ApiException

        labels = {
            "kubernetes.io/hostname": self.node,
            "kubernetes.io/os": "linux",
            "type": "aiflow-node-agent",
        }
        body = {"metadata": {"name": self.node, "labels": labels}, "spec": {}}
        try:
            self.core.create_node(body, _request_timeout=10)
            log.info("registered node %s", self.node)
        except ApiException as exc:
            if exc.status != 409:
                raise RuntimeError(
                    f"registering node {self.node}: {exc.status} {exc.reason}"
                ) from exc
            self.core.patch_node(self.node, {"metadata": {"labels": labels}}, _request_timeout=10)
        self.heartbeat()

    def heartbeat(self) -> None:
        status = node_status(self.port, self.since)
        self.core.patch_node_status(
            self.node,
            {"status": status},
            _content_type="application/strategic-merge-patch+json",
            _request_timeout=10,
        )
        self._renew_lease()

    def _renew_lease(self) -> None:
        from kubernetes.client.exceptions import ApiException

        spec = {
            "holderIdentity": self.node,
            "leaseDurationSeconds": LEASE_SECONDS,
            "renewTime": _micro_now(),
        }
        try:
            self.coordination.patch_namespaced_lease(
                self.node,
                "kube-node-lease",
                {"spec": spec},
                _content_type="application/merge-patch+json",
                _request_timeout=10,
            )
        except ApiException as exc:
            if exc.status != 404:
                raise
            owner = {"apiVersion": "v1", "kind": "Node", "name": self.node, "uid": self._uid()}
            body = {
                "metadata": {"name": self.node, "ownerReferences": [owner]},
                "spec": spec,
            }
            try:
                self.coordination.create_namespaced_lease("kube-node-lease", body)
            except ApiException as again:
                if again.status != 404:  # the namespace is not there yet: next heartbeat
                    raise

    def _uid(self) -> str:
        return str(self.core.read_node(self.node, _request_timeout=10).metadata.uid)

    def start(self) -> None:
        self.thread.start()

    def _loop(self) -> None:
        while not self.stop.wait(HEARTBEAT):
            try:
                self.heartbeat()
            except Exception as exc:  # the API server may be restarting: try again later
                log.warning("node %s heartbeat failed: %s", self.node, exc)
