"""The deployer contract: what every registered deployer does, through ``Deployer`` and the driver.

Written only against ``aiflow.deployers.base`` (submit / poll / stop / logs, handles as JSON)
and the scheduler's driver (``run_execution``, ``request_stop``, ``reconcile``), never a
deployer's internals, so a Kubernetes or YARN deployer passes or fails the same suite as the
local one. The jobs are ``job_program.py``; what a test observes (pids, counters) the program
publishes into the target's shared directory.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from aiflow.config import reset_settings
from aiflow.deployers import get_deployer
from aiflow.deployers.base import Handle, JobLaunch
from aiflow.scheduler.driver import reconcile, request_stop, run_execution
from aiflow.schemas.entities import Execution, ExecutionStatus, Job, JobStatus
from aiflow.schemas.inputs import JobCreate
from aiflow.store.sql_store import MetaStore
from tests.contracts.conftest import DeployerTarget
from tests.services import wait_for

PROGRAM = Path(__file__).with_name("job_program.py")
GONE_WITHIN = 10.0  # s for a stopped process tree to disappear (re-parented ones are reaped late)

_E, _J = ExecutionStatus, JobStatus


def read_pids(path: Path) -> list[int]:
    wait_for(path.exists, timeout=30, what=f"{path.name} to be published", interval=0.02)
    return [int(pid) for pid in path.read_text().split()]


# -- the Deployer interface ---------------------------------------------------------------------


class Jobs:
    """Submits job-program attempts on one deployer and stops whatever a test leaves running."""

    def __init__(self, target: DeployerTarget, logs: Path) -> None:
        self.target, self.logs = target, logs
        self.deployer = target.make()
        self.handles: list[Handle] = []

    def submit(self, kind: str, name: str, arg: str = "", attempt: int = 1) -> Handle:
        argv = [kind, str(self.target.shared), name, *([arg] if arg else [])]
        launch = JobLaunch(
            job_id=1,
            execution_id=1,
            job_name=name,
            attempt=attempt,
            command=[*self.target.python, str(PROGRAM), *argv],
            env={"CONTRACT": "1"},
            log_path=self.logs / name / f"attempt-{attempt}.log",
            workdir=self.target.shared,
        )
        handle = self.deployer.submit(launch)
        self.handles.append(handle)
        return handle

    def wait_done(self, handle: Handle, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while self.deployer.poll(handle).running:
            assert time.monotonic() < deadline, f"attempt {handle} did not end in {timeout}s"
            self.deployer.wait_for_change(0.2)

    def stop_all(self) -> None:
        for handle in self.handles:
            self.deployer.stop(handle, grace=0)


@pytest.fixture
def jobs(deployer_target: DeployerTarget, tmp_path: Path) -> Iterator[Jobs]:
    jobs = Jobs(deployer_target, tmp_path / "logs")
    yield jobs
    jobs.stop_all()


def test_submit_and_poll_report_the_exit_code(jobs: Jobs) -> None:
    ok, failing = jobs.submit("ok", "good"), jobs.submit("fail", "bad", "3")
    for handle in (ok, failing):
        assert json.loads(json.dumps(handle)) == handle, "a handle must survive the meta store"
        jobs.wait_done(handle)
    state = jobs.deployer.poll(ok)
    assert (state.running, state.exit_code, state.error) == (False, 0, None)
    state = jobs.deployer.poll(failing)
    assert (state.running, state.exit_code) == (False, 3)
    assert state.error is not None and "3" in state.error
    assert "bad fails with 3" in list(jobs.deployer.logs(failing))


def test_stop_ends_the_job_and_its_children(jobs: Jobs, deployer_target: DeployerTarget) -> None:
    handle = jobs.submit("tree", "tree")
    pids = read_pids(deployer_target.shared / "tree.tree")
    assert len(pids) == 3 and all(deployer_target.alive(pid) for pid in pids)
    assert jobs.deployer.poll(handle).running
    jobs.deployer.stop(handle, grace=5)
    state = jobs.deployer.poll(handle)
    assert not state.running and state.exit_code != 0
    wait_for(
        lambda: not any(deployer_target.alive(pid) for pid in pids),
        timeout=GONE_WITHIN,
        what="the job, its child and its grandchild to be gone",
        interval=0.05,
    )
    jobs.deployer.stop(handle, grace=1)  # idempotent, also once the attempt is gone


def test_a_fresh_instance_finds_the_attempt_from_its_handle(
    jobs: Jobs, deployer_target: DeployerTarget
) -> None:
    """What a restarted driver or ``aiflow execution stop`` (another process) has: the handle."""
    handle = jobs.submit("tree", "tree")
    pids = read_pids(deployer_target.shared / "tree.tree")
    other = deployer_target.make()
    stored = json.loads(json.dumps(handle))
    assert other.poll(stored).running
    other.stop(stored, grace=5)
    assert not other.poll(stored).running
    wait_for(
        lambda: not any(deployer_target.alive(pid) for pid in pids),
        timeout=GONE_WITHIN,
        what="the tree stopped from another instance to be gone",
        interval=0.05,
    )


def test_logs_while_running_and_after(jobs: Jobs, deployer_target: DeployerTarget) -> None:
    handle = jobs.submit("talk", "talker")
    wait_for(
        lambda: "first" in list(jobs.deployer.logs(handle)),
        timeout=30,
        what="the first line in the logs of a running attempt",
        interval=0.05,
    )
    assert jobs.deployer.poll(handle).running
    followed: list[str] = []
    reader = None
    if jobs.deployer.supports_follow_logs:
        reader = threading.Thread(
            target=lambda: followed.extend(jobs.deployer.logs(handle, follow=True)), daemon=True
        )
        reader.start()
        time.sleep(0.2)
        assert reader.is_alive(), "follow must not end while the attempt runs"
    (deployer_target.shared / "talker.go").touch()
    jobs.wait_done(handle)
    lines = list(jobs.deployer.logs(handle))
    assert lines.index("first") < lines.index("second")
    assert list(jobs.deployer.logs(handle, tail=1)) == ["second"]
    if reader is not None:
        reader.join(timeout=10)
        assert not reader.is_alive(), "follow must end when the attempt ends"
        assert followed[-2:] == ["first", "second"]


# -- through the driver -------------------------------------------------------------------------


@pytest.fixture
def store(monkeypatch: pytest.MonkeyPatch) -> Iterator[MetaStore]:
    """The test's own SQLite store (``AIFLOW_HOME`` is per test), with a short kill grace."""
    monkeypatch.setenv("AIFLOW__SCHEDULER__KILL_GRACE", "3")
    reset_settings()
    store = MetaStore()
    yield store
    store.dispose()
    reset_settings()


def job(name: str, kind: str, arg: str = "", **options: object) -> JobCreate:
    """A job running the program; ``command_for`` puts the shared directory into its argv."""
    spec = {"argv": [kind, name, *([arg] if arg else [])]}
    return JobCreate.model_validate({"name": name, "engine": "local", "spec": spec} | options)


def create(store: MetaStore, target: DeployerTarget, *jobs: JobCreate, mode: str = "batch") -> int:
    version = store.register_workflow_version("wf", {}, "plan", "src", "file:///snapshot", [])
    return store.create_execution(version.id, mode, "local", target.name, list(jobs)).id


def command_for(target: DeployerTarget) -> Callable[[Job], list[str]]:
    def command(job: Job) -> list[str]:
        kind, *rest = job.spec["argv"]
        return [*target.python, str(PROGRAM), kind, str(target.shared), *rest]

    return command


def drive(
    store: MetaStore,
    target: DeployerTarget,
    execution_id: int,
    on_update: Callable[[Execution, list[Job]], None] | None = None,
) -> Execution:
    return run_execution(
        store, execution_id, target.make(), on_update=on_update, command_for=command_for(target)
    )


def by_name(store: MetaStore, execution_id: int) -> dict[str, Job]:
    return {job.name: job for job in store.list_jobs(execution_id)}


def test_status_transitions_and_logs_after_the_run(
    store: MetaStore, deployer_target: DeployerTarget
) -> None:
    eid = create(
        store,
        deployer_target,
        job("good", "ok"),
        job("bad", "fail", "4"),
        job("after", "ok", depends_on=["bad"]),
    )
    assert store.get_execution(eid).status == _E.QUEUED
    assert {j.status for j in store.list_jobs(eid)} == {_J.QUEUED}
    seen: dict[str, list[JobStatus]] = {}
    executions: list[ExecutionStatus] = []

    def record(execution: Execution, jobs: list[Job]) -> None:
        if not executions or executions[-1] != execution.status:
            executions.append(execution.status)
        for j in jobs:
            if seen.setdefault(j.name, [j.status])[-1] != j.status:
                seen[j.name].append(j.status)

    final = drive(store, deployer_target, eid, record)
    assert store.get_execution(eid).status == final.status == _E.FAILED
    assert executions[0] == _E.RUNNING and executions[-1] == _E.FAILED
    assert seen["good"][-2:] == [_J.RUNNING, _J.SUCCEEDED]
    assert seen["bad"][-2:] == [_J.RUNNING, _J.FAILED]
    assert seen["after"] == [_J.QUEUED, _J.UPSTREAM_FAILED]
    jobs = by_name(store, eid)
    assert (jobs["bad"].exit_code, jobs["bad"].attempt) == (4, 1)
    assert jobs["bad"].handle is not None and jobs["bad"].log_uri
    deployer = get_deployer(deployer_target.name)  # logs after the run, from the stored handles
    assert jobs["good"].handle is not None
    assert "bad fails with 4" in list(deployer.logs(jobs["bad"].handle))
    assert "good ok" in list(deployer.logs(jobs["good"].handle))


def test_retries_run_the_job_again_until_it_succeeds(
    store: MetaStore, deployer_target: DeployerTarget
) -> None:
    eid = create(
        store,
        deployer_target,
        job("flaky", "flaky", "2", max_retries=2, retry_delay=0.2),
        job("hopeless", "fail", "5", max_retries=1),
    )
    final = drive(store, deployer_target, eid)
    jobs = by_name(store, eid)
    assert final.status == _E.FAILED
    assert (jobs["flaky"].status, jobs["flaky"].attempt) == (_J.SUCCEEDED, 3)
    assert (deployer_target.shared / "flaky.runs").read_text() == "3"
    hopeless = jobs["hopeless"]
    assert (hopeless.status, hopeless.attempt, hopeless.exit_code) == (_J.FAILED, 2, 5)
    retries = store.list_events(key=f"execution/{eid}", type="JOB_RETRY")
    assert sorted(e.value for e in retries) == ["flaky", "flaky", "hopeless"]


def test_timeout_stops_the_job_and_fails_it(
    store: MetaStore, deployer_target: DeployerTarget
) -> None:
    timeout = 0.5 + deployer_target.start_latency  # the job has started when it times out
    eid = create(store, deployer_target, job("slow", "sleep", timeout=timeout))
    started = time.monotonic()
    final = drive(store, deployer_target, eid)
    assert time.monotonic() - started < 30 + timeout
    slow = by_name(store, eid)["slow"]
    assert final.status == _E.FAILED
    assert (slow.status, slow.error) == (_J.FAILED, f"timed out after {timeout:g}s")
    pid = read_pids(deployer_target.shared / "slow.pid")[0]
    wait_for(lambda: not deployer_target.alive(pid), GONE_WITHIN, "the timed-out job gone", 0.05)


def test_stop_kills_the_running_job_and_its_children(
    store: MetaStore, deployer_target: DeployerTarget
) -> None:
    eid = create(
        store, deployer_target, job("tree", "tree"), job("later", "ok", depends_on=["tree"])
    )
    result: list[Execution] = []
    driver = threading.Thread(target=lambda: result.append(drive(store, deployer_target, eid)))
    driver.start()
    pids = read_pids(deployer_target.shared / "tree.tree")
    assert by_name(store, eid)["tree"].status == _J.RUNNING
    final = request_stop(store, eid, get_deployer, wait=30)
    driver.join(timeout=30)
    assert not driver.is_alive()
    assert final.status == result[0].status == _E.KILLED
    jobs = by_name(store, eid)
    assert jobs["tree"].status == jobs["later"].status == _J.KILLED
    wait_for(
        lambda: not any(deployer_target.alive(pid) for pid in pids),
        timeout=GONE_WITHIN,
        what="the stopped job and its children to be gone",
        interval=0.05,
    )


DRIVER = """
import json, sys
from aiflow.deployers import get_deployer
from aiflow.scheduler.driver import run_execution
from aiflow.store.sql_store import MetaStore

execution_id, deployer, python, program, shared = sys.argv[1:6]
run_execution(
    MetaStore(),
    int(execution_id),
    get_deployer(deployer),
    adopt=sys.argv[6:] == ["adopt"],
    command_for=lambda job: [
        *json.loads(python), program, job.spec["argv"][0], shared, *job.spec["argv"][1:]
    ],
)
"""


def test_a_killed_driver_is_replaced_and_its_jobs_adopted(
    store: MetaStore, deployer_target: DeployerTarget, tmp_path: Path
) -> None:
    """The driver is killed (SIGKILL: no cleanup); reconcile starts a driver that adopts the
    execution: the live job keeps running untouched (same process, same attempt), the one that
    ended while nobody watched is retried, and the new driver ends them all on a stop."""
    eid = create(
        store,
        deployer_target,
        job("tree", "tree"),
        job("victim", "sleep", max_retries=1),
        job("next", "ok", depends_on=["tree"]),
    )
    (tmp_path / "driver.py").write_text(DRIVER)
    python = json.dumps(list(deployer_target.python))
    argv = [sys.executable, str(tmp_path / "driver.py"), str(eid), deployer_target.name, python,
            str(PROGRAM), str(deployer_target.shared)]  # fmt: skip

    def running() -> set[str]:
        return {name for name, j in by_name(store, eid).items() if j.status == _J.RUNNING}

    driver = subprocess.Popen(argv)
    adopters: list[subprocess.Popen[bytes]] = []
    try:
        tree = read_pids(deployer_target.shared / "tree.tree")
        victim = read_pids(deployer_target.shared / "victim.pid")[0]
        wait_for(lambda: running() == {"tree", "victim"}, 30, "both jobs running, with handles")
        assert store.get_execution(eid).driver_pid == driver.pid
        driver.send_signal(signal.SIGKILL)
        driver.wait()
        assert all(deployer_target.alive(pid) for pid in tree), "jobs outlive a killed driver"
        before = by_name(store, eid)
        assert before["victim"].handle is not None
        get_deployer(deployer_target.name).stop(before["victim"].handle, grace=0)
        wait_for(lambda: not deployer_target.alive(victim), GONE_WITHIN, "the victim to end", 0.05)
        (deployer_target.shared / "victim.pid").unlink()

        def adopt(execution_id: int) -> None:
            assert execution_id == eid
            adopters.append(subprocess.Popen([*argv, "adopt"]))

        assert reconcile(store, get_deployer, adopt=adopt) == [], "adopted, not ended"
        assert len(adopters) == 1
        wait_for(lambda: store.get_execution(eid).driver_pid == adopters[0].pid, 30, "adoption")
        assert reconcile(store, get_deployer, adopt=adopt) == [] and len(adopters) == 1
        read_pids(deployer_target.shared / "victim.pid")  # the retry started
        wait_for(lambda: running() == {"tree", "victim"}, 30, "the victim's retry running")
        after = by_name(store, eid)
        assert after["tree"].handle == before["tree"].handle and after["tree"].attempt == 1
        assert after["victim"].attempt == 2
        assert all(deployer_target.alive(pid) for pid in tree), "an adopted job keeps running"
        assert store.get_execution(eid).status == _E.RUNNING

        final = request_stop(store, eid, get_deployer, wait=30)
        assert final.status == _E.KILLED
        assert adopters[0].wait(timeout=30) == 0  # the script exits normally after the run
    finally:
        for process in [driver, *adopters]:
            if process.poll() is None:
                process.kill()
                process.wait()
    jobs = by_name(store, eid)
    assert jobs["tree"].status == jobs["victim"].status == jobs["next"].status == _J.KILLED
    wait_for(
        lambda: not any(deployer_target.alive(pid) for pid in tree),
        timeout=GONE_WITHIN,
        what="the adopted job and its children to be stopped by the new driver",
        interval=0.05,
    )
