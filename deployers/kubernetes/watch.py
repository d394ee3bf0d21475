"""A watched cache of aiflow's Jobs, their pods and their ``FailedCreate`` events in a namespace.

The driver polls every running job on every loop turn (up to 50 times a second), so ``poll``
must not be an API call: three watches (Jobs and pods selected by the ``aiflow.dev/job`` label,
Job events with reason ``FailedCreate``), one thread each, keep this cache current, and every
event wakes ``wait_for_change``. That is list + watch as client-go's informers do it: the list
gives a resourceVersion, the watch continues from it (with bookmarks, so a quiet namespace does
not make it stale), resumes from the last version it saw after a dropped connection, and lists
again when the server says that version expired (410 Gone); objects that vanished meanwhile
count as deleted.

Deleted objects are remembered (bounded): a Job deleted by a stop, or a pod evicted and deleted
before its Job failed, still explains how its attempt ended.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from aiflow.errors import DeploymentError

from . import naming
from .client import read_lines, shut
from .status import Obj, Verdict, assess, owner_uid

if TYPE_CHECKING:
    import urllib3

    from .client import Kube

log = logging.getLogger("aiflow.deployers.kubernetes")

_WATCH_SECONDS = 240  # the server ends each watch after this; the next resumes where it ended
_BACKOFF = (0.2, 10.0)  # s between attempts while the API server cannot be reached
_REMEMBER = 5000  # deleted Jobs and pods kept to explain how their attempts ended


class Informer:
    """List + watch of one kind of object, feeding ``on_reset(items)`` / ``on_event(type,
    obj)``, in a daemon thread until ``stop()``."""

    def __init__(
        self,
        kube: Kube,
        path: str,
        query: dict[str, str],
        what: str,
        on_reset: Callable[[list[Obj]], None],
        on_event: Callable[[str, Obj], None],
    ) -> None:
        self.kube, self.path, self.query, self.what = kube, path, query, what
        self.on_reset, self.on_event = on_reset, on_event
        self.synced = threading.Event()
        self.error: str | None = None  # why the last list or watch failed, until one works
        self._stopped = threading.Event()
        self._response: urllib3.BaseHTTPResponse | None = None
        self._thread = threading.Thread(target=self._run, name=f"aiflow-k8s-{what}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopped.set()
        response = self._response
        if response is not None:
            shut(response)

    def _run(self) -> None:
        import urllib3

        version: str | None = None
        delay = _BACKOFF[0]
        while not self._stopped.is_set():
            try:
                if version is None:
                    listing = self.kube.call(
                        "GET", self.path, query=self.query, what=f"list {self.what}"
                    )
                    version = str(listing["metadata"]["resourceVersion"])
                    self.on_reset(list(listing.get("items") or []))
                    self.synced.set()
                    self.error, delay = None, _BACKOFF[0]
                version = self._watch(version)
                delay = _BACKOFF[0]
            except Exception as exc:  # never let the thread die: the cache would freeze
                if self._stopped.is_set():
                    return
                if isinstance(exc, urllib3.exceptions.HTTPError) and version is not None:
                    log.debug("watch of %s dropped (%s); resuming", self.what, exc)
                    self._stopped.wait(_BACKOFF[0])
                else:
                    delay = self._failed(exc, delay)

    def _failed(self, exc: BaseException, delay: float) -> float:
        """Say why (once per outage, not at every attempt) and wait before the next try."""
        if self.error is None:
            expected = isinstance(exc, (DeploymentError, ValueError, KeyError, OSError))
            log.warning("watching %s: %s (retrying)", self.what, exc, exc_info=not expected)
        self.error = str(exc)
        self._stopped.wait(delay)
        return min(delay * 2, _BACKOFF[1])

    def _watch(self, version: str) -> str | None:
        """Follow changes from ``version``; the version to resume from, None to list again."""
        query = {
            **self.query,
            "watch": "true",
            "resourceVersion": version,
            "allowWatchBookmarks": "true",
            "timeoutSeconds": str(_WATCH_SECONDS),
        }
        reply = self.kube.open_stream(
            self.path, what=f"watch {self.what}", query=query, read_timeout=_WATCH_SECONDS + 30
        )
        if reply.status == 410:  # our version expired: list again
            return None
        response = self._response = reply.stream()
        self.error = None
        try:
            if self._stopped.is_set():
                return version
            for line in read_lines(response):
                if not line.strip():
                    continue
                event = json.loads(line)
                kind, obj = event.get("type"), event.get("object") or {}
                if kind == "ERROR":
                    if obj.get("code") == 410:
                        return None
                    raise DeploymentError(f"watch {self.what}: {obj.get('message', obj)}")
                version = str(obj.get("metadata", {}).get("resourceVersion") or version)
                if kind != "BOOKMARK":
                    self.on_event(str(kind), obj)
            return version
        finally:
            self._response = None
            shut(response)


class NamespaceCache:
    """aiflow's Jobs, their pods and refusal events in one namespace, as last watched."""

    def __init__(self, kube: Kube, namespace: str, changed: Callable[[], None]) -> None:
        self.namespace = namespace
        self._changed = changed
        self._lock = threading.Lock()
        self.jobs: dict[str, Obj] = {}  # uid -> Job
        self.gone_jobs: OrderedDict[str, Obj] = OrderedDict()  # uid -> last state seen
        self.pods: dict[str, dict[str, Obj]] = {}  # Job uid -> pod uid -> pod
        self.gone_pods: OrderedDict[str, dict[str, Obj]] = OrderedDict()
        self.events: dict[str, list[Obj]] = {}  # Job uid -> its FailedCreate events
        selector = {"labelSelector": naming.JOB}
        ns = f"namespace {namespace}"
        self.informers = [
            Informer(
                kube,
                f"/apis/batch/v1/namespaces/{namespace}/jobs",
                selector,
                f"aiflow's Jobs in {ns}",
                self._reset_jobs,
                self._job_event,
            ),
            Informer(
                kube,
                f"/api/v1/namespaces/{namespace}/pods",
                selector,
                f"aiflow's pods in {ns}",
                self._reset_pods,
                self._pod_event,
            ),
            Informer(
                kube,
                f"/api/v1/namespaces/{namespace}/events",
                {"fieldSelector": "involvedObject.kind=Job,reason=FailedCreate"},
                f"Job events in {ns}",
                self._reset_events,
                self._event_event,
            ),
        ]
        for informer in self.informers:
            informer.start()

    def stop(self) -> None:
        for informer in self.informers:
            informer.stop()

    def wait_synced(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        for informer in self.informers:
            if not informer.synced.wait(max(deadline - time.monotonic(), 0.0)):
                return False
        return True

    @property
    def error(self) -> str | None:
        return next((i.error for i in self.informers if i.error), None)

    # -- reading ----------------------------------------------------------------------------

    def knows(self, uid: str) -> bool:
        with self._lock:
            return uid in self.jobs or uid in self.gone_jobs

    def gone(self, uid: str) -> bool:
        with self._lock:
            return uid in self.gone_jobs and uid not in self.jobs

    def verdict(self, uid: str) -> Verdict:
        """The attempt's state as watched; a Job deleted while it ran has ended."""
        with self._lock:
            job = self.jobs.get(uid)
            last = job or self.gone_jobs.get(uid)
            pods = list(self.pods.get(uid, {}).values())
            gone_pods = list(self.gone_pods.get(uid, {}).values())
            events = list(self.events.get(uid, []))
        verdict = assess(last, pods, events, gone_pods)
        if job is None and verdict.state.running:
            verdict = assess(None, pods, (), gone_pods)
        return verdict

    def pods_of(self, uid: str) -> list[Obj]:
        with self._lock:
            return list(self.pods.get(uid, {}).values())

    # -- feeding ----------------------------------------------------------------------------

    def _reset_jobs(self, items: list[Obj]) -> None:
        with self._lock:
            fresh = {_uid(job): job for job in items}
            for uid in set(self.jobs) - set(fresh):
                self._remember(self.gone_jobs, uid, self.jobs[uid])
            self.jobs = fresh
        self._changed()

    def _job_event(self, kind: str, job: Obj) -> None:
        uid = _uid(job)
        with self._lock:
            if kind == "DELETED":
                self.jobs.pop(uid, None)
                self._remember(self.gone_jobs, uid, job)
            else:
                self.jobs[uid] = job
        self._changed()

    def _reset_pods(self, items: list[Obj]) -> None:
        with self._lock:
            fresh: dict[str, dict[str, Obj]] = {}
            for pod in items:
                fresh.setdefault(owner_uid(pod) or "", {})[_uid(pod)] = pod
            old, self.pods = self.pods, fresh
            for job_uid, pods in old.items():
                for pod_uid, pod in pods.items():
                    if pod_uid not in fresh.get(job_uid, {}):
                        self._bury(job_uid, pod_uid, pod)
        self._changed()

    def _pod_event(self, kind: str, pod: Obj) -> None:
        job_uid, pod_uid = owner_uid(pod) or "", _uid(pod)
        with self._lock:
            if kind == "DELETED":
                pods = self.pods.get(job_uid, {})
                pods.pop(pod_uid, None)
                if not pods:
                    self.pods.pop(job_uid, None)
                self._bury(job_uid, pod_uid, pod)
            else:
                self.pods.setdefault(job_uid, {})[pod_uid] = pod
        self._changed()

    def _bury(self, job_uid: str, pod_uid: str, pod: Obj) -> None:
        self._remember(self.gone_pods, job_uid, {**self.gone_pods.get(job_uid, {}), pod_uid: pod})

    def _reset_events(self, items: list[Obj]) -> None:
        with self._lock:
            self.events = {}
            for event in items:
                self._add_event(event)
        self._changed()

    def _event_event(self, kind: str, event: Obj) -> None:
        if kind == "DELETED":
            return  # events expire (1 h); what they said still holds for their Job
        with self._lock:
            self._add_event(event)
        self._changed()

    def _add_event(self, event: Obj) -> None:
        uid = str((event.get("involvedObject") or {}).get("uid") or "")
        events = self.events.setdefault(uid, [])
        events[:] = [e for e in events if _uid(e) != _uid(event)] + [event]
        while len(self.events) > _REMEMBER:
            self.events.pop(next(iter(self.events)))

    @staticmethod
    def _remember(store: OrderedDict[str, Any], key: str, value: Any) -> None:
        store[key] = value
        store.move_to_end(key)
        while len(store) > _REMEMBER:
            store.popitem(last=False)


def _uid(obj: Obj) -> str:
    return str((obj.get("metadata") or {}).get("uid") or "")
