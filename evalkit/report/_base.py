"""The HTML/SVG base every evalkit page is built on: the regression report, the trend
report and the labelling sheet.

* :func:`environment` — the one Jinja2 environment (autoescape on, strict undefined,
  the templates folder, the number filters of :mod:`evalkit.util._format`);
* :func:`static_text` — a CSS or JavaScript file inlined into a page;
* :func:`script_safe_json` and :func:`csp_for_script` — data embedded in a page, and
  the Content-Security-Policy that lets only the page's own script run;
* :class:`Tick` and :func:`nice_step` — the axes of the hand-drawn inline SVG charts.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2

from evalkit.comparison._model import mde_text
from evalkit.util._format import page_number, page_p_value, page_percent

_HERE = Path(__file__).parent
TEMPLATES = _HERE / "templates"
STATIC = _HERE / "static"
_JSON_ESCAPES = {
    "<": "\\u003c",
    ">": "\\u003e",
    "&": "\\u0026",
    "\u2028": "\\u2028",
    "\u2029": "\\u2029",
}


def _signed(value: Any) -> str:
    return page_number(value, signed=True)


def finite(value: float | None) -> bool:
    """Returns True for a value a chart can place (not None, NaN or infinite)."""
    return value is not None and math.isfinite(value)


def _finite_number(value: Any) -> bool:
    """Returns True for a finite number (a CI end that could be estimated)."""
    return isinstance(value, int | float) and math.isfinite(value)


@functools.cache
def environment() -> jinja2.Environment:
    """Returns the Jinja2 environment of evalkit's pages (autoescape on; one per process)."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES)),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["num"] = page_number
    env.filters["signed"] = _signed
    env.filters["pval"] = page_p_value
    env.filters["pct"] = page_percent
    env.filters["mde"] = mde_text
    env.filters["finite"] = _finite_number
    return env


@functools.cache
def static_text(name: str) -> str:
    """Returns ``static/<name>``, checked to be safe inside a ``<script>``/``<style>``."""
    text = (STATIC / name).read_text(encoding="utf-8")
    closing = "</script" if name.endswith(".js") else "</style"
    if closing in text.lower():
        raise ValueError(f"static/{name} must not contain {closing!r}")
    return text


def script_safe_json(data: Any) -> str:
    """Returns ``data`` as JSON that is safe inside a ``<script>`` element.

    ``<``, ``>`` and ``&`` become ``\\u003c``-style escapes (so no ``</script>`` or
    ``<!--`` can end or change the element), and U+2028/U+2029 are escaped too; the
    result still parses to the same value with ``JSON.parse``.
    """
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    for char, escape in _JSON_ESCAPES.items():
        text = text.replace(char, escape)
    return text


def csp_for_script(script: str) -> str:
    """Returns a Content-Security-Policy that lets only ``script`` run and fetches nothing."""
    digest = base64.b64encode(hashlib.sha256(script.encode("utf-8")).digest()).decode()
    return (
        "default-src 'none'; "
        f"script-src 'sha256-{digest}'; "
        "style-src 'unsafe-inline'; img-src data:; "
        "base-uri 'none'; form-action 'none'"
    )


@dataclass(frozen=True)
class Tick:
    """An axis tick of an SVG chart: its position along the axis and its label."""

    at: float
    label: str


def nice_step(span: float, target: int = 5) -> float:
    """Returns a 1/2/5 x 10^k tick step that cuts ``span`` into about ``target`` parts."""
    if span <= 0 or not math.isfinite(span):
        return 1.0
    raw = span / target
    power = 10.0 ** math.floor(math.log10(raw))
    for factor in (1.0, 2.0, 5.0, 10.0):
        if raw <= factor * power:
            return factor * power
    return 10.0 * power
