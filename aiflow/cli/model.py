"""``aiflow model``: the model registry (versions, aliases, metrics)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from aiflow.cli.output import JSON_OPTION, print_json, print_table, when

if TYPE_CHECKING:
    from aiflow.cli.backend import Backend

app = typer.Typer(help="Models, their versions, aliases and metrics.", no_args_is_help=True)


def _store() -> Backend:
    """The local meta store, or the selected server (``--server``): same output either way."""
    from aiflow.cli.backend import backend

    return backend()


@app.command("list")
def model_list(as_json: bool = JSON_OPTION) -> None:
    """List models."""
    store = _store()
    models = store.list_models()
    if as_json:
        return print_json(models)
    rows = []
    for m in models:
        serving = store.serving_version(m.name)
        rows.append(
            (m.name, serving.version if serving else "-", when(m.created_at), m.description)
        )
    print_table("models", ["name", "serving version", "created", "description"], rows)


@app.command("versions")
def model_versions(name: str, as_json: bool = JSON_OPTION) -> None:
    """List a model's versions, newest first."""
    versions = _store().list_model_versions(name)
    if as_json:
        return print_json(versions)
    rows = [
        (
            v.version,
            v.stage,
            ", ".join(v.aliases) or "-",
            ", ".join(f"{k}={val:.4g}" for k, val in v.metrics.items()) or "-",
            v.execution_id,
            v.node_id,
            when(v.created_at),
        )
        for v in versions
    ]
    print_table(
        f"versions of {name}",
        ["version", "stage", "aliases", "metrics", "execution", "node", "created"],
        rows,
    )


@app.command("show")
def model_show(
    name: str,
    version: int | None = typer.Argument(None, help="Version number (default: serving version)."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Show one model version (default: the serving one)."""
    from aiflow.errors import NotFound

    store = _store()
    if version is None:
        found = store.serving_version(name)
        if found is None:
            raise NotFound(f"model '{name}' has no versions (see `aiflow model list`)")
    else:
        found = store.get_model_version(name, version)
    if as_json:
        return print_json(found)
    print_table(
        f"model {name} version {found.version}",
        ["field", "value"],
        [
            ("version", found.version),
            ("stage", found.stage),
            ("aliases", ", ".join(found.aliases) or "-"),
            ("flavor", found.flavor),
            ("artifact", found.artifact_uri),
            ("metrics", ", ".join(f"{k}={v}" for k, v in found.metrics.items()) or "-"),
            ("execution", found.execution_id),
            ("job", found.job_id),
            ("node", found.node_id),
            ("created", when(found.created_at)),
        ],
    )


@app.command("alias")
def model_alias(name: str, alias: str, version: int) -> None:
    """Point ALIAS (e.g. `deployed`) of model NAME at VERSION.

    Stream predictors serve the `deployed` version."""
    moved = _store().set_model_alias(name, alias, version)
    typer.echo(f"model {name}: alias {alias} -> version {moved.version}")
