"""``KubernetesDeployer``: each job attempt a ``batch/v1`` Job, watched, stopped and read through
the API server.

Submitting is three calls so that no pod ever starts without its credentials and nothing is
left behind when one fails: the Job is created *suspended* (the Job controller creates no pod),
then the Secret holding the attempt's credentials, owned by the Job, then the Job is
unsuspended; if the second or third call fails, the Job is deleted, and with it the Secret.

``poll`` answers from a watched cache (``watch``), ``wait_for_change`` wakes on every watch
event, ``stop`` deletes the Job with foreground propagation (its pod and Secret go first) and
shortens the pod's grace period to the driver's, and ``logs`` reads the pod log API. Everything
also works from a stored handle alone (another process, a restarted driver), and
``find_attempts`` lists an execution's Jobs by label, for whoever reconciles after a crash.

Handle: ``{"namespace", "job", "uid", "attempt", "log_uri", "server"}``; the uid makes a Job
that was deleted and re-created under the same name a different attempt.
"""

from __future__ import annotations

import math
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from aiflow.deployers.base import Deployer, Handle, JobLaunch, JobState
from aiflow.deployers.remote import secret_values
from aiflow.errors import DeploymentError

from . import logs as pod_logs
from . import naming, objects
from .client import Kube, Reply
from .settings import KubernetesSettings
from .status import RUNNING, Verdict, assess
from .watch import NamespaceCache

if TYPE_CHECKING:
    from aiflow.config import Settings

_STOP_SLACK = 15.0  # s past the grace for the pods to be gone and the Job with them
_RECHECK = 1.0  # s between direct reads of an attempt the watch has not shown yet


class KubernetesDeployer(Deployer):
    """Job attempts as Kubernetes Jobs in ``[kubernetes] namespace``."""

    name = "kubernetes"
    supports_follow_logs = True
    supports_wait = True

    def __init__(self, settings: Settings | None = None) -> None:
        super().__init__(settings)
        self._lock = threading.Lock()
        self._kube: Kube | None = None
        self._caches: dict[str, NamespaceCache] = {}
        self._wake = _Wake()
        self._final: dict[str, JobState] = {}  # uid -> how it ended, once known
        self._checked: dict[str, float] = {}  # uid -> last direct read (not watched yet)
        self._abandoned: set[str] = set()
        # The watch threads hold the caches, not the deployer: when it is dropped (a one-off
        # instance from get_deployer), its watches end with it.
        weakref.finalize(self, _close, self._caches)

    @property
    def config(self) -> KubernetesSettings:
        """The ``[kubernetes]`` section of this deployer's settings."""
        return self.settings.section("kubernetes", KubernetesSettings)

    # -- Deployer API -----------------------------------------------------------------------

    def check_overrides(self, overrides: dict[str, Any], where: str) -> None:
        """A node's ``deploy={"kubernetes": ...}``: see ``objects.check_overrides``."""
        objects.check_overrides(overrides, where)

    def submit(self, launch: JobLaunch) -> Handle:
        config = self.config
        namespace = config.namespace
        name = naming.job_name(launch.execution_id, launch.job_name, launch.job_id, launch.attempt)
        manifest = objects.job_manifest(launch, config, name)
        secrets = secret_values(launch)
        kube = self._client()
        self._cache(namespace, wait=False)  # watching before the Job exists
        where = f"Job {name} in namespace {namespace}"
        jobs = f"/apis/batch/v1/namespaces/{namespace}/jobs"
        created = kube.request("POST", jobs, body=manifest, what=f"create {where}")
        if created.failed:
            raise self._create_error(created, namespace, where)
        job = created.body
        uid = str(job["metadata"]["uid"])
        try:
            if secrets:
                kube.call(
                    "POST",
                    f"/api/v1/namespaces/{namespace}/secrets",
                    body=objects.secret_manifest(job, secrets),
                    what=f"create Secret {name} in namespace {namespace}",
                )
            kube.call(
                "PATCH",
                f"{jobs}/{name}",
                body={"spec": {"suspend": False}},
                content_type="application/merge-patch+json",
                what=f"start (unsuspend) {where}",
            )
        except DeploymentError:
            self._delete_job(namespace, name, uid, "Background", quiet=True)
            raise
        return {
            "namespace": namespace,
            "job": name,
            "uid": uid,
            "attempt": launch.attempt,
            "log_uri": naming.log_uri(namespace, name),
            "server": kube.server,
        }

    def poll(self, handle: Handle) -> JobState:
        namespace, name, uid = _identity(handle)
        if uid in self._final:
            return self._final[uid]
        cache = self._cache(namespace)
        if cache.knows(uid):
            verdict = cache.verdict(uid)
        elif self._recently_checked(uid):
            verdict = RUNNING
        else:
            verdict = self._read(namespace, name, uid)
        if verdict.abandon and uid not in self._abandoned:
            self._abandoned.add(uid)  # it can never run: delete it, keep why it failed
            threading.Thread(
                target=self._delete_job,
                args=(namespace, name, uid, "Background"),
                kwargs={"quiet": True},
                daemon=True,
            ).start()
        if not verdict.state.running:
            self._final[uid] = verdict.state
        return verdict.state

    def stop(self, handle: Handle, grace: float) -> None:
        namespace, name, uid = _identity(handle)
        cache = self._cache(namespace, wait=False)
        self._delete_job(namespace, name, uid, "Foreground")
        # The garbage collector deletes the pod with its own grace period (30 s by default);
        # deleting it here too, with the driver's, shortens that.
        pod_grace = max(1, math.ceil(grace))  # 0 would skip the kubelet's SIGTERM entirely
        for pod in self._pods(namespace, uid):
            pod_name = pod["metadata"]["name"]
            self._delete(
                f"/api/v1/namespaces/{namespace}/pods/{pod_name}",
                {"gracePeriodSeconds": pod_grace, "preconditions": {"uid": pod["metadata"]["uid"]}},
                what=f"delete pod {pod_name} in namespace {namespace}",
            )
        deadline = time.monotonic() + max(grace, 0.0) + _STOP_SLACK
        gone = self._wait_gone(cache, namespace, name, uid, deadline)
        if uid in self._final:
            return
        state = cache.verdict(uid).state if cache.knows(uid) else RUNNING.state
        if state.running:
            why = "its Kubernetes Job was deleted" if gone else "its Job is being deleted"
            state = JobState(running=False, error=f"stopped: {why}")
        self._final[uid] = state

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
        kube = self._client()
        if isinstance(handle_or_log_uri, dict):
            try:
                source: tuple[str, str, str | None] | str = _identity(handle_or_log_uri)
            except DeploymentError:
                raise pod_logs.missing() from None
        else:
            source = handle_or_log_uri
        config = self.config
        namespace, name, uid = pod_logs.locate(
            kube, source, logs_dir=self.settings.logs_dir, namespace=config.namespace
        )
        if not follow:
            return pod_logs.read(kube, namespace, uid, tail=tail)
        attempt = {"namespace": namespace, "job": name, "uid": uid}
        return pod_logs.follow(
            kube,
            namespace,
            uid,
            tail=tail,
            until=until,
            ended=lambda: not self.poll(attempt).running,
        )

    def wait_for_change(self, timeout: float) -> None:
        self._wake.wait(timeout)

    # -- beyond the interface -----------------------------------------------------------------

    def find_attempts(self, execution_id: int) -> list[Handle]:
        """Handles of every Job of execution ``execution_id`` in the configured namespace,
        found by label: what a reconciler needs to stop the attempts a dead driver started
        but had not recorded (``aiflow.scheduler.reconcile.unrecorded_attempts``). Each also
        names the aiflow job it runs (``job_id``), which a stored handle does not need."""
        namespace = self.config.namespace
        kube = self._client()
        listing = kube.call(
            "GET",
            f"/apis/batch/v1/namespaces/{namespace}/jobs",
            query={"labelSelector": f"{naming.EXECUTION}={execution_id}"},
            what=f"list the Jobs of execution {execution_id} in namespace {namespace}",
        )
        handles = []
        for job in listing.get("items") or []:
            meta = job["metadata"]
            labels = meta.get("labels") or {}
            handles.append(
                {
                    "namespace": namespace,
                    "job": meta["name"],
                    "uid": meta["uid"],
                    "job_id": int(labels.get(naming.JOB, 0)),
                    "attempt": int(labels.get(naming.ATTEMPT, 0)),
                    "log_uri": naming.log_uri(namespace, meta["name"]),
                    "server": kube.server,
                }
            )
        return handles

    def close(self) -> None:
        """End the watches now (they also end when the deployer is garbage collected)."""
        _close(self._caches)

    # -- internals ----------------------------------------------------------------------------

    def _client(self) -> Kube:
        with self._lock:
            if self._kube is None:
                self._kube = Kube(self.config)
            return self._kube

    def _cache(self, namespace: str, *, wait: bool = True) -> NamespaceCache:
        """The namespace's watched cache, started on first use (and then, with ``wait``,
        given up to ``request_timeout`` to list what is there)."""
        kube = self._client()
        with self._lock:
            cache = self._caches.get(namespace)
            if cache is not None:
                return cache
            cache = self._caches[namespace] = NamespaceCache(kube, namespace, self._wake)
        # The first poll of a namespace answers from a complete picture, not an empty one;
        # later ones never wait (an unreachable server makes them read directly, rarely).
        if wait:
            cache.wait_synced(self.config.request_timeout)
        return cache

    def _recently_checked(self, uid: str) -> bool:
        """Whether an attempt not (yet) in the watched cache was read directly within
        ``_RECHECK`` s: the watch normally shows a new Job within milliseconds."""
        now = time.monotonic()
        if now - self._checked.get(uid, 0.0) < _RECHECK:
            return True
        self._checked[uid] = now
        return False

    def _read(self, namespace: str, name: str, uid: str) -> Verdict:
        """The attempt's state read directly (the watch has not shown it, or cannot reach the
        server): unknown counts as running, so an API outage does not fail running jobs."""
        try:
            reply = self._client().request(
                "GET",
                f"/apis/batch/v1/namespaces/{namespace}/jobs/{name}",
                what=f"read Job {name} in namespace {namespace}",
            )
            if reply.status == 404 or (not reply.failed and reply.body["metadata"]["uid"] != uid):
                return assess(None, [])  # deleted (and maybe another Job has its name now)
            return assess(reply.json(), self._pods(namespace, uid))
        except DeploymentError:
            return RUNNING

    def _pods(self, namespace: str, uid: str) -> list[dict[str, Any]]:
        listing = self._client().call(
            "GET",
            f"/api/v1/namespaces/{namespace}/pods",
            query={"labelSelector": naming.attempt_selector(uid)},
            what=f"list the pods of Job uid {uid} in namespace {namespace}",
        )
        return list(listing.get("items") or [])

    def _delete_job(
        self, namespace: str, name: str, uid: str, propagation: str, *, quiet: bool = False
    ) -> None:
        body = {"propagationPolicy": propagation, "preconditions": {"uid": uid}}
        try:
            self._delete(
                f"/apis/batch/v1/namespaces/{namespace}/jobs/{name}",
                body,
                what=f"delete Job {name} in namespace {namespace}",
            )
        except DeploymentError:
            if not quiet:
                raise

    def _delete(self, path: str, body: dict[str, Any], *, what: str) -> None:
        """DELETE, where already gone (404) or replaced by a namesake (409: the uid
        precondition failed) count as done."""
        reply = self._client().request("DELETE", path, body=body, what=what)
        if reply.status not in (404, 409):
            reply.json()

    def _wait_gone(
        self, cache: NamespaceCache, namespace: str, name: str, uid: str, deadline: float
    ) -> bool:
        """Wait until the Job ``uid`` no longer exists (its pods went first); False at the
        deadline. The watch says so within milliseconds; a direct read every second covers
        a watch that cannot reach the server."""
        next_read = time.monotonic() + _RECHECK
        while time.monotonic() < deadline:
            if cache.gone(uid):
                return True
            if time.monotonic() >= next_read:
                next_read = time.monotonic() + _RECHECK
                if not self._exists(namespace, name, uid):
                    return True
            self._wake.wait(0.1)
        return False

    def _exists(self, namespace: str, name: str, uid: str) -> bool:
        reply = self._client().request(
            "GET",
            f"/apis/batch/v1/namespaces/{namespace}/jobs/{name}",
            what=f"read Job {name} in namespace {namespace}",
        )
        return reply.status != 404 and bool(reply.json()["metadata"]["uid"] == uid)

    def _create_error(self, reply: Reply, namespace: str, where: str) -> DeploymentError:
        server = self._client().server
        details = reply.body.get("details") or {}
        if reply.status == 404 and (
            details.get("kind") == "namespaces" or "namespaces" in reply.error
        ):
            return DeploymentError(
                f"cannot create {where}: namespace '{namespace}' does not exist on the "
                f"Kubernetes API server {server}; create it (kubectl create namespace "
                f"{namespace}) or set [kubernetes] namespace (AIFLOW__KUBERNETES__NAMESPACE)"
            )
        if reply.status == 409:
            return DeploymentError(
                f"{reply.error}; a Job of that name is left from a driver that died before "
                "recording it, or another aiflow meta store uses this namespace: delete it, "
                "or give each store its own namespace"
            )
        return DeploymentError(reply.error)


class _Wake:
    """Wakes ``wait_for_change`` on watch events; a counter, so an event between two waits is
    not lost (the next wait returns at once)."""

    def __init__(self) -> None:
        self._condition = threading.Condition()
        self._generation = 0
        self._seen = 0

    def __call__(self) -> None:
        with self._condition:
            self._generation += 1
            self._condition.notify_all()

    def wait(self, timeout: float) -> None:
        with self._condition:
            self._condition.wait_for(lambda: self._generation != self._seen, max(timeout, 0.0))
            self._seen = self._generation


def _identity(handle: Handle) -> tuple[str, str, str]:
    try:
        namespace, name, uid = handle["namespace"], handle["job"], handle["uid"]
    except (KeyError, TypeError):
        raise DeploymentError(f"not a kubernetes deployer handle: {handle!r}") from None
    if not all(isinstance(v, str) and v for v in (namespace, name, uid)):
        raise DeploymentError(f"not a kubernetes deployer handle: {handle!r}")
    return namespace, name, uid


def _close(caches: dict[str, NamespaceCache]) -> None:
    for cache in list(caches.values()):
        cache.stop()
    caches.clear()
