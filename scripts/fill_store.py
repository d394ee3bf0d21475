"""Fill an empty meta store to a given size with realistic rows, fast (for scale benchmarks).

    .venv/bin/python scripts/fill_store.py --uri URL --executions 100000 --jobs 1000000 \\
        --events 5000000 [--triggers 1000] [--seed 1]

The schema is migrated first by aiflow's own migrations (``aiflow.store.migrations.upgrade``),
so the store is exactly what ``aiflow db upgrade`` makes. Rows are written with explicit ids
(so related rows need no read-back): PostgreSQL through ``COPY``, SQLite and MySQL/MariaDB
through SQLAlchemy Core ``executemany`` in chunks, and the id sequences are moved past them.

What the rows look like (``fill_rows.py``): workflows with 1 to 4 versions, executions over
180 days skewed towards a few hot workflows (30 % started by triggers), mostly succeeded with
failures and kills, and a few running or queued at the end; ``jobs / executions`` jobs each in
a dependency chain, with specs, handles and results like real ones; a model version every 20
executions over 20 models, with stages, aliases, history and metrics; the event log in seq
order: job transitions, trigger fires and model events of each execution, and user events
(``data_ready`` / ``reading`` on ``sensor/N``) to make up ``--events``; 60 % periodic
triggers, 30 % user event rules, 10 % workflow rules, every rule's cursor where a running
scheduler would have left it. The store must be empty: the fill never mixes with real rows.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from fill_rows import Fill, Sizes

CHUNK = 20_000


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--uri", required=True, help="SQLAlchemy URL of an empty database")
    parser.add_argument("--executions", type=int, default=100_000)
    parser.add_argument("--jobs", type=int, default=1_000_000)
    parser.add_argument("--events", type=int, default=5_000_000)
    parser.add_argument("--triggers", type=int, default=1_000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    sizes = Sizes(args.executions, args.jobs, args.events, args.triggers)
    fill_store(args.uri, sizes, seed=args.seed, log=print)
    return 0


def fill_store(uri: str, sizes: Sizes, *, seed: int = 1, log: Any = None) -> float:
    """Migrate the empty store at ``uri`` to head and fill it to ``sizes``; returns seconds."""
    from aiflow.store import db, migrations

    say = log or (lambda _message: None)
    sizes.check()
    began = time.monotonic()
    migrations.upgrade(uri)
    db.dispose_engine(uri)
    writer = _Writer(uri)
    try:
        writer.check_empty()
        fill = Fill(sizes, seed=seed)
        for table, rows in fill.tables():
            start = time.monotonic()
            count = writer.write(table, rows)
            took = time.monotonic() - start
            rate = count / max(took, 1e-9)
            say(f"  {table:<16} {count:>10,} rows  {took:6.1f} s  ({rate:,.0f}/s)")
        writer.finish()
    finally:
        writer.close()
    took = time.monotonic() - began
    say(f"filled {db.display_url(uri)} in {took:.0f} s")
    return took


class _Writer:
    """Bulk inserts into one database: COPY on PostgreSQL, Core executemany elsewhere."""

    def __init__(self, uri: str) -> None:
        from sqlalchemy import create_engine, event

        from aiflow.store import db, orm

        self.url = db.normalize_url(uri)
        self.dialect = self.url.get_backend_name()
        self.metadata = orm.Base.metadata
        self.engine = create_engine(self.url)
        if self.dialect == "sqlite":

            @event.listens_for(self.engine, "connect")
            def _fast(dbapi_connection: Any, _record: Any) -> None:
                # a fill that dies is thrown away: no durability needed, only speed
                cursor = dbapi_connection.cursor()
                cursor.execute("PRAGMA synchronous = OFF")
                cursor.execute("PRAGMA cache_size = -262144")  # 256 MB
                cursor.execute("PRAGMA temp_store = MEMORY")
                cursor.close()

    def check_empty(self) -> None:
        from sqlalchemy import func, select

        with self.engine.connect() as connection:
            for name in ("workflow", "execution", "event"):
                table = self.metadata.tables[name]
                if connection.scalar(select(func.count()).select_from(table)):
                    raise SystemExit(
                        f"{self.url.render_as_string(hide_password=True)}: table {name} has "
                        "rows; fill_store.py fills an empty database only"
                    )

    def write(self, name: str, rows: Iterable[dict[str, Any]]) -> int:
        table = self.metadata.tables[name]
        if self.dialect == "postgresql":
            return self._copy(table, rows)
        count = 0
        for chunk in _chunks(rows, CHUNK):
            with self.engine.begin() as connection:
                connection.execute(table.insert(), chunk)
            count += len(chunk)
        return count

    def _copy(self, table: Any, rows: Iterable[dict[str, Any]]) -> int:
        from sqlalchemy import JSON

        columns = [column.name for column in table.columns]
        as_json = {column.name for column in table.columns if isinstance(column.type, JSON)}
        names = ", ".join(f'"{name}"' for name in columns)
        count = 0
        with self.engine.begin() as connection:
            raw = connection.connection.driver_connection
            assert raw is not None
            with (
                raw.cursor() as cursor,
                cursor.copy(f'COPY "{table.name}" ({names}) FROM STDIN') as copy,
            ):
                for row in rows:
                    copy.write_row(
                        [
                            json.dumps(row[name])
                            if name in as_json and row.get(name) is not None
                            else row.get(name)
                            for name in columns
                        ]
                    )
                    count += 1
        return count

    def finish(self) -> None:
        """Move each id sequence past the explicit ids (PostgreSQL); refresh the planner's
        statistics as autovacuum would after a bulk load (SQLite gets none: aiflow never runs
        ANALYZE there, so the fill leaves it as a real store would be)."""
        if self.dialect != "postgresql":
            return
        from sqlalchemy import text

        with self.engine.begin() as connection:
            for table in self.metadata.sorted_tables:
                keys = list(table.primary_key.columns)
                if len(keys) != 1 or not keys[0].autoincrement:
                    continue
                key = keys[0].name
                connection.execute(
                    text(
                        f"SELECT setval(pg_get_serial_sequence('{table.name}', '{key}'), "
                        f'COALESCE((SELECT MAX("{key}") FROM "{table.name}"), 0) + 1, false)'
                    )
                )
        with self.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text("ANALYZE"))

    def close(self) -> None:
        self.engine.dispose()


def _chunks(rows: Iterable[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    chunk: list[dict[str, Any]] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


if __name__ == "__main__":
    sys.exit(main())
