"""Pod and container status as a kubelet writes it, in the API's JSON (camelCase) form.

Pure functions and a small condition tracker, kept apart from the process handling so the
shapes can be read in one place. The agent sends them as a strategic merge patch of
``pods/status``: ``containerStatuses`` is an atomic list (replaced whole), ``conditions`` merge
by ``type`` (so the scheduler's PodScheduled and the eviction API's DisruptionTarget stay), and
a container ``state`` lists the two states it is not in as null so none is left over.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

STATES = ("waiting", "running", "terminated")
TERMINAL_PHASES = ("Succeeded", "Failed")
SIGNAL_BASE = 128  # a process killed by signal N exits with 128 + N, as in a container


def now() -> str:
    """An API timestamp (RFC 3339, seconds)."""
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def waiting(reason: str, message: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"reason": reason}
    if message:
        body["message"] = message
    return {"waiting": body}


def running(started_at: str) -> dict[str, Any]:
    return {"running": {"startedAt": started_at}}


def terminated(
    exit_code: int,
    reason: str,
    started_at: str | None,
    *,
    message: str | None = None,
    container_id: str | None = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "exitCode": exit_code,
        "reason": reason,
        "startedAt": started_at,
        "finishedAt": now(),
    }
    if message:
        body["message"] = message
    if container_id:
        body["containerID"] = container_id
    return {"terminated": body}


def exit_code_of(returncode: int) -> int:
    """A Popen return code as a container exit code: killed by signal N -> 128 + N."""
    return returncode if returncode >= 0 else SIGNAL_BASE - returncode


def exit_reason(exit_code: int, oom_killed: bool) -> str:
    if oom_killed:
        return "OOMKilled"
    return "Completed" if exit_code == 0 else "Error"


def state_patch(state: dict[str, Any]) -> dict[str, Any]:
    """``state`` with the other two states null, so a merge patch leaves exactly one."""
    return {**dict.fromkeys(STATES), **state}


def state_name(state: dict[str, Any]) -> str | None:
    return next((name for name in STATES if state.get(name)), None)


class Conditions:
    """Pod conditions with a ``lastTransitionTime`` that moves only when a status changes."""

    def __init__(self, pod: dict[str, Any]) -> None:
        self.since: dict[str, tuple[str, str]] = {}
        for condition in (pod.get("status") or {}).get("conditions") or []:
            self.since[condition["type"]] = (
                condition["status"],
                condition.get("lastTransitionTime") or now(),
            )

    def condition(
        self, kind: str, status: bool, reason: str | None = None, message: str | None = None
    ) -> dict[str, Any]:
        text = "True" if status else "False"
        previous = self.since.get(kind)
        if previous is None or previous[0] != text:
            self.since[kind] = (text, now())
        return {
            "type": kind,
            "status": text,
            "lastProbeTime": None,
            "lastTransitionTime": self.since[kind][1],
            "reason": reason,
            "message": message,
        }


def pod_conditions(
    tracker: Conditions,
    *,
    initialized: list[str] | None,
    unready: list[str],
    terminal: bool,
    disruption: str | None = None,
) -> list[dict[str, Any]]:
    """The conditions a kubelet owns. ``initialized`` lists init containers not yet done
    (None: all done), ``unready`` the regular containers not ready."""
    conditions = [tracker.condition("PodScheduled", True)]
    if initialized:
        names = " ".join(initialized)
        message = f"containers with incomplete status: [{names}]"
        conditions.append(
            tracker.condition("Initialized", False, "ContainersNotInitialized", message)
        )
    else:
        conditions.append(tracker.condition("Initialized", True))
    if terminal:
        ready = [
            tracker.condition("ContainersReady", False, "PodCompleted"),
            tracker.condition("Ready", False, "PodCompleted"),
        ]
    elif unready:
        message = f"containers with unready status: [{' '.join(unready)}]"
        ready = [
            tracker.condition("ContainersReady", False, "ContainersNotReady", message),
            tracker.condition("Ready", False, "ContainersNotReady", message),
        ]
    else:
        ready = [tracker.condition("ContainersReady", True), tracker.condition("Ready", True)]
    conditions.extend(ready)
    if disruption:
        conditions.append(
            tracker.condition("DisruptionTarget", True, "TerminationByKubelet", disruption)
        )
    return conditions
