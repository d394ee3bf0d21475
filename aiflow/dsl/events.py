"""Event-driven jobs: AI Flow's control dependencies, for loops built from separate jobs.

``af.action_on_model_version(node, model, event="generated")`` makes ``node``'s job start on
each new version of ``model``; ``af.action_on_job_status`` on an upstream job's end;
``af.action_on_event`` on any event of the meta store's log, including the ones user code
sends with ``af.send_event``. A node with rules does not run with the rest of its workflow:
each fire is an execution of its job alone, which receives the event that fired it
(``af.current_event()``). The rules are recorded in the plan; the scheduler follows them
with the same compare-and-set cursor as event triggers, so each matching event fires a rule
exactly once, in sequence order, even across a scheduler crash (see docs/scheduling.md).
"""

from __future__ import annotations

import functools
import json
import os
from typing import TYPE_CHECKING, Final, Literal

from aiflow.dsl.example import Model
from aiflow.dsl.workflow import ModelRef, NodeRef, _wf
from aiflow.errors import InvalidInput, InvalidPlan
from aiflow.plan.model import ActionRule

if TYPE_CHECKING:
    from aiflow.schemas.entities import Event
    from aiflow.store.sql_store import MetaStore

Action = Literal["start", "restart", "stop"]
ACTIONS: Final = ("start", "restart", "stop")
MODEL_EVENTS: Final = {
    "generated": "MODEL_GENERATED",
    "validated": "MODEL_VALIDATED",
    "deployed": "MODEL_DEPLOYED",
}
JOB_STATUSES: Final = {"succeeded": "JOB_SUCCEEDED", "failed": "JOB_FAILED"}
USER_EVENT: Final = "user"
EVENT_ENV: Final = "AIFLOW_EVENT"  # the event that fired a rule, as JSON, in the job it started


def action_on_model_version(
    node: NodeRef, model: ModelRef | Model | str, event: str = "generated", action: str = "start"
) -> None:
    """``action`` ``node``'s job on each ``event`` (generated, validated, deployed) of a
    version of ``model``; the job gets the event (its value is the version number)."""
    wf = _wf("action_on_model_version")
    wf._own(node, getattr(node, "node_id", "?"), "node")
    name = model.model_name if isinstance(model, ModelRef) else getattr(model, "name", model)
    if not isinstance(name, str):
        raise InvalidPlan(f"model must be an af.Model, af.train's output or a name, got {model!r}")
    if event not in MODEL_EVENTS:
        raise InvalidPlan(
            f"event={event!r}: expected one of {', '.join(MODEL_EVENTS)}", node.node_id
        )
    wf.actions.append(
        ActionRule(
            node=node.node_id,
            on="model_version",
            event_type=MODEL_EVENTS[event],
            key=name,
            action=_action(action, node),
        )
    )


def action_on_job_status(
    node: NodeRef, upstream_node: NodeRef, status: str = "succeeded", action: str = "start"
) -> None:
    """``action`` ``node``'s job each time ``upstream_node``'s job ends with ``status``
    (succeeded, failed) in an execution of this workflow."""
    wf = _wf("action_on_job_status")
    wf._own(node, getattr(node, "node_id", "?"), "node")
    wf._own(upstream_node, node.node_id, "upstream node")
    if status not in JOB_STATUSES:
        raise InvalidPlan(
            f"status={status!r}: expected one of {', '.join(JOB_STATUSES)}", node.node_id
        )
    if upstream_node.node_id == node.node_id:
        raise InvalidPlan("a node cannot be started by its own job's status", node.node_id)
    wf.actions.append(
        ActionRule(
            node=node.node_id,
            on="job_status",
            event_type=JOB_STATUSES[status],
            value=upstream_node.node_id,
            action=_action(action, node),
        )
    )


def action_on_event(
    node: NodeRef,
    *,
    key: str,
    event_type: str = USER_EVENT,
    value: str | None = None,
    action: str = "start",
) -> None:
    """``action`` ``node``'s job on each event of ``event_type`` with ``key`` (and a value
    matching the shell-style pattern ``value``, when given)."""
    wf = _wf("action_on_event")
    wf._own(node, getattr(node, "node_id", "?"), "node")
    for what, text in (("key", key), ("event_type", event_type), ("value", value)):
        if (text is not None or what != "value") and (not isinstance(text, str) or not text):
            raise InvalidPlan(f"{what}={text!r} must be a non-empty string", node.node_id)
    wf.actions.append(
        ActionRule(
            node=node.node_id,
            on="event",
            event_type=event_type,
            key=key,
            value=value,
            action=_action(action, node),
        )
    )


def _action(action: str, node: NodeRef) -> Action:
    if action not in ACTIONS:
        raise InvalidPlan(f"action={action!r}: expected one of {', '.join(ACTIONS)}", node.node_id)
    return action  # type: ignore[return-value]


def send_event(key: str, value: str = "", event_type: str = USER_EVENT) -> Event:
    """Append an event to the meta store's log (rules of ``af.action_on_event`` fire on it).

    In a job started for a server it goes through the job's credential (the job API); in any
    other process to the configured meta store."""
    from aiflow.schemas.events import check_user_event_type
    from aiflow.translators.job_store import JobApiClient

    check_user_event_type(event_type)
    client = JobApiClient.from_environment()
    if client is not None:
        return client.emit_event(key, event_type, value)
    from aiflow.config import get_settings

    return _store_for(get_settings().metastore_uri).emit_event(key, event_type, value)


@functools.lru_cache(maxsize=8)
def _store_for(uri: str) -> MetaStore:
    """One store per meta store URL for the process: a new ``MetaStore`` checks the schema
    revision on first use, which was half the cost of each ``send_event`` (benchmarks/events.py:
    232 vs 785 events/s on SQLite)."""
    from aiflow.store.sql_store import MetaStore

    return MetaStore(uri)


def current_event() -> Event | None:
    """The event that fired the rule that started this job, or ``None`` when the job was not
    started by a rule."""
    raw = os.environ.get(EVENT_ENV)
    if not raw:
        return None
    from aiflow.schemas.entities import Event

    try:
        return Event.model_validate(json.loads(raw))
    except ValueError as exc:
        raise InvalidInput(f"${EVENT_ENV} is not an event: {exc}") from None
