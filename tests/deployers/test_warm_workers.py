"""Warm job workers: what a job forked from the fork server must see and do exactly as a job
started as a new interpreter would (the shared guarantees run for both in
``test_local_deployer.py``), what must not leak from one job into the next, and what happens
when the fork server itself dies."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from aiflow.deployers.base import Handle, JobLaunch
from aiflow.deployers.local import LocalDeployer
from aiflow.deployers.local.warm import servers, warm_argv
from aiflow.deployers.local.zygotes import zygote_pid
from aiflow.errors import DeploymentError
from tests.services import alive, wait_for


@pytest.fixture
def deployer() -> Iterator[LocalDeployer]:
    d = LocalDeployer(warm=True)
    assert d.prepare({}, timeout=120), "the fork server did not start"
    yield d
    for started in list(d._started.values()):
        d.stop({"pid": started.pid, "create_time": started.create_time}, grace=0)


def launch(tmp_path: Path, code: str, *, name: str = "job", attempt: int = 1) -> JobLaunch:
    return JobLaunch(
        job_id=1,
        execution_id=1,
        job_name=name,
        attempt=attempt,
        command=[sys.executable, "-P", "-c", textwrap.dedent(code)],
        env={},
        log_path=tmp_path / "logs" / name / f"attempt-{attempt}.log",
        workdir=tmp_path,
    )


def run(d: LocalDeployer, job: JobLaunch, timeout: float = 30) -> tuple[int | None, str]:
    """Submit, wait for the end; the exit code and the log."""
    handle = d.submit(job)
    deadline = time.monotonic() + timeout
    while d.poll(handle).running:
        assert time.monotonic() < deadline, "job did not end in time"
        d.wait_for_change(1)
    log = job.log_path.read_text()
    assert "(warm worker)" in log.splitlines()[0], log
    return d.poll(handle).exit_code, log


def test_which_commands_can_start_warm() -> None:
    python = sys.executable
    assert warm_argv([python, "-P", "-m", "aiflow.runtime", "--job-id", "3"]) == [
        "-m",
        "aiflow.runtime",
        "--job-id",
        "3",
    ]
    assert warm_argv([python, "-P", "-c", "pass", "x"]) == ["-c", "pass", "x"]
    assert warm_argv([python, "-P", "job.py", "x"]) == ["job.py", "x"]
    # Another interpreter, other flags, or no safe path: what they change is decided at start.
    assert warm_argv(["/usr/bin/python3", "-P", "-c", "pass"]) is None
    assert warm_argv([python, "-c", "pass"]) is None
    assert warm_argv([python, "-P", "-X", "dev", "-c", "pass"]) is None
    assert warm_argv([python, "-P", "-m"]) is None


def test_one_server_per_startup_environment() -> None:
    """Variables read at import time (anything but AIFLOW*) select a server of their own."""
    base = {"PATH": os.environ.get("PATH", ""), "AIFLOW_JOB_ID": "1"}
    first = servers.get(base, ())
    assert servers.get({**base, "AIFLOW_JOB_ID": "2", "AIFLOW_HOME": "/x"}, ()) is first
    other = servers.get({**base, "OMP_NUM_THREADS": "1"}, ())
    preloading = servers.get(base, ("json",))
    try:
        assert other is not first
        assert preloading is not first  # another preload list
    finally:
        for server in (first, other, preloading):
            server.close()


def test_a_job_sees_a_fresh_process(deployer: LocalDeployer, tmp_path: Path) -> None:
    """Nothing a job changes in its process reaches the next job: each is a new fork of the
    server, not a reused worker."""
    probe = tmp_path / "probe.json"
    code = f"""
        import json, os, random, sys
        import numpy
        import aiflow
        seen = {{
            "leaked_global": getattr(aiflow, "_leaked", None),
            "leaked_env": os.environ.get("LEAKED"),
            "argv": sys.argv,
            "cwd": os.getcwd(),
            "session_leader": os.getsid(0) == os.getpid(),
            "group_leader": os.getpgid(0) == os.getpid(),
            "stdin": sys.stdin.read(),
            "numpy": numpy.random.rand(),
            "random": random.random(),
            "main": __name__,
            "cmdline": __import__("psutil").Process().cmdline(),
        }}
        aiflow._leaked = True
        os.environ["LEAKED"] = "yes"
        with open({str(probe)!r}, "a") as f:
            f.write(json.dumps(seen) + "\\n")
        """
    for attempt in (1, 2):
        code_, _ = run(deployer, launch(tmp_path, code, attempt=attempt))
        assert code_ == 0
    first, second = (json.loads(line) for line in probe.read_text().splitlines())
    for seen in (first, second):
        assert seen["leaked_global"] is None and seen["leaked_env"] is None
        assert seen["argv"] == ["-c"] and seen["cwd"] == str(tmp_path)
        assert seen["session_leader"] and seen["group_leader"]
        assert seen["stdin"] == "" and seen["main"] == "__main__"
        # ps and psutil show the job's own command, as for a cold start (operators find jobs
        # by it), not the fork server's.
        assert " ".join(seen["cmdline"]).split()[:3] == [sys.executable, "-P", "-c"]
    # Random state is not copied from the server: two jobs draw different numbers.
    assert first["numpy"] != second["numpy"] and first["random"] != second["random"]


def test_a_job_finds_its_data_libraries_imported_and_their_threads_working(
    deployer: LocalDeployer, tmp_path: Path
) -> None:
    """The engines import pandas, pyarrow and PyFlink lazily (a driver does not need them), so
    the fork server preloads them for the jobs; the thread pools they start (OpenBLAS,
    jemalloc's, Arrow's) must work in a forked job, not deadlock on a lock held at the fork."""
    probe = tmp_path / "probe.json"
    csv = tmp_path / "rows.csv"
    csv.write_text("a,b\n" + "".join(f"{i},{i * 2}\n" for i in range(20_000)))
    code = f"""
        import json, sys
        preloaded = {{m: m in sys.modules for m in ("pandas", "pyarrow", "pyflink.table")}}
        import numpy, pyarrow.csv
        m = numpy.ones((400, 400))
        product = float((m @ m).sum())  # OpenBLAS's threads
        table = pyarrow.csv.read_csv({str(csv)!r})  # Arrow's thread pool and allocator
        with open({str(probe)!r}, "w") as f:
            last = table["b"].to_pylist()[-1]
            json.dump({{"preloaded": preloaded, "product": product, "last": last}}, f)
        """
    code_, log = run(deployer, launch(tmp_path, code), timeout=60)
    assert code_ == 0, log
    seen = json.loads(probe.read_text())
    assert seen["preloaded"] == {"pandas": True, "pyarrow": True, "pyflink.table": True}
    assert seen["product"] == 400.0**3 and seen["last"] == 39_998


def test_a_job_ends_as_an_interpreter_would(deployer: LocalDeployer, tmp_path: Path) -> None:
    """Threads are joined, atexit handlers run, and files the job left open are flushed:
    the fork server's fast exit skips only tearing down the preloaded modules."""
    left_open, thread_out = tmp_path / "left_open.txt", tmp_path / "thread.txt"
    code, log = run(
        deployer,
        launch(
            tmp_path,
            f"""
            import atexit, threading, time
            text = open({str(left_open)!r}, "w")
            text.write("unflushed text " * 100)
            raw = open({str(left_open)!r} + ".bin", "wb")
            raw.write(b"unflushed bytes")
            def late():
                time.sleep(0.3)
                open({str(thread_out)!r}, "w").write("thread done")
            threading.Thread(target=late).start()
            atexit.register(lambda: print("atexit ran"))
            print("buffered stdout", end="")
            raise SystemExit(7)
            """,
        ),
    )
    assert code == 7
    assert left_open.read_text() == "unflushed text " * 100
    assert Path(f"{left_open}.bin").read_bytes() == b"unflushed bytes"
    assert thread_out.read_text() == "thread done"
    assert "buffered stdout" in log and "atexit ran" in log


@pytest.mark.parametrize(
    ("code", "exit_code", "logged"),
    [
        ("raise SystemExit('bad input: x')", 1, "bad input: x"),
        ("import sys; sys.exit()", 0, None),
        ("raise ValueError('boom')", 1, "ValueError: boom"),
        ("raise KeyboardInterrupt", -signal.SIGINT, "KeyboardInterrupt"),
    ],
)
def test_exit_codes_and_tracebacks_match_a_cold_start(
    deployer: LocalDeployer, tmp_path: Path, code: str, exit_code: int, logged: str | None
) -> None:
    cold = LocalDeployer(warm=False)
    job = launch(tmp_path, code, name="cold")
    handle = cold.submit(job)
    while cold.poll(handle).running:
        cold.wait_for_change(1)
    assert cold.poll(handle).exit_code == exit_code
    warm_code, log = run(deployer, launch(tmp_path, code, name="warm"))
    assert warm_code == exit_code
    cold_body = job.log_path.read_text().splitlines()[1:]
    assert log.splitlines()[1:] == cold_body  # the same traceback: no fork server frames
    if logged:
        assert any(logged in line for line in cold_body)


def test_a_job_that_cannot_enter_its_workdir_is_a_deployment_error(
    deployer: LocalDeployer, tmp_path: Path
) -> None:
    """As ``Popen`` raises when it cannot ``chdir``, the fork server's child reports why it
    could not become the job, and the job never runs."""
    server = deployer._fork_server(deployer._job_env({}))
    assert server.check_ready()
    marker = tmp_path / "ran"
    with (tmp_path / "log").open("ab") as log, pytest.raises(DeploymentError, match="cannot start"):
        server.spawn(
            ["-c", f"open({str(marker)!r}, 'w')"], {}, str(tmp_path / "missing"), log.fileno()
        )
    assert not marker.exists()


def test_when_the_fork_server_dies_its_jobs_are_still_watched_and_stopped(
    tmp_path: Path,
) -> None:
    """A killed fork server takes the exit codes of its running jobs with it (as a dead driver
    does), not the jobs: they are watched and stopped from their handles, and the next job
    starts from a new fork server."""
    d = LocalDeployer(warm=True)
    env = {"AIFLOW_TEST_SERVER": "dies", "SERVER_KEY": str(tmp_path)}  # a server of its own
    assert d.prepare(env, timeout=120)
    job = JobLaunch(**{**launch(tmp_path, "import time; time.sleep(60)").__dict__, "env": env})
    handle: Handle = d.submit(job)
    assert "(warm worker)" in job.log_path.read_text()
    server = d._fork_server(d._job_env(env))
    assert server.pid
    os.kill(server.pid, signal.SIGKILL)
    wait_for(lambda: not alive(server.pid), 10, "the fork server gone")
    assert alive(handle["pid"]), "a job outlives its fork server"
    assert d.poll(handle).running
    d.stop(handle, grace=5)
    state = d.poll(handle)
    assert not state.running and state.error == "ended; its exit status was lost"
    assert not psutil.pid_exists(handle["pid"]) or not alive(handle["pid"])

    again = JobLaunch(**{**job.__dict__, "attempt": 2, "command": [*job.command[:3], "pass"]})
    again = JobLaunch(**{**again.__dict__, "log_path": tmp_path / "again.log"})
    # Nothing else to watch: the submit waits for a new fork server rather than start cold.
    first = d.submit(again)
    assert "(warm worker)" in again.log_path.read_text()
    assert d._fork_server(d._job_env(env)) is not server
    d.stop(first, grace=5)


def test_warm_workers_can_be_turned_off(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from aiflow.config import reset_settings

    monkeypatch.setenv("AIFLOW__SCHEDULER__WARM_WORKERS", "false")
    reset_settings()
    try:
        d = LocalDeployer()
        assert not d.prepare({}, timeout=1)
        job = launch(tmp_path, "pass")
        handle = d.submit(job)
        while d.poll(handle).running:
            d.wait_for_change(1)
        assert "(warm worker)" not in job.log_path.read_text()
    finally:
        monkeypatch.delenv("AIFLOW__SCHEDULER__WARM_WORKERS")
        reset_settings()


def test_a_job_signalled_through_its_server_after_it_ended_is_not_signalled_again(
    deployer: LocalDeployer, tmp_path: Path
) -> None:
    """Signals for a warm job's group go through its server, which delivers them only while
    the job is unreaped: afterwards its group id may belong to another process."""
    job = launch(tmp_path, "pass")
    handle = deployer.submit(job)
    while deployer.poll(handle).running:
        deployer.wait_for_change(1)
    server = deployer._fork_server(deployer._job_env({}))
    assert server.signal_group(handle["pid"], signal.SIGKILL) is False


def test_a_job_too_large_for_one_request_starts_cold_and_the_server_stays(
    tmp_path: Path,
) -> None:
    """An environment of hundreds of KB does not fit one packet to the fork server: that job
    starts cold, saying so in its log, and the server goes on serving the next ones."""
    d = LocalDeployer(warm=True)
    env = {f"BIG{i}": "x" * 50_000 for i in range(6)}  # exec allows 128 KB per variable
    assert d.prepare(env, timeout=120)
    job = JobLaunch(
        **{
            **launch(
                tmp_path,
                "import os; print(sum(len(os.environ[f'BIG{i}']) for i in range(6)))",
            ).__dict__,
            "env": env,
        }
    )
    handle = d.submit(job)
    while d.poll(handle).running:
        d.wait_for_change(1)
    assert d.poll(handle).exit_code == 0
    log = job.log_path.read_text()
    assert "warm worker unavailable" in log and "300000" in log
    server = d._fork_server(d._job_env(env))
    assert server.check_ready() and not server.dead
    server.close()


def _zygote_logs() -> dict[Path, int]:
    from aiflow.config import user_run_dir

    return {p: p.stat().st_size for p in user_run_dir().glob("forkserver-*.log")}


@pytest.mark.parametrize("shared", [False, True], ids=["own", "shared"])
def test_a_dead_driver_leaves_its_jobs_running_and_its_fork_server_ends_quietly(
    tmp_path: Path, shared: bool
) -> None:
    """kill -9 of the driver: its fork server (its own, or the one a shared zygote forked for
    it) sees the socket close and exits without a traceback; the job it forked runs to its
    end, as any job of a dead driver does."""
    env = {**os.environ, "AIFLOW__SCHEDULER__WARM_SHARED_IDLE": "600" if shared else "0"}
    logs_before = _zygote_logs()
    done = tmp_path / "done"
    script = tmp_path / "driver.py"
    script.write_text(
        textwrap.dedent(
            f"""
            import os, sys
            from pathlib import Path
            from aiflow.deployers.base import JobLaunch
            from aiflow.deployers.local import LocalDeployer
            d = LocalDeployer(warm=True)
            assert d.prepare({{}}, timeout=120)
            code = "import time; time.sleep(1); open({str(done)!r}, 'w').write('ok')"
            job = JobLaunch(1, 1, "j", 1, [sys.executable, "-P", "-c", code], {{}},
                            Path({str(tmp_path / "j.log")!r}), Path({str(tmp_path)!r}))
            handle = d.submit(job)
            print(d._fork_server(d._job_env({{}})).pid, handle["pid"], flush=True)
            os._exit(0)  # as kill -9 would: nothing cleaned up
            """
        )
    )
    # Waits for its own fork server too: it holds the driver's stderr until it exits.
    driver = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=180, env=env
    )
    server_pid, _job = (int(p) for p in driver.stdout.split())
    assert driver.returncode == 0 and "Traceback" not in driver.stderr, driver.stderr
    wait_for(lambda: not alive(server_pid), 10, "the fork server ended")
    for log in _zygote_logs():  # where a shared one's stderr goes
        with log.open("rb") as f:
            f.seek(logs_before.get(log, 0) if log in logs_before else 0)
            assert b"Traceback" not in f.read()
    assert (not shared) or _zygote_logs(), "a shared fork server came from a zygote"
    deadline = time.monotonic() + 30
    while not done.exists():
        assert time.monotonic() < deadline, "the job did not run to its end"
        time.sleep(0.05)
    assert done.read_text() == "ok"
    assert "(warm worker)" in (tmp_path / "j.log").read_text()


def test_the_next_job_finds_its_meta_store_engine_ready(
    deployer: LocalDeployer, tmp_path: Path
) -> None:
    """A job names its meta store (``AIFLOW__METASTORE__URI``): the server then keeps that
    store's engine ready, its statements compiled, so the jobs after it skip creating it;
    each child gets it with an empty pool of its own, and the server keeps no connection open
    to the store."""
    from aiflow.store.sql_store import MetaStore

    uri = f"sqlite:///{tmp_path / 'meta.db'}"
    MetaStore(uri).list_workflows()  # created and migrated, as a driver's store is
    probe = tmp_path / "probe.json"
    code = f"""
        import json
        from aiflow.store import db
        from aiflow.store.sql_store import MetaStore
        engine = db._engines.get({uri!r})
        seen = {{
            "ready": engine is not None,
            "pooled": None if engine is None else engine.pool.checkedin(),
            # the job's own statements, compiled by the server (cached per engine)
            "compiled": 0 if engine is None else len(engine._compiled_cache),
            "workflows": len(MetaStore({uri!r}).list_workflows()),
        }}
        with db.get_engine({uri!r}).connect() as connection:
            seen["busy"] = connection.exec_driver_sql("PRAGMA busy_timeout").scalar()
        with open({str(probe)!r}, "a") as f:
            f.write(json.dumps(seen) + "\\n")
        """
    busy = {"AIFLOW__METASTORE__BUSY_TIMEOUT_MS": "1234"}  # not the server's engine's
    for attempt, env in ((1, {}), (2, {}), (3, busy)):
        job = launch(tmp_path, code, attempt=attempt)
        job = dataclasses.replace(job, env={"AIFLOW__METASTORE__URI": uri, **env})
        code_, log = run(deployer, job)
        assert code_ == 0, log
    first, second, third = (json.loads(line) for line in probe.read_text().splitlines())
    assert third["ready"] and third["busy"] == 1234  # a job's own settings win
    assert not first["ready"]  # the first job of a store opens it itself
    # no connection inherited (the server has none open, below); at most the one its spare
    # opened for it after the fork
    assert second["ready"] and second["pooled"] <= 1
    assert second["compiled"] > 0
    assert first["workflows"] == second["workflows"] == 0
    server = deployer._fork_server(deployer._job_env({}))
    assert server is not None
    open_files = [f.path for f in psutil.Process(server.pid).open_files()]
    assert str(tmp_path / "meta.db") not in open_files


_SHARED_DRIVER = """
import json, sys
from pathlib import Path
from aiflow.deployers.base import JobLaunch
from aiflow.deployers.local import LocalDeployer
d = LocalDeployer(warm=True)
log = Path(sys.argv[1])
code = "import stalemod; print('VALUE', stalemod.VALUE)"
job = JobLaunch(1, 1, "j", 1, [sys.executable, "-P", "-c", code], {}, log, log.parent)
handle = d.submit(job)
while d.poll(handle).running:
    d.wait_for_change(1)
server = d._fork_server(d._job_env({}))
print(json.dumps({"socket": str(server.shared), "server": server.pid}))
"""


def test_drivers_share_a_zygote_that_never_forks_stale_code(tmp_path: Path) -> None:
    """A second driver's first job starts warm: the user's zygote for the environment forks
    it a fork server that has imported everything already. A module file changed after the
    zygote imported it (an upgrade, an edit) ends that zygote at the next driver's connection:
    a job never runs code older than the files."""
    (tmp_path / "stalemod.py").write_text("VALUE = 1\n")
    (tmp_path / "driver.py").write_text(_SHARED_DRIVER)
    env = {
        **os.environ,
        "PYTHONPATH": str(tmp_path),  # also a zygote of this test's own (another key)
        "AIFLOW__SCHEDULER__WARM_SHARED_IDLE": "600",
        "AIFLOW__SCHEDULER__WARM_PRELOAD": '["stalemod"]',
    }

    def drive(name: str) -> tuple[dict[str, object], str]:
        log = tmp_path / f"{name}.log"
        done = subprocess.run(
            [sys.executable, str(tmp_path / "driver.py"), str(log)],
            capture_output=True,
            text=True,
            timeout=180,
            env=env,
            cwd=tmp_path,
        )
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout), log.read_text()

    def zygotes(socket: object) -> list[int]:
        pid = zygote_pid(Path(str(socket)))
        return [pid] if pid is not None else []

    first, _ = drive("first")  # may start cold: the zygote is importing
    zygote = zygotes(first["socket"])
    try:
        assert len(zygote) == 1
        second, log = drive("second")
        assert second["socket"] == first["socket"] and second["server"] != first["server"]
        assert "(warm worker)" in log and "VALUE 1" in log
        assert zygotes(first["socket"]) == zygote

        time.sleep(0.01)  # a new mtime even on a coarse clock
        (tmp_path / "stalemod.py").write_text("VALUE = 22\n")
        _, log = drive("third")  # refused by the stale zygote, it waits for a new one
        assert "(warm worker)" in log and "VALUE 22" in log
        assert zygotes(first["socket"]) and zygotes(first["socket"]) != zygote
        why = Path(str(first["socket"])).with_suffix(".log").read_text()
        assert f"{tmp_path / 'stalemod.py'} changed since it was imported" in why
    finally:
        for pid in zygotes(first["socket"]):
            os.kill(pid, signal.SIGTERM)


@pytest.mark.parametrize("end", ["driver leaves", "kill -9"])
def test_the_spare_child_waiting_for_the_next_job_ends_with_its_server(
    tmp_path: Path, end: str
) -> None:
    """The fork server forks each next job's process ahead of its request (the fork off the
    path between jobs); that spare never outlives the server, however the server ends, while
    a job it became does (the handover clears its parent-death signal)."""
    env = {"PATH": os.environ.get("PATH", ""), "SERVER_KEY": str(tmp_path)}  # its own server
    server = servers.get(env, ())
    assert server.wait_ready(120) and server.pid
    job_log = tmp_path / "job.log"
    done = tmp_path / "done"
    with job_log.open("ab") as log:
        code = f"import time; time.sleep(1.5); open({str(done)!r}, 'w').close()"
        job, _ = server.spawn(["-c", code], env, str(tmp_path), log.fileno())
    wait_for(lambda: len(psutil.Process(server.pid).children()) == 2, 30, "a new spare")
    spare = next(p.pid for p in psutil.Process(server.pid).children() if p.pid != job)
    if end == "kill -9":
        os.kill(server.pid, signal.SIGKILL)
    else:
        server.close()
    wait_for(lambda: not alive(spare), 10, "the spare gone with its server")
    wait_for(done.exists, 30, "the job ran to its end")
    server.close()


@pytest.mark.parametrize("unbuffered", [True, False])
def test_pythonunbuffered_is_applied_as_at_interpreter_start(
    deployer: LocalDeployer, tmp_path: Path, unbuffered: bool
) -> None:
    """PYTHONUNBUFFERED is read at start-up, which a forked job skips: the child applies it
    itself, so a job's output reaches its log as it would from a new interpreter (written at
    once with it; held in the buffer of a file without it)."""
    code = "import time; print('early'); time.sleep(60)"
    # empty is unset, for the interpreter too (whatever the environment running the tests says)
    env = {"PYTHONUNBUFFERED": "1" if unbuffered else ""}
    job = dataclasses.replace(launch(tmp_path, code), env=env)
    handle = deployer.submit(job)

    def printed() -> bool:
        return "early" in job.log_path.read_text().splitlines()[1:]  # after the header

    try:
        assert "(warm worker)" in job.log_path.read_text()
        if unbuffered:
            wait_for(printed, 10, "the line in the log")
        else:
            time.sleep(1.0)
            assert not printed()
    finally:
        deployer.stop(handle, grace=0)
