"""The trend report: markers, links, escaping and the page's offline rules (no browser)."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from html import unescape
from pathlib import Path

from evalkit.data._records import Totals
from evalkit.report import render_trend_report
from evalkit.report._trend_data import build_trend, safe_link
from evalkit.report._trend_plots import SeriesPoint, series_chart
from evalkit.store._history import CaseChange, DriftBrief, DriftRow, NightMetric, NightRecord

START = datetime(2026, 3, 1, 2, 0, tzinfo=UTC)
SCRIPT_XSS = "</script><script>window.__pwned=1;document.title='pwned'</script>"
ATTR_XSS = '"><img src=x onerror="window.__pwned=2">'


def nights(n: int = 12, *, suite: str = "qa") -> list[NightRecord]:
    """Returns ``n`` nights: a baseline update on night 4, a golden change on night 8,
    a failed night 6 with a hostile reason, a slow decline and a drift alarm at the end."""
    out = []
    for day in range(n):
        night_id = f"{(START + timedelta(days=day)):%Y%m%dT%H%M%S}Z-{suite}-{day:08x}"
        failed = day == 6
        mean = 0.9 - 0.01 * day
        out.append(
            NightRecord(
                night_id=night_id,
                suite=suite,
                night_at=(START + timedelta(days=day)).isoformat(),
                status="failed" if failed else ("alert" if day == n - 1 else "ok"),
                reason=f"SUT down {SCRIPT_XSS}" if failed else None,
                alerts=[f"exact: drift {ATTR_XSS}"] if day == n - 1 else [],
                run_id=None if failed else f"run-{day}",
                golden_fingerprint="g1" if day < 8 else "g2",
                baseline_digest="b1" if day < 4 else "b2",
                baseline_run_id="run-0" if day < 4 else "run-3",
                metrics=[]
                if failed
                else [
                    NightMetric(
                        name="exact",
                        kind="binary",
                        n=100,
                        mean=mean,
                        ci_low=mean - 0.05,
                        ci_high=mean + 0.05,
                    ),
                    NightMetric(name=f"f1{SCRIPT_XSS}", n=100, mean=0.5),
                ],
                totals=Totals(
                    calls=100,
                    prompt_tokens=1000 + day,
                    completion_tokens=200,
                    cost_usd=0.01 * (1 + day % 3),
                    latency_p50_s=0.2,
                    latency_p95_s=0.5 + 0.01 * day,
                ),
                report=None if failed else f"nights/{night_id}/regression/report.html",
                drift=DriftBrief(alarm=True, rows=[DriftRow(metric="exact", alarm=True)])
                if day == n - 1
                else None,
                changed=[
                    CaseChange(
                        case_id=f"case {ATTR_XSS}",
                        metric="exact",
                        pattern="PPFF",
                        flips=1,
                        now_failing=True,
                        since_night_id="x",
                    )
                ]
                if day == n - 1
                else [],
                flaky=[
                    CaseChange(
                        case_id="flappy", metric="exact", pattern="PFPF", flips=3, now_failing=True
                    )
                ]
                if day == n - 1
                else [],
            )
        )
    return out


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
