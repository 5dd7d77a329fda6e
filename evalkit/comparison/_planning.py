"""Sizing a golden set from a baseline run: what the suite can detect, and what it would take.

:func:`plan_from_baseline` answers, for every metric (and tag slice) of a baseline run,
the two questions of docs/sizing.md: which drop does the gate detect with 80% power at
the suite's current size (the design-time MDE, the same figure ``evalkit compare``
reports), and how many cases would it need to detect a given drop. It compares the
baseline with itself through :func:`evalkit.comparison._compare.compare_runs`, so the columns, the
kinds, the clusters and the multiple-comparison family are exactly the gate's; the
figures come from :func:`evalkit.comparison._stats.design_mde_columns` and
:func:`evalkit.comparison._stats.design_cases_needed`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np

from evalkit.comparison import _stats as stats
from evalkit.comparison._model import Comparison, MetricComparison
from evalkit.config._suite import GateConfig, MetricSpec
from evalkit.data._records import Run


@dataclass(frozen=True)
class PlanRow:
    """One metric (or one metric within a tag slice) of a plan."""

    metric: str
    slice: str | None
    kind: str
    n_cases: int
    n_clusters: int | None  # None: cases are not clustered
    mean: float  # the pass rate for a 0/1 metric
    sd: float  # per-case SD of the baseline (sqrt(p (1 - p)) for a 0/1 metric)
    icc: float  # intra-cluster correlation (0 without clusters)
    design_effect: float
    mde: float  # design-time MDE at the current size (NaN: n/a; inf: none detectable)
    drop: float | None  # the drop asked about
    cases_needed: float | None  # cases for the MDE to equal ``drop`` (rounded up)
    clusters_needed: float | None  # the same in clusters of the current mean size


@dataclass(frozen=True)
class Plan:
    """What a suite can detect, per metric and slice, and what a given drop would take."""

    suite: str
    baseline_id: str
    alpha: float  # the gate's alpha
    correction: str
    family_size: int  # rows the gate adjusts together (metrics x slices it can test)
    mde_alpha: float  # the per-row level every figure uses (stats.family_alpha)
    power: float
    correlation: float
    rows: tuple[PlanRow, ...]

    def to_dict(self) -> dict[str, object]:
        """Returns the plan as JSON-ready data (NaN and inf as None)."""
        data = asdict(self)
        for row in data["rows"]:
            for key, value in row.items():
                if isinstance(value, float) and not math.isfinite(value):
                    row[key] = None
        return data


def _round_up(value: float) -> float:
    return float(math.ceil(value - 1e-9)) if math.isfinite(value) else value


def plan_from_baseline(
    baseline: Run,
    *,
    gate: GateConfig | None = None,
    metrics: Sequence[MetricSpec] | None = None,
    drop: float | None = None,
    power: float = stats.MDE_POWER,
    family_size: int | None = None,
) -> Plan:
    """Returns the :class:`Plan` of a baseline run under ``gate`` (docs/sizing.md).

    Args:
        baseline: the run a candidate would be compared with (e.g. the committed
            baseline file).
        gate: alpha, correction, ``mde_correlation`` and resamples as the suite's gate
            uses them (default: :class:`GateConfig` defaults).
        metrics: the suite's metric settings (default: every metric of the run).
        drop: a drop, in the metric's units (0.02 = two points of a pass rate), to size
            the golden set for; None: only the MDE at the current size.
        power: the power the figures are computed at (the gate reports 80%).
        family_size: how many rows the correction adjusts together; default the rows a
            comparison of this baseline would test (every metric overall and per tag).
    """
    gate = gate or GateConfig()
    if not 0 < power < 1:
        raise ValueError("power must be in (0, 1)")
    if drop is not None and not drop > 0:
        raise ValueError("drop must be > 0")
    comparison = _compare_with_itself(baseline, gate, metrics)
    rows = [row for row in comparison.metrics if row.n_paired > 0]
    testable = sum(1 for row in rows if math.isfinite(row.p_value))
    size = family_size if family_size is not None else testable
    mde_alpha = stats.family_alpha(gate.alpha, gate.correction, size)
    return Plan(
        suite=comparison.suite,
        baseline_id=comparison.baseline_id,
        alpha=gate.alpha,
        correction=gate.correction,
        family_size=size,
        mde_alpha=mde_alpha,
        power=power,
        correlation=gate.mde_correlation,
        rows=tuple(_plan_rows(comparison, rows, gate, mde_alpha, power, drop)),
    )


def _compare_with_itself(
    baseline: Run, gate: GateConfig, metrics: Sequence[MetricSpec] | None
) -> Comparison:
    from evalkit.comparison._compare import compare_runs

    # No critical-case rule and no unscored limit: only the columns and the MDE matter.
    quiet = gate.model_copy(update={"fail_on_critical": False, "max_unscored_share": 1.0})
    return compare_runs(baseline, baseline, gate=quiet, metrics=metrics)


def _plan_rows(
    comparison: Comparison,
    rows: Sequence[MetricComparison],
    gate: GateConfig,
    mde_alpha: float,
    power: float,
    drop: float | None,
) -> list[PlanRow]:
    out = []
    # Every column over all cases (NaN outside its slice), clustered by all the cases'
    # groups: the table compare_runs tests, so the gate's test is the same here.
    groups = [case.group for case in comparison.cases]
    for row in rows:
        values = np.array(
            [
                math.nan
                if (row.slice is not None and row.slice not in case.tags)
                or case.baseline.get(row.metric) is None
                else case.baseline[row.metric]
                for case in comparison.cases
            ],
            dtype=np.float64,
        )
        design = stats.design_mde_columns(
            values,
            kinds=[row.kind],  # type: ignore[list-item]
            groups=groups,
            higher_is_better=row.higher_is_better,
            alpha=mde_alpha,
            correlation=gate.mde_correlation,
            power=power,
            n_resamples=gate.bootstrap,
        )
        spread = design.spread
        needed = clusters = None
        if drop is not None:
            n_needed = float(stats.design_cases_needed(design, drop)[0])
            needed = _round_up(n_needed)
            if row.n_clusters is not None and math.isfinite(n_needed):
                mean_size = float(spread.n[0] / spread.n_clusters[0])
                clusters = _round_up(n_needed / mean_size)
        out.append(
            PlanRow(
                metric=row.metric,
                slice=row.slice,
                kind=row.kind,
                n_cases=int(spread.n[0]),
                n_clusters=int(spread.n_clusters[0]) if row.n_clusters is not None else None,
                mean=float(spread.mean[0]),
                sd=float(math.sqrt(spread.variance[0])),
                icc=float(spread.icc[0]),
                design_effect=float(spread.design_effect[0]),
                mde=float(design.mde[0]),
                drop=drop,
                cases_needed=needed,
                clusters_needed=clusters,
            )
        )
    return out
