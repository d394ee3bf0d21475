"""``aiflow flink start|status|stop``: a Flink session cluster on this machine.

The cluster lives under ``$AIFLOW_HOME/flink/`` (see ``cluster.py`` here). ``start`` prints
the ``export AIFLOW__FLINK__REST_URL=...`` line alone on stdout (the rest goes to stderr), so
``eval "$(aiflow flink start)"`` points this shell's aiflow jobs at the cluster.
"""

from __future__ import annotations

import typer

from aiflow.cli.output import JSON_OPTION, print_json, print_table

app = typer.Typer(
    help="A local Flink session cluster for the flink engine: start, status, stop.",
    no_args_is_help=True,
)


@app.command("start")
def start_command(
    timeout: float = typer.Option(
        120.0, "--timeout", min=1, help="Seconds to wait for a TaskManager to register."
    ),
) -> None:
    """Start a JobManager and a TaskManager on 127.0.0.1 (or say it already runs)."""
    from aiflow.translators.flink.cluster import FlinkCluster

    cluster = FlinkCluster()
    result = cluster.start(timeout=timeout)
    if result.already_running:
        typer.echo(f"Flink cluster already running under {cluster.root}", err=True)
    else:
        typer.echo(
            f"Flink cluster started in {result.seconds:.1f} s under {cluster.root}", err=True
        )
    typer.echo(f"REST API: {result.rest_url}\nweb UI:   {result.web_ui_url}", err=True)
    typer.echo("run aiflow's Flink jobs on it with:", err=True)
    typer.echo(f"export AIFLOW__FLINK__REST_URL={result.rest_url}")


@app.command("status")
def status_command(as_json: bool = JSON_OPTION) -> None:
    """Whether the cluster runs; its URLs, version, TaskManagers, slots and running jobs."""
    from aiflow.translators.flink.cluster import FlinkCluster
    from aiflow.translators.flink.settings import flink_settings

    status = FlinkCluster().status()
    target = flink_settings().rest_url or "embedded mini-cluster (flink.rest_url unset)"
    if as_json:
        return print_json({**status.to_dict(), "jobs_submit_to": target})
    if not status.running:
        typer.echo(f"no Flink cluster running under {status.home}")
        typer.echo(f"aiflow's Flink jobs run on: {target}")
        return None
    rows = [
        ("REST API", status.rest_url),
        ("web UI", status.web_ui_url),
        ("Flink version", status.flink_version),
        ("TaskManagers", status.taskmanagers),
        ("slots (free/total)", f"{status.slots_available}/{status.slots_total}"),
        ("running jobs", status.running_jobs),
        ("pids (JM, TM)", f"{status.jobmanager_pid}, {status.taskmanager_pid or '-'}"),
        ("home", status.home),
        ("jobs submit to", target),
    ]
    if status.error:
        rows.append(("error", status.error))
    print_table("Flink cluster: running", ["field", "value"], rows)
    return None


@app.command("stop")
def stop_command(
    timeout: float = typer.Option(
        30.0, "--timeout", min=1, help="Seconds to wait before killing the daemons."
    ),
) -> None:
    """Stop the cluster's JobManager and TaskManager and wait for them to exit."""
    from aiflow.translators.flink.cluster import FlinkCluster

    cluster = FlinkCluster()
    if cluster.stop(timeout=timeout):
        typer.echo(f"stopped the Flink cluster under {cluster.root}")
    else:
        typer.echo(f"no Flink cluster running under {cluster.root}")
