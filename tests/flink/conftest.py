"""Flink tests reuse the end-to-end helpers: the real CLI on a private copy of the wine example.

Every test that used the session cluster must leave no Flink job running: a leaked stream job
holds a task slot (the cluster has two), so the next test would wait for resources and fail
far from the cause. The guard cancels leftovers and reports the test that leaked them."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from tests.e2e.conftest import cli, wine  # noqa: F401  (fixtures, re-exported)


@pytest.fixture(autouse=True)
def _no_leaked_flink_jobs(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    if "flink_session" not in request.fixturenames:
        return
    from aiflow.translators.flink.rest import FlinkRest

    url = request.getfixturevalue("flink_cluster").status().rest_url  # flink_session ended
    if not url:
        pytest.fail("the test left the Flink session cluster down")
    rest = FlinkRest(url)
    deadline = time.monotonic() + 15  # a stop in progress may still be cancelling
    running = [j for j in rest.jobs() if j.state in ("RUNNING", "CREATED", "RESTARTING")]
    while running and time.monotonic() < deadline:
        time.sleep(0.5)
        running = [j for j in rest.jobs() if j.state in ("RUNNING", "CREATED", "RESTARTING")]
    for job in running:
        rest.cancel(job.job_id)
    if running:
        pytest.fail(f"the test left Flink jobs running: {[j.name for j in running]}")
