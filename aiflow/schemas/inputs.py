"""What callers hand to the meta store to create or change things (the entities are what comes
back): examples, jobs, triggers, a workflow's rules and their fires. The REST API takes
``TriggerCreate`` and ``TriggerUpdate`` as request bodies unchanged.

Validated pydantic models rather than loose dicts: a malformed job or example is rejected at
the boundary with a message naming the field, before a transaction starts.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Final, Literal, TypedDict, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, model_validator

from aiflow.errors import InvalidInput
from aiflow.schemas.entities import TriggerAction, TriggerKind
from aiflow.schemas.limits import (
    CRON_LENGTH,
    INT32_MAX,
    NAME_LENGTH,
    NAME_PATTERN,
    NO_CONTROL,
    PLAIN_NAME,
    TRIGGER_NAME_LENGTH,
    TRIGGER_NAME_PATTERN,
    name_rule,
)
from aiflow.schemas.schedules import check_cron

M = TypeVar("M", bound=BaseModel)


class _Input(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ExampleCreate(_Input):
    """An example (dataset) to register or update, matched by ``name``."""

    name: str = Field(
        min_length=1, max_length=NAME_LENGTH, pattern=NAME_PATTERN, description=name_rule("example")
    )
    columns: dict[str, str]  # column -> type
    format: str = Field(min_length=1, max_length=32)
    batch_uri: str | None = None
    stream_uri: str | None = None


class JobCreate(_Input):
    """One job of a new execution; ``depends_on`` names other jobs of the same execution."""

    name: str = Field(min_length=1, max_length=NAME_LENGTH)
    engine: str = Field(min_length=1, max_length=64)
    spec: dict[str, Any]
    depends_on: list[str] = Field(default_factory=list)
    max_retries: int = Field(default=0, ge=0)
    retry_delay: float = Field(default=0.0, ge=0.0)
    timeout: float | None = Field(default=None, gt=0.0)


class JobFields(TypedDict, total=False):
    """Job columns a deployer or runtime may set besides the status (``update_job``,
    ``transition_job``); keys left out stay unchanged."""

    attempt: int
    handle: dict[str, Any] | None
    log_uri: str | None
    exit_code: int | None
    error: str | None
    result: dict[str, Any] | None


# -- triggers -------------------------------------------------------------------------------------

MAX_INTERVAL: Final = 366 * 24 * 3600.0  # s; longer schedules are cron expressions
MAX_ACTIVE_LIMIT: Final = 10_000

CronExpression = Annotated[
    str,
    Field(
        max_length=CRON_LENGTH,
        description="five-field cron expression (minute hour day month weekday), in UTC",
    ),
    AfterValidator(check_cron),
]


class TriggerCreate(_Input):
    """A trigger to create: exactly one of ``cron``, ``interval`` (periodic) or ``event_type``
    (an event rule). Each fire runs workflow ``workflow`` -- its newest version, or version
    ``version`` -- in ``mode`` (see ``aiflow/scheduler/triggers.py``)."""

    name: str = Field(
        min_length=1,
        max_length=TRIGGER_NAME_LENGTH,
        pattern=TRIGGER_NAME_PATTERN,
        description="unique: letters, digits, . _ - (it names the trigger in URLs and events)",
    )
    workflow: str = Field(
        min_length=1, max_length=NAME_LENGTH, pattern=NAME_PATTERN, description="a workflow name"
    )
    version: int | None = Field(
        default=None, ge=1, le=INT32_MAX, description="pin this version (default: the newest)"
    )
    cron: CronExpression | None = None
    interval: float | None = Field(
        default=None, ge=1.0, le=MAX_INTERVAL, description="fire every this many seconds"
    )
    event_type: str | None = Field(
        default=None,
        min_length=1,
        max_length=64,
        pattern=NO_CONTROL,
        description="fire on each new event of this type (MODEL_GENERATED, MODEL_ALIAS_SET...)",
    )
    event_key: str | None = Field(
        default=None,
        min_length=1,
        max_length=NAME_LENGTH,
        pattern=NO_CONTROL,
        description="only events with this key (e.g. the model name)",
    )
    event_value: str | None = Field(
        default=None,
        min_length=1,
        max_length=NAME_LENGTH,
        pattern=NO_CONTROL,
        description="only events whose value matches this shell-style pattern ('deployed=*')",
    )
    mode: Literal["batch", "stream"] = "batch"
    engine: str | None = Field(default=None, pattern=PLAIN_NAME)
    deployer: str | None = Field(default=None, pattern=PLAIN_NAME)
    max_active: int | None = Field(
        default=None,
        ge=1,
        le=MAX_ACTIVE_LIMIT,
        description="skip a fire while this many of the trigger's executions are unfinished",
    )
    enabled: bool = True

    @model_validator(mode="after")
    def _one_kind(self) -> TriggerCreate:
        given = [f for f in ("cron", "interval", "event_type") if getattr(self, f) is not None]
        if len(given) != 1:
            raise ValueError(
                "give exactly one of cron, interval (a periodic trigger) or event_type (an "
                f"event rule); got {', '.join(given) or 'none'}"
            )
        if self.event_type is None and (self.event_key or self.event_value):
            raise ValueError("event_key and event_value only go with event_type")
        return self

    @property
    def kind(self) -> TriggerKind:
        return TriggerKind.EVENT if self.event_type is not None else TriggerKind.PERIODIC


class TriggerUpdate(_Input):
    """Changes to a trigger: fields left out stay as they are. ``cron`` or ``interval``
    replaces a periodic trigger's schedule; ``max_active: null`` removes the limit. Enabling
    a trigger starts it afresh from now: no fire for the time it was disabled."""

    enabled: bool | None = None
    cron: CronExpression | None = None
    interval: float | None = Field(default=None, ge=1.0, le=MAX_INTERVAL)
    max_active: int | None = Field(default=None, ge=1, le=MAX_ACTIVE_LIMIT)

    @model_validator(mode="after")
    def _one_schedule(self) -> TriggerUpdate:
        if self.cron is not None and self.interval is not None:
            raise ValueError("give cron or interval, not both")
        for field in ("enabled", "cron", "interval"):
            if field in self.model_fields_set and getattr(self, field) is None:
                raise ValueError(f"{field} cannot be null (leave it out to keep it)")
        return self


class RuleCreate(_Input):
    """One rule of an event-driven job (``af.action_on_*``), as ``submit_workflow`` hands it to
    ``set_workflow_rules``: a trigger named ``name`` that runs ``job`` alone, as an execution of
    the submitted version in ``mode`` on ``engine`` and ``deployer``, on each event of
    ``event_type`` (with ``event_key``, and a value matching ``event_value``). A job-status
    rule has no key and the upstream job's name as its value: it only counts that job's
    events in executions of the same workflow."""

    name: str = Field(min_length=1, max_length=TRIGGER_NAME_LENGTH, pattern=TRIGGER_NAME_PATTERN)
    event_type: str = Field(min_length=1, max_length=64, pattern=NO_CONTROL)
    event_key: str | None = Field(
        default=None, min_length=1, max_length=NAME_LENGTH, pattern=NO_CONTROL
    )
    event_value: str | None = Field(
        default=None, min_length=1, max_length=NAME_LENGTH, pattern=NO_CONTROL
    )
    action: TriggerAction = "start"
    job: JobCreate
    mode: Literal["batch", "stream"]
    engine: str = Field(min_length=1, max_length=64)
    deployer: str = Field(min_length=1, max_length=64)

    @model_validator(mode="after")
    def _alone(self) -> RuleCreate:
        if self.job.depends_on:
            raise ValueError(
                f"job '{self.job.name}' is event-driven and runs alone, but depends on "
                f"{self.job.depends_on}"
            )
        return self


class ExecutionStart(_Input):
    """What a fire records: a queued execution of a stored workflow version with these jobs."""

    workflow_version_id: int
    mode: Literal["batch", "stream"]
    engine: str = Field(min_length=1, max_length=64)
    deployer: str = Field(min_length=1, max_length=64)
    jobs: list[JobCreate]


class TriggerFire(_Input):
    """One fire, claimed by compare-and-set of the trigger's position (``fire_trigger``).

    A periodic fire consumes ``due_at`` (the stored ``next_fire_at``) and stores
    ``next_fire_at``; an event fire moves the cursor from ``after_seq`` to ``event_seq``.
    ``start`` is ``None`` when nothing could be started: ``error`` says why, and the fire is
    recorded as failed (the position still moves, so a broken trigger does not retry in a loop).
    A workflow's rule ignores ``start``: the store builds its execution from the trigger row,
    in the fire's transaction (see ``TriggerStore.fire_trigger``).
    """

    trigger_id: int
    fired_at: datetime
    reason: str = Field(max_length=1024)  # "due 2025-01-01T02:00:00Z", "event 42", ...
    due_at: datetime | None = None
    next_fire_at: datetime | None = None
    after_seq: int | None = None
    event_seq: int | None = None
    start: ExecutionStart | None = None
    error: str | None = None


def validated(model: type[M], what: str, /, **fields: Any) -> M:
    """``model(**fields)``, with a validation failure raised as ``InvalidInput`` naming each
    field, its value and why (for the CLI and the library; the REST API reports the same
    problems as a 422 naming the fields)."""
    try:
        return model(**fields)
    except ValidationError as exc:
        problems = []
        for error in exc.errors(include_url=False):
            where = ".".join(str(part) for part in error["loc"])
            message = error["msg"].removeprefix("Value error, ")
            if where and error["type"] != "value_error":  # value errors quote it themselves
                where += f" {error['input']!r}"
            problems.append(f"{where}: {message}" if where else message)
        raise InvalidInput(f"invalid {what}: " + "; ".join(problems)) from None
