"""Timestamps from inside a flink-engine job process, for the Flink benchmarks.

The benchmarks copy this file next to their workflow file, which imports it and calls
``install()``. Inside a job process (``AIFLOW_JOB_ID`` is set) with ``AIFLOW_BENCH_TRACE``
naming a file, it appends ``<epoch seconds> <event>`` lines to that file:

* ``loaded``: the workflow file was imported (aiflow's runtime is up, the job's spec and
  snapshot were read: the job process's own start-up is behind it);
* ``table_env_start`` / ``table_env_created``: around ``create_table_env``
  (``aiflow.translators.flink.tableenv``);
* ``gateway_start`` / ``gateway_up``: around PyFlink's ``launch_gateway`` (starting the JVM and
  connecting py4j to it), which happens inside the former;
* ``execute_start`` / ``execute_returned``: around ``StatementSet.execute`` (the tables are
  built; the job graph is compiled and submitted, and Flink answered with the job id).

It wraps functions of the running process only: nothing is changed in aiflow or PyFlink, and
outside a benchmark (no ``AIFLOW_BENCH_TRACE``) it does nothing.
"""

from __future__ import annotations

import functools
import os
import time
from collections.abc import Callable
from typing import Any

_installed = False


def mark(event: str) -> None:
    path = os.environ.get("AIFLOW_BENCH_TRACE")
    if path:
        with open(path, "a") as out:
            out.write(f"{time.time():.6f} {event}\n")


def _traced(fn: Callable[..., Any], before: str, after: str) -> Callable[..., Any]:
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        mark(before)
        result = fn(*args, **kwargs)
        mark(after)
        return result

    return wrapper


def install() -> None:
    global _installed
    if _installed or not os.environ.get("AIFLOW_BENCH_TRACE") or "AIFLOW_JOB_ID" not in os.environ:
        return
    _installed = True
    mark("loaded")
    try:
        import pyflink.java_gateway as gateway
        from pyflink.table.statement_set import StatementSet

        import aiflow.translators.flink.tableenv as tableenv
    except ImportError:  # a job on another engine
        return
    # module attributes looked up at call time: flink.py imports create_table_env inside
    # run_job, and get_gateway() calls the module-level launch_gateway
    tableenv.create_table_env = _traced(
        tableenv.create_table_env, "table_env_start", "table_env_created"
    )
    gateway.launch_gateway = _traced(gateway.launch_gateway, "gateway_start", "gateway_up")
    StatementSet.execute = _traced(StatementSet.execute, "execute_start", "execute_returned")


def read(path: str | os.PathLike[str]) -> dict[str, float]:
    """The first time of each event in a trace file (empty if there is none)."""
    events: dict[str, float] = {}
    try:
        with open(path) as lines:
            for line in lines:
                stamp, _, event = line.strip().partition(" ")
                if event:
                    events.setdefault(event, float(stamp))
    except OSError:
        pass
    return events
