"""The trend report: markers, links, escaping and the page's offline rules (no browser)."""

from __future__ import annotations

import json
import re
from html import unescape
from pathlib import Path

from evalkit.report import render_trend_report
from evalkit.report._trend_data import build_trend, safe_link
from evalkit.report._trend_plots import SeriesPoint, series_chart
from tests.support.hostile import ATTR_XSS, SCRIPT_XSS, nights


def test_markers_sit_at_the_baseline_update_and_the_golden_change() -> None:
    model = build_trend(nights())
    (suite,) = model.suites
    assert [(m.index, m.kind) for m in suite.markers] == [(4, "baseline"), (8, "golden")]
    assert suite.n_failed == 1 and suite.latest_status == "alert"
    exact = next(c for c in suite.metrics if c.name == "exact")
    assert exact.drift_alarm
    assert len(exact.chart.markers) == 2


def test_failed_night_breaks_the_line_and_has_no_point() -> None:
    points = [SeriesPoint("a", 0.5), SeriesPoint("b", None, status="failed"), SeriesPoint("c", 0.7)]
    chart = series_chart(points)
    assert chart.points[1].y is None
    assert chart.path.count("M") == 2 and "L" not in chart.path
    assert chart.points[0].y is not None and chart.points[2].y is not None
    assert chart.points[2].y < chart.points[0].y  # higher values are drawn higher


def test_only_plain_relative_links_are_kept() -> None:
    assert safe_link("nights/n1/regression/report.html") == "nights/n1/regression/report.html"
    for bad in ("javascript:alert(1)", "/etc/passwd", "../x.html", "https://evil.test/x", None):
        assert safe_link(bad) is None


def test_page_is_one_offline_file_with_hostile_text_escaped(tmp_path: Path) -> None:
    records = nights()
    records[3] = records[3].model_copy(update={"report": "javascript:alert(1)"})
    path = render_trend_report(records, output=tmp_path / "trend.html")
    html = path.read_text()
    assert "Content-Security-Policy" in html and "default-src 'none'" in unescape(html)
    assert SCRIPT_XSS not in html and ATTR_XSS not in html
    assert "javascript:" not in html
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", html)
    payload = re.search(r'id="evalkit-data">(.*?)</script>', html, re.S)
    assert payload is not None
    data = json.loads(payload.group(1))
    (suite,) = data["suites"]
    assert len(suite["nights"]) == 12 and suite["nights"][0]["status"] == "alert"
    assert suite["nights"][5]["reason"].endswith(SCRIPT_XSS)  # kept as data, escaped in JSON
    links = re.findall(r"<a href=\"(nights/[^\"]+)\"", html)
    # 5 charts (2 metrics; cost, tokens, latency) x 10 nights with a safe report link
    assert len(links) == 50 and all(link.startswith("nights/") for link in links)
