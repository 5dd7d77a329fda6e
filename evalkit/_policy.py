"""The gate's rules, each written once: does a case pass, does a metric fail the gate,
may a judge gate.

Used by the comparison (:mod:`evalkit.comparison._compare`), the suite gate
(:mod:`evalkit.gate._decision`), assert-style checks (:mod:`evalkit.gate._assertions`),
nightly runs (:mod:`evalkit.nightly._night`), judge calibration and the config defaults.

* **A case passes a metric** when its value (the mean over the case's scored samples)
  meets the metric's threshold: at least it, or at most it when lower is better. The
  threshold is the suite's ``[[metrics]] threshold``, else the scorer's, else
  :data:`BINARY_PASS_THRESHOLD` for a binary metric; a metric without one has no per-case
  rule. An unscored value misses.
* **A metric fails the gate** (:func:`gate_failure`) when it gates and its verdict is
  ``regression``; under the ``non-inferiority`` policy also when, over all cases, the
  comparison did not show it non-inferior.
* **A judge metric may gate** only when its judge is ``calibrated``: a calibration record
  of the judge's current fingerprint with at least :data:`JUDGE_MIN_ITEMS` scored items and
  kappa of at least :data:`JUDGE_MIN_KAPPA` (:func:`judge_shortfall`); otherwise it is
  advisory.
* **A critical case** is a case tagged :data:`CRITICAL_TAG`.

Nothing here imports numpy, scipy or pandas at module level: the config reads the
defaults from here.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, cast

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    from evalkit.comparison._model import JudgeStatus, MetricComparison
    from evalkit.config._suite import GateConfig, MetricSpec
    from evalkit.data._records import MetricInfo, MetricKind

BINARY_PASS_THRESHOLD = 0.5
"""A binary metric's per-case pass threshold unless the metric sets one."""

CRITICAL_TAG = "critical"
"""The tag that makes a case critical (``gate.fail_on_critical``)."""

JUDGE_MIN_ITEMS = 50
"""Default ``gate.judge_min_n``: scored labelled items a judge needs before it may gate."""

JUDGE_MIN_KAPPA = 0.6
"""Default ``gate.judge_min_kappa``: agreement with people a judge needs before it may gate."""

_KINDS = ("binary", "continuous", "ordinal")
_JUDGE_STATUSES = ("calibrated", "uncalibrated", "stale", "not-a-judge")

GateFailure = Literal["regression", "not non-inferior"]
JudgeShortfall = Literal["too few items", "kappa too low"]


def is_critical(tags: Iterable[str]) -> bool:
    """Returns True when the case's tags make it critical."""
    return CRITICAL_TAG in tags


def pass_threshold(kind: str, spec: MetricSpec | None, info: MetricInfo | None) -> float | None:
    """Returns a metric's per-case pass threshold (module docstring), or None when it has none."""
    if spec is not None and spec.threshold is not None:
        return spec.threshold
    if info is not None and info.threshold is not None:
        return info.threshold
    if kind == "binary":
        return BINARY_PASS_THRESHOLD
    return None


@dataclass(frozen=True)
class MetricPolicy:
    """How one metric is compared and gated, resolved from spec, manifest and gate."""

    name: str
    kind: MetricKind
    higher_is_better: bool
    threshold: float | None  # per-case pass threshold (binary default 0.5)
    margin: float
    gating: bool
    judge_status: JudgeStatus
    advisory: str | None  # why this metric cannot gate, when it cannot

    def fails(self, values: npt.NDArray[np.float64]) -> npt.NDArray[np.bool_]:
        """Returns True where a scored value fails the threshold (NaN: False)."""
        import numpy as np

        from evalkit.comparison._stats import passes

        if self.threshold is None:
            return np.zeros(values.shape, dtype=bool)
        scored = ~np.isnan(values)
        return scored & ~passes(values, self.threshold, higher_is_better=self.higher_is_better)

    def miss(self, value: float | None) -> str | None:
        """Returns why one case's ``value`` misses the threshold, or None when it meets it."""
        import numpy as np

        if self.threshold is None:
            return None
        if value is None:
            return f"{self.name} unscored"
        if not bool(self.fails(np.array([value], dtype=np.float64))[0]):
            return None
        relation = "<" if self.higher_is_better else ">"
        return f"{self.name} {value:.3g} {relation} threshold {self.threshold:g}"


def metric_policy(
    name: str,
    *,
    spec: MetricSpec | None,
    info: MetricInfo | None,
    observed_kind: str | None,
    gate: GateConfig,
    judge_status: Mapping[str, str] | None,
) -> MetricPolicy:
    """Returns the metric's policy: kind, direction, threshold, margin and whether it gates.

    The suite's ``[[metrics]]`` entry (``spec``) wins over the run's MetricInfo, which wins
    over the defaults (the observed kind, higher is better, the gate's margin). A judge
    metric whose status is not ``calibrated`` is advisory; so is a metric with
    ``gate = false``.
    """
    kind: MetricKind = "continuous"
    if info:
        kind = info.kind
    elif observed_kind in _KINDS:
        kind = cast("MetricKind", observed_kind)
    higher_is_better = info.higher_is_better if info else True
    threshold = pass_threshold(kind, spec, info)
    if spec and spec.margin is not None:
        margin = spec.margin
    elif info and info.margin is not None:
        margin = info.margin
    else:
        margin = gate.margin
    status_text = (judge_status or {}).get(name)
    if status_text is None:
        status_text = "uncalibrated" if info and info.judge_fingerprint else "not-a-judge"
    status = cast("JudgeStatus", status_text if status_text in _JUDGE_STATUSES else "uncalibrated")
    advisory = None
    if status not in ("calibrated", "not-a-judge"):
        advisory = f"{name}: judge is {status}; reported, but it does not gate"
    configured = (spec.gate if spec else True) and (info.gate if info else True)
    return MetricPolicy(
        name=name,
        kind=kind,
        higher_is_better=higher_is_better,
        threshold=threshold,
        margin=float(margin),
        gating=configured and advisory is None,
        judge_status=status,
        advisory=advisory,
    )


def gate_failure(row: MetricComparison, policy: str) -> GateFailure | None:
    """Returns why a compared row fails the gate under ``policy`` (module docstring), else None.

    Slices fail only on ``regression``: a small slice can rarely show non-inferiority.
    """
    if not row.gating:
        return None
    if row.verdict == "regression":
        return "regression"
    if policy == "non-inferiority" and row.slice is None and not row.non_inferior:
        return "not non-inferior"
    return None


def judge_shortfall(
    n: int, kappa: float | None, *, min_n: int, min_kappa: float
) -> JudgeShortfall | None:
    """Returns why a judge with a current calibration record may not gate, or None when it may."""
    if n < min_n:
        return "too few items"
    if kappa is None or kappa < min_kappa:
        return "kappa too low"
    return None
