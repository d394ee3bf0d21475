"""A workflow for scheduling tests: a chain of jobs that each append their name to a file, so a
test can tell that every job ran, in order, and exactly once."""

from __future__ import annotations

import textwrap
from pathlib import Path

from aiflow.dsl.workflow import Workflow
from aiflow.translators.usercode import load_workflow_file

_SOURCE = """
import time
import aiflow as af

def step(name: str, out: str, sleep: float):
    time.sleep(sleep)
    with open(out, "a") as f:
        f.write(name + "\\n")

with af.workflow(NAME) as wf:
    previous = None
    for i in range(STEPS):
        node = af.user_operation(
            step, params={"name": f"s{i}", "out": OUT, "sleep": SLEEP}, name=f"s{i}"
        )
        if previous is not None:
            af.run_after(node, previous)
        previous = node
"""


def chain_workflow(
    directory: Path, name: str, runs: Path, *, steps: int = 3, sleep: float = 0.0
) -> Workflow:
    """Write the workflow file into ``directory`` (its own snapshot) and load it; job ``s<i>``
    appends ``s<i>`` to ``runs``."""
    directory.mkdir(parents=True, exist_ok=True)
    header = f"NAME, STEPS, OUT, SLEEP = {name!r}, {steps}, {str(runs)!r}, {sleep}\n"
    (directory / "workflow.py").write_text(header + textwrap.dedent(_SOURCE))
    wf: Workflow = load_workflow_file(directory / "workflow.py").wf
    return wf
