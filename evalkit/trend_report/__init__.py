"""The single-file HTML trend report over the nightly history.

from evalkit.trend_report import render_trend_report
render_trend_report(History(store).list(), output=Path("reports/nightly/trend.html"))
"""

from __future__ import annotations

from evalkit.trend_report.render import render_trend_html, render_trend_report

__all__ = ["render_trend_html", "render_trend_report"]
