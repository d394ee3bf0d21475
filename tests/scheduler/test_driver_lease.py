"""The driver's lease: a driver on another host (a replaced pod) is judged by its heartbeat.

Real SQLite store, real job processes (``job.py`` of ``test_driver``) and real drivers in their
own processes. "Another host" is the row saying so: a driver's host is whatever it recorded, so
a test rewrites ``driver_host`` and ``driver_heartbeat_at`` as a driver in a pod that was
replaced would have left them. The drivers run the local deployer declared not host-bound
(``PORTABLE_DRIVER``): the local one holds no lease, since another host cannot reach its jobs,
and on one machine every "host" can.
"""

from __future__ import annotations

import socket
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pydantic import ValidationError
from sqlalchemy import update

from aiflow.config import SchedulerSettings, get_settings, reset_settings
from aiflow.deployers import get_deployer
from aiflow.deployers.local import LocalDeployer
from aiflow.scheduler.driver import reconcile, request_stop, run_execution
from aiflow.scheduler.reconcile import driver_is_dead
from aiflow.schemas.entities import ExecutionStatus, JobStatus
from aiflow.store import db, orm
from aiflow.store.sql_store import MetaStore
from tests.scheduler.test_driver import (
    DRIVER,
    JOB,
    commands,
    create,
    job,
    jobs_by_name,
    kill_leftovers,
    read_ints,
    start_driver,
    wait_until,
)
from tests.services import alive, all_gone

PORTABLE_DRIVER = DRIVER.replace(
    "final = run_execution(",
    "class Portable(LocalDeployer):\n    host_bound = False\n\n\nfinal = run_execution(",
).replace("LocalDeployer(),", "Portable(),")
PAST_THE_LEASE = timedelta(seconds=120)  # older than the lease these tests configure (1 s)


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[MetaStore]:
    """A fresh store, the scripts of ``test_driver``, and a short lease: drivers started from
    here renew every 0.1 s and are dead from another host after 1 s of silence."""
    monkeypatch.setenv("AIFLOW__SCHEDULER__KILL_GRACE", "3")
    monkeypatch.setenv("AIFLOW__SCHEDULER__DRIVER_HEARTBEAT", "0.1")
    monkeypatch.setenv("AIFLOW__SCHEDULER__DRIVER_LEASE", "1")
    reset_settings()
    (tmp_path / "job.py").write_text(JOB)
    (tmp_path / "driver.py").write_text(PORTABLE_DRIVER)
    yield MetaStore()
    reset_settings()


def set_row(store: MetaStore, eid: int, **values: object) -> None:
    """Write execution columns as another process (a driver in another pod) would have."""
    with db.get_engine(store.uri).begin() as connection:
        connection.execute(
            update(orm.SqlExecution).where(orm.SqlExecution.id == eid).values(**values)
        )


def running_elsewhere(store: MetaStore, eid: int, heartbeat: datetime | None) -> None:
    """A running execution whose driver (pid 4242) is on the host ``old-pod``."""
    assert store.transition_execution(eid, ExecutionStatus.RUNNING)
    assert store.claim_driver(eid, replacing=(None, None), pid=4242, host="old-pod")
    set_row(store, eid, driver_heartbeat_at=heartbeat)


def killed_driver_moved_elsewhere(
    store: MetaStore, tmp_path: Path, eid: int
) -> tuple[list[int], datetime]:
    """Run execution ``eid`` (one ``tree`` job) under a driver, kill that driver, and make its
    row say it ran on a replaced pod that last renewed its lease long ago; return the job's
    pids and that heartbeat."""
    driver = start_driver(tmp_path, eid)
    pids = read_ints(tmp_path / "tree.tree") + read_ints(tmp_path / "tree.pid")
    wait_until(lambda: jobs_by_name(store, eid)["tree"].status == JobStatus.RUNNING)
    wait_until(lambda: store.get_execution(eid).driver_pid == driver.pid)
    driver.kill()
    driver.wait()
    stale = datetime.now(UTC) - PAST_THE_LEASE
    set_row(store, eid, driver_host="old-pod", driver_heartbeat_at=stale)
    return pids, stale


def test_a_live_driver_renews_its_lease(store: MetaStore, tmp_path: Path) -> None:
    eid = create(store, job("tree", "tree"))
    driver = start_driver(tmp_path, eid)
    try:
        wait_until(lambda: store.get_execution(eid).driver_pid == driver.pid)
        claimed = store.get_execution(eid)
        started = claimed.driver_started_at
        assert started is not None and claimed.driver_heartbeat_at is not None
        assert claimed.driver_heartbeat_at >= started, "the claim is the first renewal"
        wait_until(lambda: (store.get_execution(eid).driver_heartbeat_at or started) > started)
        assert not driver_is_dead(store.get_execution(eid))
    finally:
        assert request_stop(store, eid, get_deployer, wait=30).status == ExecutionStatus.KILLED
        driver.communicate(timeout=30)


def test_another_hosts_driver_is_left_alone_while_its_lease_holds(store: MetaStore) -> None:
    eid = create(store, job("a", "ok"))
    adopted: list[int] = []
    running_elsewhere(store, eid, heartbeat=datetime.now(UTC))
    assert not driver_is_dead(store.get_execution(eid))
    assert reconcile(store, get_deployer, adopt=adopted.append) == [] and adopted == []

    # No heartbeat: claimed by an aiflow without leases, whose silence proves nothing.
    set_row(store, eid, driver_heartbeat_at=None, started_at=datetime.now(UTC) - PAST_THE_LEASE)
    assert reconcile(store, get_deployer, adopt=adopted.append) == [] and adopted == []

    # Asked to stop, a live driver elsewhere is left to do it: nothing ends it from here.
    set_row(store, eid, driver_heartbeat_at=datetime.now(UTC))
    assert request_stop(store, eid, get_deployer, wait=0).status == ExecutionStatus.STOPPING
    assert store.list_jobs(eid)[0].status == JobStatus.QUEUED

    set_row(store, eid, status=ExecutionStatus.RUNNING)
    set_row(store, eid, driver_heartbeat_at=datetime.now(UTC) - PAST_THE_LEASE)
    assert driver_is_dead(store.get_execution(eid))
    assert reconcile(store, get_deployer, adopt=adopted.append) == [] and adopted == [eid]


def test_a_running_execution_of_a_replaced_pod_is_adopted(store: MetaStore, tmp_path: Path) -> None:
    """The driver's pod is gone (another hostname now): reconcile here starts a driver that
    takes over the live job from its handle, and that driver holds the lease from then on."""
    eid = create(store, job("tree", "tree"), job("next", "ok", after=("tree",)))
    pids, _ = killed_driver_moved_elsewhere(store, tmp_path, eid)
    adopters: list[subprocess.Popen[str]] = []
    try:

        def adopt(execution_id: int) -> None:
            adopters.append(start_driver(tmp_path, execution_id, adopt=True))

        assert reconcile(store, get_deployer, adopt=adopt) == [], "adopted, not ended"
        assert len(adopters) == 1
        wait_until(lambda: store.get_execution(eid).driver_pid == adopters[0].pid)
        execution = store.get_execution(eid)
        assert execution.driver_host == socket.gethostname()
        assert execution.status == ExecutionStatus.RUNNING and not driver_is_dead(execution)
        assert all(alive(pid) for pid in pids), "the adopted job was not restarted"
        lines = (tmp_path / "events.log").read_text().splitlines()
        assert [line.split()[:3] for line in lines] == [["start", "tree", "1"]]

        assert request_stop(store, eid, get_deployer, wait=30).status == ExecutionStatus.KILLED
        output, _ = adopters[0].communicate(timeout=30)
        assert "final killed stop requested" in output
    finally:
        kill_leftovers(adopters)
    wait_until(lambda: all_gone(*pids), timeout=10)


def test_stop_ends_an_execution_whose_driver_lease_expired(
    store: MetaStore, tmp_path: Path
) -> None:
    """``aiflow execution stop`` of an execution driven from a pod that is gone: its job is
    stopped here through its handle and everything ends killed, not left ``stopping``."""
    eid = create(store, job("tree", "tree"), job("queued", "ok", after=("tree",)))
    pids, _ = killed_driver_moved_elsewhere(store, tmp_path, eid)
    final = request_stop(store, eid, get_deployer, wait=10)
    assert final.status == ExecutionStatus.KILLED
    assert final.error is not None and "old-pod" in final.error
    jobs = {j.name: j for j in store.list_jobs(eid)}
    assert jobs["tree"].status == jobs["queued"].status == JobStatus.KILLED
    wait_until(lambda: all_gone(*pids), timeout=10)


def test_a_driver_that_lost_its_claim_exits_without_touching_the_jobs(
    store: MetaStore, tmp_path: Path
) -> None:
    """A driver stalled past its lease was replaced (here: the new driver's claim is written
    as it would be): at its next renewal it leaves at once, stopping nothing, writing nothing."""
    eid = create(store, job("tree", "tree"), job("next", "ok", after=("tree",)))
    driver = start_driver(tmp_path, eid)
    pids = read_ints(tmp_path / "tree.tree") + read_ints(tmp_path / "tree.pid")
    wait_until(lambda: store.get_execution(eid).driver_pid == driver.pid)
    wait_until(lambda: jobs_by_name(store, eid)["tree"].status == JobStatus.RUNNING)
    me = (driver.pid, socket.gethostname())
    assert store.claim_driver(eid, replacing=me, pid=4242, host="new-pod")
    output, _ = driver.communicate(timeout=30)
    assert driver.returncode == 0
    assert "final running None" in output, output
    assert "lost its claim" in output, output
    assert all(alive(pid) for pid in pids), "the jobs are the new driver's"
    jobs = {j.name: j for j in store.list_jobs(eid)}
    assert (jobs["tree"].status, jobs["next"].status) == (JobStatus.RUNNING, JobStatus.QUEUED)
    execution = store.get_execution(eid)
    assert (execution.status, execution.driver_host) == (ExecutionStatus.RUNNING, "new-pod")

    # The new driver's pod goes in turn; stop ends what the first driver left running.
    set_row(store, eid, driver_heartbeat_at=datetime.now(UTC) - PAST_THE_LEASE)
    assert request_stop(store, eid, get_deployer, wait=10).status == ExecutionStatus.KILLED
    wait_until(lambda: all_gone(*pids), timeout=10)


def test_a_driver_renews_nothing_once_its_execution_is_taken(store: MetaStore) -> None:
    eid = create(store, job("a", "ok"))
    running_elsewhere(store, eid, heartbeat=None)
    assert store.renew_driver(eid, pid=4242, host="old-pod")
    assert store.get_execution(eid).driver_heartbeat_at is not None
    assert not store.renew_driver(eid, pid=4242, host="elsewhere")
    assert not store.renew_driver(eid, pid=1, host="old-pod")
    assert store.transition_execution(eid, ExecutionStatus.KILLED)
    assert not store.renew_driver(eid, pid=4242, host="old-pod"), "ended by another process"


def test_a_lease_must_outlast_three_heartbeats(monkeypatch: pytest.MonkeyPatch) -> None:
    assert SchedulerSettings(driver_heartbeat=10, driver_lease=31).driver_lease == 31
    for lease in (30, 12):
        with pytest.raises(
            ValidationError,
            match=r"driver_lease \(\d+ s\) must be more than 3 x "
            r"scheduler.driver_heartbeat \(10 s\)",
        ):
            SchedulerSettings(driver_heartbeat=10, driver_lease=lease)
    monkeypatch.setenv("AIFLOW__SCHEDULER__DRIVER_HEARTBEAT", "30")
    monkeypatch.delenv("AIFLOW__SCHEDULER__DRIVER_LEASE", raising=False)
    reset_settings()
    try:
        with pytest.raises(ValidationError, match=r"scheduler.driver_lease \(60 s\)"):
            get_settings()
    finally:
        reset_settings()


def test_a_local_deployer_driver_holds_no_lease(store: MetaStore, tmp_path: Path) -> None:
    """Its jobs are processes of its host: no other host could adopt them, so it records no
    heartbeat and stays judged from its own host only."""
    eid = create(store, job("a", "ok"))
    final = run_execution(store, eid, LocalDeployer(), command_for=commands(tmp_path))
    assert final.status == ExecutionStatus.SUCCEEDED
    assert final.driver_pid is not None and final.driver_heartbeat_at is None
