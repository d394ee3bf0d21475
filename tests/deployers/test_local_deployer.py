"""LocalDeployer against real processes: exit codes, logs, stopping whole process trees, and
finding processes again from a handle alone (what a restarted driver or ``aiflow stop`` does)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from aiflow.deployers import available_deployers, get_deployer, local
from aiflow.deployers.base import Handle, JobLaunch
from aiflow.deployers.local import LocalDeployer
from aiflow.deployers.local.warm import warm_argv
from aiflow.errors import DeploymentError, InvalidInput, NotFound
from tests.services import alive


class WarmOnly(LocalDeployer):
    """Every job that can start from a warm worker does (it waits for the fork server of the
    job's environment), and its log's header says how it started."""

    def submit(self, launch: JobLaunch) -> Handle:
        forkable = warm_argv(launch.command) is not None
        if forkable:
            assert self.prepare(launch.env, timeout=120), "the fork server did not start"
        handle = super().submit(launch)
        headers = [h for h in launch.log_path.read_text().splitlines() if h.startswith("=====")]
        assert ("(warm worker)" in headers[-1]) == forkable, headers[-1]
        return handle


@pytest.fixture(params=["cold", "warm"])
def deployer(request: pytest.FixtureRequest) -> Iterator[LocalDeployer]:
    """Every guarantee holds for a job started as a new interpreter and for one forked from a
    warm worker (``aiflow.runtime.forkserver``)."""
    d = LocalDeployer(warm=False) if request.param == "cold" else WarmOnly(warm=True)
    yield d
    for started in list(d._started.values()):  # never leak a process from a failed test
        d.stop({"pid": started.pid, "create_time": started.create_time}, grace=0)


def launch(
    tmp_path: Path, code: str, *, attempt: int = 1, env: dict[str, str] | None = None
) -> JobLaunch:
    return JobLaunch(
        job_id=7,
        execution_id=3,
        job_name="train",
        attempt=attempt,
        command=[sys.executable, "-P", "-c", textwrap.dedent(code)],
        env=env or {},
        log_path=tmp_path / "logs" / "train" / f"attempt-{attempt}.log",
        workdir=tmp_path / "work",
    )


def wait_done(d: LocalDeployer, handle: Handle, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while d.poll(handle).running:
        assert time.monotonic() < deadline, "job did not end in time"
        d.wait_for_change(0.5)


def wait_for_file(path: Path, timeout: float = 10.0) -> str:
    deadline = time.monotonic() + timeout
    while not (path.exists() and path.read_text().strip()):
        assert time.monotonic() < deadline, f"{path} was not written"
        time.sleep(0.01)
    return path.read_text().strip()


def test_registry_resolves_local_and_rejects_unknown_names() -> None:
    assert "local" in available_deployers()
    assert isinstance(get_deployer("local"), LocalDeployer)
    assert get_deployer("local") is not get_deployer("local")  # per-driver state
    with pytest.raises(InvalidInput, match=r"valid deployers: .*local"):
        get_deployer("nope")


def test_exit_codes_env_workdir_and_log_capture(deployer: LocalDeployer, tmp_path: Path) -> None:
    ok = launch(
        tmp_path,
        """
        import os, sys
        print("out", os.environ["GREETING"], os.getcwd())
        print("err", file=sys.stderr)
        """,
        env={"GREETING": "hello"},
    )
    handle = deployer.submit(ok)
    assert set(handle) == {"pid", "create_time", "host", "log_path"}
    wait_done(deployer, handle)
    state = deployer.poll(handle)
    assert (state.running, state.exit_code, state.error) == (False, 0, None)
    lines = list(deployer.logs(handle))
    assert lines[0].startswith("===== aiflow: job 'train' (id 7, execution 3) attempt 1")
    assert f"out hello {tmp_path / 'work'}" in lines
    assert "err" in lines

    failing = deployer.submit(launch(tmp_path, "raise SystemExit(3)", attempt=2))
    wait_done(deployer, failing)
    assert deployer.poll(failing).exit_code == 3
    assert deployer.poll(failing).error == "exited with code 3"


def test_retries_append_to_the_log_with_one_header_per_attempt(
    deployer: LocalDeployer, tmp_path: Path
) -> None:
    first = launch(tmp_path, "print('one')")
    second = JobLaunch(
        **{**first.__dict__, "attempt": 2, "command": [*first.command[:3], "print('two')"]}
    )
    for job in (first, second):
        handle = deployer.submit(job)
        wait_done(deployer, handle)
    lines = list(deployer.logs(str(first.log_path)))
    assert [line for line in lines if not line.startswith("=====")] == ["one", "two"]
    assert sum(line.startswith("=====") for line in lines) == 2
    assert list(deployer.logs(f"file://{first.log_path}", tail=1)) == ["two"]
    assert list(deployer.logs(str(first.log_path), tail=0)) == []


def test_exit_by_signal_is_negative_and_named(deployer: LocalDeployer, tmp_path: Path) -> None:
    handle = deployer.submit(launch(tmp_path, "import time; time.sleep(60)"))
    # The handle's create time is computed, not read; it must still be psutil's.
    assert abs(handle["create_time"] - psutil.Process(handle["pid"]).create_time()) < 0.05
    os.kill(handle["pid"], signal.SIGKILL)
    wait_done(deployer, handle)
    state = deployer.poll(handle)
    assert state.exit_code == -signal.SIGKILL
    assert state.error == "killed by SIGKILL (signal 9)"


def test_wait_for_change_wakes_when_a_job_ends(deployer: LocalDeployer, tmp_path: Path) -> None:
    handle = deployer.submit(launch(tmp_path, "import time; time.sleep(0.2)"))
    started = time.monotonic()
    deployer.wait_for_change(10)
    assert 0.1 < time.monotonic() - started < 5
    assert deployer.poll(handle).exit_code == 0


def test_works_without_pidfds(
    deployer: LocalDeployer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The portable path (macOS, old kernels): waiting falls back to short sleeps."""
    monkeypatch.setattr(local.deployer, "pidfd_open", lambda pid: None)
    handle = deployer.submit(launch(tmp_path, "raise SystemExit(5)"))
    deployer.wait_for_change(10)
    assert deployer.poll(handle).exit_code == 5
    sleeper = deployer.submit(launch(tmp_path, "import time; time.sleep(60)", attempt=2))
    deployer.stop(sleeper, grace=5)
    assert deployer.poll(sleeper).exit_code == -signal.SIGTERM


def test_unstartable_command_raises_deployment_error(
    deployer: LocalDeployer, tmp_path: Path
) -> None:
    bad = JobLaunch(
        1, 1, "x", 1, [str(tmp_path / "missing-binary")], {}, tmp_path / "x.log", tmp_path
    )
    with pytest.raises(DeploymentError, match="cannot start"):
        deployer.submit(bad)


# A job (level 0) that starts a child that starts a grandchild; those two append their pids.
TREE = r"""
import os, subprocess, sys, time
pids, level = sys.argv[1], int(sys.argv[2])
if level < 2:
    subprocess.Popen([sys.executable, __file__, pids, str(level + 1)])
if level > 0:
    with open(pids, "a") as f:
        f.write(f"{os.getpid()}\n")
time.sleep(120)
"""


def tree_launch(tmp_path: Path, pids: Path) -> JobLaunch:
    script = tmp_path / "tree.py"
    script.write_text(TREE)
    job = launch(tmp_path, "")
    command = [sys.executable, "-P", str(script), str(pids), "0"]
    return JobLaunch(**{**job.__dict__, "command": command})


def wait_for_pids(pids: Path, count: int) -> list[int]:
    deadline = time.monotonic() + 10
    while True:
        found = [int(p) for p in pids.read_text().split()] if pids.exists() else []
        if len(found) == count:
            return found
        assert time.monotonic() < deadline, f"only {found} started"
        time.sleep(0.01)


def test_stop_kills_children_and_grandchildren(deployer: LocalDeployer, tmp_path: Path) -> None:
    pids = tmp_path / "pids"
    handle = deployer.submit(tree_launch(tmp_path, pids))
    child, grandchild = wait_for_pids(pids, 2)
    assert alive(child) and alive(grandchild)

    started = time.monotonic()
    deployer.stop(handle, grace=5)
    assert time.monotonic() - started < 4, "SIGTERM should have been enough"
    state = deployer.poll(handle)
    assert not state.running and state.exit_code == -signal.SIGTERM
    time.sleep(0.1)  # re-parented descendants are reaped by init asynchronously
    assert not alive(child) and not alive(grandchild)
    deployer.stop(handle, grace=1)  # idempotent


def test_stop_escalates_to_sigkill_after_grace(deployer: LocalDeployer, tmp_path: Path) -> None:
    ready = tmp_path / "ready"
    handle = deployer.submit(
        launch(
            tmp_path,
            f"""
            import signal, time
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            open({str(ready)!r}, "w").write("ok")
            time.sleep(60)
            """,
        )
    )
    wait_for_file(ready)
    started = time.monotonic()
    deployer.stop(handle, grace=0.3)
    assert 0.3 <= time.monotonic() - started < 3
    assert deployer.poll(handle).exit_code == -signal.SIGKILL


def test_stragglers_left_in_the_group_die_with_the_job(
    deployer: LocalDeployer, tmp_path: Path
) -> None:
    pid_file = tmp_path / "bg"
    handle = deployer.submit(
        launch(
            tmp_path,
            f"""
            import subprocess, sys
            bg = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
            open({str(pid_file)!r}, "w").write(str(bg.pid))
            """,
        )
    )
    background = int(wait_for_file(pid_file))
    wait_done(deployer, handle)
    assert deployer.poll(handle).exit_code == 0
    deadline = time.monotonic() + 5
    while alive(background):
        assert time.monotonic() < deadline, "background process outlived its job"
        time.sleep(0.01)


def test_foreign_handle_reports_liveness_and_can_be_stopped(tmp_path: Path) -> None:
    """A second instance (a restarted driver) sees only liveness, but can still stop the tree."""
    owner = LocalDeployer()
    pids = tmp_path / "pids"
    handle = owner.submit(tree_launch(tmp_path, pids))
    descendants = wait_for_pids(pids, 2)
    try:
        other = LocalDeployer()
        assert other.poll(dict(handle)).running
        other.stop(dict(handle), grace=5)
        state = other.poll(dict(handle))
        assert not state.running and state.exit_code is None
        assert state.error is not None and "unknown" in state.error
        time.sleep(0.1)
        assert not any(alive(pid) for pid in descendants)
        assert owner.poll(handle).exit_code == -signal.SIGTERM  # the owner still got the status
    finally:
        owner.stop(handle, grace=0)


def test_foreign_handle_of_a_process_started_elsewhere(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(60)"], start_new_session=True
    )
    try:
        handle = {
            "pid": proc.pid,
            "create_time": psutil.Process(proc.pid).create_time(),
            "host": os.uname().nodename,
        }
        deployer = LocalDeployer()
        assert deployer.poll(handle).running
        deployer.stop(handle, grace=5)
        assert proc.wait(timeout=5) == -signal.SIGTERM
        assert not deployer.poll(handle).running
    finally:
        proc.kill()
        proc.wait()


def test_pid_reuse_guard_ignores_a_process_with_another_create_time(tmp_path: Path) -> None:
    """A handle whose pid now belongs to another process (here: this test) is not that job."""
    me = psutil.Process()
    recycled = {"pid": me.pid, "create_time": me.create_time() - 3600, "host": os.uname().nodename}
    deployer = LocalDeployer()
    assert not deployer.poll(recycled).running
    deployer.stop(recycled, grace=0)  # must not signal this process
    assert me.is_running()


def test_other_host_and_bad_handles_are_rejected(tmp_path: Path) -> None:
    deployer = LocalDeployer()
    with pytest.raises(DeploymentError, match="host 'elsewhere'"):
        deployer.poll({"pid": 1, "create_time": 0.0, "host": "elsewhere"})
    with pytest.raises(InvalidInput, match="not a local deployer handle"):
        deployer.poll({"pod": "x"})
    with pytest.raises(NotFound):
        deployer.logs(str(tmp_path / "missing.log"))


def test_logs_follow_streams_until_the_process_ends(
    deployer: LocalDeployer, tmp_path: Path
) -> None:
    go = tmp_path / "go"
    handle = deployer.submit(
        launch(
            tmp_path,
            f"""
            import os, time
            print("first", flush=True)
            while not os.path.exists({str(go)!r}):
                time.sleep(0.01)
            print("second", end="", flush=True)
            """,
        )
    )
    seen: list[str] = []
    reader = threading.Thread(target=lambda: seen.extend(deployer.logs(handle, follow=True)))
    reader.start()
    deadline = time.monotonic() + 10
    while "first" not in seen:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    assert reader.is_alive(), "follow must not stop while the job runs"
    go.write_text("")
    reader.join(timeout=10)
    assert not reader.is_alive()
    assert seen[1:] == ["first", "second"]  # a final partial line is kept too
