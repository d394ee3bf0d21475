"""The meta store at scale: list calls, the trigger loop and event reads on a big store.

    .venv/bin/python benchmarks/meta_store_scale.py [--scale 0.01] [--backends sqlite,postgres]
        [--repeat 30] [--parts store,rest,cli,scheduler,events] [--json FILE]

Fills a store of 100,000 executions, 1,000,000 jobs, 5,000,000 events and 1,000 triggers
(``scripts/fill_store.py``; ``--scale`` multiplies the history, not the triggers) once per
backend, sizes and schema revision, cached under ``~/.cache/aiflow/bench/meta-store/``
(``_scale_stores.py``), and measures a throwaway copy of it (``_scale_measures.py``): every
``MetaStore`` list method the REST list endpoints and the CLI's list commands use, the same
through the REST API and the CLI in-process, one pass of the scheduler's trigger loop with
every trigger active, and reading the event feed after a recent versus an old sequence number.
Prints p50 and p95 per backend beside the goal (50 ms a list, 100 ms a scheduler pass).
Asserts nothing about time.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _scale_measures import (
    Probe,
    Row,
    cli_rows,
    rest_rows,
    scheduler_rows,
    store_rows,
    subscription_rows,
)
from _scale_stores import Sizes, filled_store

FULL = Sizes(executions=100_000, jobs=1_000_000, events=5_000_000, triggers=1_000)
PARTS = ("store", "rest", "cli", "scheduler", "events")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=float, default=1.0, help="history size factor")
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--repeat", type=int, default=30, help="timed calls per figure")
    parser.add_argument("--parts", default=",".join(PARTS))
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    sizes = FULL.scaled(args.scale) if args.scale != 1.0 else FULL
    parts = args.parts.split(",")
    unknown = set(parts) - set(PARTS)
    if unknown:
        parser.error(f"unknown parts {sorted(unknown)}; choose from {', '.join(PARTS)}")
    home = _quiet_settings()
    # a TERM (timeout, kill) unwinds like Ctrl-C: the private PostgreSQL stops, copies go
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    results: dict[str, list[Row]] = {}
    metas: dict[str, dict[str, object]] = {}
    try:
        for backend in args.backends.split(","):
            with filled_store(backend, sizes, log=lambda m: print(m, flush=True)) as (uri, meta):
                metas[backend] = meta
                print(f"{backend}: measuring {sizes.key()} ...", flush=True)
                results[backend] = measure(uri, parts, args.repeat)
            if len(results) < len(args.backends.split(",")):  # one backend's figures now
                print_table(sizes, {backend: results[backend]}, {backend: meta})
    finally:
        shutil.rmtree(home, ignore_errors=True)
    print_table(sizes, results, metas)
    if args.json:
        dump = {
            "sizes": sizes.key(),
            "stores": metas,
            "figures": {
                backend: [
                    {"group": r.group, "name": r.name, "goal": r.goal,
                     "p50": r.quantile(0.5), "p95": r.quantile(0.95)}
                    for r in rows
                ]
                for backend, rows in results.items()
            },
        }  # fmt: skip
        args.json.write_text(json.dumps(dump, indent=2) + "\n")
    return 0


def measure(uri: str, parts: list[str], repeat: int) -> list[Row]:
    from aiflow.config import reset_settings
    from aiflow.store.sql_store import MetaStore

    os.environ["AIFLOW__METASTORE__URI"] = uri
    reset_settings()
    store = MetaStore(uri, auto_upgrade=False)
    try:
        probe = Probe.of(store)
        rows: list[Row] = []
        if "store" in parts:
            rows += store_rows(store, probe, repeat)
        if "rest" in parts:
            rows += rest_rows(store, probe, repeat)
        if "cli" in parts:
            rows += cli_rows(uri, probe, max(5, repeat // 2))
        if "scheduler" in parts:
            rows += scheduler_rows(store, max(5, repeat // 2))
        if "events" in parts:
            rows += subscription_rows(store, probe, repeat)
        return rows
    finally:
        store.dispose()


def _quiet_settings() -> str:
    """A private AIFLOW_HOME (returned) and a server key, so neither the user's config nor
    their credentials (``aiflow login``) reach the measured CLI and app."""
    home = tempfile.mkdtemp(prefix="aiflow-bench-home-")
    for name in [n for n in os.environ if n.startswith("AIFLOW")]:
        del os.environ[name]
    os.environ["AIFLOW_HOME"] = home
    os.environ["AIFLOW__SERVER__SECRET_KEY"] = "bench-secret-key-that-is-long-enough-0123456789"
    return home


def print_table(sizes: Sizes, results: dict[str, list[Row]], metas: dict[str, dict]) -> None:
    backends = list(results)
    print()
    print(f"meta store at scale: {sizes.key()}  (ms; goal: 50 a list, 100 a scheduler pass)")
    for backend, meta in metas.items():
        extra = ", ".join(f"{k} {v}" for k, v in meta.items() if k != "sizes")
        print(f"  {backend}: {extra}")
    header = f"{'':<46}" + "".join(f"{b + ' p50':>14}{b + ' p95':>14}" for b in backends)
    print(header + f"{'goal':>7}  ok")
    names: list[tuple[str, str]] = list(
        dict.fromkeys((r.group, r.name) for rows in results.values() for r in rows)
    )
    group = None
    for g, name in names:
        if g != group:
            print(f"[{g}]")
            group = g
        cells, goal, ok = "", None, True
        for backend in backends:
            row = next((r for r in results[backend] if (r.group, r.name) == (g, name)), None)
            if row is None:
                cells += f"{'-':>14}{'-':>14}"
                continue
            goal = row.goal
            p50, p95 = row.quantile(0.5), row.quantile(0.95)
            ok = ok and (goal is None or p50 <= goal)
            cells += f"{p50 * 1000:>14.1f}{p95 * 1000:>14.1f}"
        mark = "" if goal is None else ("yes" if ok else "NO")
        shown = "-" if goal is None else f"{goal * 1000:.0f}"
        print(f"  {name[:44]:<44}{cells}{shown:>7}  {mark}")


if __name__ == "__main__":
    sys.exit(main())
