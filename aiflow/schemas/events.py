"""Which events users may send: the platform's own event types are reserved.

Rules act on ``MODEL_*`` (a version generated, validated, deployed...), ``JOB_*`` (a job's
status) and ``TRIGGER_*`` events; if users could send them, a job or a token holder could make
a rule deploy, validate or restart things by forging one. ``af.send_event``, ``aiflow event
send`` and ``POST /events`` take any other type (default ``user``).
"""

from __future__ import annotations

from typing import Final

from aiflow.errors import InvalidInput

RESERVED_PREFIXES: Final = ("MODEL_", "JOB_", "TRIGGER_", "EXECUTION_")
TYPE_LENGTH: Final = 64


def check_user_event_type(event_type: str) -> str:
    """``event_type`` if users may send it, else ``InvalidInput`` saying why."""
    if not event_type or len(event_type) > TYPE_LENGTH:
        raise InvalidInput(f"event type {event_type!r} must be 1 to {TYPE_LENGTH} characters")
    if event_type.upper().startswith(RESERVED_PREFIXES):
        raise InvalidInput(
            f"event type {event_type!r} is reserved for the platform's own events "
            f"({', '.join(p + '*' for p in RESERVED_PREFIXES)}); send another type, e.g. 'user'"
        )
    return event_type
