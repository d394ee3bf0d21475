"""``aiflow trigger``: schedules and event rules that start executions by themselves.

Works on the local meta store or through a server (``--server``), printing the same either way
(``aiflow.cli.backend``). A trigger only fires where a scheduler service runs: inside ``aiflow
server`` or as ``aiflow scheduler`` (see docs/scheduling.md).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from aiflow.cli.backend import LIMIT_OPTION, first_page
from aiflow.cli.output import JSON_OPTION, print_json, print_table, when

if TYPE_CHECKING:
    from aiflow.cli.backend import Backend
    from aiflow.schemas.entities import Trigger

app = typer.Typer(
    help="Triggers: schedules (cron, interval) and event rules that start executions.",
    no_args_is_help=True,
)

_RECENT = 10  # executions `trigger show` lists


def _store() -> Backend:
    """The local meta store, or the selected server (``--server``): same output either way."""
    from aiflow.cli.backend import backend

    return backend()


def describe(trigger: Trigger) -> str:
    """When it fires, in words: ``cron '0 2 * * *'``, ``every 3600s``, ``on MODEL_GENERATED
    key=wine value='*'``."""
    if trigger.cron is not None:
        return f"cron '{trigger.cron}' UTC"
    if trigger.interval is not None:
        return f"every {trigger.interval:g}s"
    match = [f"key={trigger.event_key}"] if trigger.event_key else []
    match += [f"value='{trigger.event_value}'"] if trigger.event_value else []
    return " ".join([f"on {trigger.event_type}", *match])


def upcoming(trigger: Trigger) -> str:
    if not trigger.enabled:
        return "disabled"
    if trigger.next_fire_at is not None:
        return f"next {when(trigger.next_fire_at)} UTC"
    return f"events after seq {trigger.event_cursor}"


@app.command("create")
def trigger_create(
    name: str = typer.Argument(..., help="Unique name: letters, digits, . _ -"),
    workflow: str = typer.Option(..., "--workflow", "-w", help="The stored workflow to run."),
    version: int | None = typer.Option(
        None, "--version", help="Pin this version number (default: the newest at each fire)."
    ),
    cron: str | None = typer.Option(
        None, "--cron", help="Five-field cron expression in UTC, e.g. '0 2 * * *'."
    ),
    interval: float | None = typer.Option(None, "--interval", help="Fire every N seconds."),
    event: str | None = typer.Option(
        None, "--event", metavar="TYPE", help="Fire on each new event of TYPE (MODEL_GENERATED)."
    ),
    key: str | None = typer.Option(None, "--key", help="With --event: only this event key."),
    value: str | None = typer.Option(
        None, "--value", help="With --event: only values matching this pattern ('deployed=*')."
    ),
    mode: str = typer.Option("batch", "--mode", help="batch or stream."),
    engine: str | None = typer.Option(None, "--engine", help="Repeat a run on this engine."),
    deployer: str | None = typer.Option(None, "--deployer", help="Default: the run's."),
    max_active: int | None = typer.Option(
        None, "--max-active", help="Skip a fire while N of its executions are unfinished."
    ),
    disabled: bool = typer.Option(False, "--disabled", help="Create it disabled."),
) -> None:
    """Create a trigger: exactly one of --cron, --interval or --event."""
    from aiflow.schemas.inputs import TriggerCreate, validated

    spec = validated(
        TriggerCreate,
        "trigger",
        name=name,
        workflow=workflow,
        version=version,
        cron=cron,
        interval=interval,
        event_type=event,
        event_key=key,
        event_value=value,
        mode=mode,
        engine=engine,
        deployer=deployer,
        max_active=max_active,
        enabled=not disabled,
    )
    trigger = _store().create_trigger(spec)
    typer.echo(f"created trigger '{trigger.name}' ({describe(trigger)}): {upcoming(trigger)}")


@app.command("list")
def trigger_list(
    workflow: str | None = typer.Option(None, "--workflow", "-w"),
    limit: int = LIMIT_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """List triggers by name."""
    items = first_page(_store().page_triggers(workflow=workflow, limit=limit + 1), limit)
    if as_json:
        return print_json(items)
    print_table(
        "triggers",
        ["name", "workflow", "version", "fires", "mode", "state", "last fired"],
        [
            (
                t.name,
                t.workflow_name,
                t.version or "newest",
                describe(t),
                t.mode,
                upcoming(t),
                when(t.last_fired_at),
            )
            for t in items
        ],
    )


@app.command("show")
def trigger_show(name: str, as_json: bool = JSON_OPTION) -> None:
    """Show a trigger and the newest executions it started.

    Its fires, skips and failures are events: `aiflow event list --key trigger/NAME`."""
    store = _store()
    trigger = store.get_trigger(name)
    executions = store.list_executions(trigger=name, limit=_RECENT)
    if as_json:
        return print_json({"trigger": trigger, "executions": executions})
    print_table(
        f"trigger {name}",
        ["field", "value"],
        [
            ("workflow", trigger.workflow_name),
            ("version", trigger.version or "newest"),
            ("fires", describe(trigger)),
            ("runs", f"{trigger.action} job {trigger.job}" if trigger.job else "the workflow"),
            ("origin", trigger.origin),
            ("mode", trigger.mode),
            ("engine", trigger.engine or "as last run"),
            ("deployer", trigger.deployer or "as last run"),
            ("max active", trigger.max_active or "-"),
            ("state", upcoming(trigger)),
            ("last fired", when(trigger.last_fired_at)),
            ("created", when(trigger.created_at)),
        ],
    )
    print_table(
        f"executions started by {name} (newest {_RECENT})",
        ["id", "status", "created"],
        [(e.id, e.status.value, when(e.created_at)) for e in executions],
    )


@app.command("enable")
def trigger_enable(name: str) -> None:
    """Enable a trigger; it starts afresh from now (nothing fires for the time it was off)."""
    from aiflow.schemas.inputs import TriggerUpdate

    trigger = _store().update_trigger(name, TriggerUpdate(enabled=True))
    typer.echo(f"enabled trigger '{trigger.name}': {upcoming(trigger)}")


@app.command("disable")
def trigger_disable(name: str) -> None:
    """Disable a trigger: it fires no more until enabled."""
    from aiflow.schemas.inputs import TriggerUpdate

    trigger = _store().update_trigger(name, TriggerUpdate(enabled=False))
    typer.echo(f"disabled trigger '{trigger.name}'")


@app.command("delete")
def trigger_delete(name: str) -> None:
    """Delete a trigger (the executions it started and its events stay)."""
    trigger = _store().delete_trigger(name)
    typer.echo(f"deleted trigger '{trigger.name}'")
