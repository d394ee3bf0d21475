"""Executions in the browser: the list, an execution's graph and timeline, live status changes
(a wine stream run stopped through the API; a gated job starting), and a job's log (lines,
search, download, follow).

What the page shows is compared with what the API answers at the same time, never with counts
fixed in the test: the server is shared by the whole session.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.web.conftest import (
    API,
    EXECUTION_STATUS,
    LIVE_MS,
    WORKFLOW,
    Background,
    Gated,
    Web,
    execution_status,
    goto,
    node,
    same_document,
)

pytestmark = pytest.mark.slow

Shot = Callable[[Page, str], None]
OpenPage = Callable[[str | None], Page]
LOG = "pre[data-testid=log]"


def log_text(web: Web, job: int) -> str:
    with web.http("viewer") as client:
        response = client.get(f"{API}/jobs/{job}/logs")
    assert response.status_code == 200, response.text
    return response.text


def assert_lines_in_order(lines: list[str], shown: str) -> None:
    at = 0
    for line in lines:
        found = shown.find(line, at)
        assert found >= 0, f"log line missing or out of order: {line!r}\nshown:\n{shown}"
        at = found + len(line)


def test_execution_graph_shows_every_job_with_its_status(
    web: Web, open_page: OpenPage, shot: Shot
) -> None:
    execution = web.batch_executions[-1]
    detail = web.get(f"/executions/{execution}")
    page = open_page("viewer")
    goto(page, "/executions")
    row = page.locator(f'tr[data-testid=execution-row][data-execution-id="{execution}"]')
    expect(row).to_be_visible()
    shot(page, "executions")

    row.locator(f'a[href$="/executions/{execution}"]').first.click()
    page.wait_for_url(f"**/executions/{execution}")
    expect(page.locator(execution_status(detail["status"]))).to_be_visible()
    for job in detail["jobs"]:
        expect(page.locator(node(job["name"], job["status"]))).to_be_visible()
    shown = page.locator("[data-testid=graph-node]").evaluate_all(
        "nodes => nodes.map(n => n.dataset.nodeId)"
    )
    assert sorted(shown) == sorted(job["name"] for job in detail["jobs"])
    expect(page.locator("[data-testid=timeline-row]")).to_have_count(len(detail["jobs"]))
    hrefs = page.locator("a[data-testid=job-log-link]").evaluate_all(
        "links => links.map(a => a.getAttribute('href'))"
    )
    assert {h.split("?")[0] for h in hrefs} == {f"/jobs/{job['id']}/logs" for job in detail["jobs"]}
    # a viewer is shown no buttons that change things (editors get Stop / Rerun)
    expect(page.get_by_role("button", name="Rerun")).to_have_count(0)
    expect(page.get_by_role("button", name="Stop")).to_have_count(0)
    shot(page, "execution")


def test_a_stream_execution_runs_and_stops_live(
    web: Web, open_page: OpenPage, background: Callable[..., Background], shot: Shot
) -> None:
    """The shipped wine file in stream mode, stopped through the API while its page is open.

    A stream's jobs start within milliseconds of the execution, so the page usually loads them
    already running; the stop is what it must see live (the gated test sees a job start live).
    """
    known = web.execution_ids(WORKFLOW)
    run = background(str(web.wine), "--mode", "stream")
    execution = web.new_execution(WORKFLOW, known)
    page = open_page("editor")
    goto(page, f"/executions/{execution}")
    expect(page.locator(EXECUTION_STATUS)).to_be_visible()
    unchanged = same_document(page)

    running = page.locator("[data-testid=graph-node][data-status=running]")
    expect(running.first).to_be_visible(timeout=LIVE_MS)
    expect(page.get_by_role("button", name="Stop")).to_be_visible()  # an editor may stop it
    shot(page, "running")
    web.wait_jobs(execution, lambda jobs: all(j["status"] == "running" for j in jobs.values()))

    stopped = web.send("POST", f"/executions/{execution}/stop", params={"wait": 30})
    assert stopped.status_code == 200, stopped.text
    expect(page.locator(execution_status("killed"))).to_be_visible(timeout=LIVE_MS)
    for name in web.jobs(execution):
        expect(page.locator(node(name, "killed"))).to_be_visible(timeout=LIVE_MS)
    unchanged()
    shot(page, "killed")
    assert run.process.wait(60) == 0


def test_a_job_log_shows_its_lines_highlights_a_search_and_downloads(
    web: Web, open_page: OpenPage, shot: Shot
) -> None:
    job = web.get(f"/executions/{web.batch_executions[0]}")["jobs"][0]
    text = log_text(web, job["id"])
    lines = [line for line in text.splitlines() if line.strip()]
    page = open_page("viewer")
    goto(page, f"/jobs/{job['id']}/logs")
    log = page.locator(LOG)
    expect(log).to_contain_text(lines[-1])
    assert_lines_in_order(lines, log.inner_text())
    shot(page, "log")

    term = "done"  # the job's last line: "job train_wine_sgd done: {...}"
    assert text.count(term) == text.lower().count(term) >= 1  # case-(in)sensitive alike
    page.get_by_label("Search").fill(term)
    marks = log.locator("mark")
    expect(marks).to_have_count(text.count(term))
    assert {m.lower() for m in marks.all_inner_texts()} == {term}
    shot(page, "search")

    download = page.get_by_role("link", name="Download")
    assert web.token("viewer") not in (download.get_attribute("href") or "")
    with page.expect_download() as info:
        download.click()
    assert Path(info.value.path()).read_text() == text


def test_a_job_starts_live_and_its_followed_log_grows(
    web: Web, open_page: OpenPage, gated: Callable[[], Gated], shot: Shot
) -> None:
    run = gated()
    jobs = web.jobs(run.execution)
    assert set(jobs) == {"gate_one", "gate_two"}
    page = open_page("viewer")
    goto(page, f"/executions/{run.execution}")
    expect(page.locator(node("gate_one", "running"))).to_be_visible(timeout=LIVE_MS)
    expect(page.locator(node("gate_two", "queued"))).to_be_visible()
    unchanged = same_document(page)
    shot(page, "queued")

    run.open("one")  # gate_one ends, gate_two starts: the page sees both without a reload
    expect(page.locator(node("gate_one", "succeeded"))).to_be_visible(timeout=LIVE_MS)
    expect(page.locator(node("gate_two", "running"))).to_be_visible(timeout=LIVE_MS)
    unchanged()
    shot(page, "running")

    second = jobs["gate_two"]["id"]
    page.locator(f'a[data-testid=job-log-link][href$="/jobs/{second}/logs"]').first.click()
    page.wait_for_url(f"**/jobs/{second}/logs")
    log = page.locator(LOG)
    page.get_by_label("Follow").check()
    expect(log).to_contain_text("gate_two: waiting for gate two", timeout=LIVE_MS)
    expect(log).not_to_contain_text("after the gate")
    unchanged = same_document(page)
    run.open("two")  # the job prints three more lines and ends
    expect(log).to_contain_text("gate_two: line 3 after the gate", timeout=LIVE_MS)
    unchanged()
    after = [f"gate_two: line {i} after the gate" for i in (1, 2, 3)]
    assert_lines_in_order(after, log.inner_text())
    shot(page, "followed")
    assert run.run.process.wait(120) == 0
