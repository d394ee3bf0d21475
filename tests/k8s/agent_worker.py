"""One thread per pod bound to the agent's node: the kubelet's pod lifecycle, simplified.

Pending (image "pull", init containers one after another) -> Running (regular containers, each
a process group) -> Succeeded/Failed, following ``restartPolicy`` (Never; OnFailure and Always
restart with a back-off of 1 s doubling to 20 s). A pod being deleted gets SIGTERM, SIGKILL after
its grace period, a terminal status, then a delete with ``gracePeriodSeconds=0`` (what the
kubelet does to finish a graceful deletion). ``spec.activeDeadlineSeconds`` and the test hook
annotation ``agent.aiflow.dev/evict`` (its value is the message) end the pod like the kubelet's
DeadlineExceeded and Evicted. Status goes to the API as a strategic merge patch whenever it
changes; a failed patch is retried on the next tick.
"""

from __future__ import annotations

import json
import logging
import shutil
import signal
import threading
import time
from typing import Any

from tests.k8s import agent_status as st
from tests.k8s.agent_env import POD_IP
from tests.k8s.agent_logs import LogNotFound, LogTarget
from tests.k8s.agent_pods import Container, Context

log = logging.getLogger("node_agent.worker")
TICK = 0.2  # s between looks at the processes when nothing else wakes the worker
EVICT_ANNOTATION = "agent.aiflow.dev/evict"
PATCH = "application/strategic-merge-patch+json"


class PodWorker:
    """The lifecycle of one pod (one uid); ``update``/``gone`` come from the agent's watch."""

    def __init__(self, ctx: Context, pod: dict[str, Any]) -> None:
        self.ctx = ctx
        self.pod = pod
        meta = pod["metadata"]
        self.uid: str = meta["uid"]
        self.namespace: str = meta["namespace"]
        self.name: str = meta["name"]
        self.dir = ctx.workdir / "pods" / self.uid
        spec = pod["spec"]
        self.policy: str = spec.get("restartPolicy", "Always")
        self.init = [Container(c, self.dir, self.uid) for c in spec.get("initContainers") or []]
        self.main = [Container(c, self.dir, self.uid) for c in spec["containers"]]
        status = pod.get("status") or {}
        known = [
            *(status.get("initContainerStatuses") or []),
            *(status.get("containerStatuses") or []),
        ]
        for container in [*self.init, *self.main]:
            for entry in known:
                if entry.get("name") == container.name:
                    container.adopt(entry)
        self.phase: str = status.get("phase") or "Pending"
        self.reason: str | None = status.get("reason")
        self.message: str | None = status.get("message")
        self.disruption: str | None = None
        self.start_time: str = status.get("startTime") or st.now()
        self.conditions = st.Conditions(pod)
        self.reported: dict[str, Any] | None = None
        self.kill_at: float | None = None
        self.is_gone = False
        self.wake = threading.Event()
        self.started = time.monotonic()
        self.thread = threading.Thread(target=self._run, name=f"pod-{self.name}", daemon=True)

    # -- from the agent ----------------------------------------------------------------------

    def start(self) -> None:
        """Run the lifecycle. A pod that was running before an agent restart has lost its
        processes: unless it restarts them (Always), it fails as the kubelet reports a
        container it cannot find."""
        if self.phase == "Running" and self.policy != "Always":
            self._finish("Failed", None, None, lost=True)
        self.thread.start()

    def update(self, pod: dict[str, Any]) -> None:
        self.pod = pod
        self.wake.set()

    def gone(self) -> None:
        """The pod object was deleted: kill everything now and drop its files."""
        self.is_gone = True
        self.wake.set()
        if not self.thread.is_alive():
            shutil.rmtree(self.dir, ignore_errors=True)

    def log_target(self, container: str, previous: bool) -> LogTarget:
        """The log the kubelet API serves for ``container`` (raises LogNotFound)."""
        found = next((c for c in [*self.init, *self.main] if c.name == container), None)
        if found is None:
            raise LogNotFound(400, f"container {container} is not valid for pod {self.name}")
        if previous:
            if found.previous_log is None:
                raise LogNotFound(
                    400,
                    f'previous terminated container "{container}" in pod "{self.name}" not found',
                )
            return LogTarget(found.previous_log, lambda: False)
        path = found.current_log
        if path is None or not path.exists():
            reason = (found.state.get("waiting") or {}).get("reason", "ContainerCreating")
            if reason in ("ErrImagePull", "ImagePullBackOff"):
                reason = "trying and failing to pull image"
            raise LogNotFound(
                400, f'container "{container}" in pod "{self.name}" is waiting to start: {reason}'
            )
        return LogTarget(path, lambda: found.live_log(path))

    # -- the lifecycle -----------------------------------------------------------------------

    def _run(self) -> None:
        try:
            while not self.ctx.stopping:
                try:
                    if self._step():
                        break
                    current = self._report()
                except Exception:  # a bug must not strand the pod: log it, look again
                    log.exception("pod %s/%s: worker step failed", self.namespace, self.name)
                    current = False
                    time.sleep(1)
                # a finished pod only waits for its deletion (or a status to retry)
                idle = self.phase in st.TERMINAL_PHASES and current
                self.wake.wait(60 if idle else TICK)
                self.wake.clear()
        finally:
            # when the agent stops, its kill-all gives the groups their grace period
            for container in [] if self.ctx.stopping else [*self.init, *self.main]:
                container.stop(signal.SIGKILL)
                container.check(self.ctx)
            if self.is_gone:
                shutil.rmtree(self.dir, ignore_errors=True)

    def _step(self) -> bool:
        """One look at the pod; True once there is nothing left to do."""
        if self.is_gone:
            return True
        meta = self.pod["metadata"]
        if meta.get("deletionTimestamp"):
            return self._delete(meta)
        if self.phase in st.TERMINAL_PHASES:
            return False
        deadline = self.pod["spec"].get("activeDeadlineSeconds")
        evict = (meta.get("annotations") or {}).get(EVICT_ANNOTATION)
        if evict is not None or (deadline and time.monotonic() - self.started > deadline):
            self._kill_now()
            if evict is not None:
                message = evict or "The node was low on resource: memory."
                self.disruption = message
                self._finish("Failed", "Evicted", message)
            else:
                message = "Pod was active on the node longer than the specified deadline"
                self._finish("Failed", "DeadlineExceeded", message)
            return False
        if not all(c.pull() for c in [*self.init, *self.main]):
            return False
        if self._init_containers():
            self._containers()
        return False

    def _init_containers(self) -> bool:
        """Run init containers in order; True when all have succeeded."""
        for container in self.init:
            if container.succeeded():
                continue
            ended = container.check(self.ctx)
            if not ended and container.startable():
                ended = container.start(self.ctx, self.pod, self.dir)
            if ended:
                if container.succeeded():
                    continue
                if self.policy == "Never":
                    self._finish("Failed", None, None)
                    return False
                container.wait_restart(self.name)
            return False
        return True

    def _containers(self) -> None:
        """Start, watch and restart the regular containers; move the phase."""
        for container in self.main:
            if container.check(self.ctx) and self._restarts(container):
                container.wait_restart(self.name)
            started = container.startable()
            if (
                started
                and container.start(self.ctx, self.pod, self.dir)
                and self._restarts(container)
            ):
                container.wait_restart(self.name)
        if all(c.terminated for c in self.main):
            failed = any(not c.succeeded() for c in self.main)
            self._finish("Failed" if failed else "Succeeded", None, None)
        elif any(c.current_log is not None for c in self.main):
            self.phase = "Running"

    def _restarts(self, container: Container) -> bool:
        if self.policy == "Always":
            return True
        return self.policy == "OnFailure" and not container.succeeded()

    def _delete(self, meta: dict[str, Any]) -> bool:
        """A graceful deletion: TERM, KILL after the grace period, terminal status, delete."""
        running = [c for c in [*self.init, *self.main] if c.run is not None]
        if self.kill_at is None:
            grace = meta.get("deletionGracePeriodSeconds")
            self.kill_at = time.monotonic() + (30 if grace is None else int(grace))
            for container in running:
                container.stop(signal.SIGTERM)
        elif time.monotonic() >= self.kill_at:
            for container in running:
                container.stop(signal.SIGKILL)
        for container in running:
            container.check(self.ctx)
        if any(c.run is not None for c in [*self.init, *self.main]):
            return False
        if self.phase not in st.TERMINAL_PHASES:
            succeeded = all(c.succeeded() for c in self.main)
            self._finish("Succeeded" if succeeded else "Failed", None, None)
        self._report()
        from kubernetes.client.exceptions import ApiException

        body = {"gracePeriodSeconds": 0, "preconditions": {"uid": self.uid}}
        try:
            self.ctx.core.delete_namespaced_pod(
                self.name, self.namespace, body=body, _request_timeout=10
            )
        except ApiException as exc:
            if exc.status not in (404, 409):
                log.warning("deleting pod %s/%s: %s", self.namespace, self.name, exc)
                return False
        return True

    def _kill_now(self) -> None:
        for container in [*self.init, *self.main]:
            container.stop(signal.SIGKILL)
        deadline = time.monotonic() + 5
        while any(c.run is not None for c in [*self.init, *self.main]):
            for container in [*self.init, *self.main]:
                container.check(self.ctx)
            if time.monotonic() > deadline:
                break
            time.sleep(0.02)

    def _finish(
        self, phase: str, reason: str | None, message: str | None, lost: bool = False
    ) -> None:
        """Enter a terminal phase; containers that were running and are gone are reported
        the way the kubelet reports containers it cannot find."""
        self.phase, self.reason, self.message = phase, reason, message
        for container in [*self.init, *self.main]:
            container.ready = False
            if container.terminated:
                continue
            if lost or "running" in container.state:
                container.state = st.terminated(
                    137,
                    "ContainerStatusUnknown",
                    None,
                    message="The container could not be located when the pod was terminated",
                )

    # -- status ------------------------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        terminal = self.phase in st.TERMINAL_PHASES
        pending_init = [c.name for c in self.init if not c.succeeded()]
        unready = [c.name for c in self.main if not c.ready]
        status: dict[str, Any] = {
            "phase": self.phase,
            "reason": self.reason,
            "message": self.message,
            "hostIP": POD_IP,
            "hostIPs": [{"ip": POD_IP}],
            "podIP": POD_IP,
            "podIPs": [{"ip": POD_IP}],
            "startTime": self.start_time,
            "conditions": st.pod_conditions(
                self.conditions,
                initialized=None if terminal else pending_init,
                unready=unready,
                terminal=terminal,
                disruption=self.disruption,
            ),
            "containerStatuses": [c.status() for c in self.main],
        }
        if self.init:
            status["initContainerStatuses"] = [c.status() for c in self.init]
        return status

    def _report(self) -> bool:
        """Patch the pod's status if it changed; True when the API has the current one."""
        status = self.status()
        if status == self.reported:
            return True
        from kubernetes.client.exceptions import ApiException

        try:
            self.ctx.core.patch_namespaced_pod_status(
                self.name,
                self.namespace,
                {"status": status},
                _content_type=PATCH,
                _request_timeout=10,
            )
        except ApiException as exc:
            if exc.status == 404:
                self.is_gone = True
                return True
            log.warning("pod %s/%s: status patch refused: %s", self.namespace, self.name, exc)
            log.debug("refused status: %s", json.dumps(status))
            return False
        except Exception as exc:  # the API server is unreachable for a moment: retry
            log.warning("pod %s/%s: status patch failed: %s", self.namespace, self.name, exc)
            return False
        self.reported = status
        return True
