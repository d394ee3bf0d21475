"""Exactly once across ``kill -9``: a scheduler process that fires a workflow's rule is killed
with SIGKILL at random moments, over and over, while events arrive, then restarted; at the
end every event has started exactly one execution of the rule's job, in seq order (each
execution records the seq of the event that fired it). On SQLite and PostgreSQL.

The child widens the windows a kill can land in: it sleeps a little inside each fire's
transaction (before and after recording the execution) and the pass runs without pause, so
kills hit open transactions, fires between commit and driver start, and idle moments alike.
Drivers are not started (what is under test is which executions the fires record).

The child is a short script (``CHILD``), not this module: importing pytest and the test
helpers would double its start-up time, which each of the restarts pays.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from aiflow.scheduler.submit import submit_workflow
from aiflow.store.sql_store import MetaStore
from tests.scheduler.event_workflows import write_workflow

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
ROUNDS = 5
EVENTS_PER_ROUND = 8
READY = "ready"
CHILD = f"""
import random, time
from aiflow.deployers import get_deployer
from aiflow.scheduler.service import SchedulerService
from aiflow.store import _rules
from aiflow.store.sql_store import MetaStore

record = _rules.add_execution

def slow(*args, **kwargs):  # a fire's transaction, made longer
    time.sleep(random.uniform(0, 0.01))
    execution = record(*args, **kwargs)
    time.sleep(random.uniform(0, 0.01))
    return execution

_rules.add_execution = slow
store = MetaStore()
store.list_triggers()  # open and check the store before saying ready
scheduler = SchedulerService(store, get_deployer, interval=0.0, start_driver=lambda *a, **k: None)
print({READY!r}, flush=True)
scheduler.run()
"""
BODY = """
with af.workflow("chaos") as wf:
    job = af.user_operation(record, params={"tag": "job"}, name="job")
    af.action_on_event(job, key="chaos")
"""


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_uri(request: pytest.FixtureRequest, aiflow_home: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{aiflow_home / 'chaos.db'}"
    url: str = request.getfixturevalue("migrated_postgres_url")
    return url


def test_each_event_fires_exactly_once_across_sigkill(tmp_path: Path, store_uri: str) -> None:
    seed = random.randrange(2**32)
    rng = random.Random(seed)
    store = MetaStore(store_uri)
    wf = write_workflow(tmp_path / "chaos", BODY, out=tmp_path / "out.txt")
    submit_workflow(wf, mode="batch", store=store)
    rule = store.get_trigger("chaos.job.0")
    sent: list[int] = []
    interrupted = 0  # kills that came while events were left to fire
    for r in range(ROUNDS):
        for i in range(EVENTS_PER_ROUND):
            sent.append(store.emit_event("chaos", "user", f"{r}.{i}").seq)
            store.emit_event("noise", "user")  # events the rule must skip, around its own
        target = len(_fired(store, rule.id)) + rng.randint(1, 4)
        child = _scheduler(store_uri)
        try:  # kill it while it fires: after a few fires, a random moment later
            _wait_until(store, rule.id, target)
            time.sleep(rng.uniform(0.0, 0.02))
        finally:
            child.send_signal(signal.SIGKILL)
            child.wait()
        interrupted += len(_fired(store, rule.id)) < len(sent)
    child = _scheduler(store_uri)  # and now let one finish
    try:
        deadline = time.monotonic() + 60
        while len(_fired(store, rule.id)) < len(sent):
            assert time.monotonic() < deadline, f"not all events fired (seed {seed})"
            time.sleep(0.1)
        time.sleep(0.3)  # a duplicate, if one were coming, would come now
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()

    why = f"seed {seed}; {interrupted} of {ROUNDS} kills came amid fires"
    assert _fired(store, rule.id) == sent, why
    fires = store.list_events(key="trigger/chaos.job.0", limit=10_000)
    assert [e.type for e in fires] == ["TRIGGER_FIRED"] * len(sent), f"seed {seed}"
    assert store.get_trigger("chaos.job.0").event_cursor == sent[-1]


def _wait_until(store: MetaStore, trigger_id: int, fires: int, timeout: float = 30) -> None:
    """Until the rule has fired ``fires`` times."""
    deadline = time.monotonic() + timeout
    while len(_fired(store, trigger_id)) < fires:
        assert time.monotonic() < deadline, "the scheduler child made no progress"
        time.sleep(0.005)


def _fired(store: MetaStore, trigger_id: int) -> list[int | None]:
    """The event seqs of the rule's executions, in the order they were recorded."""
    runs = store.page_executions(trigger="chaos.job.0", ascending=True, limit=500)
    assert all(e.trigger_id == trigger_id for e in runs)
    return [e.trigger_event_seq for e in runs]


def _scheduler(store_uri: str) -> subprocess.Popen[str]:
    """A scheduler process (``CHILD``), once it is ready to fire (imports done, store open)."""
    env = {**os.environ, "AIFLOW__METASTORE__URI": store_uri}
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None
    line = child.stdout.readline().strip()
    if line != READY:
        child.kill()
        raise AssertionError(f"the scheduler child did not start: {line!r}")
    return child
