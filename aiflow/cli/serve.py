"""``aiflow serve MODEL``: online predictions of a registered model over HTTP (docs/serving.md).

It reads the local meta store directly, as ``aiflow server`` does (so it refuses ``--server``),
and runs until Ctrl-C or SIGTERM.
"""

from __future__ import annotations

from pathlib import Path

import typer

DEFAULT_PORT = 8501  # TF Serving's REST port: the protocol's usual home, and not the server's


def serve_command(
    model: str = typer.Argument(..., metavar="MODEL", help="The registered model to serve."),
    alias: str = typer.Option(
        "deployed",
        "--alias",
        help="Serve the version holding this alias, following it as it moves. 'deployed' "
        "falls back to the serving rule (newest version not rejected or failed) while unset.",
    ),
    workflow: Path | None = typer.Option(
        None,
        "--workflow",
        metavar="FILE",
        help="Run each request through this workflow file's per-record chain (read_example -> "
        "transforms -> predict) of MODEL, as batch and stream jobs do.",
    ),
    node: str | None = typer.Option(
        None, "--node", help="The predict node to use when --workflow has several for MODEL."
    ),
    host: str = typer.Option("127.0.0.1", "--host", help="Address to bind."),
    port: int = typer.Option(DEFAULT_PORT, "--port", min=0, max=65535, help="Port."),
    dev: bool = typer.Option(
        False, "--dev", help="No token needed to predict. Loopback addresses only."
    ),
    max_body_bytes: int = typer.Option(
        10 * 1024 * 1024, "--max-body-bytes", min=1, help="Largest request body accepted (413)."
    ),
    poll_interval: float = typer.Option(
        0.05,
        "--poll-interval",
        min=0.01,
        help="Seconds between looks at the meta store's event log for a new version "
        "(one indexed query each, ~0.5 ms; a swap follows a push within about this long).",
    ),
    access_log: bool = typer.Option(
        False, "--access-log", help="Log every request (off: it costs a share of a prediction)."
    ),
) -> None:
    """Serve predictions of MODEL (KServe / TF Serving V1 protocol) until Ctrl-C.

    POST /v1/models/MODEL:predict with {"instances": [{...}, ...]}; GET /v1/models/MODEL for
    readiness; /metrics for Prometheus. A request needs an API token (`aiflow token create`)
    unless --dev. A new version is swapped in without a restart as the alias moves.
    """
    import uvicorn

    from aiflow.cli.server import _log_config
    from aiflow.config import get_settings
    from aiflow.serving.app import create_app
    from aiflow.serving.auth import check_dev
    from aiflow.serving.chain import load_chain
    from aiflow.store.sql_store import MetaStore

    check_dev(dev, host)  # before the workflow file runs
    settings = get_settings()
    chain = load_chain(workflow, model, node) if workflow is not None else None
    app = create_app(
        MetaStore(),
        model,
        alias=alias,
        chain=chain,
        dev=dev,
        host=host,
        max_body_bytes=max_body_bytes,
        poll_interval=poll_interval,
        resync_interval=max(10.0, 10 * poll_interval),
        token_cache_seconds=settings.server.token_cache_seconds,
    )
    where = f" through {chain.workflow}/{chain.predict_node}" if chain is not None else ""
    typer.echo(
        f"serving model '{model}' (alias '{alias}'){where} on http://{host}:{port}"
        f"/v1/models/{model}:predict" + (" -- DEV MODE: no token needed" if dev else ""),
        err=True,
    )
    uvicorn.run(
        app,
        host=host,
        port=port,
        log_config=_log_config(),
        access_log=access_log,
        server_header=False,
        timeout_graceful_shutdown=10,  # in-flight requests finish
    )
