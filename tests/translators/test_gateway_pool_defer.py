"""The gateway pool defers a new spare's warm-up while a job that adopted a JVM runs (the
warm-up runs a small job: ~10 s of a core the running job would miss on a small machine), and
starts it when that job ends, or after ``_DEFER`` s for a job that runs long (a stream job).
Real JVMs, adoption and replacement: ``tests/flink/test_gateways.py``."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from aiflow.translators.flink import gateway_pool
from aiflow.translators.flink.gateway_pool import Jvm, Pool


@pytest.fixture
def pool(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Pool:
    launched = threading.Event()
    sleeper = [sys.executable, "-c", "import time; time.sleep(60)"]

    def launch(self: Pool) -> Jvm:
        launched.set()
        return Jvm(subprocess.Popen(sleeper), port=0)

    monkeypatch.setattr(Pool, "launch", launch)
    monkeypatch.setattr(gateway_pool, "warm", lambda port: None)
    pool = Pool(tmp_path / "pool.sock", size=1, idle=600)
    pool.launched = launched  # type: ignore[attr-defined]
    yield pool
    pool.stop()
    for jvm in pool.ending:
        jvm.reap(force=True)


def _adopted_by(pool: Pool, pid: int) -> Jvm:
    jvm = Jvm(subprocess.Popen([sys.executable, "-c", "pass"]), port=0)
    jvm.owner_pidfd = os.pidfd_open(pid)
    pool.adopted.append(jvm)
    return jvm


def test_no_warm_up_while_an_adopting_job_runs_then_one_when_it_ends(pool: Pool) -> None:
    job = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        jvm = _adopted_by(pool, job.pid)
        threading.Thread(target=pool.fill, daemon=True).start()
        assert not pool.launched.wait(1.0)  # type: ignore[attr-defined]
        assert jvm.owner_pidfd is not None
        pool.released(jvm.owner_pidfd)  # the job process exited
        assert pool.launched.wait(10.0)  # type: ignore[attr-defined]
        deadline = time.monotonic() + 10
        while not pool.ready and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(pool.ready) == 1
    finally:
        job.kill()
        job.wait()


def test_a_long_job_defers_the_warm_up_only_so_long(
    pool: Pool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(gateway_pool, "_DEFER", 1.0)
    job = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        _adopted_by(pool, job.pid)
        began = time.monotonic()
        threading.Thread(target=pool.fill, daemon=True).start()
        assert pool.launched.wait(10.0)  # type: ignore[attr-defined]
        assert time.monotonic() - began >= 0.9
    finally:
        job.kill()
        job.wait()
