"""Printing lists and records either as rich tables or as JSON (``--json``) for scripts."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import typer

JSON_OPTION = typer.Option(False, "--json", help="Print JSON instead of a table.")


def to_jsonable(item: Any) -> Any:
    if hasattr(item, "model_dump"):
        return item.model_dump(mode="json")
    if isinstance(item, list | tuple):
        return [to_jsonable(i) for i in item]
    if isinstance(item, dict):
        return {k: to_jsonable(v) for k, v in item.items()}
    return item


def print_json(data: Any) -> None:
    typer.echo(json.dumps(to_jsonable(data), indent=2, default=str))


def print_table(title: str | None, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    from rich.table import Table
    from rich.text import Text

    from aiflow.dsl.progress import console, status_text

    table = Table(title=title, title_justify="left")
    for column in columns:
        table.add_column(column)
    for row in rows:
        cells: list[str | Text] = []
        for column, value in zip(columns, row, strict=True):
            if column == "status" and isinstance(value, str):
                cells.append(status_text(value))
            else:
                cells.append("-" if value is None else str(value))
        table.add_row(*cells)
    console.print(table)


def when(value: Any) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S") if value is not None else "-"
