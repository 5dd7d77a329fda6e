"""The Comparison contract: what ``compare(baseline, candidate)`` returns.

Plain frozen dataclasses, produced by :mod:`evalkit.comparison._compare` and consumed by the pytest
plugin, the CLI and the report. ``Comparison.to_dict()`` is the stable JSON schema printed
by ``evalkit compare --json`` (documented in docs/comparison-schema.md).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from evalkit.util._format import finite_or_none, json_safe

Verdict = Literal["regression", "improvement", "no-change", "inconclusive"]
JudgeStatus = Literal["calibrated", "uncalibrated", "stale", "not-a-judge"]
SCHEMA_VERSION = 1


NOT_AVAILABLE = "n/a"


def interval_text(low: float | None, high: float | None, *, digits: int = 3) -> str:
    """Returns '[+a, +b]', or 'n/a' when the interval could not be estimated (NaN/None)."""
    if low is None or high is None or not (math.isfinite(low) and math.isfinite(high)):
        return NOT_AVAILABLE
    return f"[{low:+.{digits}g}, {high:+.{digits}g}]"


def mde_text(value: float | None, *, digits: int = 3) -> str:
    """Returns an MDE as text: 'n/a' when it cannot be estimated, 'inf' when no drop shows."""
    if value is None or math.isnan(value):
        return NOT_AVAILABLE
    return "inf" if math.isinf(value) else f"{value:.{digits}g}"


@dataclass(frozen=True)
class MetricComparison:
    """One metric (optionally within one tag slice): estimates, paired test and verdict."""

    metric: str
    kind: str  # binary | continuous | ordinal
    slice: str | None  # None: all cases; else a tag
    higher_is_better: bool
    n_paired: int  # cases scored on both sides (after averaging samples)
    baseline_mean: float
    candidate_mean: float
    delta: float  # candidate - baseline, in the metric's units
    ci_low: float
    ci_high: float
    p_value: float  # one-sided, for "candidate worse"; see test
    q_value: float  # multiplicity-adjusted p (BH by default) across metrics and slices
    p_value_two_sided: float
    test: str  # e.g. "mcnemar-exact", "wilcoxon", "permutation", "cluster-bootstrap"
    mde: float  # design-time minimum detectable effect (80% power; see docs/sizing.md)
    margin: float
    non_inferior: bool  # candidate shown no worse than baseline - margin
    verdict: Verdict
    gating: bool  # whether this metric can fail the gate
    reason: str = ""  # why inconclusive / advisory, etc.
    n_unscored_baseline: int = 0
    n_unscored_candidate: int = 0
    n_clusters: int | None = None
    flips_to_fail: int = 0  # binary: passed in baseline, fails now
    flips_to_pass: int = 0
    judge_status: JudgeStatus = "not-a-judge"
    mde_observed: float = math.nan  # MDE at this comparison's observed noise (never alone)
    mde_alpha: float = math.nan  # per-row level both MDEs use (alpha / rows under BH, Holm)
    mde_correlation: float = math.nan  # assumed baseline-candidate correlation of the MDE


@dataclass(frozen=True)
class CaseDiff:
    """One case: its per-metric baseline/candidate values and whether it flipped."""

    case_id: str
    tags: tuple[str, ...]
    group: str | None
    baseline: dict[str, float | None]  # metric -> mean over samples (None: unscored/missing)
    candidate: dict[str, float | None]
    delta: dict[str, float | None]
    flipped: dict[str, str]  # metric -> "to-fail" | "to-pass" (binary / thresholded)
    critical_failed: bool = False
    known_failure: bool = False  # in the baseline, and failed there every metric it fails now
    flaky: dict[str, float] = field(default_factory=dict)  # metric -> within-case sample sd


@dataclass(frozen=True)
class GateResult:
    """The gate's decision and every reason for it."""

    passed: bool
    policy: str  # "regression" | "non-inferiority"
    alpha: float
    reasons: tuple[str, ...]  # human-readable, one per failing metric / critical case
    advisory: tuple[str, ...] = ()  # metrics that could not gate (uncalibrated judge, ...)
    error: str | None = None  # infrastructure problem: too many unscored, etc.
    #: Critical cases failing in the candidate that failed in the baseline too: warnings.
    known_failures: tuple[str, ...] = ()


@dataclass(frozen=True)
class Comparison:
    """Baseline vs candidate on the same case ids."""

    suite: str
    baseline_id: str
    candidate_id: str
    metrics: tuple[MetricComparison, ...]  # overall (slice None) then slices
    cases: tuple[CaseDiff, ...]
    gate: GateResult
    added_cases: tuple[str, ...] = ()  # in candidate only: not in paired tests
    removed_cases: tuple[str, ...] = ()  # in baseline only
    warnings: tuple[str, ...] = ()  # e.g. golden fingerprint changed
    baseline_manifest: dict[str, Any] = field(default_factory=dict)
    candidate_manifest: dict[str, Any] = field(default_factory=dict)

    def overall(self) -> list[MetricComparison]:
        """Returns the per-metric rows over all cases (no slice)."""
        return [m for m in self.metrics if m.slice is None]

    def to_dict(self) -> dict[str, Any]:
        """Returns the comparison as JSON-ready data (schema_version 1).

        The same data as ``json_safe(dataclasses.asdict(self))`` (a test checks it), built
        field by field: ``asdict`` deep-copies every value and took 23 s for 100,000 cases.
        """
        data: dict[str, Any] = {}
        for name in self.__dataclass_fields__:
            value = getattr(self, name)
            if name == "cases":
                data[name] = [_case_dict(case) for case in value]
            elif name == "metrics":
                data[name] = [json_safe(asdict(metric)) for metric in value]
            else:
                data[name] = json_safe(asdict(value) if name == "gate" else value)
        data["schema_version"] = SCHEMA_VERSION
        return data


def _case_dict(case: CaseDiff) -> dict[str, Any]:
    """Returns one CaseDiff as JSON-ready data (flat maps of numbers: no deep copy)."""
    return {
        "case_id": case.case_id,
        "tags": list(case.tags),
        "group": case.group,
        "baseline": {k: finite_or_none(v) for k, v in case.baseline.items()},
        "candidate": {k: finite_or_none(v) for k, v in case.candidate.items()},
        "delta": {k: finite_or_none(v) for k, v in case.delta.items()},
        "flipped": dict(case.flipped),
        "critical_failed": case.critical_failed,
        "known_failure": case.known_failure,
        "flaky": {k: finite_or_none(v) for k, v in case.flaky.items()},
    }
