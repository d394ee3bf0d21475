"""Hostile text stays text: names and values that the API accepts and that look like HTML render
literally, no script runs, and the Content-Security-Policy would stop one that slipped in."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.web.conftest import MODEL, WORKFLOW, Web, goto

pytestmark = pytest.mark.slow

Shot = Callable[[Page, str], None]
OpenPage = Callable[[str | None], Page]
HOSTILE = '<img src=x onerror="window.__pwned=1">'


def assert_inert(page: Page) -> None:
    """No element was made of the hostile text and its handler never ran."""
    assert page.locator('img[src="x"]').count() == 0
    assert page.evaluate("() => typeof window.__pwned") == "undefined"


def test_hostile_names_and_values_render_as_text(web: Web, open_page: OpenPage, shot: Shot) -> None:
    tag = uuid.uuid4().hex[:8]
    key, value = f"{HOSTILE}-{tag}", f"{HOSTILE} value {tag}"
    event = web.send("POST", "/events", json={"key": key, "type": "web_hostile", "value": value})
    assert event.status_code == 201, event.text
    version = min(v["version"] for v in web.get(f"/models/{MODEL}/versions")["data"])
    tagged = web.send("PUT", f"/models/{MODEL}/versions/{version}/tags/note", json={"value": value})
    assert tagged.status_code == 200, tagged.text
    trigger = f"web-hostile-{tag}"  # trigger names are restricted; its event filters are not
    rule = {"name": trigger, "workflow": WORKFLOW, "event_type": HOSTILE, "event_key": key}
    created = web.send("POST", "/triggers", json=rule)
    assert created.status_code == 201, created.text

    page = open_page("viewer")
    goto(page, "/events")
    expect(page.locator("tr[data-testid=event-row]", has_text=key)).to_be_visible()
    expect(page.locator("tr[data-testid=event-row]", has_text=value)).to_be_visible()
    expect(page.locator(f'tr[data-testid=trigger-row][data-trigger="{trigger}"]')).to_be_visible()
    assert_inert(page)
    shot(page, "events")

    goto(page, f"/models/{MODEL}/versions/{version}")
    expect(page.get_by_text(value, exact=True).first).to_be_visible()
    assert_inert(page)
    shot(page, "version")


def script_src(csp: str) -> str:
    found = re.search(r"script-src ([^;]*)", csp)
    assert found, csp
    return found.group(1)


def test_pages_carry_a_csp_that_blocks_inline_scripts(web: Web, open_page: OpenPage) -> None:
    for path in ("/", f"/executions/{web.batch_executions[0]}"):
        csp = httpx.get(f"{web.url}{path}", timeout=30).headers["content-security-policy"]
        assert script_src(csp).split() == ["'self'"], csp

    page = open_page("viewer")
    goto(page, "/executions")
    expect(page.locator("[data-testid=who]")).to_be_visible()
    csp_report = page.expect_console_message(lambda m: "Content Security Policy" in m.text)
    with csp_report:  # the browser refuses an inline script and says why
        page.evaluate(
            """() => { const s = document.createElement('script');
                       s.textContent = 'window.__inline = 1'; document.head.appendChild(s); }"""
        )
    assert page.evaluate("() => typeof window.__inline") == "undefined"
