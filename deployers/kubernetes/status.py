"""What a Job, its pod and its events say about the attempt: a ``JobState``.

Pure functions of the objects as the API returns them (dicts), so every case is testable
without a cluster and the watch cache and a direct read share one reading.

The pod decides first: with ``restartPolicy: Never`` and ``backoffLimit: 0`` its terminal phase
*is* the attempt's end, and it carries the exit code and the reason (``OOMKilled``, ``Evicted``,
a ``DisruptionTarget`` condition) the Job's own condition (``BackoffLimitExceeded``) would hide.
The Job's conditions cover what leaves no terminated pod: a deadline, a pod deleted or evicted
before it could report. Two states never end by themselves and are failures here: an image
that cannot be pulled (the kubelet retries forever) and a pod the API server refuses to create
(a ResourceQuota, an admission policy: the Job controller retries forever); for those the
deployer deletes the Job (``Verdict.abandon``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from aiflow.deployers.base import JobState, describe_exit

from .naming import CONTAINER

Obj = dict[str, Any]

# Container waiting reasons that do not resolve by waiting.
STUCK_REASONS = frozenset(
    {
        "ErrImagePull",
        "ImagePullBackOff",
        "InvalidImageName",
        "ErrImageNeverPull",
        "CreateContainerConfigError",
    }
)
_PLAIN_REASONS = frozenset({"Error", "Completed"})


@dataclass(frozen=True)
class Verdict:
    """The attempt's state; ``abandon``: it can never progress, so its Job must be deleted."""

    state: JobState
    abandon: bool = False


RUNNING = Verdict(JobState(running=True))


def assess(
    job: Obj | None, pods: Iterable[Obj], events: Iterable[Obj] = (), gone_pods: Iterable[Obj] = ()
) -> Verdict:
    """The attempt's state from its Job (None: deleted), its live pods, the pods it had that
    are gone (deleted; their last state as seen) and its ``FailedCreate`` events."""
    pods, gone_pods = list(pods), list(gone_pods)
    conditions = _conditions(job)
    failed = conditions.get("Failed", {})
    why = None
    if failed.get("status") == "True":
        why = f"{failed.get('reason', 'failed')}: {failed.get('message', '')}".rstrip(": ")
    for pod in pods + gone_pods:
        phase = (pod.get("status") or {}).get("phase")
        if phase == "Succeeded":
            return Verdict(JobState(running=False, exit_code=0))
        if phase != "Failed":
            continue
        state = _failed(pod)
        if not _killed_by_deletion(pod):
            return Verdict(state)
        # Deleted by someone (the Job controller at a deadline, a stop, kubectl): the Job's
        # condition says why, and a Job that is not being deleted itself will get one.
        if why is not None:
            error = f"Kubernetes Job {why}; {state.error}"
            return Verdict(JobState(running=False, exit_code=state.exit_code, error=error))
        if job is None or (job.get("metadata") or {}).get("deletionTimestamp"):
            return Verdict(state)
        return RUNNING
    if conditions.get("Complete", {}).get("status") == "True":
        return Verdict(JobState(running=False, exit_code=0))
    if why is not None:
        note = next(filter(None, map(_pod_note, pods + gone_pods)), None)
        error = f"{note}; Kubernetes Job failed ({why})" if note else f"Kubernetes Job {why}"
        return Verdict(JobState(running=False, exit_code=None, error=error))
    if job is None:
        note = next(filter(None, map(_pod_note, gone_pods)), None)
        error = "its Kubernetes Job was deleted" + (f" ({note})" if note else "")
        return Verdict(JobState(running=False, error=error))
    for pod in pods:
        stuck = _stuck(pod)
        if stuck is not None:
            return Verdict(JobState(running=False, error=stuck), abandon=True)
    if not pods:
        refused = refusal(events)
        if refused is not None:
            return Verdict(JobState(running=False, error=refused), abandon=True)
    return RUNNING


def refusal(events: Iterable[Obj]) -> str | None:
    """Why the API server refused to create the Job's pod for good (a quota, an admission
    policy), from the Job controller's ``FailedCreate`` events; None for transient failures."""
    for event in events:
        message = str(event.get("message") or "")
        if event.get("reason") == "FailedCreate" and (
            "forbidden" in message or "exceeded quota" in message
        ):
            return f"Kubernetes refused to create the job's pod: {message}"
    return None


def main_container(pod: Obj) -> Obj | None:
    """The status of the container running the job's command (others are sidecars)."""
    statuses = (pod.get("status") or {}).get("containerStatuses") or []
    for status in statuses:
        if status.get("name") == CONTAINER:
            return dict(status)
    return dict(statuses[0]) if statuses else None


def exit_code(pod: Obj) -> int | None:
    terminated = _terminated(pod)
    code = terminated.get("exitCode") if terminated else None
    return int(code) if code is not None else None


def started(pod: Obj) -> bool:
    """Whether the job's container has started (its log can be read)."""
    status = main_container(pod) or {}
    state = status.get("state") or {}
    return "running" in state or "terminated" in state


def owner_uid(obj: Obj) -> str | None:
    """The uid of the Job that owns a pod (or an event's involved Job)."""
    for ref in (obj.get("metadata") or {}).get("ownerReferences") or []:
        if ref.get("kind") == "Job":
            return str(ref.get("uid"))
    return None


def _failed(pod: Obj) -> JobState:
    code = exit_code(pod)
    terminated = _terminated(pod) or {}
    parts = []
    note = _pod_note(pod)
    if note:
        parts.append(note)
    if code is not None:
        reason = terminated.get("reason")
        extra = f" ({reason})" if reason and reason not in _PLAIN_REASONS else ""
        parts.append(describe_exit(code) + extra)
    elif not parts:
        parts.append(f"pod {_name(pod)} failed without an exit code")
    return JobState(running=False, exit_code=code, error="; ".join(parts))


def _killed_by_deletion(pod: Obj) -> bool:
    """A failed pod that was being deleted and says nothing more about why it ended."""
    deleted = bool((pod.get("metadata") or {}).get("deletionTimestamp"))
    status = pod.get("status") or {}
    disrupted = any(
        c.get("type") == "DisruptionTarget" and c.get("status") == "True"
        for c in status.get("conditions") or []
    )
    return deleted and not disrupted and not status.get("reason")


def _pod_note(pod: Obj) -> str | None:
    """What happened to the pod beyond its exit code: evicted, preempted, deadline, deleted."""
    status = pod.get("status") or {}
    name = _name(pod)
    for condition in status.get("conditions") or []:
        if condition.get("type") == "DisruptionTarget" and condition.get("status") == "True":
            reason = condition.get("reason") or "disrupted"
            message = condition.get("message") or ""
            verb = "was evicted" if "Evict" in reason else "was disrupted"
            return f"pod {name} {verb} ({reason}: {message})".replace(": )", ")")
    if status.get("reason"):
        message = status.get("message") or ""
        return f"pod {name} failed: {status['reason']}" + (f": {message}" if message else "")
    if (pod.get("metadata") or {}).get("deletionTimestamp") and status.get("phase") not in (
        "Succeeded",
        "Failed",
    ):
        return f"pod {name} was deleted while it ran"
    return None


def _stuck(pod: Obj) -> str | None:
    status = pod.get("status") or {}
    for container in [
        *(status.get("initContainerStatuses") or []),
        *(status.get("containerStatuses") or []),
    ]:
        waiting = (container.get("state") or {}).get("waiting") or {}
        if waiting.get("reason") in STUCK_REASONS:
            message = waiting.get("message") or ""
            text = f"pod {_name(pod)} cannot start: {waiting['reason']}"
            return text + (f": {message}" if message else "")
    return None


def _terminated(pod: Obj) -> Obj | None:
    status = main_container(pod) or {}
    terminated = (status.get("state") or {}).get("terminated")
    return dict(terminated) if terminated else None


def _conditions(job: Obj | None) -> dict[str, Obj]:
    if job is None:
        return {}
    return {c.get("type"): c for c in (job.get("status") or {}).get("conditions") or []}


def _name(obj: Obj) -> str:
    return str((obj.get("metadata") or {}).get("name", "?"))
