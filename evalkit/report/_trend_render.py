"""Renders the single-file trend report over the nightly history.

The same rules as the regression report (:mod:`evalkit.report._render`): one file that
opens offline (a Content-Security-Policy forbids any fetch), Jinja2 autoescaping for the
page, the data embedded as script-safe JSON that the page's script renders with
``textContent`` only, and hand-drawn inline SVG charts.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path

from markupsafe import Markup

import evalkit
from evalkit.report._base import csp_for_script, environment, script_safe_json, static_text
from evalkit.report._trend_data import TrendModel, build_trend
from evalkit.store._history import NightRecord
from evalkit.util._atomic import atomic_write_text


def render_trend_html(model: TrendModel, *, generated_at: str | None = None) -> str:
    """Returns the trend page for ``model`` as one self-contained HTML document."""
    script = static_text("trend.js")
    css = static_text("report.css") + "\n" + static_text("trend.css")
    return (
        environment()
        .get_template("trend.html.j2")
        .render(
            m=model,
            generated_at=generated_at or dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
            evalkit_version=evalkit.__version__,
            css=Markup(css),
            script=Markup(script),
            csp=csp_for_script(script),
            payload=Markup(script_safe_json(model.payload)),
        )
    )


def render_trend_report(
    records: Sequence[NightRecord], *, output: Path, last: int | None = None
) -> Path:
    """Writes the trend report of ``records`` to ``output`` atomically; returns its path.

    Links to the nights' regression reports are relative to ``output``'s folder (where
    ``evalkit nightly`` writes them), so publish the report folder as a whole.
    """
    html = render_trend_html(build_trend(records, last=last))
    output = Path(output)
    atomic_write_text(output, html)
    return output
