"""The ``aiflow`` command: one typer app per command group, joined here.

Errors that aiflow raises on purpose print one red line and exit non-zero; ``--debug`` (or
``AIFLOW_DEBUG=1``) shows the traceback instead. Heavy modules are imported inside commands
(ruff's TID253 bans them at module level here) so ``aiflow --help`` answers at once.

``--server URL`` (or ``AIFLOW__CLIENT__SERVER``) sends the browse, model and run commands to an
aiflow server instead of the local meta store; the commands that administer the local store
itself (``db``, ``token``, ``server``, ``scheduler``, ``openapi``) or this machine (``flink``)
refuse a ``--server``, so that an operator never believes they changed a server's store when they
changed their own.
"""

from __future__ import annotations

import os
import sys

import typer

from aiflow.cli import browse, check, credentials, db, event, model, run, serve, server, trigger

# Commands that act on this machine or its store; an engine's own group (`aiflow flink`) too.
LOCAL_ONLY = {"db", "token", "server", "scheduler", "openapi", "serve"}

app = typer.Typer(
    name="aiflow",
    help="aiflow: one workflow file for offline and online ML.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.command("run")(run.run_command)
app.command("check")(check.check_command)
app.add_typer(db.app, name="db")
app.add_typer(browse.workflow_app, name="workflow")
app.add_typer(browse.execution_app, name="execution")
app.add_typer(browse.job_app, name="job")
app.add_typer(browse.example_app, name="example")
app.add_typer(event.app, name="event")
app.add_typer(model.app, name="model")
app.add_typer(trigger.app, name="trigger")
app.add_typer(browse.config_app, name="config")
app.command("server")(server.server_command)
app.command("scheduler")(server.scheduler_command)
app.command("serve")(serve.serve_command)
app.add_typer(server.token_app, name="token")
app.command("openapi")(server.openapi_command)
app.command("login")(credentials.login_command)
app.command("logout")(credentials.logout_command)


def _add_engine_groups() -> None:
    """One command group per engine plugin that has one (``aiflow flink ...``): read from the
    plugin descriptors, which import nothing heavy, so ``aiflow --help`` stays fast."""
    from aiflow.translators.plugin import plugins, resolve

    for name, plugin in plugins().items():
        if plugin.cli:
            app.add_typer(resolve(plugin.cli), name=name)
            LOCAL_ONLY.add(name)


_add_engine_groups()


@app.callback()
def _root(
    ctx: typer.Context,
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks on errors."),
    server_url: str | None = typer.Option(
        None,
        "--server",
        metavar="URL",
        help="Act through this aiflow server (env AIFLOW__CLIENT__SERVER) instead of locally.",
    ),
) -> None:
    if debug:
        os.environ["AIFLOW_DEBUG"] = "1"
    credentials.select_server(server_url)
    if server_url and ctx.invoked_subcommand in LOCAL_ONLY:
        from aiflow.errors import InvalidInput

        raise InvalidInput(
            f"`aiflow {ctx.invoked_subcommand}` acts on the local meta store only; "
            "drop --server (and run it where the server's store is configured)"
        )


def main() -> None:
    """Run the CLI; usage errors are handled by typer (exit 2), aiflow's own errors here."""
    from aiflow.errors import AiflowError

    try:
        app()
    except AiflowError as exc:
        if os.environ.get("AIFLOW_DEBUG") == "1":
            raise
        # A refusal by the server names its HTTP status, so it is not mistaken for a local one.
        status = f"{exc.status} {exc.code}" if exc.status in (401, 403) else None
        message = f"{status} from {credentials.server_url()}: {exc}" if status else str(exc)
        typer.secho(f"error: {message}", fg="red", err=True)
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
