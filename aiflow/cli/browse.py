"""Read-mostly command groups: workflow, execution, job, example, event, config."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import typer

from aiflow.cli.backend import LIMIT_OPTION, first_page
from aiflow.cli.output import JSON_OPTION, print_json, print_table, when

if TYPE_CHECKING:
    from aiflow.cli.backend import Backend

workflow_app = typer.Typer(help="Workflows and their versions.", no_args_is_help=True)
execution_app = typer.Typer(help="Executions: list, show, stop.", no_args_is_help=True)
job_app = typer.Typer(help="Jobs of executions and their logs.", no_args_is_help=True)
example_app = typer.Typer(help="Registered examples (datasets).", no_args_is_help=True)
event_app = typer.Typer(help="The event log.", no_args_is_help=True)
config_app = typer.Typer(help="Effective configuration.", no_args_is_help=True)


def _store() -> Backend:
    """The local meta store, or the selected server (``--server``): same output either way."""
    from aiflow.cli.backend import backend

    return backend()


def _duration(seconds: float | None) -> str:
    from aiflow.dsl.progress import fmt_duration

    return fmt_duration(seconds)


# -- workflow ---------------------------------------------------------------------------------


@workflow_app.command("list")
def workflow_list(limit: int = LIMIT_OPTION, as_json: bool = JSON_OPTION) -> None:
    """List workflows by name."""
    items = first_page(_store().page_workflows(limit=limit + 1), limit)
    if as_json:
        return print_json(items)
    print_table(
        "workflows", ["id", "name", "created"], [(w.id, w.name, when(w.created_at)) for w in items]
    )


PLAN_ROWS = 200  # plan nodes `workflow show` draws by default; a table of 100,000 takes minutes


@workflow_app.command("show")
def workflow_show(
    name: str,
    limit: int = LIMIT_OPTION,
    nodes: int = typer.Option(
        PLAN_ROWS, "--nodes", min=0, help="Show at most this many plan nodes (0: all)."
    ),
    as_json: bool = JSON_OPTION,
) -> None:
    """Show a workflow's versions, newest first, and the newest version's plan graph."""
    store = _store()
    workflow = store.get_workflow(name)
    versions = first_page(store.page_workflow_versions(name, limit=limit + 1), limit)
    if as_json:
        return print_json({"workflow": workflow, "versions": versions})
    print_table(
        f"workflow {name}",
        ["version", "id", "plan hash", "source hash", "created"],
        [
            (v.version, v.id, v.plan_hash[:12], v.source_hash[:12], when(v.created_at))
            for v in versions
        ],
    )
    if versions:
        graph = store.get_workflow_graph(name, versions[0].version)
        shown = graph.nodes if nodes == 0 else graph.nodes[:nodes]
        wanted = {node.id for node in shown}
        inputs: dict[str, list[str]] = {}  # one pass over the edges, not one per node
        for e in graph.edges:
            if e.kind != "control" and e.target in wanted:
                inputs.setdefault(e.target, []).append(
                    e.source + (" (model)" if e.kind == "model" else "")
                )
        rows = []
        for node in shown:
            what = node.component or node.example or ""
            rows.append(
                (node.id, node.kind, what, node.engine, ", ".join(inputs.get(node.id, [])) or "-")
            )
        print_table(
            f"plan of version {versions[0].version}",
            ["node", "kind", "uses", "engine", "inputs"],
            rows,
        )
        if len(shown) < len(graph.nodes):
            typer.echo(
                f"... and {len(graph.nodes) - len(shown)} more of {len(graph.nodes)} nodes "
                "(--nodes N shows more, --nodes 0 all)"
            )


# -- execution --------------------------------------------------------------------------------


@execution_app.command("list")
def execution_list(
    workflow: str | None = typer.Option(None, "--workflow", "-w"),
    status: str | None = typer.Option(None, "--status", "-s"),
    limit: int = typer.Option(50, "--limit", "-n"),
    as_json: bool = JSON_OPTION,
) -> None:
    """List executions, newest first."""
    from aiflow.errors import InvalidInput
    from aiflow.schemas.entities import ExecutionStatus

    try:
        wanted = ExecutionStatus(status) if status else None
    except ValueError:
        valid = ", ".join(s.value for s in ExecutionStatus)
        raise InvalidInput(f"unknown status {status!r} (valid: {valid})") from None
    items = _store().list_executions(workflow, wanted, limit)
    if as_json:
        return print_json(items)
    rows = []
    for e in items:
        duration = (
            (e.ended_at - e.started_at).total_seconds() if e.started_at and e.ended_at else None
        )
        rows.append(
            (
                e.id,
                e.workflow_name,
                e.mode,
                e.engine,
                e.status.value,
                when(e.created_at),
                _duration(duration),
            )
        )
    print_table(
        "executions", ["id", "workflow", "mode", "engine", "status", "created", "duration"], rows
    )


@execution_app.command("show")
def execution_show(execution_id: int, as_json: bool = JSON_OPTION) -> None:
    """Show an execution: its jobs, model versions, metrics and outputs."""
    from aiflow.dsl.progress import print_summary, summary_data

    store = _store()
    execution = store.get_execution(execution_id)
    if as_json:
        return print_json(summary_data(store, execution))
    print_summary(store, execution)


@execution_app.command("stop")
def execution_stop(
    execution_id: int,
    wait: float = typer.Option(30.0, help="Seconds to wait for the jobs to end."),
) -> None:
    """Stop a running execution: its jobs (and their children) end, state `killed`."""
    execution = _store().stop_execution(execution_id, wait)
    typer.echo(f"execution {execution.id}: {execution.status.value}")


# -- job --------------------------------------------------------------------------------------


@job_app.command("list")
def job_list(execution_id: int, as_json: bool = JSON_OPTION) -> None:
    """List the jobs of an execution."""
    jobs = _store().list_jobs(execution_id)
    if as_json:
        return print_json(jobs)
    names = {j.id: j.name for j in jobs}
    rows = [
        (
            j.id,
            j.name,
            j.engine,
            j.status.value,
            j.attempt,
            _duration(j.duration),
            ", ".join(names[d] for d in j.depends_on) or "-",
            j.error or "",
        )
        for j in jobs
    ]
    print_table(
        f"jobs of execution {execution_id}",
        ["id", "name", "engine", "status", "attempt", "duration", "after", "error"],
        rows,
    )


@job_app.command("show")
def job_show(job_id: int, as_json: bool = JSON_OPTION) -> None:
    """Show one job: status, attempts, log location, result."""
    job = _store().get_job(job_id)
    if as_json:
        return print_json(job)
    fields = [
        ("id", job.id),
        ("name", job.name),
        ("execution", job.execution_id),
        ("engine", job.engine),
        ("status", job.status.value),
        ("attempt", f"{job.attempt} of {job.max_retries + 1}"),
        ("started", when(job.started_at)),
        ("ended", when(job.ended_at)),
        ("duration", _duration(job.duration)),
        ("exit code", job.exit_code),
        ("error", job.error),
        ("log", job.log_uri),
        ("nodes", ", ".join(n["id"] for n in job.spec.get("nodes", []))),
    ]
    fields.extend(_engine_fields(job))
    fields.append(("result", job.result))
    print_table(f"job {job.id}", ["field", "value"], fields)


@job_app.command("logs")
def job_logs(
    job_id: int,
    follow: bool = typer.Option(False, "--follow", "-f", help="Keep printing until the job ends."),
    tail: int | None = typer.Option(None, "--tail", help="Only the last N lines."),
) -> None:
    """Print a job's log (its latest attempt), then what its engine logged elsewhere (for a
    Flink job on a session cluster, the TaskManager's lines of that job)."""
    for line in _store().job_logs(job_id, follow, tail):
        typer.echo(line, nl=not line.endswith("\n"))


def _engine_fields(job: Any) -> list[tuple[str, Any]]:
    """What the job's engine adds to ``job show`` (Flink: its job id and web UI)."""
    from aiflow.config import get_settings
    from aiflow.errors import AiflowError
    from aiflow.translators.engine import load_engine

    try:
        engine = load_engine(job.engine)
    except AiflowError:  # an engine plugin uninstalled since: show the rest
        return []
    return engine.describe_job(job.result or {}, get_settings())


# -- example, event, config -------------------------------------------------------------------


@example_app.command("list")
def example_list(limit: int = LIMIT_OPTION, as_json: bool = JSON_OPTION) -> None:
    """List registered examples by name."""
    items = first_page(_store().page_examples(limit=limit + 1), limit)
    if as_json:
        return print_json(items)
    print_table(
        "examples",
        ["name", "format", "batch uri", "stream uri", "columns"],
        [(e.name, e.format, e.batch_uri, e.stream_uri, len(e.columns)) for e in items],
    )


@example_app.command("show")
def example_show(name: str, as_json: bool = JSON_OPTION) -> None:
    """Show an example and its schema."""
    example = _store().get_example(name)
    if as_json:
        return print_json(example)
    print_table(
        f"example {name}",
        ["field", "value"],
        [
            ("format", example.format),
            ("batch uri", example.batch_uri),
            ("stream uri", example.stream_uri),
            ("updated", when(example.updated_at)),
        ],
    )
    print_table("schema", ["column", "type"], list(example.columns.items()))


@event_app.command("list")
def event_list(
    after: int = typer.Option(0, "--after", help="Only events with a sequence number above this."),
    key: str | None = typer.Option(None, "--key"),
    type_: str | None = typer.Option(None, "--type"),
    limit: int = typer.Option(100, "--limit", "-n"),
    follow: bool = typer.Option(False, "--follow", "-f", help="Keep printing new events."),
    as_json: bool = JSON_OPTION,
) -> None:
    """List events in sequence order."""
    store = _store()
    events = store.list_events(after, key, type_, limit)
    if as_json and not follow:
        return print_json(events)
    if not follow:
        return print_table(
            "events",
            ["seq", "time", "key", "type", "value"],
            [(e.seq, when(e.created_at), e.key, e.type, e.value) for e in events],
        )
    last = after
    while True:
        for e in events:
            typer.echo(f"{e.seq}\t{when(e.created_at)}\t{e.key}\t{e.type}\t{e.value}")
            last = e.seq
        time.sleep(0.5)
        events = store.list_events(last, key, type_, limit)


@config_app.command("show")
def config_show() -> None:
    """Print the effective configuration (credentials masked)."""
    from aiflow.config import get_settings

    print_json(get_settings().public_dict())
