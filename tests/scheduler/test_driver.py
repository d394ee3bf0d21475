"""The execution driver with a real SQLite meta store and real job processes.

Jobs run ``job.py`` (written below) through ``command_for``; what a job does is in its spec's
``argv``, so each test reads as a small workflow. Tests that need the driver in its own process
(kill -9, SIGTERM) run ``driver.py``, which does the same outside pytest.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import psutil
import pytest

from aiflow.config import get_settings, reset_settings
from aiflow.deployers import get_deployer
from aiflow.deployers.local import LocalDeployer
from aiflow.scheduler.driver import reconcile, request_stop, run_execution, spawn_driver
from aiflow.schemas.entities import Execution, ExecutionStatus, Job, JobStatus
from aiflow.store.sql_store import JobCreate, MetaStore
from tests.services import alive, all_gone

JOB = r"""
import os, subprocess, sys, time
from pathlib import Path

here = Path(__file__).parent
name = os.environ["AIFLOW_JOB_NAME"]


def record(event):
    with open(here / "events.log", "a") as f:
        f.write(f"{event} {name} {os.environ['AIFLOW_ATTEMPT']} {time.time()}\n")


def runs_before():
    counter = here / f"{name}.count"
    n = int(counter.read_text()) if counter.exists() else 0
    counter.write_text(str(n + 1))
    return n


def publish(suffix, text):
    tmp = here / f"{name}.{suffix}.tmp"
    tmp.write_text(text)
    tmp.rename(here / f"{name}.{suffix}")


record("start")
kind, arg = sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else ""
if kind == "fail":
    sys.exit(int(arg or 1))
if kind == "flaky" and runs_before() < int(arg):
    sys.exit(3)
if kind == "sleep-then-fail":
    time.sleep(float(arg))
    sys.exit(1)
if kind == "tree":
    inner = "import time; time.sleep(3600)"
    outer = (
        "import subprocess, sys, time; "
        f"g = subprocess.Popen([sys.executable, '-c', {inner!r}]); "
        "print(g.pid, flush=True); time.sleep(3600)"
    )
    child = subprocess.Popen([sys.executable, "-c", outer], stdout=subprocess.PIPE, text=True)
    publish("tree", f"{child.pid} {child.stdout.readline().strip()}")
if kind in ("sleep", "tree") or (kind == "sleep-once" and runs_before() == 0):
    publish("pid", str(os.getpid()))
    time.sleep(3600)
record("end")
"""

DRIVER = r"""
import sys
from aiflow.deployers.local import LocalDeployer
from aiflow.scheduler.driver import run_execution
from aiflow.store.sql_store import MetaStore

execution_id, job_script = int(sys.argv[1]), sys.argv[2]
final = run_execution(
    MetaStore(),
    execution_id,
    LocalDeployer(),
    command_for=lambda job: [sys.executable, job_script, *job.spec["argv"]],
    adopt=sys.argv[3:] == ["adopt"],
)
print("final", final.status, final.error, flush=True)
"""


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[MetaStore]:
    """A fresh SQLite store in this test's ``AIFLOW_HOME`` (set by the autouse ``aiflow_home``
    fixture), and the scripts the jobs and out-of-process drivers run."""
    monkeypatch.setenv("AIFLOW__SCHEDULER__KILL_GRACE", "3")
    reset_settings()
    (tmp_path / "job.py").write_text(JOB)
    (tmp_path / "driver.py").write_text(DRIVER)
    yield MetaStore()
    reset_settings()


def job(name: str, *argv: str, after: tuple[str, ...] = (), **options: object) -> JobCreate:
    return JobCreate.model_validate(
        {"name": name, "engine": "local", "spec": {"argv": list(argv)}, "depends_on": list(after)}
        | options
    )


def create(store: MetaStore, *jobs: JobCreate, mode: str = "batch") -> int:
    version = store.register_workflow_version("wf", {}, "plan", "src", "file:///snapshot", [])
    return store.create_execution(version.id, mode, "local", "local", list(jobs)).id


def commands(tmp_path: Path) -> Callable[[Job], list[str]]:
    return lambda job: [sys.executable, str(tmp_path / "job.py"), *job.spec["argv"]]


def run(
    store: MetaStore,
    tmp_path: Path,
    execution_id: int,
    on_update: Callable[[Execution, list[Job]], None] | None = None,
) -> Execution:
    return run_execution(
        store, execution_id, LocalDeployer(), on_update=on_update, command_for=commands(tmp_path)
    )


def jobs_by_name(store: MetaStore, execution_id: int) -> dict[str, Job]:
    return {job.name: job for job in store.list_jobs(execution_id)}


def wait_until(predicate: Callable[[], object], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)


def read_ints(path: Path) -> list[int]:
    wait_until(path.exists)
    return [int(p) for p in path.read_text().split()]


def starts(tmp_path: Path, name: str) -> list[float]:
    lines = (tmp_path / "events.log").read_text().splitlines()
    return [float(line.split()[3]) for line in lines if line.startswith(f"start {name} ")]


def test_batch_runs_jobs_in_dependency_order(store: MetaStore, tmp_path: Path) -> None:
    eid = create(
        store,
        job("a", "ok"),
        job("b", "ok", after=("a",)),
        job("c", "ok", after=("a",)),
        job("d", "ok", after=("b", "c")),
    )
    updates: list[tuple[ExecutionStatus, dict[str, JobStatus]]] = []
    final = run(
        store,
        tmp_path,
        eid,
        lambda ex, jobs: updates.append((ex.status, {j.name: j.status for j in jobs})),
    )
    assert (final.status, final.error) == (ExecutionStatus.SUCCEEDED, None)
    assert final.driver_pid == os.getpid()
    jobs = jobs_by_name(store, eid)
    assert {j.status for j in jobs.values()} == {JobStatus.SUCCEEDED}
    by_id = {j.id: j for j in jobs.values()}
    for name in "bcd":
        started = jobs[name].started_at
        for upstream in jobs[name].depends_on:
            ended = by_id[upstream].ended_at
            assert ended is not None and started is not None and ended <= started
    assert [by_id[i].name for i in jobs["d"].depends_on] == ["b", "c"]
    a = jobs["a"]
    assert (a.attempt, a.exit_code) == (1, 0)
    assert a.handle is not None and {"pid", "create_time", "host"} <= set(a.handle)
    log = get_settings().logs_dir / str(eid) / "a" / "attempt-1.log"
    assert a.log_uri == str(log) and log.read_text().startswith("===== aiflow: job 'a'")
    assert updates[-1] == (ExecutionStatus.SUCCEEDED, dict.fromkeys("abcd", JobStatus.SUCCEEDED))
    assert any(jobs_["a"] == JobStatus.RUNNING for _, jobs_ in updates)


def test_failure_marks_transitive_dependents_upstream_failed(
    store: MetaStore, tmp_path: Path
) -> None:
    eid = create(
        store,
        job("a", "fail", "4"),
        job("b", "ok", after=("a",)),
        job("c", "ok", after=("b",)),
        job("independent", "ok"),
    )
    final = run(store, tmp_path, eid)
    jobs = jobs_by_name(store, eid)
    assert final.status == ExecutionStatus.FAILED
    assert final.error and "job 'a' (exited with code 4) failed" in final.error
    assert "did not run: b, c" in final.error
    assert (jobs["a"].status, jobs["a"].exit_code) == (JobStatus.FAILED, 4)
    assert jobs["b"].status == jobs["c"].status == JobStatus.UPSTREAM_FAILED
    assert jobs["c"].error == "upstream job 'a' failed"
    assert jobs["independent"].status == JobStatus.SUCCEEDED


def test_retries_wait_without_blocking_other_jobs(store: MetaStore, tmp_path: Path) -> None:
    eid = create(
        store,
        job("flaky", "flaky", "2", max_retries=2, retry_delay=0.8),
        job("x1", "ok"),
        job("x2", "ok", after=("x1",)),
        job("hopeless", "flaky", "9", max_retries=1),
    )
    final = run(store, tmp_path, eid)
    jobs = jobs_by_name(store, eid)
    assert final.status == ExecutionStatus.FAILED
    assert (jobs["flaky"].status, jobs["flaky"].attempt) == (JobStatus.SUCCEEDED, 3)
    first, second, third = starts(tmp_path, "flaky")
    assert second - first >= 0.8 and third - second >= 0.8
    assert jobs["x2"].ended_at and jobs["flaky"].started_at
    assert jobs["x2"].ended_at < jobs["flaky"].started_at, "the chain ran during the delay"
    hopeless = jobs["hopeless"]
    assert (hopeless.status, hopeless.attempt) == (JobStatus.FAILED, 2)
    assert hopeless.error == "exited with code 3"
    retries = store.list_events(key=f"execution/{eid}", type="JOB_RETRY")
    assert sorted(e.value for e in retries) == ["flaky", "flaky", "hopeless"]
    log = get_settings().logs_dir / str(eid) / "flaky"
    assert sorted(p.name for p in log.iterdir()) == [f"attempt-{n}.log" for n in (1, 2, 3)]


def test_timeout_stops_the_job_and_counts_as_a_failure(store: MetaStore, tmp_path: Path) -> None:
    eid = create(store, job("slow", "sleep", timeout=0.5, max_retries=1))
    started = time.monotonic()
    final = run(store, tmp_path, eid)
    assert time.monotonic() - started < 8
    slow = jobs_by_name(store, eid)["slow"]
    assert final.status == ExecutionStatus.FAILED
    assert (slow.status, slow.attempt, slow.error) == (JobStatus.FAILED, 2, "timed out after 0.5s")
    assert slow.exit_code == -signal.SIGTERM
    assert all_gone(*read_ints(tmp_path / "slow.pid"))


def test_kill_9_of_a_job_fails_it_and_retries_remain(store: MetaStore, tmp_path: Path) -> None:
    eid = create(store, job("resilient", "sleep-once", max_retries=1), job("fragile", "sleep"))
    result: list[Execution] = []
    driver = threading.Thread(target=lambda: result.append(run(store, tmp_path, eid)))
    driver.start()
    for name in ("resilient", "fragile"):
        os.kill(read_ints(tmp_path / f"{name}.pid")[0], signal.SIGKILL)
    driver.join(timeout=20)
    jobs = jobs_by_name(store, eid)
    assert result[0].status == ExecutionStatus.FAILED
    assert (jobs["resilient"].status, jobs["resilient"].attempt) == (JobStatus.SUCCEEDED, 2)
    fragile = jobs["fragile"]
    assert (fragile.status, fragile.exit_code) == (JobStatus.FAILED, -signal.SIGKILL)
    assert fragile.error == "killed by SIGKILL (signal 9)"


@pytest.mark.parametrize("how", ["store", "request_stop"])
def test_stop_from_another_thread(store: MetaStore, tmp_path: Path, how: str) -> None:
    eid = create(store, job("tree", "tree"), job("later", "ok", after=("tree",)))
    result: list[Execution] = []
    driver = threading.Thread(target=lambda: result.append(run(store, tmp_path, eid)))
    driver.start()
    pids = read_ints(tmp_path / "tree.tree") + read_ints(tmp_path / "tree.pid")
    assert reconcile(store, get_deployer) == [], "a live driver is left alone"
    if how == "store":
        assert store.transition_execution(
            eid, ExecutionStatus.STOPPING, expected={ExecutionStatus.RUNNING}
        )
        driver.join(timeout=15)
        final = result[0]
    else:
        final = request_stop(store, eid, get_deployer, wait=15)
        driver.join(timeout=5)
    assert not driver.is_alive()
    assert (final.status, final.error) == (ExecutionStatus.KILLED, "stop requested")
    jobs = jobs_by_name(store, eid)
    assert jobs["tree"].status == jobs["later"].status == JobStatus.KILLED
    wait_until(lambda: all_gone(*pids), timeout=5)


def test_stream_jobs_start_on_running_upstream_and_fail_together(
    store: MetaStore, tmp_path: Path
) -> None:
    eid = create(
        store,
        job("source", "sleep"),
        job("sink", "sleep-then-fail", "0.5", after=("source",)),
        mode="stream",
    )
    final = run(store, tmp_path, eid)
    jobs = jobs_by_name(store, eid)
    assert final.status == ExecutionStatus.FAILED
    assert final.error == "stream job 'sink' failed (exited with code 1); stopped the others"
    assert jobs["sink"].status == JobStatus.FAILED
    assert jobs["source"].status == JobStatus.KILLED
    assert jobs["source"].ended_at and jobs["sink"].started_at
    assert jobs["sink"].started_at < jobs["source"].ended_at
    assert all_gone(*read_ints(tmp_path / "source.pid"))


def kill_leftovers(drivers: list[subprocess.Popen[str]]) -> None:
    """Kill the driver processes a failed test left running."""
    for driver in drivers:
        if driver.poll() is None:
            driver.kill()
            driver.wait()


def start_driver(tmp_path: Path, eid: int, *, adopt: bool = False) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(tmp_path / "driver.py"), str(eid), str(tmp_path / "job.py")]
        + (["adopt"] if adopt else []),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def test_sigterm_to_the_driver_kills_the_execution(store: MetaStore, tmp_path: Path) -> None:
    eid = create(store, job("tree", "tree"), job("queued", "ok", after=("tree",)))
    driver = start_driver(tmp_path, eid)
    pids = read_ints(tmp_path / "tree.tree") + read_ints(tmp_path / "tree.pid")
    driver.send_signal(signal.SIGTERM)
    output, _ = driver.communicate(timeout=15)
    assert "final killed driver received SIGTERM" in output
    jobs = jobs_by_name(store, eid)
    assert jobs["tree"].status == jobs["queued"].status == JobStatus.KILLED
    wait_until(lambda: all_gone(*pids), timeout=5)


def test_of_two_drivers_adopting_one_execution_one_wins(store: MetaStore, tmp_path: Path) -> None:
    eid = create(store, job("tree", "tree"), job("next", "ok", after=("tree",)))
    driver = start_driver(tmp_path, eid)
    tree = read_ints(tmp_path / "tree.tree") + read_ints(tmp_path / "tree.pid")
    wait_until(lambda: store.get_execution(eid).driver_pid == driver.pid)
    driver.kill()
    driver.wait()
    adopters = [start_driver(tmp_path, eid, adopt=True) for _ in range(2)]
    try:
        wait_until(lambda: store.get_execution(eid).driver_pid in {a.pid for a in adopters})
        winner = next(a for a in adopters if a.pid == store.get_execution(eid).driver_pid)
        loser = next(a for a in adopters if a is not winner)
        output, _ = loser.communicate(timeout=30)
        assert output.strip() == "final running None", "the loser left it to the winner"
        execution = store.get_execution(eid)
        assert execution.status == ExecutionStatus.RUNNING and execution.driver_pid == winner.pid
        assert execution.driver_started_at and execution.started_at
        assert execution.driver_started_at > execution.started_at
        assert all(alive(pid) for pid in tree), "the adopted job was not restarted"
        starts = (tmp_path / "events.log").read_text().split("\n")
        assert [line.split()[:3] for line in starts if line] == [["start", "tree", "1"]]

        assert request_stop(store, eid, get_deployer, wait=30).status == ExecutionStatus.KILLED
        output, _ = winner.communicate(timeout=30)
        assert "final killed stop requested" in output
    finally:
        kill_leftovers(adopters)
    wait_until(lambda: all_gone(*tree), timeout=5)


def test_request_stop_with_a_dead_driver_stops_the_jobs_itself(
    store: MetaStore, tmp_path: Path
) -> None:
    eid = create(store, job("tree", "tree"))
    driver = start_driver(tmp_path, eid)
    pids = read_ints(tmp_path / "tree.tree") + read_ints(tmp_path / "tree.pid")
    wait_until(lambda: store.get_execution(eid).driver_pid == driver.pid)
    driver.kill()
    driver.wait()
    final = request_stop(store, eid, get_deployer, wait=10)
    assert final.status == ExecutionStatus.KILLED
    assert jobs_by_name(store, eid)["tree"].status == JobStatus.KILLED
    wait_until(lambda: all_gone(*pids), timeout=5)


def test_a_queued_execution_stopped_before_its_driver_starts(
    store: MetaStore, tmp_path: Path
) -> None:
    eid = create(store, job("never", "ok"))
    assert store.transition_execution(eid, ExecutionStatus.STOPPING)
    final = run(store, tmp_path, eid)
    assert final.status == ExecutionStatus.KILLED
    assert jobs_by_name(store, eid)["never"].status == JobStatus.KILLED
    assert not (tmp_path / "events.log").exists()


def test_spawn_driver_runs_the_execution_detached(store: MetaStore, tmp_path: Path) -> None:
    eid = create(store)  # no jobs: exercises the entry point, not the job runtime
    pid = spawn_driver(eid)
    wait_until(lambda: store.get_execution(eid).status.finished)
    execution = store.get_execution(eid)
    assert (execution.status, execution.driver_pid) == (ExecutionStatus.SUCCEEDED, pid)
    assert (get_settings().logs_dir / str(eid) / "driver.log").exists()


@pytest.mark.parametrize("zygote", [True, False], ids=["zygote listening", "turned off"])
def test_a_detached_driver_is_forked_from_the_users_zygote_when_one_listens(
    store: MetaStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, zygote: bool
) -> None:
    """With the zygote of its environment listening (as after any earlier run), a detached
    driver is forked from it, aiflow already imported, rather than started as a new
    interpreter; it drives the execution all the same, and stops as any driver does."""
    if zygote:
        assert LocalDeployer(warm=True).prepare({}, timeout=120), "no zygote"
    else:
        monkeypatch.setenv("AIFLOW__SCHEDULER__WARM_SHARED_IDLE", "0")
        reset_settings()
    # a job that fails at once and is retried in a minute: the driver waits meanwhile
    eid = create(store, job("later", max_retries=1, retry_delay=60))
    pid = spawn_driver(eid)
    wait_until(lambda: store.get_execution(eid).driver_pid == pid, 60)
    # A forked process keeps the environment block its ancestor was exec'ed with: the
    # zygote's, which has no AIFLOW_HOME; a new interpreter's is the one it was given.
    exec_env = psutil.Process(pid).environ()
    assert ("AIFLOW_HOME" not in exec_env) == zygote
    final = request_stop(store, eid, get_deployer, wait=30)
    assert final.status == ExecutionStatus.KILLED
    wait_until(lambda: not alive(pid), 30)
