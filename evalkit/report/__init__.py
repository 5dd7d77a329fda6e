"""The single-file HTML reports: the regression report of one comparison (with JSON and
Markdown summaries beside it) and the trend report over the nightly history.

from evalkit.report import render_report
paths = render_report(candidate, baseline=baseline, golden=golden, output=Path("reports/x"))
print(paths.html)

from evalkit.report import render_trend_report
render_trend_report(History(store).list(), output=Path("reports/nightly/trend.html"))
"""

from __future__ import annotations

from evalkit.report._render import ReportPaths, default_report_path, render_report
from evalkit.report._trend_render import render_trend_html, render_trend_report

__all__ = [
    "ReportPaths",
    "default_report_path",
    "render_report",
    "render_trend_html",
    "render_trend_report",
]
