"""A real Kubernetes control plane on loopback, for the tests: etcd, kube-apiserver,
kube-controller-manager, kube-scheduler, kwok and the node agent.

No container runtime runs here, so nothing like kind can start; but the control plane is plain
binaries (built by ``scripts/build_k8s.sh`` from the Go module proxy), and what the deployer and
the chart talk to is the API server: the same validation, admission (ResourceQuota,
ServiceAccount), RBAC, Job controller, garbage collector and scheduler as on a real cluster.
What differs is the nodes: ``kwok-node-0`` is simulated by kwok (its pods never run, for tests
that only need scheduling), and ``aiflow-local`` is the node agent, a small kubelet that runs a
pod's command as a local process and serves its logs through the kubelet API, so end-to-end tests
run the job's real code and read its real logs through the API server.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from tests.k8s.pki import Pki, make_pki
from tests.services import free_ports, wait_for

if TYPE_CHECKING:
    from kubernetes.client import ApiClient

REPO = Path(__file__).resolve().parents[2]
AGENT_NODE = "aiflow-local"
KWOK_NODE = "kwok-node-0"
KWOK_TAINT = {"key": "kwok.x-k8s.io/node", "value": "fake", "effect": "NoSchedule"}
START_TIMEOUT = 90.0  # s; ~8 s on an idle machine, more while the suite's other services start


def build_binaries() -> Path:
    """The bin directory of ``scripts/build_k8s.sh`` (built on first use, then cached)."""
    done = subprocess.run(
        [str(REPO / "scripts" / "build_k8s.sh")], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"scripts/build_k8s.sh failed:\n{done.stderr[-4000:]}")
    return Path(done.stdout.strip().splitlines()[-1])


def write_kubeconfig(path: Path, server: str, ca: Path, user: dict[str, str]) -> Path:
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {"name": "test", "cluster": {"server": server, "certificate-authority": str(ca)}}
        ],
        "users": [{"name": "user", "user": user}],
        "contexts": [{"name": "test", "context": {"cluster": "test", "user": "user"}}],
        "current-context": "test",
    }
    path.write_text(yaml.safe_dump(config))
    path.chmod(0o600)
    return path


@dataclass
class ControlPlane:
    """A running control plane; ``stop()`` ends every process it started."""

    server: str
    kubeconfig: Path
    bin_dir: Path
    workdir: Path
    pki: Pki
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def api_client(self) -> ApiClient:
        """A client with the admin's credentials (``system:masters``)."""
        from kubernetes import config

        return config.new_client_from_config(config_file=str(self.kubeconfig))

    def namespace(self, prefix: str = "t") -> str:
        """A new namespace with a unique name, once its ``default`` ServiceAccount exists
        (pods are refused before that)."""
        from kubernetes import client

        name = f"{prefix}-{uuid.uuid4().hex[:8]}"
        with self.api_client() as api:
            core: Any = client.CoreV1Api(api)  # the typed client wants V1Namespace, not dicts
            core.create_namespace({"metadata": {"name": name}})

            def has_default_sa() -> bool:
                return bool(core.list_namespaced_service_account(name).items)

            wait_for(has_default_sa, 30, f"the default ServiceAccount in {name}", 0.05)
        return name

    def token_kubeconfig(self, token: str, path: Path) -> Path:
        """A kubeconfig that authenticates with a bearer token (a ServiceAccount's)."""
        return write_kubeconfig(path, self.server, self.pki.ca_crt, {"token": token})

    def log_of(self, name: str) -> str:
        """The last lines of a component's log, for failure messages."""
        path = self.workdir / f"{name}.log"
        return path.read_text(errors="replace")[-3000:] if path.exists() else ""

    def check_alive(self) -> None:
        """Raise naming the first component that exited (a test then says why it hung)."""
        for name, proc in self.processes.items():
            if proc.poll() is not None:
                raise RuntimeError(
                    f"test control plane: {name} exited with {proc.returncode}:\n"
                    f"{self.log_of(name)}"
                )

    def stop(self) -> None:
        for proc in reversed(list(self.processes.values())):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in reversed(list(self.processes.values())):
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        self.processes.clear()

    # -- start-up ---------------------------------------------------------------------------

    def _spawn(self, name: str, argv: list[str], env: dict[str, str] | None = None) -> None:
        with open(self.workdir / f"{name}.log", "ab") as log:
            self.processes[name] = subprocess.Popen(
                argv,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                env={**os.environ, **(env or {})},
            )

    def _wait(self, what: str, check: Any) -> None:
        def ready() -> bool:
            self.check_alive()
            try:
                return bool(check())
            except Exception:
                return False

        wait_for(ready, START_TIMEOUT, what, 0.1)


def start_control_plane(workdir: Path, bin_dir: Path | None = None) -> ControlPlane:
    """Start everything and return once the API server answers, the default namespace has its
    ServiceAccount and both nodes are Ready; on failure, stop what started and raise with the
    failing component's log."""
    bin_dir = bin_dir or build_binaries()
    workdir.mkdir(parents=True, exist_ok=True)
    pki = make_pki(workdir / "pki")
    etcd_port, peer_port, api_port, agent_port = free_ports(4)
    server = f"https://127.0.0.1:{api_port}"
    admin = {"client-certificate": str(pki.admin_crt), "client-key": str(pki.admin_key)}
    kubeconfig = write_kubeconfig(workdir / "admin.kubeconfig", server, pki.ca_crt, admin)
    plane = ControlPlane(server, kubeconfig, bin_dir, workdir, pki)
    try:
        _start(plane, etcd_port, peer_port, api_port, agent_port)
    except BaseException:
        plane.stop()
        raise
    return plane


def _start(plane: ControlPlane, etcd_port: int, peer_port: int, api_port: int, agent: int) -> None:
    from kubernetes import client

    b, pki, w = plane.bin_dir, plane.pki, plane.workdir
    etcd_url = f"http://127.0.0.1:{etcd_port}"
    peer_url = f"http://127.0.0.1:{peer_port}"
    plane._spawn("etcd", [
        "etcd", "--data-dir", str(w / "etcd"), "--listen-client-urls", etcd_url,
        "--advertise-client-urls", etcd_url, "--listen-peer-urls", peer_url,
        "--initial-advertise-peer-urls", peer_url, "--initial-cluster", f"default={peer_url}",
        "--unsafe-no-fsync", "--log-level", "warn",
    ])  # fmt: skip
    plane._spawn("kube-apiserver", [
        str(b / "kube-apiserver"), "--etcd-servers", etcd_url,
        "--bind-address", "127.0.0.1", "--advertise-address", "127.0.0.1",
        "--secure-port", str(api_port), "--tls-cert-file", str(pki.apiserver_crt),
        "--tls-private-key-file", str(pki.apiserver_key), "--client-ca-file", str(pki.ca_crt),
        "--service-account-issuer", "https://kubernetes.default.svc",
        "--service-account-key-file", str(pki.sa_pub),
        "--service-account-signing-key-file", str(pki.sa_key),
        "--authorization-mode", "Node,RBAC", "--service-cluster-ip-range", "10.0.0.0/24",
        "--kubelet-client-certificate", str(pki.kubelet_client_crt),
        "--kubelet-client-key", str(pki.kubelet_client_key),
        "--kubelet-preferred-address-types", "InternalIP", "--profiling=false",
        "--storage-media-type", "application/vnd.kubernetes.protobuf",
    ])  # fmt: skip
    with plane.api_client() as api:
        version = client.VersionApi(api)
        plane._wait(f"kube-apiserver on {plane.server}", version.get_code)
    common = ["--kubeconfig", str(plane.kubeconfig), "--leader-elect=false", "--secure-port=0"]
    plane._spawn("kube-controller-manager", [
        str(b / "kube-controller-manager"), *common, "--root-ca-file", str(pki.ca_crt),
        "--service-account-private-key-file", str(pki.sa_key),
        "--use-service-account-credentials=false", "--controllers", "*",
        "--concurrent-job-syncs", "10", "--node-monitor-grace-period", "60s",
        "--kube-api-qps", "200", "--kube-api-burst", "400",  # 100 Jobs start in ~1 s, not ~10
    ])  # fmt: skip
    plane._spawn("kube-scheduler", [
        str(b / "kube-scheduler"), *common, "--kube-api-qps", "200", "--kube-api-burst", "400",
    ])  # fmt: skip
    with plane.api_client() as api:
        core: Any = client.CoreV1Api(api)
        core.create_node({
            "metadata": {
                "name": KWOK_NODE,
                "annotations": {"kwok.x-k8s.io/node": "fake"},
                "labels": {"type": "kwok", "kubernetes.io/hostname": KWOK_NODE},
            },
            "spec": {"taints": [KWOK_TAINT]},
        })  # fmt: skip
        plane._spawn("kwok", [
            str(b / "kwok"), "--kubeconfig", str(plane.kubeconfig), "--manage-all-nodes=false",
            "--manage-nodes-with-annotation-selector", "kwok.x-k8s.io/node=fake",
            "--config", str(b / "kwok-stages.yaml"), "--node-lease-duration-seconds", "40",
            "--server-address", "127.0.0.1:0",
        ])  # fmt: skip
        plane._spawn("node-agent", [
            sys.executable, "-m", "tests.k8s.node_agent", "--kubeconfig", str(plane.kubeconfig),
            "--node", AGENT_NODE, "--workdir", str(w / "node-agent"), "--port", str(agent),
        ], env={"PYTHONPATH": str(REPO), "PYTHONUNBUFFERED": "1"})  # fmt: skip

        def default_sa() -> bool:
            return bool(core.list_namespaced_service_account("default").items)

        def nodes_ready() -> bool:
            return all(_node_ready(core, name) for name in (KWOK_NODE, AGENT_NODE))

        plane._wait("the default ServiceAccount", default_sa)
        plane._wait(f"nodes {KWOK_NODE} and {AGENT_NODE} Ready", nodes_ready)


def _node_ready(core: Any, name: str) -> bool:
    node = core.read_node(name)
    conditions = node.status.conditions or []
    return any(c.type == "Ready" and c.status == "True" for c in conditions)
