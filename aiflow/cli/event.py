"""``aiflow event``: the meta store's event log, read and written.

``list`` (reading, with ``--after``, ``--key``, ``--type``, ``--follow``, ``--json``) lives
with the other read commands (``aiflow.cli.browse``); this module adds ``send``, the CLI's
``af.send_event``: the rules of ``af.action_on_event`` with the event's key and type fire on
it, once each (docs/scheduling.md). Locally it writes the local meta store, with ``--server``
it goes through the server (``POST /api/v1/events``, an editor token); either way the
platform's own event types (``MODEL_*``, ``JOB_*``, ``TRIGGER_*``, ``EXECUTION_*``) are
refused, since rules deploy, validate and restart things on them.
"""

from __future__ import annotations

import typer

from aiflow.cli.browse import event_app
from aiflow.cli.output import JSON_OPTION, print_json

app = event_app


@app.command("send")
def event_send(
    key: str = typer.Argument(..., help="What the event is about (rules match it exactly)."),
    value: str = typer.Argument("", help="Any text, e.g. a version or a path."),
    type_: str = typer.Option(
        "user", "--type", help="The event's type (not MODEL_*, JOB_*, TRIGGER_*, EXECUTION_*)."
    ),
    as_json: bool = JSON_OPTION,
) -> None:
    """Append a user event to the log; rules of af.action_on_event on it fire once each."""
    from aiflow.cli.backend import backend

    event = backend().send_event(key, value, type_)
    if as_json:
        return print_json(event)
    typer.echo(f"sent event {event.seq}: {event.type} {event.key} {event.value!r}")
