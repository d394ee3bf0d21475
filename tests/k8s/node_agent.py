"""A small kubelet for the test control plane: pods bound to its node run as local processes.

No container runtime runs on the test machines, and kwok's pods never execute anything. The
end-to-end tests need a job's real code to run and its real logs to come back through the API
server, so this agent registers a Node and does a kubelet's part for the pods bound to it:

* registration, status heartbeat and node Lease (:mod:`tests.k8s.agent_node`);
* a watch of the pods with ``spec.nodeName=<node>`` (list, then watch from the list's
  ``resourceVersion``; resumed from the last seen version after a dropped connection, re-listed
  on 410 Gone);
* per pod, a worker thread running its containers' commands as local process groups and
  reporting status (:mod:`tests.k8s.agent_worker`, :mod:`tests.k8s.agent_pods`);
* the kubelet's HTTPS log endpoint the API server proxies ``pods/log`` to
  (:mod:`tests.k8s.agent_logs`).

Run: ``python -m tests.k8s.node_agent --kubeconfig K --node NAME --workdir D --port P``.
On SIGTERM/SIGINT it kills every process group it started (SIGTERM, SIGKILL after 3 s) and
exits 0; it prints one line ``node agent NAME ready ...`` once its node is registered.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
import time
from pathlib import Path
from types import FrameType
from typing import Any

from tests.k8s.agent_logs import LogNotFound, LogServer, LogTarget, self_signed_certificate
from tests.k8s.agent_node import NodeKeeper
from tests.k8s.agent_pods import Context
from tests.k8s.agent_worker import PodWorker

log = logging.getLogger("node_agent")
WATCH_SECONDS = 300  # the server ends each watch after this long; the agent resumes it
SHUTDOWN_GRACE = 3.0  # s between SIGTERM and SIGKILL of the pods' processes when exiting
REGISTER_TIMEOUT = 60.0  # s to wait for the API server at start-up


class _Stop(BaseException):
    """Raised in the main thread by the SIGTERM/SIGINT handler to end the watch."""


class Agent:
    """The node agent: owns the API clients, the pod workers and the log server."""

    def __init__(
        self,
        kubeconfig: Path,
        node: str,
        workdir: Path,
        port: int,
        tls: tuple[Path, Path] | None = None,
    ) -> None:
        from kubernetes import client, config

        configuration = client.Configuration()
        config.load_kube_config(config_file=str(kubeconfig), client_configuration=configuration)
        configuration.connection_pool_maxsize = 32  # one connection per busy pod worker
        self.api = client.ApiClient(configuration)
        self.watch_api = client.ApiClient(configuration)  # its long request holds a connection
        self.core = client.CoreV1Api(self.api)
        self.node = node
        workdir.mkdir(parents=True, exist_ok=True)
        self.ctx = Context(self.core, node, workdir)
        self.lock = threading.Lock()
        self.workers: dict[str, PodWorker] = {}
        self.by_name: dict[tuple[str, str], PodWorker] = {}
        self.version: str | None = None  # of the pod list/watch; None: list again
        cert, key = tls or self_signed_certificate(workdir / "tls", node)
        self.server = LogServer(port, cert, key, self.lookup)
        coordination = client.CoordinationV1Api(self.api)
        self.keeper = NodeKeeper(self.core, coordination, node, self.server.port)

    # -- running -----------------------------------------------------------------------------

    def run(self) -> None:
        """Serve logs, register the node, then handle pod events until stopped."""
        self.server.start()
        self._register()
        self.keeper.start()
        print(
            f"node agent {self.node} ready: kubelet API on https://127.0.0.1:{self.server.port}",
            flush=True,
        )
        self._watch_forever()

    def _register(self) -> None:
        deadline = time.monotonic() + REGISTER_TIMEOUT
        while True:
            try:
                self.keeper.register()
                return
            except Exception as exc:
                if time.monotonic() > deadline:
                    raise RuntimeError(
                        f"node agent: cannot register node {self.node}: {exc}"
                    ) from exc
                log.info("waiting for the API server to register node %s: %s", self.node, exc)
                time.sleep(1)

    def _watch_forever(self) -> None:
        from kubernetes.client.exceptions import ApiException

        while True:
            try:
                if self.version is None:
                    self.version = self._relist()
                self._watch(self.version)
            except ApiException as exc:
                if exc.status == 410:
                    log.info("pod watch expired (410 Gone): listing again")
                else:
                    log.warning("pod watch failed: %s %s; listing again", exc.status, exc.reason)
                    time.sleep(1)
                self.version = None
            except Exception as exc:  # a dropped connection: resume from the last version
                log.warning("pod watch interrupted: %s", exc)
                time.sleep(1)

    def _selector(self) -> str:
        return f"spec.nodeName={self.node}"

    def _relist(self) -> str:
        """Sync with every pod on the node; forget workers of pods deleted meanwhile."""
        import json

        response = self.core.list_pod_for_all_namespaces(
            field_selector=self._selector(), _preload_content=False, _request_timeout=30
        )
        listing = json.loads(response.data)  # type: ignore[attr-defined]
        seen = set()
        for pod in listing.get("items") or []:
            seen.add(pod["metadata"]["uid"])
            self.handle("SYNC", pod)
        with self.lock:
            stale = [w for uid, w in self.workers.items() if uid not in seen]
        for worker in stale:
            self.handle("DELETED", worker.pod)
        return str(listing["metadata"]["resourceVersion"])

    def _watch(self, version: str) -> None:
        """Handle events from ``version`` on, keeping ``self.version`` at the last one seen,
        until the server ends the watch (raises ApiException 410 when ``version`` is too
        old)."""
        from kubernetes import client, watch

        core = client.CoreV1Api(self.watch_api)
        stream = watch.Watch().stream(
            core.list_pod_for_all_namespaces,
            field_selector=self._selector(),
            resource_version=version,
            allow_watch_bookmarks=True,
            timeout_seconds=WATCH_SECONDS,
            _request_timeout=(10, WATCH_SECONDS + 30),
        )
        for event in stream:
            pod = event["raw_object"]
            if event["type"] != "BOOKMARK":
                self.handle(event["type"], pod)
            self.version = str(pod["metadata"]["resourceVersion"])

    def handle(self, kind: str, pod: dict[str, Any]) -> None:
        """One pod event: start a worker for a new pod, pass updates on, end deleted pods."""
        meta = pod["metadata"]
        uid, key = meta["uid"], (meta["namespace"], meta["name"])
        with self.lock:
            worker = self.workers.get(uid)
            if kind == "DELETED":
                if worker is not None:
                    del self.workers[uid]
                    if self.by_name.get(key) is worker:
                        del self.by_name[key]
                    worker.gone()
                return
            if worker is not None:
                worker.update(pod)
                return
            worker = PodWorker(self.ctx, pod)
            self.workers[uid] = worker
            self.by_name[key] = worker
        log.info("pod %s/%s (%s) bound to %s", key[0], key[1], uid, self.node)
        worker.start()

    def lookup(self, namespace: str, pod: str, container: str, previous: bool) -> LogTarget:
        """The log server's view of the pods (raises LogNotFound like the kubelet)."""
        with self.lock:
            worker = self.by_name.get((namespace, pod))
        if worker is None:
            raise LogNotFound(404, f'pod "{namespace}/{pod}" not found on node {self.node}')
        return worker.log_target(container, previous)

    def shutdown(self) -> None:
        """Kill every process group started, stop heartbeats and the log server."""
        self.ctx.kill_all(SHUTDOWN_GRACE)
        self.keeper.stop.set()
        if self.server.thread.is_alive():
            self.server.stop()
        log.info("node agent %s stopped", self.node)


def _on_signal(signum: int, frame: FrameType | None) -> None:
    raise _Stop(signum)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.k8s.node_agent", description=__doc__)
    parser.add_argument("--kubeconfig", type=Path, required=True, help="admin kubeconfig")
    parser.add_argument("--node", required=True, help="the Node's name")
    parser.add_argument("--workdir", type=Path, required=True, help="logs, scratch dirs, TLS")
    parser.add_argument("--port", type=int, default=0, help="kubelet API port (0: any free)")
    parser.add_argument("--tls-cert-file", type=Path, help="serving certificate (else self-signed)")
    parser.add_argument("--tls-private-key-file", type=Path, help="its key")
    parser.add_argument("--verbose", action="store_true", help="log every request")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    logging.getLogger("urllib3").setLevel(logging.WARNING)
    tls = None
    if args.tls_cert_file and args.tls_private_key_file:
        tls = (args.tls_cert_file, args.tls_private_key_file)
    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    agent: Agent | None = None
    try:
        agent = Agent(args.kubeconfig, args.node, args.workdir, args.port, tls)
        agent.run()
    except _Stop:
        pass
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # a second signal must not cut the cleanup
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        if agent is not None:
            agent.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
