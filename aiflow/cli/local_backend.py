"""The CLI's backend without a server: the ``MetaStore`` itself, plus the operations that
need more than the store (a server's routes do the same on its side): stopping an execution
and reading a job's log go through the execution's deployer, creating a trigger first checks
its deployer name against the installed deployers, and sending an event refuses the
platform's own event types.

The model changes it makes are recorded in the model's history with the OS user as their actor
(a server records the calling token instead), unless the caller names another actor.
"""

from __future__ import annotations

import getpass
import os
from collections.abc import Iterator
from datetime import datetime

from aiflow.schemas.entities import Event, Execution, Trigger
from aiflow.schemas.inputs import TriggerCreate
from aiflow.store.sql_store import MetaStore


class LocalBackend(MetaStore):
    """The embedded meta store (``aiflow.cli.backend.Backend``); model-center changes are
    recorded as made by the OS user."""

    def __init__(self) -> None:
        super().__init__()
        self.actor = local_actor()

    def stop_execution(self, id: int, wait: float = 10) -> Execution:
        from aiflow.deployers import get_deployer
        from aiflow.scheduler.reconcile import request_stop

        return request_stop(self, id, get_deployer, wait=wait)

    def job_logs(self, job_id: int, follow: bool = False, tail: int | None = None) -> Iterator[str]:
        from aiflow.scheduler.logs import job_logs

        return job_logs(self, job_id, follow=follow, tail=tail)

    def create_trigger(self, spec: TriggerCreate, *, now: datetime | None = None) -> Trigger:
        from aiflow.scheduler.triggers import check_deployer

        check_deployer(spec)
        return super().create_trigger(spec, now=now)

    def send_event(self, key: str, value: str = "", event_type: str = "user") -> Event:
        from aiflow.schemas.events import check_user_event_type

        check_user_event_type(event_type)
        return self.emit_event(key, event_type, value)


def local_actor() -> str:
    """The OS user running the CLI: who the model's history says made a local change."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no login name and no passwd entry (some containers)
        return f"uid:{os.getuid()}"
