"""Driver entry point: ``python -m aiflow.scheduler --execution-id N``.

What ``aiflow run --detach`` starts (see ``spawn_driver``): a process of its own that outlives
the terminal; with ``--adopt``, the driver that replaces a running execution's dead driver and
takes over its running jobs (``reconcile`` starts it). The store comes from the usual
configuration (``AIFLOW_HOME``, ``AIFLOW__METASTORE__URI``), the deployer from the execution's
``deployer`` column. Exit code 0 means the execution succeeded, 1 that it did not, 2 bad usage
(argparse).
"""

from __future__ import annotations

import argparse
import logging
import sys

from aiflow.errors import AiflowError

log = logging.getLogger("aiflow.scheduler")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m aiflow.scheduler", description="Run one execution's driver."
    )
    parser.add_argument("--execution-id", type=int, required=True)
    parser.add_argument(
        "--adopt", action="store_true", help="replace the running execution's dead driver"
    )
    args = parser.parse_args(argv)
    # aiflow's own progress at INFO; libraries (alembic) only when they warn
    logging.basicConfig(
        level=logging.WARNING, stream=sys.stderr, format="%(asctime)s %(levelname)s %(message)s"
    )
    logging.getLogger("aiflow").setLevel(logging.INFO)
    from aiflow.deployers import get_deployer
    from aiflow.scheduler.driver import run_execution
    from aiflow.schemas.entities import ExecutionStatus
    from aiflow.store.sql_store import MetaStore

    try:
        store = MetaStore()
        execution = store.get_execution(args.execution_id)
        deployer = get_deployer(execution.deployer)
        final = run_execution(store, execution.id, deployer, adopt=args.adopt)
    except AiflowError as exc:
        log.error("execution %s: %s", args.execution_id, exc)
        return 1
    return 0 if final.status == ExecutionStatus.SUCCEEDED else 1


if __name__ == "__main__":
    sys.exit(main())
