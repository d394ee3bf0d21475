"""When a periodic trigger fires next: a cron expression or a fixed interval, always in UTC.

Cron expressions are parsed by ``cronsim`` (no dependencies, strict parser, the one behind
Healthchecks.io). Only the standard five fields are accepted (minute hour day-of-month month
day-of-week): cronsim also reads a six-field form with *seconds first*, which people used to
Quartz or AWS cron (where the extra field is the year) would misread.

Both kinds answer the same question, "the first fire time strictly after ``now``", which is
what implements the missed-fire policy: a scheduler that was down over several due times fires
once and then continues from now, it never replays the missed ones. Intervals keep their phase
(``due + k * interval``), so an hourly trigger created at :17 keeps firing at :17.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Final

from cronsim import CronSim, CronSimError

CRON_FIELDS: Final = 5
CRON_FORMAT: Final = "minute hour day-of-month month day-of-week"


def check_cron(expression: str) -> str:
    """``expression`` with its fields separated by single spaces; ``ValueError`` saying what is
    wrong with it (quoting it) if it is not a five-field cron expression that ever fires."""
    fields = expression.split()
    if len(fields) != CRON_FIELDS:
        raise ValueError(
            f"cron expression {expression!r} has {len(fields)} fields; it needs "
            f"{CRON_FIELDS} ({CRON_FORMAT}), e.g. '0 2 * * *' for 02:00 UTC daily"
        )
    normalized = " ".join(fields)
    try:
        next(CronSim(normalized, datetime(2000, 1, 1, tzinfo=UTC)))
    except CronSimError as exc:
        raise ValueError(f"cron expression {expression!r} is invalid: {exc}") from None
    except StopIteration:
        raise ValueError(f"cron expression {expression!r} never fires") from None
    return normalized


def next_cron(expression: str, now: datetime) -> datetime:
    """The first time after ``now`` (UTC) that ``expression`` matches."""
    return next(CronSim(expression, now.astimezone(UTC)))


def next_interval(interval: float, now: datetime, due: datetime | None = None) -> datetime:
    """The first ``due + k * interval`` after ``now`` (k ≥ 1); ``now + interval`` without a
    previous due time."""
    step = timedelta(seconds=interval)
    if due is None:
        return now + step
    periods = math.floor((now - due) / step) + 1  # the due one, and any missed since
    return due + max(periods, 1) * step


def next_fire(
    *, cron: str | None, interval: float | None, now: datetime, due: datetime | None = None
) -> datetime:
    """When a periodic trigger fires after ``now`` (``due``: the fire time being consumed)."""
    if cron is not None:
        return next_cron(cron, now)
    if interval is None:
        raise ValueError("a periodic trigger needs a cron expression or an interval")
    return next_interval(interval, now, due)
