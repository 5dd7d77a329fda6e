"""Geometry of the report's hand-written inline SVG: forest plots and histograms.

Pure functions from numbers to coordinates; the template only draws what these return,
so every plot is plain SVG inside the HTML (no library, no network).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from evalkit.report._base import Tick, finite, nice_step


def _tick_label(value: float, step: float) -> str:
    decimals = max(0, -math.floor(math.log10(step))) if step < 1 else 0
    text = f"{value:+.{decimals}f}" if value else "0"
    return text


# ---------------------------------------------------------------- forest plot


@dataclass(frozen=True)
class ForestItem:
    """One row of a forest plot: a delta with its CI, in the metric's units."""

    label: str
    delta: float | None
    ci_low: float | None
    ci_high: float | None
    verdict: str
    margin: float = 0.0
    higher_is_better: bool = True
    title: str = ""


@dataclass(frozen=True)
class ForestRow:
    """One drawn row: label, y centre, point and CI x positions (None: not drawable)."""

    label: str
    y: float
    x: float | None
    x_low: float | None
    x_high: float | None
    x_margin: float | None
    verdict: str
    title: str
    value_text: str


@dataclass(frozen=True)
class ForestPlot:
    """A forest plot ready to draw: size, plot area, zero line, rows and ticks."""

    width: int
    height: int
    left: float
    right: float
    top: float
    bottom: float
    zero_x: float
    rows: tuple[ForestRow, ...]
    ticks: tuple[Tick, ...]


def _fmt_delta(item: ForestItem) -> str:
    if not finite(item.delta):
        return "n/a"
    assert item.delta is not None
    text = f"{item.delta:+.3f}"
    if finite(item.ci_low) and finite(item.ci_high):
        text += f" [{item.ci_low:+.3f}, {item.ci_high:+.3f}]"
    else:
        text += " CI n/a"  # one case or cluster, or no spread: never a zero-width interval
    return text


def forest_plot(
    items: Sequence[ForestItem],
    *,
    width: int = 760,
    label_width: int = 170,
    value_width: int = 170,
    row_height: int = 26,
) -> ForestPlot:
    """Returns the geometry of a forest plot of ``items`` on one symmetric axis around 0.

    The axis spans the largest |CI bound|, |delta| and margin with 10% air, so the zero
    line (no change) is always in the middle and the eye compares sides directly.
    """
    extent = 0.0
    for item in items:
        for value in (item.delta, item.ci_low, item.ci_high):
            if finite(value):
                assert value is not None
                extent = max(extent, abs(value))
        extent = max(extent, abs(item.margin))
    extent = extent * 1.1 if extent > 0 else 0.05
    step = nice_step(2 * extent, 6)
    extent = math.ceil(extent / step) * step
    top, axis_gap = 8.0, 26.0
    left = float(label_width)
    right = float(width - value_width)
    height = int(top + row_height * len(items) + axis_gap)
    bottom = top + row_height * len(items)

    def x_of(value: float) -> float:
        clipped = min(max(value, -extent), extent)
        return round(left + (clipped + extent) / (2 * extent) * (right - left), 2)

    rows = []
    for index, item in enumerate(items):
        y = top + row_height * index + row_height / 2
        drawable = finite(item.delta)
        has_ci = finite(item.ci_low) and finite(item.ci_high)
        margin_x = None
        if item.margin > 0:
            margin_x = x_of(-item.margin if item.higher_is_better else item.margin)
        rows.append(
            ForestRow(
                label=item.label,
                y=round(y, 2),
                x=x_of(item.delta) if drawable and item.delta is not None else None,
                x_low=x_of(item.ci_low) if has_ci and item.ci_low is not None else None,
                x_high=x_of(item.ci_high) if has_ci and item.ci_high is not None else None,
                x_margin=margin_x,
                verdict=item.verdict,
                title=item.title,
                value_text=_fmt_delta(item),
            )
        )
    ticks = []
    count = round(2 * extent / step)
    for k in range(count + 1):
        value = -extent + k * step
        if abs(value) < step / 1e6:
            value = 0.0
        ticks.append(Tick(x_of(value), _tick_label(value, step)))
    return ForestPlot(
        width=width,
        height=height,
        left=left,
        right=right,
        top=top,
        bottom=bottom,
        zero_x=x_of(0.0),
        rows=tuple(rows),
        ticks=tuple(ticks),
    )


# ---------------------------------------------------------------- histograms


@dataclass(frozen=True)
class Bar:
    """One histogram bar: rectangle, which run it belongs to and its tooltip."""

    x: float
    y: float
    w: float
    h: float
    side: str  # "baseline" | "candidate"
    title: str


@dataclass(frozen=True)
class Histogram:
    """A histogram of per-case scores (baseline and candidate overlaid side by side)."""

    metric: str
    kind: str
    width: int
    height: int
    left: float
    right: float
    bottom: float
    bars: tuple[Bar, ...]
    x_labels: tuple[Tick, ...]
    y_max_label: str
    means: tuple[tuple[str, float, str], ...]  # (side, x, title)
    n_baseline: int
    n_candidate: int
    mean_baseline: float | None = None
    mean_candidate: float | None = None


MAX_CATEGORIES = 11


def _categories(
    kind: str, values: np.ndarray, low: float | None, high: float | None
) -> list[float]:
    """Returns the values a binary/ordinal histogram shows one bar each for (empty: bin it).

    Binary scores averaged over repeated samples can be 0.5; they get their own bar
    rather than being counted as passes.
    """
    if kind not in ("binary", "ordinal"):
        return []
    found = {float(v) for v in np.unique(values)} if values.size else set()
    if kind == "binary":
        found |= {0.0, 1.0}
    elif (
        all(v == round(v) for v in found)
        and low is not None
        and high is not None
        and math.isfinite(low)
        and math.isfinite(high)
        and 0 < high - low <= MAX_CATEGORIES
    ):
        found |= {float(v) for v in range(math.ceil(low), math.floor(high) + 1)}
    return sorted(found) if len(found) <= MAX_CATEGORIES else []


def _numeric_edges(values: np.ndarray, low: float | None, high: float | None) -> np.ndarray:
    lo = float(values.min()) if values.size else 0.0
    hi = float(values.max()) if values.size else 1.0
    if low is not None and math.isfinite(low) and low <= lo:
        lo = low
    if high is not None and math.isfinite(high) and high >= hi:
        hi = high
    if hi <= lo:
        hi = lo + 1.0
    return np.linspace(lo, hi, 21)


def _edge_label(value: float) -> str:
    return f"{value:.3g}"


def histogram(
    metric: str,
    kind: str,
    baseline: Sequence[float] | None,
    candidate: Sequence[float],
    *,
    low: float | None = None,
    high: float | None = None,
    width: int = 360,
    height: int = 150,
) -> Histogram:
    """Returns a histogram of per-case scores; bar heights are shares of each run's cases.

    Binary and few-valued ordinal scores get one bar per value; continuous scores 20
    bins over the metric's range, with each run's mean marked.
    """
    cand = np.asarray([v for v in candidate if math.isfinite(v)], dtype=float)
    base = np.asarray([v for v in (baseline or []) if math.isfinite(v)], dtype=float)
    together = np.concatenate([cand, base]) if base.size else cand
    categories = _categories(kind, together, low, high)
    left, right, top, bottom = 34.0, float(width - 8), 14.0, float(height - 22)
    sides: list[tuple[str, np.ndarray]] = []
    if baseline is not None:
        sides.append(("baseline", base))
    sides.append(("candidate", cand))
    if categories:
        names = [_category_label(kind, c, categories) for c in categories]
    else:
        edges = _numeric_edges(together, low, high)
        names = [f"{_edge_label(edges[k])} to {_edge_label(edges[k + 1])}" for k in range(20)]
    shares: list[tuple[str, np.ndarray, int]] = []
    for side, values in sides:
        if categories:
            counts = np.array([np.isclose(values, c).sum() for c in categories], dtype=float)
        else:
            counts, _ = np.histogram(np.clip(values, edges[0], edges[-1]), bins=edges)
        shares.append((side, counts / max(int(values.size), 1), int(values.size)))
    y_max = max((float(s.max()) for _, s, _ in shares if s.size), default=1.0) or 1.0
    n_bins = len(names)
    slot = (right - left) / n_bins
    bar_w = (
        slot * (0.8 if len(shares) == 1 else 0.42)
        if categories
        else slot * (0.9 if len(shares) == 1 else 0.45)
    )
    pad = (slot - bar_w * len(shares)) / 2
    bars = []
    for offset, (side, share, n) in enumerate(shares):
        for k in range(n_bins):
            h = (bottom - top) * float(share[k]) / y_max
            count = round(float(share[k]) * n)
            bars.append(
                Bar(
                    x=round(left + k * slot + pad + offset * bar_w, 2),
                    y=round(bottom - h, 2),
                    w=round(bar_w, 2),
                    h=round(h, 2),
                    side=side,
                    title=f"{side}: {names[k]}: {count} of {n} cases ({float(share[k]):.0%})",
                )
            )
    means = []
    if categories:
        labels = tuple(Tick(round(left + slot * (k + 0.5), 2), names[k]) for k in range(n_bins))
    else:
        labels = (
            Tick(left, _edge_label(edges[0])),
            Tick((left + right) / 2, _edge_label((edges[0] + edges[-1]) / 2)),
            Tick(right, _edge_label(edges[-1])),
        )
        lo, hi = float(edges[0]), float(edges[-1])
        for side, values in sides:
            if values.size:
                mean = float(values.mean())
                x = round(left + (mean - lo) / (hi - lo) * (right - left), 2)
                means.append((side, x, f"{side} mean {mean:.3f}"))
    return Histogram(
        metric=metric,
        kind=kind,
        width=width,
        height=height,
        left=left,
        right=right,
        bottom=bottom,
        bars=tuple(bars),
        x_labels=labels,
        y_max_label=f"{y_max:.0%}",
        means=tuple(means),
        n_baseline=int(base.size),
        n_candidate=int(cand.size),
        mean_baseline=float(base.mean()) if base.size else None,
        mean_candidate=float(cand.mean()) if cand.size else None,
    )


def _category_label(kind: str, value: float, categories: Sequence[float]) -> str:
    if kind == "binary" and value in (0.0, 1.0):
        return "pass (1)" if value == 1.0 else "fail (0)"
    return f"{value:g}"
