"""The ``aiflow`` command: one typer app per command group, joined here.

Errors that aiflow raises on purpose print one red line and exit non-zero; ``--debug`` (or
``AIFLOW_DEBUG=1``) shows the traceback instead. Heavy modules are imported inside commands
(ruff's TID253 bans them at module level here) so ``aiflow --help`` answers at once.
"""

from __future__ import annotations

import os
import sys

import typer

from aiflow.cli import browse, db, model, run, server

app = typer.Typer(
    name="aiflow",
    help="aiflow: one workflow file for offline and online ML.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.command("run")(run.run_command)
app.add_typer(db.app, name="db")
app.add_typer(browse.workflow_app, name="workflow")
app.add_typer(browse.execution_app, name="execution")
app.add_typer(browse.job_app, name="job")
app.add_typer(browse.example_app, name="example")
app.add_typer(browse.event_app, name="event")
app.add_typer(model.app, name="model")
app.add_typer(browse.config_app, name="config")
app.command("server")(server.server_command)
app.add_typer(server.token_app, name="token")
app.command("openapi")(server.openapi_command)


@app.callback()
def _root(
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks on errors."),
) -> None:
    if debug:
        os.environ["AIFLOW_DEBUG"] = "1"


def main() -> None:
    """Run the CLI; usage errors are handled by typer (exit 2), aiflow's own errors here."""
    from aiflow.errors import AiflowError

    try:
        app()
    except AiflowError as exc:
        if os.environ.get("AIFLOW_DEBUG") == "1":
            raise
        typer.secho(f"error: {exc}", fg="red", err=True)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        typer.secho("interrupted", fg="yellow", err=True)
        sys.exit(130)
    except Exception as exc:
        if os.environ.get("AIFLOW_DEBUG") == "1":
            raise
        typer.secho(f"error: {type(exc).__name__}: {exc} (rerun with --debug)", fg="red", err=True)
        sys.exit(1)


if __name__ == "__main__":
    main()
