"""``aiflow db``: schema migrations of the meta store (Alembic under the hood)."""

from __future__ import annotations

import typer

app = typer.Typer(help="Meta store schema: upgrade, downgrade, current.", no_args_is_help=True)
URI_OPTION = typer.Option(None, "--uri", help="Meta store URL (default: from config).")


def _uri(uri: str | None) -> str:
    from aiflow.config import get_settings

    return uri or get_settings().metastore_uri


@app.command()
def upgrade(revision: str = typer.Argument("head"), uri: str | None = URI_OPTION) -> None:
    """Migrate the meta store up to REVISION (default: head)."""
    from aiflow.store import migrations

    migrations.upgrade(_uri(uri), revision)
    typer.echo(f"meta store at {migrations.current(_uri(uri))}")


@app.command()
def downgrade(revision: str = typer.Argument("-1"), uri: str | None = URI_OPTION) -> None:
    """Migrate the meta store down to REVISION (default: one step; 'base' empties it)."""
    from aiflow.store import migrations

    migrations.downgrade(_uri(uri), revision)
    typer.echo(f"meta store at {migrations.current(_uri(uri)) or 'base'}")


@app.command()
def current(uri: str | None = URI_OPTION) -> None:
    """Show the meta store's revision and the code's head revision."""
    from aiflow.store import migrations

    typer.echo(f"current: {migrations.current(_uri(uri)) or 'base (empty)'}")
    typer.echo(f"head:    {migrations.head()}")
