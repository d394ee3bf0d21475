"""``aiflow server`` (the REST API), ``aiflow token ...`` (its API tokens), ``aiflow openapi``.

Token commands work on the meta store directly, not through the server: that is how the first
admin token is made, and how an admin locked out of the API gets back in.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import typer

from aiflow.cli.output import JSON_OPTION, print_json, print_table, when
from aiflow.schemas.entities import Role

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry

    from aiflow.scheduler.service import SchedulerService
    from aiflow.store.sql_store import MetaStore

token_app = typer.Typer(
    help="API tokens of the REST server: create, list, revoke.", no_args_is_help=True
)


def server_command(
    host: str | None = typer.Option(
        None, "--host", help="Address to bind (default: server.host, 127.0.0.1)."
    ),
    port: int | None = typer.Option(
        None, "--port", min=0, max=65535, help="Port (default: server.port, 8080)."
    ),
    dev: bool = typer.Option(
        False,
        "--dev",
        help="No authentication: every request is the admin 'dev'. Loopback addresses only.",
    ),
) -> None:
    """Serve the REST API (with uvicorn) until Ctrl-C or SIGTERM.

    Needs AIFLOW__SERVER__SECRET_KEY unless --dev. Reconciles dead executions at start-up.
    """
    import uvicorn

    from aiflow.config import get_settings
    from aiflow.server.app import create_app

    settings = get_settings()
    given = {"host": host, "port": port, "dev": dev or None}
    server = settings.server.model_copy(update={k: v for k, v in given.items() if v is not None})
    app = create_app(settings=settings.model_copy(update={"server": server}))  # or refuses
    _serve_job_api(server.host, server.port)
    _reconcile(app.state.store)
    # Its metrics go to the app's registry (so to /metrics) only when it runs in here.
    registry = app.state.metrics.registry if server.scheduler else None
    scheduler = _scheduler(app.state.store, server.scheduler_interval, registry=registry)
    if server.scheduler:
        scheduler.start_thread()
    _announce_dashboard(server.host, server.port, dev=server.dev)
    try:
        uvicorn.run(
            app,
            host=server.host,
            port=server.port,
            log_config=_log_config(),
            server_header=False,
            timeout_graceful_shutdown=10,  # streaming responses (log follow) must not block exit
        )
    finally:
        scheduler.stop()


def scheduler_command(
    interval: float = typer.Option(2.0, help="Seconds between passes."),
) -> None:
    """Run the scheduler service beside a server (the server also runs one inside).

    Fires due triggers and matching event rules, starts drivers for executions left queued
    without one and ends executions whose driver died. Any number may run on one meta store:
    fires and driver claims are atomic, so each happens once.
    """
    import logging

    from aiflow.store.sql_store import MetaStore

    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(message)s")
    logging.getLogger("aiflow").setLevel(logging.INFO)
    service = _scheduler(MetaStore(), interval=interval)
    typer.echo(f"scheduler running on {service.store!r} (Ctrl-C stops it)", err=True)
    try:
        service.run()
    except KeyboardInterrupt:
        service.stop()


def _announce_dashboard(host: str, port: int, *, dev: bool) -> None:
    from aiflow.server.dashboard import is_built

    shown = f"[{host}]" if ":" in host else host
    if not is_built():
        typer.echo("web dashboard: not built (scripts/build_web.sh)", err=True)
        return
    how = "no sign-in (dev mode)" if dev else "sign in with a token (`aiflow token create`)"
    typer.echo(f"web dashboard: http://{shown}:{port}/ -- {how}", err=True)


def _serve_job_api(host: str, port: int) -> None:
    """Every driver this server starts (submissions, reruns, its scheduler) inherits
    ``AIFLOW_JOB_API``: their jobs then get job tokens for this server's job API, never the
    meta store URL. An ``AIFLOW_JOB_API`` already set (a URL pods can reach) is kept."""
    import os

    from aiflow.server.routes.job_api import job_api_url
    from aiflow.translators.job_store import JOB_API_ENV

    os.environ.setdefault(JOB_API_ENV, job_api_url(host, port))


def _scheduler(
    store: MetaStore, interval: float = 2.0, registry: CollectorRegistry | None = None
) -> SchedulerService:
    from aiflow.deployers import get_deployer
    from aiflow.scheduler.service import SchedulerService

    return SchedulerService(store, get_deployer, interval=interval, registry=registry)


def _reconcile(store: MetaStore) -> None:
    """Finish executions whose driver died while no server or CLI was around.

    A store that is not usable yet (database still starting, schema not upgraded) does not stop
    the server: it starts, and ``/ready`` answers 503 until the store is usable.
    """
    from aiflow.deployers import get_deployer
    from aiflow.errors import AiflowError
    from aiflow.scheduler.driver import reconcile

    try:
        ended = reconcile(store, get_deployer)
    except AiflowError as exc:
        typer.secho(f"warning: could not reconcile executions: {exc}", fg="yellow", err=True)
        return
    if ended:
        ids = ", ".join(map(str, ended))
        typer.echo(f"reconciled executions whose driver had died: {ids}", err=True)


def _log_config() -> dict[str, Any]:
    """uvicorn's logging, plus aiflow's own loggers on the same handler and format."""
    import copy

    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    config["loggers"]["aiflow"] = {"handlers": ["default"], "level": "INFO", "propagate": False}
    return config


def openapi_command() -> None:
    """Print the REST API's OpenAPI document (as committed in docs/openapi.json)."""
    import json
    import sys

    from aiflow.server.app import openapi_document

    sys.stdout.write(json.dumps(openapi_document(), indent=2, sort_keys=True) + "\n")


# -- tokens -------------------------------------------------------------------------------------


def _store() -> MetaStore:
    from aiflow.store.sql_store import MetaStore

    return MetaStore()


@token_app.command("create")
def token_create(
    name: str = typer.Option(..., "--name", help="Unique name: letters, digits, . _ -"),
    role: Role = typer.Option(Role.VIEWER, "--role", help="What the token may do."),
) -> None:
    """Create an API token and print it (alone on stdout, for scripts). It is shown once."""
    token, secret = _store().create_token(name, role)
    typer.echo(secret)
    typer.secho(
        f"created {token.role.value} token '{token.name}': store it now, it cannot be shown again",
        fg="yellow",
        err=True,
    )


@token_app.command("list")
def token_list(as_json: bool = JSON_OPTION) -> None:
    """List API tokens (never their secrets), revoked ones included."""
    tokens = _store().list_tokens()
    if as_json:
        return print_json(tokens)
    print_table(
        "API tokens",
        ["name", "role", "created", "last used", "revoked"],
        [
            (t.name, t.role.value, when(t.created_at), when(t.last_used_at), when(t.revoked_at))
            for t in tokens
        ],
    )


@token_app.command("revoke")
def token_revoke(name: str = typer.Argument(..., help="The token's name.")) -> None:
    """Revoke an API token: requests with it fail from now on."""
    token = _store().revoke_token(name)
    typer.echo(f"revoked token '{token.name}' ({token.role.value})")
