"""The single-file HTML regression report, with JSON and Markdown summaries beside it.

from evalkit.report import render_report
paths = render_report(candidate, baseline=baseline, golden=golden, output=Path("reports/x"))
print(paths.html)
"""

from __future__ import annotations

from evalkit.report.render import ReportPaths, default_report_path, render_report

__all__ = ["ReportPaths", "default_report_path", "render_report"]
