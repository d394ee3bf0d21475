"""Every page has a stable URL: opened directly (a fresh document load after sign-in), a deep
link renders its page from the path alone. Also the workflow pages (logical plan, physical
jobs, source snapshot) and the examples list."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from playwright.sync_api import Page, Request, expect

from tests.web.conftest import API, MODEL, WORKFLOW, Web, execution_status, goto, node

pytestmark = pytest.mark.slow

Shot = Callable[[Page, str], None]
OpenPage = Callable[[str | None], Page]


def api_paths(page: Page) -> list[str]:
    """The paths of the API requests the page makes from now on."""
    paths: list[str] = []

    def seen(request: Request) -> None:
        path = request.url.split("://", 1)[1].split("/", 1)[1]
        if path.startswith("api/"):
            paths.append("/" + path.split("?")[0])

    page.on("request", seen)
    return paths


def test_deep_links_render_their_page(web: Web, open_page: OpenPage, shot: Shot) -> None:
    execution = web.get(f"/executions/{web.batch_executions[0]}")
    job = execution["jobs"][0]
    version = web.get(f"/models/{MODEL}/versions/1")
    page = open_page("viewer")
    requested = api_paths(page)

    goto(page, f"/executions/{execution['id']}")
    expect(page.locator(execution_status(execution["status"]))).to_be_visible()
    for each in execution["jobs"]:
        expect(page.locator(node(each["name"], each["status"]))).to_be_visible()
    assert f"{API}/executions/{execution['id']}" in requested
    shot(page, "execution")

    goto(page, f"/jobs/{job['id']}/logs")
    with web.http("viewer") as client:
        first_line = client.get(f"{API}/jobs/{job['id']}/logs").text.splitlines()[0]
    expect(page.locator("pre[data-testid=log]")).to_contain_text(first_line)
    shot(page, "log")

    goto(page, f"/models/{MODEL}/versions/1")
    main = page.locator("main")
    expect(main).to_contain_text(MODEL)
    for metric in version["metrics"]:
        expect(main).to_contain_text(metric)
    expect(page.get_by_text("No such page.")).to_have_count(0)
    assert f"{API}/models/{MODEL}/versions/1" in requested
    shot(page, "model-version")


def test_workflow_plan_jobs_and_source_pages(web: Web, open_page: OpenPage, shot: Shot) -> None:
    version = max(v["version"] for v in web.get(f"/workflows/{WORKFLOW}/versions")["data"])
    base = f"/workflows/{WORKFLOW}/versions/{version}"
    plan = web.get(f"{base}/graph")
    jobs = web.get(f"{base}/jobs")
    page = open_page("viewer")

    goto(page, f"{base}/plan")
    for each in plan["nodes"]:
        expect(page.locator(node(each["id"]))).to_be_visible()
    expect(page.locator("[data-testid=graph-node]")).to_have_count(len(plan["nodes"]))
    shot(page, "plan")

    goto(page, f"{base}/jobs")
    for each in jobs["jobs"]:
        expect(page.locator(node(each["name"]))).to_be_visible()
    expect(page.locator("[data-testid=graph-node]")).to_have_count(len(jobs["jobs"]))
    shot(page, "jobs")

    listing = web.get(f"{base}/source")["files"]
    [workflow_file] = [f["path"] for f in listing if f["path"].endswith("workflow.py")]
    goto(page, f"{base}/source")
    for each in listing:  # the snapshot's files, each a link to its own URL
        expect(page.get_by_role("link", name=each["path"], exact=True)).to_be_visible()
    page.get_by_role("link", name=workflow_file, exact=True).click()
    page.wait_for_url(f"**{base}/source/{workflow_file}")
    expect(page.locator("pre[data-testid=source]")).to_contain_text(
        f'with af.workflow("{WORKFLOW}") as wf:'
    )
    shot(page, "source")


def test_the_examples_page_lists_the_registered_examples(
    web: Web, open_page: OpenPage, shot: Shot
) -> None:
    names = {e["name"] for e in web.get("/examples", limit=100)["data"]}
    assert {"wine", "wine_preds"} <= names
    page = open_page("viewer")
    goto(page, "/examples")
    rows = page.locator("tr[data-testid=example-row]")
    for name in names:
        expect(rows.filter(has_text=name).first).to_be_visible()
    expect(rows).to_have_count(len(names))
    shot(page, "examples")
