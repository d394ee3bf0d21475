"""``aiflow db``: schema migrations of the meta store (Alembic under the hood).

A downgrade drops tables and columns with their data, so it asks first; ``--yes`` answers for
scripts. Without a terminal to ask on (CI, a pipe) and without ``--yes`` it refuses rather than
waiting for an answer that cannot come.
"""

from __future__ import annotations

import sys

import typer

app = typer.Typer(help="Meta store schema: upgrade, downgrade, current.", no_args_is_help=True)
URI_OPTION = typer.Option(None, "--uri", help="Meta store URL (default: from config).")


def _uri(uri: str | None) -> str:
    from aiflow.config import get_settings

    return uri or get_settings().metastore_uri


def _interactive() -> bool:
    """Whether a person can answer a question on stdin."""
    return sys.stdin is not None and sys.stdin.isatty()


@app.command()
def upgrade(revision: str = typer.Argument("head"), uri: str | None = URI_OPTION) -> None:
    """Migrate the meta store up to REVISION (default: head)."""
    from aiflow.store import migrations

    migrations.upgrade(_uri(uri), revision)
    typer.echo(f"meta store at {migrations.current(_uri(uri))}")


@app.command()
def downgrade(
    revision: str = typer.Argument("-1"),
    uri: str | None = URI_OPTION,
    yes: bool = typer.Option(
        False, "--yes", "-y", help="Do not ask: the data of the dropped schema is lost."
    ),
) -> None:
    """Migrate the meta store down to REVISION (default: one step; 'base' empties it).

    Drops the tables and columns of the revisions undone, with their data."""
    from aiflow.errors import InvalidInput
    from aiflow.store import db, migrations

    target = _uri(uri)
    where = f"meta store {db.display_url(target)}"
    to = "one revision back" if revision == "-1" else f"to {revision}"
    question = (
        f"downgrading {where} {to} drops the tables and columns of the revisions undone, "
        "with their data"
    )
    if not yes:
        if not _interactive():
            raise InvalidInput(f"{question}; no terminal to confirm on: pass --yes to go ahead")
        if not typer.confirm(f"{question}. Continue?", default=False):
            typer.echo("nothing changed", err=True)
            raise typer.Exit(1)
    migrations.downgrade(target, revision)
    typer.echo(f"meta store at {migrations.current(target) or 'base'}")


@app.command()
def current(uri: str | None = URI_OPTION) -> None:
    """Show the meta store's revision and the code's head revision."""
    from aiflow.store import migrations

    found = migrations.current(_uri(uri))
    note = (
        " (newer than this aiflow: a newer aiflow migrated it)"
        if migrations.is_newer(found)
        else ""
    )
    typer.echo(f"current: {found or 'base (empty)'}{note}")
    typer.echo(f"head:    {migrations.head()}")
