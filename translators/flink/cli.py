"""``aiflow flink start|status|stop``: a Flink session cluster on this machine, or on YARN.

``--yarn`` runs the session as a YARN application instead (``yarn_session.py``), on the cluster
the ``[yarn]`` settings (or ``$HADOOP_CONF_DIR``) name.

The cluster lives under ``$AIFLOW_HOME/flink/`` (see ``cluster.py`` here). ``start`` prints
the ``export AIFLOW__FLINK__REST_URL=...`` line alone on stdout (the rest goes to stderr), so
``eval "$(aiflow flink start)"`` points this shell's aiflow jobs at the cluster.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from aiflow.cli.output import JSON_OPTION, print_json, print_table

if TYPE_CHECKING:
    from aiflow.translators.flink.yarn_session import FlinkYarnSession

YARN_OPTION = typer.Option(
    False, "--yarn", help="The session on YARN ([yarn] settings, HADOOP_CONF_DIR), not here."
)

app = typer.Typer(
    help="A local Flink session cluster for the flink engine: start, status, stop.",
    no_args_is_help=True,
)


@app.command("start")
def start_command(
    timeout: float = typer.Option(
        120.0, "--timeout", min=1, help="Seconds to wait for a TaskManager to register."
    ),
    yarn: bool = YARN_OPTION,
) -> None:
    """Start a JobManager and a TaskManager on 127.0.0.1 (or say it already runs)."""
    from aiflow.translators.flink.cluster import FlinkCluster

    if yarn:
        return _start_yarn(timeout)

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
    return None


@app.command("status")
def status_command(as_json: bool = JSON_OPTION, yarn: bool = YARN_OPTION) -> None:
    """Whether the cluster runs; its URLs, version, TaskManagers, slots and running jobs."""
    from aiflow.translators.flink.cluster import FlinkCluster
    from aiflow.translators.flink.settings import flink_settings

    if yarn:
        return _status_yarn(as_json)

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
    yarn: bool = YARN_OPTION,
) -> None:
    """Stop the cluster's JobManager and TaskManager and wait for them to exit."""
    from aiflow.translators.flink.cluster import FlinkCluster

    if yarn:
        app_id = _yarn_session().stop(timeout=timeout)
        typer.echo(f"killed the Flink session {app_id}" if app_id else "no Flink session on YARN")
        return

    cluster = FlinkCluster()
    if cluster.stop(timeout=timeout):
        typer.echo(f"stopped the Flink cluster under {cluster.root}")
    else:
        typer.echo(f"no Flink cluster running under {cluster.root}")


# -- --yarn -------------------------------------------------------------------------------------


def _yarn_session() -> FlinkYarnSession:
    """This home's session on the cluster the ``[yarn]`` settings name."""
    import getpass

    from aiflow.config import get_settings
    from aiflow.deployers.yarn.settings import YarnSettings
    from aiflow.hadoop.conf import conf_dir, resolve
    from aiflow.translators.flink.yarn_session import FlinkYarnSession

    yarn = get_settings().section("yarn", YarnSettings)
    return FlinkYarnSession(
        resolve(yarn),
        conf_dir(yarn),
        user=yarn.user or getpass.getuser(),
        queue=yarn.queue,
        python=yarn.python,
    )


def _start_yarn(timeout: float) -> None:
    info = _yarn_session().start(timeout=timeout)
    if info.already_running:
        typer.echo(f"Flink session already running on YARN: {info.application_id}", err=True)
    else:
        typer.echo(f"Flink session {info.application_id} started in {info.seconds:.1f} s", err=True)
    typer.echo(f"REST API: {info.rest_url}\nweb UI:   {info.web_ui_url}", err=True)
    typer.echo("run aiflow's Flink jobs on it with:", err=True)
    typer.echo(f"export AIFLOW__FLINK__REST_URL={info.rest_url}")
    typer.echo(f"export AIFLOW__FLINK__WEB_UI_URL={info.web_ui_url}")


def _status_yarn(as_json: bool) -> None:
    info = _yarn_session().status()
    if as_json:
        return print_json({"running": info is not None, **(info.to_dict() if info else {})})
    if info is None:
        typer.echo("no Flink session of this AIFLOW_HOME on YARN")
        return None
    rows = [
        ("application", info.application_id),
        ("YARN state", info.state),
        ("REST API", info.rest_url),
        ("web UI", info.web_ui_url),
        ("ResourceManager", info.resource_manager),
    ]
    print_table("Flink session on YARN", ["field", "value"], rows)
    return None
