"""Signing in to the dashboard, and the frame every page shares (keyboard, theme).

The token goes to the server once, in the sign-in request's body: afterwards the browser holds
it only in an http-only cookie, never in a URL, in storage or in the page.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.web.conftest import Web, goto, new_context

pytestmark = pytest.mark.slow

SECTIONS = ("Workflows", "Executions", "Models", "Events", "Examples")
STORAGE = "() => JSON.stringify([{...localStorage}, {...sessionStorage}])"


def test_signing_in_keeps_the_token_in_an_http_only_cookie_only(
    browser: Browser, web: Web, shot: Callable[[Page, str], None]
) -> None:
    token = web.token("viewer")
    context = new_context(browser, web)
    try:
        page = context.new_page()
        urls: list[str] = []
        page.on("request", lambda request: urls.append(request.url))
        goto(page, "/")
        page.get_by_label("API token").fill(token)
        shot(page, "sign-in")
        page.get_by_role("button", name="Sign in").click()

        who = page.locator("[data-testid=who]")
        expect(who).to_contain_text("fixture-viewer")
        expect(who).to_contain_text("viewer")
        shot(page, "signed-in")
        [cookie] = [c for c in context.cookies() if c["name"] == "aiflow_session"]
        assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
        assert token not in page.evaluate("() => document.cookie")
        assert token not in page.evaluate(STORAGE)
        assert token not in page.content()  # the form forgot it too

        page.reload()  # the cookie keeps the session across loads
        expect(who).to_contain_text("fixture-viewer")
        assert token not in page.evaluate(STORAGE)
        assert urls and [url for url in urls if token in url] == []
    finally:
        context.close()


def test_a_wrong_token_is_refused_with_an_alert(
    browser: Browser, web: Web, shot: Callable[[Page, str], None]
) -> None:
    context = new_context(browser, web)
    try:
        page = context.new_page()
        goto(page, "/")
        page.get_by_label("API token").fill("aif_not-a-token-of-this-server")
        page.get_by_role("button", name="Sign in").click()
        expect(page.get_by_role("alert")).to_be_visible()
        shot(page, "refused")
        expect(page.locator("[data-testid=who]")).to_have_count(0)
        assert [c for c in context.cookies() if c["name"] == "aiflow_session"] == []
    finally:
        context.close()


def test_a_deep_link_survives_signing_in(
    browser: Browser, web: Web, shot: Callable[[Page, str], None]
) -> None:
    execution = web.batch_executions[0]
    context = new_context(browser, web)
    try:
        page = context.new_page()
        goto(page, f"/executions/{execution}")
        page.get_by_label("API token").fill(web.token("viewer"))
        page.get_by_role("button", name="Sign in").click()
        expect(page.locator("[data-testid=execution-status]")).to_be_visible()
        assert page.url.endswith(f"/executions/{execution}")
        shot(page, "execution")
    finally:
        context.close()


def _focused(page: Page) -> str:
    return page.evaluate(
        "() => { const e = document.activeElement;"
        " return e ? (e.textContent || '').trim() + ' ' + (e.getAttribute('href') || '') : '' }"
    )


def test_tab_from_the_top_reaches_the_skip_link_and_the_sections(
    open_page: Callable[[str | None], Page], shot: Callable[[Page, str], None]
) -> None:
    page = open_page("viewer")
    goto(page, "/executions")
    expect(page.locator("[data-testid=who]")).to_be_visible()
    reached = []
    for _ in range(12):
        page.keyboard.press("Tab")
        reached.append(_focused(page))
    assert reached[0].startswith("Skip to content"), reached
    for section in SECTIONS:
        assert any(text.startswith(section) for text in reached), (section, reached)
    shot(page, "focus")

    page.get_by_role("link", name="Skip to content").focus()
    page.keyboard.press("Enter")  # the skip link moves the focus to the content
    assert page.evaluate("() => document.activeElement && document.activeElement.id") == "main"


def test_the_theme_switch_flips_and_is_remembered(
    open_page: Callable[[str | None], Page], shot: Callable[[Page, str], None]
) -> None:
    page = open_page("viewer")
    goto(page, "/executions")
    html = page.locator("html")
    expect(html).to_have_attribute("data-theme", re.compile(r"^(light|dark)$"))
    before = html.get_attribute("data-theme")
    after = "dark" if before == "light" else "light"
    page.get_by_role("button", name="switch theme").click()
    expect(html).to_have_attribute("data-theme", after)
    shot(page, after)
    page.reload()
    expect(html).to_have_attribute("data-theme", after)
    page.get_by_role("button", name="switch theme").click()
    expect(html).to_have_attribute("data-theme", before or "")
    shot(page, before or "theme")
