"""Renders the single-file HTML report (and its JSON and Markdown summaries).

The HTML is one file: CSS, JavaScript, SVG and data are inlined, nothing is fetched when
it is opened (a Content-Security-Policy forbids it), and everything that came from a
model or a dataset is escaped: by Jinja's autoescaping in the page, and by escaping
``<``, ``>``, ``&`` and U+2028/U+2029 inside the embedded JSON, which the page reads with
``JSON.parse`` and renders with ``textContent`` only.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from markupsafe import Markup

import evalkit
from evalkit.comparison._model import Comparison
from evalkit.data._golden import GoldenSet
from evalkit.data._records import Run
from evalkit.report._base import csp_for_script, environment, script_safe_json, static_text
from evalkit.report._data import SIZE_BUDGET_BYTES, ReportModel, build_report
from evalkit.report._summary import summary_dict, summary_markdown
from evalkit.util._atomic import atomic_write_text
from evalkit.util._format import filename_slug


@dataclass(frozen=True)
class ReportPaths:
    """Where a report was written: the HTML page and its two summaries."""

    html: Path
    summary_json: Path
    summary_md: Path


def render_html(model: ReportModel, *, generated_at: str | None = None) -> str:
    """Returns the report page for ``model`` as one self-contained HTML document."""
    script = static_text("report.js")
    template = environment().get_template("report.html.j2")
    return template.render(
        m=model,
        generated_at=generated_at or dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        evalkit_version=evalkit.__version__,
        css=Markup(static_text("report.css")),
        script=Markup(script),
        csp=csp_for_script(script),
        payload=Markup(script_safe_json(model.payload)),
    )


def _resolve_output(output: Path) -> Path:
    output = Path(output)
    if output.is_dir() or not output.suffix:
        return output / "report.html"
    return output


def render_report(
    candidate: Run,
    *,
    baseline: Run | None = None,
    comparison: Comparison | None = None,
    golden: GoldenSet | None = None,
    output: Path,
    calibration: Mapping[str, Any] | None = None,
    report_url: str | None = None,
    size_budget: int = SIZE_BUDGET_BYTES,
) -> ReportPaths:
    """Writes the HTML report and summary.json/summary.md beside it; returns their paths.

    Args:
        candidate: the run to report on.
        baseline: the run to compare with; when given without ``comparison``, the
            comparison is computed with the default gate.
        comparison: a ready comparison of ``baseline`` and ``candidate``.
        golden: the golden set, for each case's input, expected answer and contexts
            (without it the report shows the rendered prompt, when the run stored one).
        output: the HTML file to write (a folder: ``report.html`` inside it).
        calibration: per judge, its calibration figures (see ``_calibration.html.j2``).
        report_url: the link the Markdown summary gives to the report (default: the
            HTML file's name, which resolves when the summary sits beside it).
        size_budget: bytes the embedded data may take; long texts are cut to fit.
    """
    if comparison is None and baseline is not None:
        from evalkit.comparison._compare import compare_runs
        from evalkit.config._suite import GateConfig

        comparison = compare_runs(baseline, candidate, gate=GateConfig())
    started = time.perf_counter()
    model = build_report(
        candidate,
        baseline=baseline,
        comparison=comparison,
        golden=golden,
        calibration=calibration,
        size_budget=size_budget,
    )
    html_path = _resolve_output(output)
    html = render_html(model)
    atomic_write_text(html_path, html)
    json_path = html_path.with_name("summary.json")
    md_path = html_path.with_name("summary.md")
    link = report_url or html_path.name
    summary = summary_dict(model, comparison, report=link)
    summary["render_s"] = round(time.perf_counter() - started, 3)
    atomic_write_text(json_path, json.dumps(summary, indent=2, ensure_ascii=False) + "\n")
    atomic_write_text(md_path, summary_markdown(summary))
    return ReportPaths(html=html_path, summary_json=json_path, summary_md=md_path)


def default_report_path(report_dir: Path, run: Run) -> Path:
    """Returns ``<report_dir>/<suite>-<run_id>/report.html``, where a run's report goes."""
    manifest = run.manifest
    suite = filename_slug(manifest.suite, max_length=None)
    run_id = filename_slug(manifest.run_id, max_length=None)
    return Path(report_dir) / f"{suite}-{run_id}" / "report.html"
