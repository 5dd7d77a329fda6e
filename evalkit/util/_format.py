"""How numbers and p-values are printed, and the small conversions around them.

One rule per medium, written once:

* **terminal** (the ``evalkit`` commands, the gate's reasons, pytest failure messages,
  JUnit properties): three significant digits (``0.812``, ``+0.04``, ``12.3``); a p-value
  with three decimals (``0.040``), or in scientific notation below 0.001 (``2.0e-05``);
  ``-`` where there is no number.
* **page** (the HTML reports and the Markdown summaries): three decimals (``0.812``,
  ``+0.040``); a p-value with three decimals, or ``<0.001``; ``–`` (an en dash) where
  there is no number.

A value is "no number" when it is None, NaN or infinite.
"""

from __future__ import annotations

import math
import re
from typing import Any

TERMINAL_MISSING = "-"
PAGE_MISSING = "–"


def finite_or_none(value: Any) -> float | None:
    """Returns ``value`` as a float, or None when it is None, NaN or infinite."""
    if value is None:
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def json_safe(value: Any) -> Any:
    """Returns ``value`` with NaN/inf floats replaced by None, in nested dicts and lists too."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    return value


def terminal_number(value: float | None, *, digits: int = 3, signed: bool = False) -> str:
    """Returns ``value`` with ``digits`` significant digits (``-`` when there is none)."""
    number = finite_or_none(value)
    if number is None:
        return TERMINAL_MISSING
    return f"{number:+.{digits}g}" if signed else f"{number:.{digits}g}"


def terminal_p_value(value: float | None) -> str:
    """Returns a p- or q-value for the terminal: ``0.040``, ``2.0e-05`` or ``-``."""
    number = finite_or_none(value)
    if number is None:
        return TERMINAL_MISSING
    return f"{number:.1e}" if number < 0.001 else f"{number:.3f}"


def page_number(value: Any, *, digits: int = 3, signed: bool = False) -> str:
    """Returns ``value`` with ``digits`` decimals for a report page (``–`` when there is none)."""
    number = finite_or_none(value)
    if number is None:
        return PAGE_MISSING
    return f"{number:+.{digits}f}" if signed else f"{number:.{digits}f}"


def page_p_value(value: Any) -> str:
    """Returns a p- or q-value for a report page: ``0.040``, ``<0.001`` or ``–``."""
    number = finite_or_none(value)
    if number is None:
        return PAGE_MISSING
    return "<0.001" if number < 0.001 else f"{number:.3f}"


def page_percent(value: Any) -> str:
    """Returns a fraction as a percentage for a report page (``81.2%``, or ``–``)."""
    number = finite_or_none(value)
    return PAGE_MISSING if number is None else f"{number:.1%}"


def filename_slug(name: str, *, fallback: str = "_", max_length: int | None = 60) -> str:
    """Returns ``name`` safe as one file or folder name.

    ASCII letters, digits, ``_``, ``.`` and ``-`` are kept; every run of other characters
    becomes one ``_``; the result is cut to ``max_length`` characters (None: not cut), and
    is ``fallback`` when nothing is left.
    """
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "_", name)
    if max_length is not None:
        slug = slug[:max_length]
    return slug or fallback
