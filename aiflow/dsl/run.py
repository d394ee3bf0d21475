"""``af.run``: submit a workflow and drive it to the end with live progress.

Loading a workflow file (``aiflow run FILE``, or a job importing the snapshot) must never start a
run by itself, so ``af.run`` is inert inside ``runs_suppressed()``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from aiflow.dsl.workflow import Workflow
    from aiflow.store.entities import Execution

_suppressed = 0


@contextmanager
def runs_suppressed() -> Iterator[None]:
    global _suppressed
    _suppressed += 1
    try:
        yield
    finally:
        _suppressed -= 1


def run(
    wf: Workflow,
    mode: str = "batch",
    *,
    engine: str | None = None,
    deployer: str | None = None,
    detach: bool = False,
    progress: bool = True,
) -> Execution | None:
    """Run ``wf`` and return its execution; raises ``ExecutionFailed`` when it failed.
    Same as ``aiflow run FILE --mode MODE``."""
    if _suppressed:
        return None
    from aiflow.scheduler.submit import run_workflow

    return run_workflow(
        wf, mode=mode, engine=engine, deployer=deployer, detach=detach, progress=progress
    )
