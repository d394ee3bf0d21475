"""The CLI's backend without a server: the ``MetaStore`` itself, plus the three operations
that need more than the store (a server's routes do the same on its side): stopping an
execution and reading a job's log go through the execution's deployer, and creating a trigger
first checks its deployer name against the installed deployers."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

from aiflow.schemas.entities import Execution, Trigger
from aiflow.schemas.inputs import TriggerCreate
from aiflow.store.sql_store import MetaStore


class LocalBackend(MetaStore):
    """The embedded meta store (``aiflow.cli.backend.Backend``)."""

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
