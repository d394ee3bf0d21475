"""A job's logs through its deployer (``aiflow.scheduler.logs``): what the CLI and the REST API
print, for the local deployer and for a deployer that reads logs by lines only."""

from __future__ import annotations

import sys
import textwrap
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest

from aiflow import deployers
from aiflow.config import get_settings
from aiflow.deployers.base import Deployer, Handle, JobLaunch, JobState
from aiflow.deployers.local import LocalDeployer
from aiflow.errors import InvalidInput, NotFound
from aiflow.scheduler.driver import run_execution
from aiflow.scheduler.logs import job_log_range, job_logs
from aiflow.schemas.entities import Job
from aiflow.store.sql_store import JobCreate, MetaStore
from aiflow.translators.engine import load_engine
from tests.server import seed


@pytest.fixture
def store() -> Iterator[MetaStore]:
    store = MetaStore()
    yield store
    store.dispose()


def queued_job(store: MetaStore, deployer: str = "local", **fields: Any) -> Job:
    version = seed.workflow(store)[0]
    jobs = [JobCreate(name="a", engine="local", spec={"name": "a"}, **fields)]
    execution = store.create_execution(version.id, "batch", "local", deployer, jobs)
    return store.list_jobs(execution.id)[0]


def with_log(store: MetaStore, job: Job, text: str, path: Path | None = None) -> Path:
    path = path or get_settings().logs_dir / str(job.execution_id) / job.name / "attempt-1.log"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    store.update_job(job.id, log_uri=str(path))
    return path


def test_lines_tail_and_byte_ranges_of_a_local_job(store: MetaStore) -> None:
    job = queued_job(store)
    with pytest.raises(NotFound, match=f"job {job.id} has no log yet"):
        job_logs(store, job.id)
    with_log(store, job, "one\ntwo\nthree\n")

    assert list(job_logs(store, job.id)) == ["one", "two", "three"]
    assert list(job_logs(store, job.id, tail=1)) == ["three"]
    assert list(job_logs(store, job.id, offset=4)) == ["two", "three"]
    ranged = job_log_range(store, job.id, offset=4, length=5)
    assert (b"".join(ranged.chunks), ranged.size, ranged.next_offset) == (b"two\nt", 14, 9)
    whole = job_log_range(store, job.id)
    assert (b"".join(whole.chunks), whole.size, whole.next_offset) == (b"one\ntwo\nthree\n", 14, 14)


def test_a_log_outside_the_logs_directory_is_not_read(store: MetaStore, tmp_path: Path) -> None:
    job = queued_job(store)
    secret = tmp_path / "secret.txt"
    with_log(store, job, "top secret\n", path=secret)
    for read in (
        lambda: list(job_logs(store, job.id)),
        lambda: job_logs(store, job.id, follow=True),  # refused at once, not waited for
        lambda: job_log_range(store, job.id, tail=1),
    ):
        with pytest.raises(NotFound) as raised:
            read()
        assert str(secret) not in str(raised.value), "the error must not describe the path"


def test_engine_lines_follow_the_job_log_unless_following(
    store: MetaStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[Any] = []

    def engine_logs(cls: type, result: dict[str, Any], settings: Any, tail: int | None) -> Any:
        seen.append((result, tail))
        return iter(["--- engine log", "engine line"])

    monkeypatch.setattr(load_engine("local"), "job_logs", classmethod(engine_logs))
    job = queued_job(store)
    store.update_job(job.id, result={"engine": {"x": 1}})
    with_log(store, job, "own line")  # no final newline: the engine's lines still start anew

    assert list(job_logs(store, job.id, tail=5)) == ["own line", "--- engine log", "engine line"]
    assert seen == [({"engine": {"x": 1}}, 5)]
    body = b"".join(job_log_range(store, job.id).chunks)
    assert body == b"own line\n--- engine log\nengine line\n"
    ranged = job_log_range(store, job.id, offset=0)  # a byte range is the job's own log only
    assert b"".join(ranged.chunks) == b"own line"


def test_follow_moves_on_to_each_retry_and_ends_with_the_job(store: MetaStore) -> None:
    job = queued_job(store, max_retries=1, retry_delay=0.2)
    program = textwrap.dedent(
        """
        import os, sys, time
        attempt = int(os.environ["AIFLOW_ATTEMPT"])
        print(f"attempt {attempt} starts", flush=True)
        time.sleep(0.5)
        print(f"attempt {attempt} ends", flush=True)
        sys.exit(3 if attempt == 1 else 0)
        """
    )
    followed = job_logs(store, job.id, follow=True)  # queued: waits for the first attempt
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(followed), daemon=True)
    reader.start()
    final = run_execution(
        store,
        job.execution_id,
        LocalDeployer(),
        command_for=lambda j: [sys.executable, "-c", program],
    )
    reader.join(timeout=15)
    assert not reader.is_alive(), "following must end when the job ends"
    assert final.status.value == "succeeded"
    own = [line for line in lines if not line.startswith("=====")]
    assert own == ["attempt 1 starts", "attempt 1 ends", "attempt 2 starts", "attempt 2 ends"]


def test_follow_ends_when_the_caller_stops(store: MetaStore) -> None:
    job = queued_job(store)
    with_log(store, job, "first\n")  # a log, and a job that has not ended
    stopped = threading.Event()
    lines: list[str] = []
    reader = threading.Thread(
        target=lambda: lines.extend(job_logs(store, job.id, follow=True, stop=stopped.is_set)),
        daemon=True,
    )
    reader.start()
    reader.join(timeout=1)
    assert reader.is_alive() and lines == ["first"]
    stopped.set()
    reader.join(timeout=5)
    assert not reader.is_alive()


# -- a deployer that reads logs by lines only -----------------------------------------------------


class LinesOnly(Deployer):
    """Logs as a remote target gives them: lines, no byte offsets or sizes."""

    name = "lines-only"
    lines: ClassVar[list[str]] = ["pod line 1", "pod line 2"]

    def submit(self, launch: JobLaunch) -> Handle:
        raise NotImplementedError

    def poll(self, handle: Handle) -> JobState:
        return JobState(running=False, exit_code=0)

    def stop(self, handle: Handle, grace: float) -> None:
        return None

    def logs(
        self,
        handle_or_log_uri: Handle | str,
        *,
        follow: bool = False,
        tail: int | None = None,
        offset: int | None = None,
        until: Callable[[], bool] | None = None,
    ) -> Iterator[str]:
        return iter(self.lines[-tail:] if tail else self.lines)


def test_a_deployer_without_byte_ranges_serves_lines(
    store: MetaStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(deployers._BUILTINS, "lines-only", f"{__name__}:LinesOnly")
    job = queued_job(store, deployer="lines-only")
    store.update_job(job.id, log_uri="pod://ns/a-1")

    assert list(job_logs(store, job.id)) == LinesOnly.lines
    whole = job_log_range(store, job.id, tail=1)
    assert (b"".join(whole.chunks), whole.size, whole.next_offset) == (b"pod line 2\n", None, None)
    with pytest.raises(InvalidInput, match="lines-only deployer, which cannot read logs by byte"):
        job_log_range(store, job.id, offset=0, length=10)
    with pytest.raises(InvalidInput, match="cannot read logs by byte"):
        job_logs(store, job.id, offset=3)
