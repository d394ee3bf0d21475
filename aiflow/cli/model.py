"""``aiflow model``: the model center -- versions, aliases, metrics, and each version's
lifecycle (promote, rollback), tags, history, lineage and comparison.

Changes are recorded in the model's history with their actor: the OS user locally, the token's
name (``token:<name>``) through ``--server``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import typer

from aiflow.cli.backend import LIMIT_OPTION, first_page
from aiflow.cli.output import JSON_OPTION, print_json, print_table, when
from aiflow.schemas.entities import SERVING_ALIAS

if TYPE_CHECKING:
    from aiflow.cli.backend import Backend
    from aiflow.schemas.entities import ModelChange

app = typer.Typer(
    help="Models, their versions, aliases, metrics, history and lineage.", no_args_is_help=True
)

SHORT_CHECKSUM = 12  # hex digits of a checksum in tables (git's short-hash habit)
ALIAS_OPTION = typer.Option(SERVING_ALIAS, "--alias", help="The alias (`deployed` is served).")
REASON_OPTION = typer.Option(None, "--reason", help="Why: kept in the model's history.")


def _store() -> Backend:
    """The local meta store, or the selected server (``--server``): same output either way."""
    from aiflow.cli.backend import backend

    return backend()


# -- reading ----------------------------------------------------------------------------------


@app.command("list")
def model_list(limit: int = LIMIT_OPTION, as_json: bool = JSON_OPTION) -> None:
    """List models by name, with the version each serves."""
    store = _store()
    models = first_page(store.page_models(limit=limit + 1), limit)
    if as_json:
        return print_json(models)
    rows = []
    for m in models:  # one indexed query (or request) each, for a page of models
        serving = store.serving_pointer(m.name)
        rows.append(
            (m.name, serving.version if serving else "-", when(m.created_at), m.description)
        )
    print_table("models", ["name", "serving version", "created", "description"], rows)


@app.command("versions")
def model_versions(name: str, limit: int = LIMIT_OPTION, as_json: bool = JSON_OPTION) -> None:
    """List a model's versions, newest first."""
    versions = first_page(_store().page_model_versions(name, limit=limit + 1), limit)
    if as_json:
        return print_json(versions)
    rows = [
        (
            v.version,
            v.stage,
            ", ".join(v.aliases) or "-",
            v.parent_version,
            _metrics(v.metrics, "{:.4g}"),
            _pairs(v.tags),
            _short(v.checksum),
            v.execution_id,
            v.node_id,
            when(v.created_at),
        )
        for v in versions
    ]
    columns = ["version", "stage", "aliases", "parent", "metrics", "tags", "checksum"]
    print_table(f"versions of {name}", [*columns, "execution", "node", "created"], rows)


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
            ("parent", found.parent_version),
            ("tags", _pairs(found.tags)),
            ("flavor", found.flavor),
            ("artifact", found.artifact_uri),
            ("checksum", found.checksum and f"sha256:{found.checksum}"),
            ("metrics", _metrics(found.metrics, "{}")),
            ("execution", found.execution_id),
            ("job", found.job_id),
            ("node", found.node_id),
            ("created", when(found.created_at)),
        ],
    )


@app.command("history")
def model_history(
    name: str,
    version: int | None = typer.Option(None, "--version", help="Only this version's changes."),
    as_json: bool = JSON_OPTION,
) -> None:
    """The model's recorded changes, oldest first.

    Stages, alias moves and tags, each with who made it, why, and the metrics it was decided
    on."""
    changes = _store().model_history(name, version=version)
    if as_json:
        return print_json(list(changes))
    rows = [
        (
            when(c.created_at),
            c.version,
            _change(c),
            c.actor,
            c.reason,
            _metrics(c.metrics, "{:.4g}"),
        )
        for c in changes
    ]
    title = f"history of {name}" + (f" version {version}" if version is not None else "")
    print_table(title, ["when", "version", "change", "actor", "reason", "metrics"], rows)


@app.command("lineage")
def model_lineage(name: str, version: int, as_json: bool = JSON_OPTION) -> None:
    """Where a version came from.

    The workflow version and run that trained it, the versions it continued from, and the
    data it was trained on."""
    lineage = _store().model_lineage(name, version)
    if as_json:
        return print_json(lineage)
    workflow = lineage.workflow and f"{lineage.workflow} version {lineage.workflow_version}"
    rows: list[tuple[str, Any]] = [
        ("workflow", workflow),
        ("execution", lineage.execution_id),
        ("job", lineage.job_id),
        ("node", lineage.node_id),
        ("parent", lineage.parent_version),
        ("ancestors", " <- ".join(str(v) for v in lineage.ancestors) or None),
    ]
    rows += _data_rows(lineage.data)
    print_table(f"lineage of {name} version {version}", ["field", "value"], rows)


@app.command("compare")
def model_compare(name: str, v1: int, v2: int, as_json: bool = JSON_OPTION) -> None:
    """Two versions side by side: their metrics, and where their lineage differs."""
    compared = _store().compare_model_versions(name, v1, v2)
    if as_json:
        return print_json(compared)
    a, b = compared.versions
    print_table(
        f"model {name}: version {a} vs {b}",
        ["metric", f"version {a}", f"version {b}", "change"],
        [
            (
                metric,
                _number(va),
                _number(vb),
                None if va is None or vb is None else f"{vb - va:+.4g}",
            )
            for metric, (va, vb) in compared.metrics.items()
        ],
    )
    if not compared.lineage_diff:
        typer.echo("lineage: the same")
        return
    print_table(
        "lineage differences",
        ["field", f"version {a}", f"version {b}"],
        [(f, _value(va), _value(vb)) for f, (va, vb) in compared.lineage_diff.items()],
    )


# -- changing ---------------------------------------------------------------------------------


@app.command("alias")
def model_alias(name: str, alias: str, version: int, reason: str | None = REASON_OPTION) -> None:
    """Point ALIAS (e.g. `deployed`) of model NAME at VERSION.

    Stream predictors serve the `deployed` version."""
    moved = _store().set_model_alias(name, alias, version, reason=reason)
    typer.echo(f"model {name}: alias {alias} -> version {moved.version}")


@app.command("promote")
def model_promote(
    name: str, version: int, alias: str = ALIAS_OPTION, reason: str | None = REASON_OPTION
) -> None:
    """Promote VERSION of model NAME to an alias (default `deployed`, what is served).

    The version becomes `deployed` and the one it replaces `retired`; a rejected or failed
    version cannot be deployed."""
    promoted = _store().promote_model_version(name, version, alias=alias, reason=reason)
    typer.echo(f"model {name}: alias {alias} -> version {promoted.version} ({promoted.stage})")


@app.command("rollback")
def model_rollback(
    name: str, alias: str = ALIAS_OPTION, reason: str | None = REASON_OPTION
) -> None:
    """Point an alias (default `deployed`) of model NAME back at its previous version.

    Rolling back twice undoes the first rollback."""
    back = _store().roll_back_alias(name, alias, reason=reason)
    typer.echo(f"model {name}: alias {alias} rolled back to version {back.version}")


@app.command("tag")
def model_tag(
    name: str,
    version: int,
    tags: list[str] | None = typer.Argument(None, metavar="KEY=VALUE...", help="Tags to set."),
    remove: list[str] | None = typer.Option(None, "--remove", metavar="KEY", help="Remove."),
) -> None:
    """Set tags (KEY=VALUE) on VERSION of model NAME, or remove them (--remove KEY).

    A key's new value replaces its old one; each change is recorded in the model's history."""
    from aiflow.errors import InvalidInput

    changes: dict[str, str | None] = {**parse_tags(tags or ()), **dict.fromkeys(remove or ())}
    if not changes:
        raise InvalidInput("give tags to set as KEY=VALUE, or --remove KEY")
    store = _store()
    for key, value in changes.items():  # all parsed before any is set
        tagged = store.tag_model_version(name, version, key, value)
    typer.echo(f"model {name} version {version}: tags {_pairs(tagged.tags)}")


def parse_tags(args: Iterable[str]) -> dict[str, str]:
    """``KEY=VALUE`` arguments as a dict (split at the first ``=``; the last of a key wins);
    ``InvalidInput`` naming the first that is not of that form."""
    from aiflow.errors import InvalidInput

    tags: dict[str, str] = {}
    for arg in args:
        key, sep, value = arg.partition("=")
        if not sep or not key.strip():
            raise InvalidInput(f"tag {arg!r} is not KEY=VALUE (e.g. owner=search-team)")
        tags[key] = value
    return tags


# -- formatting -------------------------------------------------------------------------------


def _metrics(metrics: dict[str, float], fmt: str) -> str:
    return ", ".join(f"{k}={fmt.format(v)}" for k, v in metrics.items()) or "-"


def _number(value: float | None) -> str | None:
    return None if value is None else f"{value:.6g}"


def _pairs(values: dict[str, str]) -> str:
    return ", ".join(f"{k}={v}" for k, v in sorted(values.items())) or "-"


def _short(checksum: str | None) -> str | None:
    return checksum[:SHORT_CHECKSUM] if checksum else None


def _change(change: ModelChange) -> str:
    """``stage: generated -> validated``, ``alias deployed: 1 -> 2``, ``tag owner: - -> ml``."""
    what = "stage" if change.kind == "stage" else f"{change.kind} {change.field}"
    return f"{what}: {change.from_value or '-'} -> {change.to_value or '-'}"


def _value(value: Any) -> str:
    """A lineage value in one cell: scalars as they are, lists and dicts as compact JSON."""
    if value is None or isinstance(value, str | int | float):
        return "-" if value is None else str(value)
    return json.dumps(value, separators=(", ", ": "), default=str)


def _data_rows(data: dict[str, Any]) -> list[tuple[str, Any]]:
    """The recorded lineage dict as rows: one per data source (``data``), one per field of a
    stream ``window``, anything else as its JSON."""
    rows: list[tuple[str, Any]] = []
    for key, value in data.items():
        if key == "data" and isinstance(value, list):
            rows += [("data", _source(source)) for source in value]
        elif isinstance(value, dict):
            rows += [(f"{key}.{field}", _listing(v)) for field, v in value.items()]
        else:
            rows.append((key, _value(value)))
    return rows


def _source(source: Any) -> str:
    """``example clicks: data/history.csv (sha256:...)``."""
    if not isinstance(source, dict):
        return _value(source)
    fields = dict(source)
    example, uri, fingerprint = (fields.pop(k, None) for k in ("example", "uri", "fingerprint"))
    text = " ".join(str(part) for part in (f"example {example}:" if example else None, uri) if part)
    if fingerprint:
        text += f" ({fingerprint})"
    if fields:
        text += " " + _value(fields)
    return text.strip() or "-"


def _listing(value: Any, most: int = 3) -> str:
    """A list as its first ``most`` items and how many there are in all."""
    if isinstance(value, list) and len(value) > most:
        shown = ", ".join(str(v) for v in value[:most])
        return f"{shown}, ... ({len(value)} in all)"
    if isinstance(value, list):
        return ", ".join(str(v) for v in value) or "-"
    return _value(value)
