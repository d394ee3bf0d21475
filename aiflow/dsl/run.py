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
    from aiflow.schemas.entities import Execution

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
    server: str | None = None,
    token: str | None = None,
) -> Execution | None:
    """Run ``wf`` and return its execution; raises ``ExecutionFailed`` when it failed.
    Same as ``aiflow run FILE --mode MODE``.

    With ``server`` (``http://host:port``) the workflow is submitted to that aiflow server
    instead, with ``token`` or else ``$AIFLOW__CLIENT__TOKEN``. Its code is uploaded as a
    source snapshot; its data stays where it is: relative paths resolve against the workflow
    file as here, and the server must reach them (same host, shared mount) or they are remote
    URIs; the server refuses, before running anything, a location it cannot use.
    """
    if _suppressed:
        return None
    if server is not None:
        return _run_remote(wf, server, token, mode, engine, deployer, detach, progress)
    from aiflow.dsl.progress import LiveProgress
    from aiflow.scheduler.submit import run_workflow

    return run_workflow(
        wf,
        mode=mode,
        engine=engine,
        deployer=deployer,
        detach=detach,
        progress=LiveProgress if progress else None,
    )


def _run_remote(
    wf: Workflow,
    server: str,
    token: str | None,
    mode: str,
    engine: str | None,
    deployer: str | None,
    detach: bool,
    progress: bool,
) -> Execution:
    """Submit through the server's API, then (unless ``detach``) poll until the execution
    ends; raise ``ExecutionFailed`` if it failed, as a local run does."""
    from aiflow.client import Client
    from aiflow.scheduler.submit import ExecutionFailed
    from aiflow.schemas.entities import ExecutionStatus

    with Client(server, token) as client:
        execution = client.submit(wf, mode, engine=engine, deployer=deployer)
        if progress:
            print(f"execution {execution.id} of '{wf.name}' submitted to {client.url}")
        if detach:
            return execution
        final = client.wait_for_execution(execution.id)
    if progress:
        print(f"execution {final.id} {final.status.value}")
    if final.status is ExecutionStatus.FAILED:
        raise ExecutionFailed(
            f"execution {final.id} of '{final.workflow_name}' failed on {server}: {final.error}"
        )
    return final
