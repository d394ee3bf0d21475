"""``aiflow run FILE``: load a workflow file and run one of its workflows, here or (with
``--server``) on an aiflow server, with the same live progress and summary either way."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from aiflow.cli.output import JSON_OPTION, print_json

if TYPE_CHECKING:
    from aiflow.cli.backend import Backend
    from aiflow.dsl.workflow import Workflow
    from aiflow.schemas.entities import Execution

POLL_INTERVAL = 0.5  # s between status requests while a remote execution runs
STOP_WAIT = 10.0  # s the server may take to stop an execution after Ctrl-C


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
    from aiflow.cli.credentials import server_url
    from aiflow.dsl.progress import LiveProgress
    from aiflow.errors import InvalidInput
    from aiflow.scheduler.submit import ExecutionFailed, run_workflow

    wf = load_workflow(file, workflow)
    url = server_url()
    if url is not None:
        return _run_remote(wf, url, mode, engine, deployer, detach, as_json)
    try:
        execution = run_workflow(
            wf,
            mode=mode,
            engine=engine,
            deployer=deployer,
            detach=detach,
            progress=None if as_json else LiveProgress,
        )
    except ExecutionFailed:
        if not as_json:
            raise
        execution = None
    if as_json:
        from aiflow.dsl.progress import summary_data
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
    from aiflow.translators.usercode import load_workflow_file

    if file.is_dir():
        candidates = sorted(file.glob("*.py"))
        named = [p for p in candidates if p.name == "workflow.py"] or candidates
        hint = f": aiflow run {named[0]}" if len(named) == 1 else ""
        if len(named) > 1:
            hint = f" (it holds {', '.join(p.name for p in named[:5])})"
        raise InvalidInput(f"{file} is a directory; pass the workflow file in it{hint}")
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


def _run_remote(
    wf: Workflow,
    url: str,
    mode: str,
    engine: str | None,
    deployer: str | None,
    detach: bool,
    as_json: bool,
) -> None:
    """Submit with ``af.run(server=...)``, then follow the execution by polling the API and
    print what a local run prints (live jobs table, summary; or the ``--json`` summary).

    Ctrl-C stops the execution on the server, as it stops a local one."""
    import aiflow as af
    from aiflow.cli.backend import backend
    from aiflow.cli.credentials import token_for
    from aiflow.dsl.progress import print_summary, summary_data
    from aiflow.errors import InvalidInput
    from aiflow.scheduler.submit import ExecutionFailed
    from aiflow.schemas.entities import ExecutionStatus

    token = token_for(url)
    execution = af.run(
        wf,
        mode,
        engine=engine,
        deployer=deployer,
        detach=True,
        progress=False,
        server=url,
        token=token,
    )
    if execution is None:  # af.run is inert while a workflow file is being loaded
        raise InvalidInput("execution did not start")
    remote = backend()
    if not detach:
        try:
            execution = _follow(remote, execution, live=not as_json)
        except KeyboardInterrupt:
            remote.stop_execution(execution.id, STOP_WAIT)
            raise
    if as_json:
        print_json(summary_data(remote, execution))
        if execution.status is ExecutionStatus.FAILED:
            raise typer.Exit(1)
    elif detach:
        typer.echo(
            f"execution {execution.id} submitted to {url} "
            f"(`aiflow --server {url} execution show {execution.id}`)"
        )
    else:
        print_summary(remote, execution)
        if execution.status is ExecutionStatus.FAILED:
            raise ExecutionFailed(
                f"execution {execution.id} of '{execution.workflow_name}' failed on {url}: "
                f"{execution.error} (see `aiflow --server {url} job list {execution.id}`)"
            )


def _follow(remote: Backend, execution: Execution, *, live: bool) -> Execution:
    """Poll until the execution finished; with ``live``, redraw the jobs table as it goes."""
    from aiflow.dsl.progress import LiveProgress

    if not live:
        while not execution.status.finished:
            time.sleep(POLL_INTERVAL)
            execution = remote.get_execution(execution.id)
        return execution
    with LiveProgress(execution) as progress:
        while True:
            progress.update(execution, remote.list_jobs(execution.id))
            if execution.status.finished:
                return execution
            time.sleep(POLL_INTERVAL)
            execution = remote.get_execution(execution.id)
