"""Renders the single-file trend report over the nightly history.

The same rules as the regression report (:mod:`evalkit.report._render`): one file that
opens offline (a Content-Security-Policy forbids any fetch), Jinja2 autoescaping for the
page, the data embedded as script-safe JSON that the page's script renders with
``textContent`` only, and hand-drawn inline SVG charts.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Sequence
from pathlib import Path

import jinja2
from markupsafe import Markup

import evalkit
from evalkit.report._render import csp_for_script, script_safe_json
from evalkit.report._trend_data import TrendModel, build_trend
from evalkit.store._history import NightRecord
from evalkit.util._atomic import atomic_write_text

_HERE = Path(__file__).parent
_REPORT_STATIC = _HERE / "static"


@functools.cache
def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(_HERE / "templates")),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


@functools.cache
def _static(path: Path) -> str:
    text = path.read_text(encoding="utf-8")
    closing = "</script" if path.suffix == ".js" else "</style"
    if closing in text.lower():
        raise ValueError(f"{path.name} must not contain {closing!r}")
    return text


def render_trend_html(model: TrendModel, *, generated_at: str | None = None) -> str:
    """Returns the trend page for ``model`` as one self-contained HTML document."""
    script = _static(_HERE / "static" / "trend.js")
    css = _static(_REPORT_STATIC / "report.css") + "\n" + _static(_HERE / "static" / "trend.css")
    return (
        _environment()
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
