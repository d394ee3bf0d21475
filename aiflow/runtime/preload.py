"""What a warm process imports and computes once, before it forks jobs: the modules every job
imports, and the first-use work of the meta store (SQLAlchemy's mappers, compiled statements)
that every job would pay again. Shared by the fork server and the zygote."""

from __future__ import annotations

import contextlib
import importlib
import sys
from typing import Any

# What every job imports before the user's code: the runtime, the meta store, the local
# engine (the one every workflow can fall back to) and the code data they cache; and what a
# detached driver imports (a zygote forks drivers too).
#
# The engines import their data libraries on first use (a driver translates a plan without
# pandas), so those are named here: a job that reads or writes data would otherwise import
# pandas, pyarrow and fsspec itself (~0.7 s), and a Flink job PyFlink's table API and the
# engine's UDF modules (~0.8 s more). Importing them starts no thread of theirs that survives
# a fork: OpenBLAS's pool (numpy) is shut down by its own ``pthread_atfork`` handler and
# restarted on first use in the child; polars' (``csv_writer``) starts on its first use, which
# never happens here (a fork server runs no job's code).
PRELOAD = (
    "aiflow.runtime.job",
    "aiflow.store.sql_store",
    "aiflow.translators.local.engine",
    "sqlalchemy.dialects.sqlite.pysqlite",
    "aiflow.scheduler.driver",
    "aiflow.deployers.local",
    "pandas",
    "aiflow.translators.arrow_io",
    "aiflow.translators.csv_writer",
    "aiflow.hadoop.fs",
    "httpcore",  # httpx imports it on its first request (~0.1 s)
    "aiflow.translators.flink.engine",
    "aiflow.translators.flink.udfs",
    "aiflow.translators.flink.io",
    "aiflow.translators.flink.ml",
    "aiflow.translators.flink.text_udfs",
    # a mini-cluster job's loopback Python worker server (~0.6 s: Beam's harness, gRPC; no
    # thread starts before a job creates its server)
    "pyflink.fn_execution.beam.beam_worker_pool_service",
)


def preload(modules: list[str]) -> list[str]:
    """Import ``modules`` (those that fail are reported and left to the jobs) and compute
    what every job computes the same; the modules imported."""
    loaded = []
    for name in modules:
        try:
            importlib.import_module(name)
        except Exception as exc:  # an optional engine not installed: its jobs import it cold
            print(f"aiflow forkserver: not preloaded {name}: {exc}", file=sys.stderr)
            continue
        loaded.append(name)
    # Code data every job computes the same: the settings model, the migrations' head.
    from aiflow.config import settings_class
    from aiflow.store import migrations

    settings_class()
    migrations.head()
    migrations.known()
    _rehearse_store()
    settings_class()()  # pydantic builds its validators on first use; the result is dropped
    return loaded


def _rehearse_store() -> None:
    """Run a job's first meta store reads once, on a throwaway SQLite store: SQLAlchemy
    configures its mappers and memoizes statement parts on first use, ~40 ms that every job
    would pay again. The store is closed and deleted before any fork."""
    import tempfile

    from aiflow.store.sql_store import MetaStore

    with tempfile.TemporaryDirectory(prefix="aiflow-forkserver-") as scratch:
        store = MetaStore(f"sqlite:///{scratch}/rehearsal.db")
        rehearse_jobs_statements(store)
        store.dispose()


def rehearse_jobs_statements(store: Any) -> None:
    """What every job runs against its store, on a job that does not exist: its reads, and
    the write of its result (no row matches; the transaction rolls back on ``NotFound``).
    SQLAlchemy compiles each statement once per engine and caches it, so a child forked
    after this finds them compiled."""
    from aiflow.errors import NotFound

    for read in (store.get_job, store.get_execution):
        with contextlib.suppress(NotFound):
            read(0)
    with contextlib.suppress(NotFound):
        store.update_job(0, result={})
