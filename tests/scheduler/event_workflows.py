"""Workflow files for the tests of event-driven jobs (``af.action_on_*``): a shared prelude of
node functions that record the event their job received, and a writer that puts a workflow
(prelude + the test's own body) in a directory of its own, which is its source snapshot."""

from __future__ import annotations

import textwrap
from pathlib import Path

from aiflow.dsl.workflow import Workflow
from aiflow.translators.usercode import load_workflow_file

PRELUDE = '''
import time

import aiflow as af


class Keep(af.Trainer):
    """A model that is just its batch's size: training without scikit-learn."""

    def fit(self, batch, base_model=None):
        return {"rows": len(batch)}


def record(tag, sleep=0.0, send=None):
    """Append ``<tag> <seq> <type> <key> <value>`` of the event this job got to OUT (``-``
    when it got none), optionally send an event, then sleep (a long-running job)."""
    event = af.current_event()
    line = f"{tag} {event.seq} {event.type} {event.key} {event.value}" if event else f"{tag} -"
    with open(OUT, "a") as out:
        out.write(line + "\\n")
    if send:
        af.send_event(send, tag)
    time.sleep(sleep)
'''

# Train a model ``m``; on each new version, validate; on training's success (failure), notify
# (alarm); notify sends ``w-done``, on which final runs. Each job records the event it got.
TRAIN_AND_RULES = """
data = af.Example("data", schema={"x": "double"}, batch_uri=DATA, format="csv")
with af.workflow("w") as wf:
    model = af.train(af.read_example(data), Keep(), model=af.Model("m"))
    validate = af.user_operation(record, params={"tag": "validate"}, name="validate")
    af.action_on_model_version(validate, model, "generated")
    notify = af.user_operation(record, params={"tag": "notify", "send": "w-done"}, name="notify")
    af.action_on_job_status(notify, model, "succeeded")
    alarm = af.user_operation(record, params={"tag": "alarm"}, name="alarm")
    af.action_on_job_status(alarm, model, "failed")
    final = af.user_operation(record, params={"tag": "final"}, name="final")
    af.action_on_event(final, key="w-done", event_type="user")
"""


def write_workflow(directory: Path, body: str, *, out: Path, data: Path | None = None) -> Workflow:
    """Write ``directory/workflow.py`` (``OUT`` and ``DATA`` set, the prelude, ``body``) and
    load it. ``DATA`` is a two-row CSV with one ``x`` column (written if missing)."""
    directory.mkdir(parents=True, exist_ok=True)
    data = data or directory.parent / "data.csv"
    if not data.exists():
        data.write_text("x\n1.0\n2.0\n")
    header = f"OUT, DATA = {str(out)!r}, {str(data)!r}\n"
    source = header + PRELUDE + textwrap.dedent(body)
    (directory / "workflow.py").write_text(source)
    wf: Workflow = load_workflow_file(directory / "workflow.py").wf
    return wf


def recorded(out: Path) -> list[str]:
    """The lines the workflow's jobs recorded, in order (none if no job ran yet)."""
    return out.read_text().splitlines() if out.exists() else []
