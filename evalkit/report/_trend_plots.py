"""Geometry of the trend report's inline SVG time-series charts.

Pure functions from numbers to coordinates, like :mod:`evalkit.report._plots`: the
template only draws what these return. The x axis is the suite's nights in order (one
slot per night, failed nights included, so a failed night is a visible gap); the y axis
is the metric's units.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from evalkit.report._base import Tick, finite, nice_step


@dataclass(frozen=True)
class SeriesPoint:
    """One night on a chart: its estimate (None: no value that night) and CI."""

    label: str  # the night's date, for the axis
    value: float | None
    low: float | None = None
    high: float | None = None
    title: str = ""
    href: str | None = None  # the night's regression report (relative)
    status: str = "ok"  # ok | alert | failed | running
    second: float | None = None  # a second line (e.g. latency p95)


@dataclass(frozen=True)
class Marker:
    """A vertical event line before a night: a baseline update or a golden-set change."""

    index: int
    kind: str  # "baseline" | "golden"
    title: str


@dataclass(frozen=True)
class DrawnPoint:
    """A point ready to draw."""

    x: float
    y: float | None
    y_low: float | None
    y_high: float | None
    y2: float | None
    title: str
    href: str | None
    status: str


@dataclass(frozen=True)
class DrawnMarker:
    """An event line ready to draw."""

    x: float
    kind: str
    title: str


@dataclass(frozen=True)
class SeriesChart:
    """A time-series chart ready to draw."""

    width: int
    height: int
    left: float
    right: float
    top: float
    bottom: float
    points: tuple[DrawnPoint, ...]
    path: str  # polyline through the drawn values ("M x y L x y ...")
    path2: str
    markers: tuple[DrawnMarker, ...]
    y_ticks: tuple[Tick, ...]
    x_ticks: tuple[Tick, ...]


def _tick_text(value: float, step: float) -> str:
    decimals = max(0, -math.floor(math.log10(step))) if step < 1 else 0
    return f"{value:.{decimals}f}"


def _path(xs: Sequence[float], ys: Sequence[float | None]) -> str:
    parts = []
    pen_down = False
    for x, y in zip(xs, ys, strict=True):
        if y is None:
            pen_down = False  # a night without a value breaks the line
            continue
        parts.append(f"{'L' if pen_down else 'M'}{x:.1f} {y:.1f}")
        pen_down = True
    return " ".join(parts)


def series_chart(
    points: Sequence[SeriesPoint],
    markers: Sequence[Marker] = (),
    *,
    width: int = 560,
    height: int = 200,
    low: float | None = None,
    high: float | None = None,
) -> SeriesChart:
    """Returns the geometry of a time-series chart of ``points`` with event ``markers``.

    The y range covers every value and CI bound (and ``low``/``high`` when given, e.g.
    0 and 1 for a rate), with 8% air and 1/2/5 ticks.
    """
    left, right, top = 48.0, float(width - 12), 10.0
    bottom = float(height - 28)
    values = [
        v for p in points for v in (p.value, p.low, p.high, p.second) if v is not None and finite(v)
    ]
    values += [v for v in (low, high) if v is not None]
    y_min, y_max = (min(values), max(values)) if values else (0.0, 1.0)
    if y_max - y_min < 1e-9:
        y_min, y_max = y_min - 0.5 * (abs(y_min) or 1.0), y_max + 0.5 * (abs(y_max) or 1.0)
    air = (y_max - y_min) * 0.08
    y_min, y_max = y_min - air, y_max + air
    if low is not None:
        y_min = max(y_min, low)
    if high is not None:
        y_max = min(y_max, high)
    step = nice_step(y_max - y_min, 4)
    n = max(len(points), 1)
    slot = (right - left) / n

    def x_of(index: float) -> float:
        return round(left + slot * (index + 0.5), 1)

    def y_of(value: float | None) -> float | None:
        if value is None or not finite(value):
            return None
        clipped = min(max(value, y_min), y_max)
        return round(bottom - (clipped - y_min) / (y_max - y_min) * (bottom - top), 1)

    drawn = tuple(
        DrawnPoint(
            x=x_of(i),
            y=y_of(p.value),
            y_low=y_of(p.low),
            y_high=y_of(p.high),
            y2=y_of(p.second),
            title=p.title,
            href=p.href,
            status=p.status,
        )
        for i, p in enumerate(points)
    )
    y_ticks = []
    tick = math.ceil(y_min / step) * step
    while tick <= y_max + step * 1e-6:
        y = y_of(tick)
        if y is not None:
            y_ticks.append(Tick(y, _tick_text(tick, step)))
        tick += step
    every = max(1, math.ceil(n / 8))
    x_ticks = tuple(
        Tick(x_of(i), p.label) for i, p in enumerate(points) if i % every == 0 or i == n - 1
    )
    drawn_markers = tuple(
        DrawnMarker(x=round(x_of(m.index) - slot / 2, 1), kind=m.kind, title=m.title)
        for m in markers
    )
    xs = [d.x for d in drawn]
    return SeriesChart(
        width=width,
        height=height,
        left=left,
        right=right,
        top=top,
        bottom=bottom,
        points=drawn,
        path=_path(xs, [d.y for d in drawn]),
        path2=_path(xs, [d.y2 for d in drawn]),
        markers=drawn_markers,
        y_ticks=tuple(y_ticks),
        x_ticks=x_ticks,
    )
