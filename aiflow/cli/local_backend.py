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
from collections.abc import Iterator, Mapping
from datetime import datetime

from aiflow.schemas.entities import SERVING_ALIAS, Event, Execution, ModelVersion, Trigger
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

    def send_event(self, key: str, value: str = "", event_type: str = "user") -> Event:
        from aiflow.schemas.events import check_user_event_type

        check_user_event_type(event_type)
        return self.emit_event(key, event_type, value)

    # -- model changes, recorded with the local user as their actor ---------------------------

    def set_model_alias(
        self,
        model_name: str,
        alias: str,
        version: int,
        *,
        actor: str | None = None,
        reason: str | None = None,
    ) -> ModelVersion:
        return super().set_model_alias(
            model_name, alias, version, actor=actor or local_actor(), reason=reason
        )

    def delete_model_alias(
        self,
        model_name: str,
        alias: str,
        *,
        actor: str | None = None,
        reason: str | None = None,
    ) -> None:
        super().delete_model_alias(model_name, alias, actor=actor or local_actor(), reason=reason)

    def promote_model_version(
        self,
        model_name: str,
        version: int,
        *,
        alias: str = SERVING_ALIAS,
        reason: str | None = None,
        metrics: Mapping[str, float] | None = None,
        actor: str | None = None,
    ) -> ModelVersion:
        return super().promote_model_version(
            model_name,
            version,
            alias=alias,
            reason=reason,
            metrics=metrics,
            actor=actor or local_actor(),
        )

    def roll_back_alias(
        self,
        model_name: str,
        alias: str = SERVING_ALIAS,
        *,
        actor: str | None = None,
        reason: str | None = None,
    ) -> ModelVersion:
        return super().roll_back_alias(
            model_name, alias, actor=actor or local_actor(), reason=reason
        )

    def set_model_version_stage(
        self,
        model_name: str,
        version: int,
        stage: str,
        *,
        reason: str | None = None,
        metrics: Mapping[str, float] | None = None,
        actor: str | None = None,
    ) -> ModelVersion:
        return super().set_model_version_stage(
            model_name, version, stage, reason=reason, metrics=metrics, actor=actor or local_actor()
        )

    def tag_model_version(
        self,
        model_name: str,
        version: int,
        key: str,
        value: str | None,
        *,
        actor: str | None = None,
    ) -> ModelVersion:
        return super().tag_model_version(
            model_name, version, key, value, actor=actor or local_actor()
        )


def local_actor() -> str:
    """The OS user running the CLI: who the model's history says made a local change."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no login name and no passwd entry (some containers)
        return f"uid:{os.getuid()}"
