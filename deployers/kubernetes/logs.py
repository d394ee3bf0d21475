"""An attempt's output through the pod log API (``GET .../pods/{pod}/log``): whole, its tail, or
followed while the container runs.

The API server fetches it from the node's kubelet, so it reads the same whether the job runs,
ended or failed, for as long as its pod exists (a Job keeps its pod until the Job is deleted:
by a stop, a TTL or a user). What is read is decided by the handle or ``kubernetes://`` log URI,
which come from the meta store and so from code that may have written anything there: only
pods carrying aiflow's ``aiflow.dev/job`` label and owned by the named Job are read.

Following reads the stream in a helper thread, so the caller's ``until()`` is checked several
times a second even while the job prints nothing, and the stream is shut as soon as it says so.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from aiflow.errors import NotFound

from . import naming
from .client import read_lines, shut
from .status import Obj, started

if TYPE_CHECKING:
    import urllib3

    from .client import Kube

_WAIT = 0.2  # s between looks at a pod that has not started, and between until() checks
_DRAIN = 2.0  # s a stream may still deliver after the attempt ended before it is shut
_END = object()


def missing() -> NotFound:
    """The one error for a log that cannot be read: it says nothing about what is at a place
    named by the meta store."""
    return NotFound("no log of that attempt: its Kubernetes Job does not exist (any more)")


def locate(
    kube: Kube, source: tuple[str, str, str | None] | str, *, logs_dir: Path, namespace: str
) -> tuple[str, str, str]:
    """``(namespace, job, uid)`` of an existing aiflow Job, from a handle's ``(namespace, job,
    uid)``, a ``kubernetes://`` log URI or the driver's log path (``namespace`` is where the
    latter is looked for); ``missing()`` for anything else."""
    if isinstance(source, str):
        found = naming.parse_log_uri(source) or _from_log_path(kube, source, logs_dir, namespace)
        if found is None:
            raise missing()
        (namespace, name), uid = found, None
    else:
        namespace, name, uid = source
    if not (naming.is_dns_label(namespace) and naming.is_dns_label(name)):
        raise missing()
    reply = kube.request(
        "GET",
        f"/apis/batch/v1/namespaces/{namespace}/jobs/{name}",
        what=f"read Job {name} in namespace {namespace}",
    )
    if reply.status == 404:
        raise missing()
    meta = reply.json()["metadata"]
    if naming.JOB not in (meta.get("labels") or {}) or uid not in (None, meta["uid"]):
        raise missing()
    return namespace, name, str(meta["uid"])


def _from_log_path(
    kube: Kube, log_uri: str, logs_dir: Path, namespace: str
) -> tuple[str, str] | None:
    """The Job of a driver log path ``<logs_dir>/<execution>/<job>/attempt-<n>.log`` (what
    ``job.log_uri`` holds where the driver does not store the handle's ``log_uri``)."""
    path = Path(log_uri.removeprefix("file://"))
    try:
        parts = (path.relative_to(logs_dir) if path.is_absolute() else path).parts
    except ValueError:
        return None
    if len(parts) != 3 or not parts[0].isdigit():
        return None
    attempt = parts[2].removeprefix("attempt-").removesuffix(".log")
    if not (parts[2].startswith("attempt-") and attempt.isdigit()):
        return None
    listing = kube.call(
        "GET",
        f"/apis/batch/v1/namespaces/{namespace}/jobs",
        query={"labelSelector": f"{naming.EXECUTION}={parts[0]},{naming.ATTEMPT}={attempt}"},
        what=f"list Jobs in namespace {namespace}",
    )
    for job in listing.get("items") or []:
        if (job["metadata"].get("annotations") or {}).get(naming.JOB_NAME) == parts[1]:
            return namespace, str(job["metadata"]["name"])
    return None


def newest_pod(kube: Kube, namespace: str, uid: str) -> Obj | None:
    """The pod the Job ``uid`` runs its attempt in (the newest, should there be several)."""
    listing = kube.call(
        "GET",
        f"/api/v1/namespaces/{namespace}/pods",
        query={"labelSelector": naming.attempt_selector(uid)},
        what=f"list the pods of Job uid {uid} in namespace {namespace}",
    )
    pods = listing.get("items") or []
    pods.sort(key=lambda p: str(p.get("metadata", {}).get("creationTimestamp", "")))
    return pods[-1] if pods else None


def read(kube: Kube, namespace: str, uid: str, *, tail: int | None) -> Iterator[str]:
    """The log as written so far: empty while the Job (which ``locate`` found) has no started
    pod yet; ``NotFound`` now when its pod is gone."""
    pod = newest_pod(kube, namespace, uid)
    if pod is None or not started(pod):
        return iter(())
    response = _open(kube, namespace, pod, follow=False, tail=tail, read_timeout=kube.timeout[1])
    if response is None:
        return iter(())
    return _lines(response)


def follow(
    kube: Kube,
    namespace: str,
    uid: str,
    *,
    tail: int | None,
    until: Callable[[], bool] | None,
    ended: Callable[[], bool] | None,
) -> Iterator[str]:
    """Lines as the container writes them, from its start (or its last ``tail`` lines), until
    the container ends, ``until()`` says so, or ``ended()`` (the attempt is over) has held for
    a moment without more output."""
    over = until or (lambda: False)
    while True:  # until its container started (or ended): only then has it a log to stream
        pod = newest_pod(kube, namespace, uid)
        if pod is not None and started(pod):
            break
        if over() or (ended is not None and ended()):
            return
        time.sleep(_WAIT)
    response = _open(kube, namespace, pod, follow=True, tail=tail, read_timeout=None)
    if response is None:
        return
    lines: queue.Queue[object] = queue.Queue()

    def pump() -> None:
        try:
            for line in read_lines(response):
                lines.put(line)
        except Exception:  # shut under it, or the connection dropped: the stream is over
            pass
        finally:
            lines.put(_END)

    threading.Thread(target=pump, name=f"aiflow-k8s-log-{uid}", daemon=True).start()
    ended_at: float | None = None
    try:
        while True:
            try:
                item = lines.get(timeout=_WAIT)
            except queue.Empty:
                if over():
                    return
                if ended is not None and ended():
                    ended_at = ended_at or time.monotonic()
                    if time.monotonic() - ended_at > _DRAIN:
                        return
                continue
            if item is _END:
                return
            assert isinstance(item, bytes)
            yield _decode(item)
    finally:
        shut(response)


def _open(
    kube: Kube,
    namespace: str,
    pod: Obj,
    *,
    follow: bool,
    tail: int | None,
    read_timeout: float | None,
) -> urllib3.BaseHTTPResponse | None:
    name = pod["metadata"]["name"]
    query = {"container": naming.CONTAINER, "follow": "true" if follow else None, "tailLines": tail}
    reply = kube.open_stream(
        f"/api/v1/namespaces/{namespace}/pods/{name}/log",
        what=f"read the log of pod {name} in namespace {namespace}",
        query=query,
        read_timeout=read_timeout,
    )
    if reply.status == 404:
        raise NotFound(f"pod {name} in namespace {namespace} is gone, and its log")
    if reply.status == 400:  # the container is waiting to start: nothing written yet
        return None
    return reply.stream()


def _lines(response: urllib3.BaseHTTPResponse) -> Iterator[str]:
    try:
        for line in read_lines(response):
            yield _decode(line)
    finally:
        shut(response)


def _decode(line: bytes) -> str:
    return line.removesuffix(b"\r").decode("utf-8", errors="replace")
