"""The report in a real browser: headless Chromium opens it from file:// and uses it.

These tests fail (they are never skipped) when Chromium is missing; scripts/install-browser
installs Debian's chromium and chromium-driver. Screenshots go to reports/screenshots/.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest

from evalkit.comparison._model import Comparison
from evalkit.report import render_report
from tests.support.browser import (
    SCREENSHOTS,
    console_errors,
    full_page_screenshot,
    requested_urls,
    wait_ready,
)
from tests.support.hostile import ATTR_XSS, SCRIPT_XSS, hostile_data
from tests.support.synthetic_runs import synthetic_comparison, synthetic_runs

pytestmark = pytest.mark.browser


def visible_rows(driver: Any) -> int:
    return int(driver.execute_script("return document.querySelectorAll('tr.case-row').length"))


def choose(driver: Any, select_id: str, value: str) -> None:
    from selenium.webdriver.support.ui import Select

    Select(driver.find_element("id", select_id)).select_by_value(value)


def open_report(driver: Any, path: Path) -> float:
    driver.get_log("browser")  # drop entries from earlier pages
    driver.get_log("performance")
    driver.get(path.as_uri())
    return wait_ready(driver)


def regressed_any_metric(comparison: Comparison) -> int:
    """Counts cases where any metric got worse or flipped to fail (computed independently)."""
    count = 0
    for case in comparison.cases:
        worse = any(flip == "to-fail" for flip in case.flipped.values()) or any(
            d is not None and d < -1e-9 for d in case.delta.values()
        )
        count += worse
    return count


def test_comparison_report_loads_offline_filters_and_shows_injected_html_as_text(
    browser: Any, tmp_path: Path
) -> None:
    data = hostile_data(60)
    comparison = synthetic_comparison(data)
    paths = render_report(
        data.candidate,
        baseline=data.baseline,
        comparison=comparison,
        golden=data.golden,
        output=tmp_path / "report.html",
    )
    open_report(browser, paths.html)
    title = browser.title
    assert console_errors(browser) == []
    assert requested_urls(browser) == [paths.html.as_uri()]
    assert visible_rows(browser) == 60

    search = browser.find_element("id", "case-search")
    search.send_keys("case-00007")
    browser.implicitly_wait(0)
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(browser, 5).until(lambda d: visible_rows(d) == 1)
    search.clear()
    search.send_keys(" ")  # clear() fires no input event; a blank query matches everything
    WebDriverWait(browser, 5).until(lambda d: visible_rows(d) == 60)

    choose(browser, "filter-metric", "-1")
    choose(browser, "filter-verdict", "regressed")
    expected = regressed_any_metric(comparison)
    assert 0 < expected < 60
    assert visible_rows(browser) == expected
    choose(browser, "filter-verdict", "all")
    choose(browser, "filter-flip", "to-fail")
    flips = sum(1 for c in comparison.cases if "to-fail" in c.flipped.values())
    assert visible_rows(browser) == flips
    choose(browser, "filter-flip", "all")

    # Open the rows whose output, input and rationale carry markup: it must show as text.
    search.clear()
    search.send_keys("pwned")
    WebDriverWait(browser, 5).until(lambda d: visible_rows(d) == 3)
    for row in browser.find_elements("css selector", "tr.case-row"):
        row.click()
    details = browser.find_elements("css selector", "tr.detail-row")
    assert len(details) == 3
    text = "\n".join(d.text for d in details)
    assert SCRIPT_XSS in text and ATTR_XSS in text
    assert browser.execute_script("return typeof window.__pwned") == "undefined"
    assert browser.title == title and "pwned" not in title
    assert browser.execute_script("return document.querySelectorAll('main img').length") == 0
    assert console_errors(browser) == []
    assert requested_urls(browser) == []
    browser.execute_script("document.getElementById('cases').scrollIntoView()")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    browser.save_screenshot(str(SCREENSHOTS / "comparison-cases-expanded.png"))
    full_page_screenshot(browser, SCREENSHOTS / "comparison-full.png")
    browser.set_window_size(1400, 1000)


def test_single_run_report_loads_without_errors(browser: Any, tmp_path: Path) -> None:
    data = synthetic_runs(50, seed=11, samples=2)
    paths = render_report(data.candidate, golden=data.golden, output=tmp_path / "single.html")
    open_report(browser, paths.html)
    assert console_errors(browser) == []
    assert requested_urls(browser) == [paths.html.as_uri()]
    assert visible_rows(browser) == 50
    choose(browser, "filter-metric", "0")
    choose(browser, "filter-verdict", "fail")
    failing = int(
        (
            data.candidate.scores.query("metric == 'exact'").groupby("case_id")["value"].mean() < 1
        ).sum()
    )
    assert visible_rows(browser) == failing
    full_page_screenshot(browser, SCREENSHOTS / "single-run-full.png")
    browser.set_window_size(1400, 1000)


def test_large_report_renders_one_page_of_rows_then_more_on_request(
    browser: Any, tmp_path: Path
) -> None:
    data = synthetic_runs(1200, seed=2)
    paths = render_report(
        data.candidate,
        baseline=data.baseline,
        comparison=synthetic_comparison(data, slices=False),
        golden=data.golden,
        output=tmp_path / "large.html",
    )
    open_report(browser, paths.html)
    assert console_errors(browser) == []
    assert visible_rows(browser) == 200
    browser.execute_script("document.getElementById('show-more').click()")
    assert visible_rows(browser) == 400
    count = browser.find_element("id", "case-count").text
    assert "400 of 1,200" in count


def test_word_diff_in_the_page_keeps_both_texts_and_marks_changed_words(
    browser: Any, tmp_path: Path
) -> None:
    data = synthetic_runs(20, seed=4)
    paths = render_report(
        data.candidate,
        baseline=data.baseline,
        comparison=synthetic_comparison(data),
        golden=data.golden,
        output=tmp_path / "diff.html",
    )
    open_report(browser, paths.html)
    rng = random.Random(0)
    vocabulary = ["alpha", "beta", " ", "  ", "\n", ",", ".", "<b>", "é", "42", "naïve"]
    pairs = [
        [
            "".join(rng.choice(vocabulary) for _ in range(rng.randrange(0, 30))),
            "".join(rng.choice(vocabulary) for _ in range(rng.randrange(0, 30))),
        ]
        for _ in range(200)
    ]
    results = browser.execute_script(
        "return arguments[0].map(function (p) { return window.evalkitWordDiff(p[0], p[1]); })",
        pairs,
    )
    for (old, new), segments in zip(pairs, results, strict=True):
        assert "".join(text for op, text in segments if op != 1) == old
        assert "".join(text for op, text in segments if op != -1) == new
    assert browser.execute_script(
        "return evalkitWordDiff('The capital is Paris.', 'The capital is Lyon.')"
    ) == [[0, "The capital is "], [-1, "Paris"], [1, "Lyon"], [0, "."]]
    # A lone space between two changed words is folded into the change.
    assert browser.execute_script("return evalkitWordDiff('x a b y', 'x c d y')") == [
        [0, "x "],
        [-1, "a b"],
        [1, "c d"],
        [0, " y"],
    ]

    base = data.baseline.outputs.set_index("case_id")["text"]
    cand = data.candidate.outputs.set_index("case_id")["text"]
    changed = next(i for i in base.index if base[i] and cand[i] and base[i] != cand[i])
    from selenium.webdriver.support.ui import WebDriverWait

    browser.find_element("id", "case-search").send_keys(changed)
    WebDriverWait(browser, 5).until(lambda d: visible_rows(d) == 1)
    browser.find_element("css selector", "tr.case-row").click()
    pres = browser.find_elements("css selector", "tr.detail-row .output pre")
    shown_base, shown_cand = (p.get_attribute("textContent") for p in pres)
    assert (shown_base, shown_cand) == (base[changed], cand[changed])
    deleted = browser.find_elements("css selector", "tr.detail-row .output del")
    inserted = browser.find_elements("css selector", "tr.detail-row .output ins")
    assert deleted or inserted
    assert all(d.get_attribute("textContent") not in ("", cand[changed]) for d in deleted)
    assert console_errors(browser) == []


def _top_of(driver: Any, selector: str) -> float:
    return float(
        driver.execute_script(
            "var e = document.querySelector(arguments[0]);"
            "return e ? e.getBoundingClientRect().top : -1;",
            selector,
        )
    )


def test_the_first_screen_shows_what_changed_or_says_in_one_line_that_nothing_did(
    browser: Any, tmp_path: Path
) -> None:
    from evalkit.comparison._compare import compare_runs

    browser.set_window_size(1400, 1000)
    data = synthetic_runs(200, seed=3)  # the candidate answers "billing" cases worse
    comparison = compare_runs(data.baseline, data.candidate)
    assert any(row.verdict == "regression" for row in comparison.metrics)
    paths = render_report(
        data.candidate,
        baseline=data.baseline,
        comparison=comparison,
        golden=data.golden,
        output=tmp_path / "changed.html",
    )
    open_report(browser, paths.html)
    assert console_errors(browser) == []
    screen = float(browser.execute_script("return window.innerHeight"))
    # What moved (metric, slice, delta...) and the cases that flipped, before the plots.
    rows = browser.find_elements("css selector", "#changes table.changed-rows tbody tr")
    assert rows and "regression" in rows[0].text
    assert any("billing" in row.text for row in rows)
    assert 0 < _top_of(browser, "#changes .flip-list li") < screen
    assert _top_of(browser, "#changes") < _top_of(browser, "#metrics")
    assert _top_of(browser, "#changes") < _top_of(browser, "#slices")
    assert browser.execute_script("return document.querySelector('details.slice-plots').open")
    assert browser.find_elements("css selector", ".nothing-changed") == []
    browser.save_screenshot(str(SCREENSHOTS / "first-screen-changed.png"))

    unchanged = compare_runs(data.baseline, data.baseline)
    paths = render_report(
        data.baseline,
        baseline=data.baseline,
        comparison=unchanged,
        golden=data.golden,
        output=tmp_path / "unchanged.html",
    )
    open_report(browser, paths.html)
    assert console_errors(browser) == []
    line = browser.find_element("css selector", ".nothing-changed")
    assert line.text.startswith("Nothing changed:") and "no case flipped" in line.text
    assert 0 < _top_of(browser, ".nothing-changed") < screen
    assert browser.find_elements("css selector", "#changes table") == []
    assert not browser.execute_script("return document.querySelector('details.slice-plots').open")
    browser.save_screenshot(str(SCREENSHOTS / "first-screen-unchanged.png"))
