"""The trend report in headless Chromium: offline, no console errors, escaped, linked.

Fails (never skips) when Chromium is missing; scripts/install-browser installs it.
Screenshots go to reports/screenshots/.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from evalkit.report import render_trend_report
from tests.support.browser import (
    SCREENSHOTS,
    console_errors,
    full_page_screenshot,
    requested_urls,
    wait_ready,
)
from tests.support.hostile import ATTR_XSS, SCRIPT_XSS, nights

pytestmark = pytest.mark.browser


def test_trend_report_renders_offline_shows_hostile_text_as_text_and_links_nights(
    browser: Any, tmp_path: Path
) -> None:
    records = nights(12) + nights(6, suite="rag")
    for record in records:
        if record.report:
            target = tmp_path / record.report
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(f"<!doctype html><title>{record.night_id}</title>night report")
    page = render_trend_report(records, output=tmp_path / "trend.html")
    browser.get_log("browser")
    browser.get_log("performance")
    browser.get(page.as_uri())
    wait_ready(browser)
    assert console_errors(browser) == []
    assert requested_urls(browser) == [page.as_uri()]
    rows = browser.find_elements("css selector", "tr.night-row")
    assert len(rows) == 18
    text = browser.find_element("tag name", "main").text
    assert SCRIPT_XSS in text and ATTR_XSS in text
    assert browser.execute_script("return typeof window.__pwned") == "undefined"
    assert browser.execute_script("return document.querySelectorAll('main img').length") == 0
    assert "Changed once and stayed changed (1)" in text and "Flaky: keeps flipping (1)" in text
    assert len(browser.find_elements("css selector", "svg.trend")) == 2 * (2 + 3)
    markers = browser.find_elements("css selector", "svg.trend line.mk-baseline")
    assert len(markers) == 2 * 5  # one per chart in each suite (both have night 4)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    full_page_screenshot(browser, SCREENSHOTS / "trend-full.png")
    browser.set_window_size(1400, 1000)

    # a point in a chart opens that night's regression report
    link = browser.find_element("css selector", "figure.metric-chart svg a")
    href = browser.execute_script("return arguments[0].getAttribute('href')", link)
    assert href is not None and href.startswith("nights/") and href.endswith("/report.html")
    dot = link.find_element("css selector", "circle.dot")
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'})", dot)
    dot.click()
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(browser, 5).until(lambda d: d.current_url != page.as_uri())
    assert browser.current_url == (tmp_path / href).as_uri()
    assert "night report" in browser.find_element("tag name", "body").text
    browser.get(page.as_uri())
    wait_ready(browser)
    report_links = browser.find_elements("css selector", "a.report-link")
    assert len(report_links) == 11 + 6  # every night that ran (qa night 6 failed)
    assert console_errors(browser) == []
