"""The model pages: the metric chart has one point per version, an editor promotes a version
(the alias moves, the history records why), a viewer cannot."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.web.conftest import API, LIVE_MS, MODEL, Web, goto

pytestmark = pytest.mark.slow

Shot = Callable[[Page, str], None]
OpenPage = Callable[[str | None], Page]
ROWS = "tr[data-testid=version-row]"
CHART = "figure[data-testid=metric-chart]"
HISTORY = "[data-testid=alias-history] [data-testid=history-entry]"


def versions(web: Web) -> dict[int, dict[str, Any]]:
    page = web.get(f"/models/{MODEL}/versions", limit=100)
    assert page["next_cursor"] is None, "more versions than one page: raise the limit"
    return {v["version"]: v for v in page["data"]}


def chosen_metric(page: Page) -> str:
    """The metric the chart plots: the one picked in its "Metric" selector if the page has
    one, else the wine example's "accuracy"."""
    picker = page.get_by_label("Metric")
    return picker.input_value() if picker.count() == 1 else "accuracy"


def test_the_metric_chart_has_one_point_per_version(
    web: Web, open_page: OpenPage, shot: Shot
) -> None:
    known = versions(web)
    page = open_page("viewer")
    goto(page, f"/models/{MODEL}")
    rows = page.locator(ROWS)
    expect(rows).to_have_count(len(known))
    shown = rows.evaluate_all("rows => rows.map(r => Number(r.dataset.version))")
    assert sorted(shown) == sorted(known)

    chart = page.locator(CHART)
    expect(chart).to_be_visible()
    metric = chosen_metric(page)
    with_metric = [v for v in known.values() if metric in v["metrics"]]
    assert len(with_metric) >= 2  # the two batch runs of the fixture
    expect(chart).to_have_attribute("data-points", str(len(with_metric)))
    shot(page, "model")


def test_an_editor_promotes_a_version_and_the_history_says_why(
    web: Web, open_page: OpenPage, shot: Shot
) -> None:
    before = versions(web)
    target = min(v for v, data in before.items() if "deployed" not in data["aliases"])
    holders = [v for v, data in before.items() if "deployed" in data["aliases"]]
    reason = f"web test promotes {target} ({uuid.uuid4().hex[:8]})"

    page = open_page("editor")
    goto(page, f"/models/{MODEL}")
    page.locator(f"button[data-testid=promote-{target}]").click()
    expect(page.get_by_label("Alias")).to_have_value("deployed")
    page.get_by_label("Reason").fill(reason)
    shot(page, "promote")
    page.get_by_role("button", name="Confirm promote").click()

    expect(page.locator(HISTORY, has_text=reason)).to_be_visible(timeout=LIVE_MS)
    row = page.locator(f'{ROWS}[data-version="{target}"]')
    expect(row).to_contain_text("deployed")
    shot(page, "promoted")
    assert "deployed" in web.get(f"/models/{MODEL}/versions/{target}")["aliases"]
    for version in holders:  # an alias is on one version at a time: it moved
        assert "deployed" not in web.get(f"/models/{MODEL}/versions/{version}")["aliases"]
    history = web.get(f"/models/{MODEL}/history")["data"]
    assert any(h["reason"] == reason and h["version"] == target for h in history), history


def test_a_viewer_gets_no_promote_button_and_the_api_refuses_it(
    web: Web, open_page: OpenPage, shot: Shot
) -> None:
    known = versions(web)
    page = open_page("viewer")
    goto(page, f"/models/{MODEL}")
    expect(page.locator(ROWS)).to_have_count(len(known))
    expect(page.locator("[data-testid^=promote-]")).to_have_count(0)
    expect(page.get_by_role("button", name="Confirm promote")).to_have_count(0)
    shot(page, "model")

    version = min(known)
    body = {"reason": "a viewer tries"}
    refused = web.send("POST", f"/models/{MODEL}/versions/{version}/promote", "viewer", json=body)
    assert refused.status_code == 403, refused.text
    # and through the viewer's own browser session (cookie + CSRF token), as the page would
    answer = page.evaluate(
        """async ([path, body]) => {
            const session = await (await fetch('/api/v1/session')).json();
            const response = await fetch(path, {method: 'POST', body: JSON.stringify(body),
                headers: {'Content-Type': 'application/json', 'X-CSRF-Token': session.csrf_token}});
            return response.status;
        }""",
        [f"{API}/models/{MODEL}/versions/{version}/promote", body],
    )
    assert answer == 403
    assert aliases_of(known) == aliases_of(versions(web))


def aliases_of(known: dict[int, dict[str, Any]]) -> dict[int, list[str]]:
    return {v: sorted(data["aliases"]) for v, data in known.items()}
