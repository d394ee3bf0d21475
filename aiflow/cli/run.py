"""``aiflow run FILE``: load a workflow file and run one of its workflows."""

from __future__ import annotations

from pathlib import Path

import typer

from aiflow.cli.output import JSON_OPTION, print_json


def run_command(
    file: Path = typer.Argument(..., help="Python file that defines the workflow."),
    workflow: str | None = typer.Option(
        None, "--workflow", "-w", help="Workflow name, if the file defines several."
    ),
    mode: str = typer.Option("batch", "--mode", "-m", help="batch or stream."),
    engine: str | None = typer.Option(
        None,
        "--engine",
        "-e",
        help="Engine for nodes that do not pick one (default: the workflow's).",
    ),
    deployer: str | None = typer.Option(
        None, "--deployer", "-d", help="Where jobs run (default: local)."
    ),
    detach: bool = typer.Option(
        False, "--detach", help="Return at once; a background driver runs the execution."
    ),
    as_json: bool = JSON_OPTION,
) -> None:
    """Run a workflow file in batch or stream mode.

    A stream runs until Ctrl-C or `aiflow execution stop ID`."""
    from aiflow.errors import InvalidInput
    from aiflow.scheduler.submit import ExecutionFailed, run_workflow

    wf = load_workflow(file, workflow)
    try:
        execution = run_workflow(
            wf, mode=mode, engine=engine, deployer=deployer, detach=detach, progress=not as_json
        )
    except ExecutionFailed:
        if not as_json:
            raise
        execution = None
    if as_json:
        from aiflow.cli.progress import summary_data
        from aiflow.store.sql_store import MetaStore

        store = MetaStore()
        if execution is None:
            execution = store.list_executions(workflow=wf.name, limit=1)[0]
        print_json(summary_data(store, execution))
        if execution.status.value == "failed":
            raise typer.Exit(1)
    elif detach and execution is not None:
        typer.echo(
            f"execution {execution.id} started in the background "
            f"(`aiflow execution show {execution.id}`, `aiflow execution stop {execution.id}`)"
        )
    if execution is None:
        raise InvalidInput("execution did not start")


def load_workflow(file: Path, name: str | None):  # type: ignore[no-untyped-def]
    """The workflow named ``name`` in ``file`` (or its only one)."""
    from aiflow.dsl.workflow import Workflow
    from aiflow.errors import InvalidInput
    from aiflow.runtime.usercode import load_workflow_file

    if not file.is_file():
        raise InvalidInput(f"workflow file {file} does not exist")
    module = load_workflow_file(file)
    found = {v.name: v for v in vars(module).values() if isinstance(v, Workflow)}
    if not found:
        raise InvalidInput(f"{file} defines no workflow (use `with af.workflow(name) as wf:`)")
    if name is None:
        if len(found) > 1:
            raise InvalidInput(
                f"{file} defines workflows {sorted(found)}; pick one with --workflow NAME"
            )
        return next(iter(found.values()))
    if name not in found:
        raise InvalidInput(f"{file} has no workflow {name!r} (it has {sorted(found)})")
    return found[name]
