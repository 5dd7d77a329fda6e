"""Judge calibration: agreement with people, corrected estimates and the gate's decision.

Pure functions over arrays (0/1 for binary judges), plus the stored calibration record.

* :func:`agreement` — accuracy, Cohen's kappa (quadratic-weighted for ordinal scales),
  Krippendorff's alpha judge-vs-people and people-vs-people, Spearman, mean bias,
  confusion matrix, sensitivity/specificity (binary), position-flip rate (pairwise);
  every figure with a seeded percentile-bootstrap CI over items.
* :func:`corrected_rate` — the Rogan–Gladen misclassification-corrected pass rate of a
  run, from the judge's sensitivity and specificity on a separate labelled set, with a
  delta-method CI that carries the calibration set's uncertainty.
* :func:`ppi_mean` — the prediction-powered (PPI++) mean when people labelled a random
  subset of the same run's outputs.
* :func:`corrected_mean_ordinal` — an ordinal judge's scores mapped onto the people's
  scale by isotonic regression.
* :func:`fit_mapping` / :func:`cross_fitted_verdicts` — the fitted mapping from a
  pass/fail judge's score (P(pass) from log-probabilities, a cosine, or the sampled
  verdict) to a verdict: a kappa-maximising threshold, isotonic regression or Platt
  scaling (scikit-learn), and its verdicts out of fold (K-fold cross-fitting), so the
  agreement a record states was measured on items the mapping was not fitted on.
* :func:`judge_gate_status` — ``calibrated``, ``uncalibrated`` or ``stale``: whether a
  judge metric may gate a build (compare and the pytest plugin call this).

Heavy libraries (scikit-learn, scipy, krippendorff, ppi_py) are imported inside the
functions that use them.
"""

from __future__ import annotations

import json
import math
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, NamedTuple, Protocol

import numpy as np
from numpy.typing import ArrayLike, NDArray
from pydantic import BaseModel, ConfigDict, Field

from evalkit._policy import JUDGE_MIN_ITEMS, JUDGE_MIN_KAPPA, judge_shortfall
from evalkit.errors import InvalidInputError, Problem
from evalkit.judging._labelled_sets import LabelValue, Scale
from evalkit.util._format import finite_or_none, json_safe

GateState = Literal["calibrated", "uncalibrated", "stale"]
FloatArray = NDArray[np.float64]

RECORD_SCHEMA_VERSION = 2
FitMethod = Literal["threshold", "isotonic", "platt"]
FIT_METHODS: tuple[FitMethod, ...] = ("threshold", "isotonic", "platt")

#: Numeric codes of categorical labels: pass=1/fail=0; pairwise a=+1, tie=0, b=-1
#: (so a positive mean bias of a pairwise judge is a preference for the first answer).
BINARY_CODES: Mapping[LabelValue, float] = {"pass": 1.0, "fail": 0.0}
PAIRWISE_CODES: Mapping[LabelValue, float] = {"a": 1.0, "tie": 0.0, "b": -1.0}


# ---------------------------------------------------------------- results


class Figure(BaseModel):
    """One agreement figure with its bootstrap CI; None where it is undefined."""

    model_config = ConfigDict(frozen=True)

    value: float | None
    ci_low: float | None = None
    ci_high: float | None = None

    def text(self, digits: int = 2) -> str:
        """Returns ``value [low, high]`` for a terminal, or ``n/a``."""
        if self.value is None:
            return "n/a"
        out = f"{self.value:.{digits}f}"
        if self.ci_low is not None and self.ci_high is not None:
            out += f" [{self.ci_low:.{digits}f}, {self.ci_high:.{digits}f}]"
        return out


class Confusion(BaseModel):
    """A confusion matrix: rows are people's (consensus) labels, columns the judge's."""

    model_config = ConfigDict(frozen=True)

    labels: list[LabelValue]
    counts: list[list[int]]


class Agreement(BaseModel):
    """Agreement of a judge with people's labels on one labelled set."""

    model_config = ConfigDict(frozen=True)

    scale: Scale
    n: int
    figures: dict[str, Figure]
    confusion: Confusion
    kappa_weights: Literal["none", "quadratic"] = "none"


@dataclass(frozen=True, kw_only=True)
class Estimate:
    """A point estimate with a two-sided ``1 - alpha`` confidence interval."""

    estimate: float
    ci_low: float
    ci_high: float
    method: str
    note: str = ""


@dataclass(frozen=True, kw_only=True)
class CorrectedRate(Estimate):
    """A misclassification-corrected pass rate (Rogan–Gladen) and what it came from."""

    raw: float
    sensitivity: float
    specificity: float
    n_run: int
    n_calibration_pass: int
    n_calibration_fail: int


@dataclass(frozen=True, kw_only=True)
class PPIMean(Estimate):
    """A prediction-powered mean and the sizes it came from."""

    raw: float
    n_labelled: int
    n_unlabelled: int


@dataclass(frozen=True, kw_only=True)
class CorrectedMean(Estimate):
    """An ordinal judge's mean mapped onto the people's scale."""

    raw: float
    n_run: int
    n_calibration: int


# ---------------------------------------------------------------- helpers


def _z(alpha: float) -> float:
    from scipy.stats import norm

    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")
    return float(norm.ppf(1 - alpha / 2))


def _binary_array(values: ArrayLike, name: str) -> FloatArray:
    array = np.asarray(values, dtype=np.float64).ravel()
    if array.size == 0:
        raise ValueError(f"{name} is empty")
    if not np.all((array == 0) | (array == 1)):
        raise ValueError(f"{name} must hold only 0 and 1")
    return array


def encode(values: Sequence[LabelValue | None], scale: Scale) -> FloatArray:
    """Returns labels as numbers (pass=1, fail=0; a=+1, tie=0, b=-1; ordinals as is)."""
    codes: Mapping[LabelValue, float] | None = (
        BINARY_CODES if scale == "binary" else PAIRWISE_CODES if scale == "pairwise" else None
    )
    out = np.empty(len(values), dtype=np.float64)
    for index, value in enumerate(values):
        if value is None:
            out[index] = np.nan
        elif codes is not None:
            out[index] = codes[value]
        else:
            out[index] = float(value)
    return out


def ratings_table(ratings: Sequence[Mapping[str, LabelValue]], scale: Scale) -> FloatArray:
    """Returns a raters x items matrix of label codes, NaN where a rater gave no label.

    Raters are rows in order of first appearance; this is the ``reliability_data`` layout
    of :func:`krippendorff.alpha`.
    """
    raters: dict[str, int] = {}
    for item in ratings:
        for rater in item:
            raters.setdefault(rater, len(raters))
    table = np.full((len(raters), len(ratings)), np.nan)
    for column, item in enumerate(ratings):
        for rater, value in item.items():
            table[raters[rater], column] = encode([value], scale)[0]
    return table


# ---------------------------------------------------------------- agreement


def _percentile_ci(samples: FloatArray, alpha: float) -> tuple[float | None, float | None]:
    finite = samples[np.isfinite(samples)]
    # A figure undefined in most resamples (e.g. kappa with one class) has no CI.
    if finite.size < max(10, samples.size // 2):
        return None, None
    low, high = np.percentile(finite, [100 * alpha / 2, 100 * (1 - alpha / 2)])
    return float(low), float(high)


def _figure(value: float, draws: FloatArray, alpha: float) -> Figure:
    if finite_or_none(value) is None:
        return Figure(value=None)
    low, high = _percentile_ci(draws, alpha)
    return Figure(value=float(value), ci_low=low, ci_high=high)


def contingency_tables(
    people: NDArray[np.intp], judge: NDArray[np.intp], k: int, resamples: NDArray[np.intp]
) -> NDArray[np.float64]:
    """Returns one k x k table (rows people, columns judge) per row of ``resamples``."""
    draws = resamples.shape[0]
    cells = people[resamples] * k + judge[resamples] + (np.arange(draws) * k * k)[:, None]
    return np.bincount(cells.ravel(), minlength=draws * k * k).reshape(draws, k, k).astype(float)


def kappa_from_tables(tables: NDArray[np.float64], *, quadratic: bool) -> FloatArray:
    """Returns Cohen's kappa of each k x k table (NaN where undefined).

    The same computation as ``sklearn.metrics.cohen_kappa_score`` (observed vs expected
    weighted disagreement), vectorised over bootstrap tables; the point estimate itself
    is computed by scikit-learn, and a test pins the two together.
    """
    k = tables.shape[-1]
    index = np.arange(k)
    weights = (index[:, None] - index[None, :]).astype(float) ** 2 if quadratic else 1.0 - np.eye(k)
    total = tables.sum(axis=(1, 2))
    expected = (
        np.einsum("bi,bj->bij", tables.sum(axis=2), tables.sum(axis=1)) / total[:, None, None]
    )
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = (weights * tables).sum(axis=(1, 2)) / (weights * expected).sum(axis=(1, 2))
    return np.asarray(1.0 - ratio, dtype=np.float64)


def agreement(
    judge: Sequence[LabelValue],
    people: Sequence[LabelValue],
    *,
    scale: Scale,
    categories: Sequence[LabelValue],
    ratings: Sequence[Mapping[str, LabelValue]] | None = None,
    flips: Sequence[bool] | None = None,
    n_boot: int = 2000,
    alpha: float = 0.05,
    seed: int = 0,
) -> Agreement:
    """Returns the judge's agreement with people's labels, each figure with a bootstrap CI.

    Args:
        judge: the judge's label of each item (items it could not score left out).
        people: the people's consensus label of the same items (see
            :meth:`evalkit.judging._labelled_sets.LabelledItem.consensus`).
        scale: ``binary`` (pass/fail), ``ordinal`` (integers) or ``pairwise`` (a/b/tie).
        categories: every label on the scale, in order (the confusion matrix's order).
        ratings: per item, every rater's label; gives people-vs-people Krippendorff's
            alpha (the ceiling a judge can reach) when some item has two or more raters.
        flips: per item, True when the pairwise judge changed its verdict after the two
            answers were swapped; gives the position-flip rate.
        n_boot: bootstrap resamples of the items (percentile CIs).
        alpha: 1 - the CIs' coverage.
        seed: the bootstrap's seed.

    Figures (keys of ``figures``): ``accuracy``; ``kappa`` (Cohen 1960, scikit-learn;
    quadratic-weighted for ordinal scales); ``alpha`` (Krippendorff, judge vs consensus,
    the ``krippendorff`` package; nominal, or ordinal for ordinal scales);
    ``alpha_people``; ``spearman`` (scipy); ``mean_bias`` (judge minus people, in label
    codes: pass=1/fail=0, a=+1/tie=0/b=-1); ``sensitivity`` and ``specificity`` (binary,
    "pass" is positive); ``flip_rate`` (pairwise). A figure undefined on the data (kappa
    when everyone used one label) is None. The CIs are percentile bootstrap intervals
    over items; all figures share the same resamples.
    """
    import krippendorff
    from scipy.stats import spearmanr
    from sklearn.metrics import cohen_kappa_score, confusion_matrix

    if len(judge) != len(people):
        raise ValueError(f"judge has {len(judge)} labels and people {len(people)}")
    n = len(judge)
    if n == 0:
        raise ValueError("no items to compare: the judge scored none of them")
    order = list(categories)
    position = {value: index for index, value in enumerate(order)}
    unknown = {v for v in [*judge, *people] if v not in position}
    if unknown:
        raise ValueError(f"labels {sorted(map(str, unknown))} are not in categories {order}")
    j = encode(list(judge), scale)
    p = encode(list(people), scale)
    j_index = np.array([position[v] for v in judge], dtype=np.intp)
    p_index = np.array([position[v] for v in people], dtype=np.intp)
    k = len(order)
    quadratic = scale == "ordinal"
    level = "ordinal" if quadratic else "nominal"
    domain = encode(order, scale)
    rng = np.random.default_rng(seed)
    resamples = rng.integers(0, n, size=(n_boot, n))
    full = np.arange(n)[None, :]

    def by_table(function: Callable[[NDArray[np.float64]], FloatArray]) -> Figure:
        with np.errstate(all="ignore"):
            value = float(function(contingency_tables(p_index, j_index, k, full))[0])
            draws = function(contingency_tables(p_index, j_index, k, resamples))
        return _figure(value, draws, alpha)

    def by_library(function: Callable[[NDArray[np.intp]], float]) -> Figure:
        def safe(index: NDArray[np.intp]) -> float:
            with warnings.catch_warnings(), np.errstate(all="ignore"):
                warnings.simplefilter("ignore")
                try:
                    return float(function(index))
                except (ValueError, ZeroDivisionError):  # e.g. one value in a resample
                    return math.nan

        draws = np.array([safe(index) for index in resamples], dtype=np.float64)
        return _figure(safe(np.arange(n)), draws, alpha)

    def diagonal_share(tables: NDArray[np.float64]) -> FloatArray:
        return np.asarray(
            np.trace(tables, axis1=1, axis2=2) / tables.sum(axis=(1, 2)), dtype=np.float64
        )

    def mean_bias(tables: NDArray[np.float64]) -> FloatArray:
        difference = domain[None, :] - domain[:, None]  # judge code minus people code
        return np.asarray((tables * difference).sum(axis=(1, 2)) / n, dtype=np.float64)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        kappa_value = float(
            cohen_kappa_score(p, j, labels=domain, weights="quadratic" if quadratic else None)
        )
    with np.errstate(all="ignore"):
        kappa_draws = kappa_from_tables(
            contingency_tables(p_index, j_index, k, resamples), quadratic=quadratic
        )

    figures: dict[str, Figure] = {
        "accuracy": by_table(diagonal_share),
        "kappa": _figure(kappa_value, kappa_draws, alpha),
        "alpha": by_library(
            lambda index: krippendorff.alpha(
                reliability_data=np.vstack([j[index], p[index]]),
                level_of_measurement=level,
                value_domain=domain,
            )
        ),
        "spearman": by_library(lambda index: spearmanr(j[index], p[index]).statistic),
        "mean_bias": by_table(mean_bias),
    }
    if scale == "binary":
        fail, passed = position["fail"], position["pass"]
        figures["sensitivity"] = by_table(
            lambda t: t[:, passed, passed] / t[:, passed, :].sum(axis=1)
        )
        figures["specificity"] = by_table(lambda t: t[:, fail, fail] / t[:, fail, :].sum(axis=1))
    if ratings is not None:
        if len(ratings) != n:
            raise ValueError(f"ratings has {len(ratings)} items for {n}")
        table = ratings_table(ratings, scale)
        multi = int(np.sum(np.sum(~np.isnan(table), axis=0) >= 2))
        if table.shape[0] >= 2 and multi >= 2:
            figures["alpha_people"] = by_library(
                lambda index: krippendorff.alpha(
                    reliability_data=table[:, index],
                    level_of_measurement=level,
                    value_domain=domain,
                )
            )
    if flips is not None:
        flip = np.asarray(flips, dtype=np.float64)
        if flip.size != n:
            raise ValueError(f"flips has {flip.size} entries for {n} items")
        figures["flip_rate"] = _figure(float(flip.mean()), flip[resamples].mean(axis=1), alpha)
    counts = confusion_matrix(p, j, labels=domain)
    return Agreement(
        scale=scale,
        n=n,
        figures=figures,
        confusion=Confusion(labels=order, counts=counts.astype(int).tolist()),
        kappa_weights="quadratic" if quadratic else "none",
    )


# ---------------------------------------------------------------- corrected estimates


def naive_rate(judge_run: ArrayLike, *, alpha: float = 0.05) -> Estimate:
    """Returns the judge's raw pass rate with a Wald CI that trusts the judge blindly.

    This is what a report shows without calibration: its CI covers the judge's own
    positive rate, not the true pass rate, whenever the judge errs.
    """
    values = _binary_array(judge_run, "judge_run")
    rate = float(values.mean())
    half = _z(alpha) * math.sqrt(rate * (1 - rate) / values.size)
    return Estimate(
        estimate=rate,
        ci_low=max(0.0, rate - half),
        ci_high=min(1.0, rate + half),
        method="naive Wald",
    )


def corrected_rate(
    judge_run: ArrayLike,
    judge_calibration: ArrayLike,
    human_calibration: ArrayLike,
    *,
    alpha: float = 0.05,
) -> CorrectedRate:
    """Returns the run's misclassification-corrected pass rate (Rogan & Gladen 1978).

    The judge's sensitivity ``Se`` and specificity ``Sp`` are estimated on a separate
    labelled calibration set; with ``p`` the judge's pass rate on the run, the corrected
    rate is ``(p + Sp - 1) / (Se + Sp - 1)`` (Rogan WJ, Gladen B. "Estimating prevalence
    from the results of a screening test." Am J Epidemiol 1978;107(1):71-76).

    The CI is a delta-method (Wald) interval whose variance adds the run's binomial
    variance and the calibration set's uncertainty in ``Se`` and ``Sp``::

        Var = [p(1-p)/n + pi^2 Se(1-Se)/n_pass + (1-pi)^2 Sp(1-Sp)/n_fail] / (Se+Sp-1)^2

    (Greenland 1996, "Basic methods for sensitivity analysis of biases"; the form used
    by Lang & Reiczigel 2014). The estimate and the interval are clipped to [0, 1]. The
    calibration set must come from the same kind of outputs: the correction assumes the
    judge errs on the run as it erred on the calibration set.

    Args:
        judge_run: the judge's 0/1 verdicts on the run's outputs.
        judge_calibration: the judge's 0/1 verdicts on the labelled calibration items.
        human_calibration: people's 0/1 labels of the same calibration items.
        alpha: 1 - the CI's coverage.

    When the judge is no better than chance on the calibration set (``Se + Sp <= 1``)
    the correction is undefined: the estimate is NaN and the CI is [0, 1].
    """
    run = _binary_array(judge_run, "judge_run")
    judged = _binary_array(judge_calibration, "judge_calibration")
    human = _binary_array(human_calibration, "human_calibration")
    if judged.size != human.size:
        raise ValueError(
            f"judge_calibration has {judged.size} items and human_calibration {human.size}"
        )
    positives, negatives = human == 1, human == 0
    n_pass, n_fail = int(positives.sum()), int(negatives.sum())
    if n_pass == 0 or n_fail == 0:
        raise ValueError(
            "the calibration set needs items people passed and items they failed "
            f"(it has {n_pass} passed and {n_fail} failed)"
        )
    raw = float(run.mean())
    sensitivity = float(judged[positives].mean())
    specificity = float(1 - judged[negatives].mean())
    youden = sensitivity + specificity - 1
    common = {
        "raw": raw,
        "sensitivity": sensitivity,
        "specificity": specificity,
        "n_run": int(run.size),
        "n_calibration_pass": n_pass,
        "n_calibration_fail": n_fail,
        "method": "Rogan-Gladen, delta-method CI",
    }
    if youden <= 0:
        return CorrectedRate(
            estimate=math.nan,
            ci_low=0.0,
            ci_high=1.0,
            note=f"the judge is no better than chance (Se + Sp - 1 = {youden:.2f}); "
            "the corrected rate is undefined",
            **common,  # type: ignore[arg-type]
        )
    corrected = (raw + specificity - 1) / youden
    variance = (
        raw * (1 - raw) / run.size
        + corrected**2 * sensitivity * (1 - sensitivity) / n_pass
        + (1 - corrected) ** 2 * specificity * (1 - specificity) / n_fail
    ) / youden**2
    half = _z(alpha) * math.sqrt(variance)
    clipped = min(1.0, max(0.0, corrected))
    note = "" if clipped == corrected else f"raw correction {corrected:.3f} clipped to [0, 1]"
    return CorrectedRate(
        estimate=clipped,
        ci_low=max(0.0, corrected - half),
        ci_high=min(1.0, corrected + half),
        note=note,
        **common,  # type: ignore[arg-type]
    )


def _multiset_difference(whole: FloatArray, part: FloatArray) -> FloatArray:
    """Returns ``whole`` with one occurrence of each value of ``part`` removed."""
    values, counts = np.unique(whole, return_counts=True)
    removed_values, removed_counts = np.unique(part, return_counts=True)
    positions = np.searchsorted(values, removed_values)
    positions = np.clip(positions, 0, max(values.size - 1, 0))
    found = values.size > 0 and np.array_equal(values[positions], removed_values)
    if not found or np.any(counts[positions] < removed_counts):
        raise ValueError(
            "judge_labelled is not a subset of judge_all; pass labelled_included=False "
            "if judge_all holds only the outputs people did not label"
        )
    remaining = counts.copy()
    remaining[positions] -= removed_counts
    return np.repeat(values, remaining)


def ppi_mean(
    judge_all: ArrayLike,
    judge_labelled: ArrayLike,
    human_labelled: ArrayLike,
    *,
    alpha: float = 0.05,
    labelled_included: bool = True,
) -> PPIMean:
    """Returns the prediction-powered (PPI++) mean of people's labels over the run.

    People labelled a random subset of the run's outputs; the judge scored all of them.
    The estimate is the judge's mean on the unlabelled outputs plus a rectifier
    (people minus judge on the labelled ones), with the power-tuning weight of PPI++
    (Angelopoulos, Duchi, Zrnic 2023, "PPI++: Efficient Prediction-Powered Inference";
    Angelopoulos et al. 2023, "Prediction-powered inference", Science 382:669). Computed
    by ``ppi_py.ppi_mean_ci`` / ``ppi_mean_pointestimate``. The CI is never worse than the
    classical CI from the labelled subset alone (the tuned weight can be 0).

    Args:
        judge_all: the judge's scores on every output of the run.
        judge_labelled: the judge's scores on the outputs people labelled.
        human_labelled: people's labels of those outputs (same order).
        alpha: 1 - the CI's coverage.
        labelled_included: True (default) when ``judge_all`` includes the labelled
            outputs; they are then removed from it (as a multiset of values, which is
            all the estimator needs) so labelled and unlabelled outputs are disjoint.
    """
    import ppi_py

    everything = np.asarray(judge_all, dtype=np.float64).ravel()
    judged = np.asarray(judge_labelled, dtype=np.float64).ravel()
    human = np.asarray(human_labelled, dtype=np.float64).ravel()
    if judged.size != human.size:
        raise ValueError(f"judge_labelled has {judged.size} items and human_labelled {human.size}")
    if judged.size < 2:
        raise ValueError("ppi_mean needs at least 2 labelled outputs")
    for name, array in (("judge_all", everything), ("judge_labelled", judged), ("human", human)):
        if not np.all(np.isfinite(array)):
            raise ValueError(f"{name} has missing values; drop unscored outputs first")
    unlabelled = _multiset_difference(everything, judged) if labelled_included else everything
    if unlabelled.size == 0:
        raise ValueError("every output is labelled: use the people's mean directly")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        estimate = float(np.ravel(ppi_py.ppi_mean_pointestimate(human, judged, unlabelled))[0])
        low, high = ppi_py.ppi_mean_ci(human, judged, unlabelled, alpha=alpha)
    return PPIMean(
        estimate=estimate,
        ci_low=float(np.ravel(low)[0]),
        ci_high=float(np.ravel(high)[0]),
        method="PPI++ (ppi_py.ppi_mean_ci, power-tuned)",
        raw=float(everything.mean()),
        n_labelled=int(judged.size),
        n_unlabelled=int(unlabelled.size),
    )


def corrected_mean_ordinal(
    judge_run: ArrayLike,
    judge_calibration: ArrayLike,
    human_calibration: ArrayLike,
    *,
    alpha: float = 0.05,
    n_boot: int = 2000,
    seed: int = 0,
) -> CorrectedMean:
    """Returns an ordinal judge's mean on the run mapped onto the people's scale.

    An isotonic (monotone) regression of people's score on the judge's score, fitted on
    the labelled calibration set (scikit-learn ``IsotonicRegression``), maps each run
    score onto the people's scale. The CI is a percentile bootstrap that resamples both
    the run and the calibration set (refitting the mapping each time), so it carries the
    calibration set's uncertainty.
    """
    from sklearn.isotonic import IsotonicRegression

    run = np.asarray(judge_run, dtype=np.float64).ravel()
    judged = np.asarray(judge_calibration, dtype=np.float64).ravel()
    human = np.asarray(human_calibration, dtype=np.float64).ravel()
    if judged.size != human.size or judged.size < 2 or run.size == 0:
        raise ValueError("need a non-empty run and >= 2 paired calibration items")

    def mapped_mean(run_sample: FloatArray, cal_judge: FloatArray, cal_human: FloatArray) -> float:
        model = IsotonicRegression(increasing=True, out_of_bounds="clip")
        model.fit(cal_judge, cal_human)
        return float(np.mean(model.predict(run_sample)))

    estimate = mapped_mean(run, judged, human)
    rng = np.random.default_rng(seed)
    draws = np.empty(n_boot)
    for index in range(n_boot):
        run_index = rng.integers(0, run.size, run.size)
        cal_index = rng.integers(0, judged.size, judged.size)
        draws[index] = mapped_mean(run[run_index], judged[cal_index], human[cal_index])
    low, high = np.percentile(draws, [100 * alpha / 2, 100 * (1 - alpha / 2)])
    return CorrectedMean(
        estimate=estimate,
        ci_low=float(low),
        ci_high=float(high),
        method="isotonic mapping, bootstrap over run and calibration set",
        raw=float(run.mean()),
        n_run=int(run.size),
        n_calibration=int(judged.size),
    )


# ---------------------------------------------------------------- fitted mappings


class ScoreMapping(BaseModel):
    """A fitted mapping from a pass/fail judge's score to its verdict.

    ``threshold``: pass when the score is at least ``threshold``. ``isotonic``: the
    isotonic regression of people's label on the score (knots ``x``/``y``, clipped at the
    ends) estimates P(people pass); ``platt``: the logistic ``1 / (1 + exp(-(coef * score
    + intercept)))`` does. Both pass when that estimate is at least 0.5; being monotone,
    they too amount to a threshold on the score, stored as ``threshold`` for reading.
    """

    model_config = ConfigDict(frozen=True)

    method: FitMethod
    threshold: float
    score: str = Field(description="what the score is: P(pass), cosine, sampled verdict")
    x: list[float] = Field(default_factory=list)
    y: list[float] = Field(default_factory=list)
    coef: float | None = None
    intercept: float | None = None

    def probability(self, scores: ArrayLike) -> FloatArray | None:
        """Returns the estimated P(people pass) per score (isotonic, Platt), else None."""
        values = np.asarray(scores, dtype=np.float64)
        if self.method == "isotonic":
            return np.asarray(np.interp(values, self.x, self.y), dtype=np.float64)
        if self.method == "platt":
            assert self.coef is not None and self.intercept is not None
            with np.errstate(over="ignore"):
                return np.asarray(
                    1.0 / (1.0 + np.exp(-(self.coef * values + self.intercept))), dtype=np.float64
                )
        return None

    def verdicts(self, scores: ArrayLike) -> FloatArray:
        """Returns the verdict (1 pass, 0 fail) of each score."""
        values = np.asarray(scores, dtype=np.float64)
        probability = self.probability(values)
        if probability is None:
            return (values >= self.threshold).astype(np.float64)
        return (probability >= 0.5).astype(np.float64)

    def verdict(self, score: float) -> float:
        """Returns the verdict (1.0 pass, 0.0 fail) of one score."""
        return float(self.verdicts(np.array([score]))[0])

    def describe(self) -> str:
        """Returns the mapping in a few words, e.g. ``P(pass) >= 0.27 (threshold)``."""
        return f"{self.score} >= {self.threshold:.3g} ({self.method})"


def calibrated_fingerprint(judge_fingerprint: str, mapping: ScoreMapping | None) -> str:
    """Returns the fingerprint of a judge whose verdicts go through ``mapping``.

    Without a mapping it is the judge's own fingerprint; with one, a hash of both, so a
    new mapping makes the records and runs of the old one stale.
    """
    from evalkit.util._fingerprint import fingerprint_json

    if mapping is None:
        return judge_fingerprint
    return fingerprint_json(
        {"judge": judge_fingerprint, "mapping": mapping.model_dump(mode="json")}
    )


def _kappa_by_threshold(
    scores: FloatArray, people: FloatArray, thresholds: FloatArray
) -> FloatArray:
    """Returns Cohen's kappa of the verdicts ``scores >= t`` for each threshold ``t``."""
    verdict = scores[None, :] >= thresholds[:, None]
    n = scores.size
    positive = people == 1
    tp = (verdict & positive).sum(axis=1)
    tn = (~verdict & ~positive).sum(axis=1)
    judged_pass = verdict.sum(axis=1)
    observed = (tp + tn) / n
    people_pass = positive.sum() / n
    expected = (judged_pass / n) * people_pass + (1 - judged_pass / n) * (1 - people_pass)
    with np.errstate(divide="ignore", invalid="ignore"):
        kappa = (observed - expected) / (1 - expected)
    return np.asarray(np.where(np.isfinite(kappa), kappa, 0.0), dtype=np.float64)


def fit_mapping(
    scores: ArrayLike, people: ArrayLike, *, method: FitMethod = "threshold", score: str = ""
) -> ScoreMapping:
    """Returns the mapping from judge scores to verdicts fitted to people's 0/1 labels.

    ``threshold`` chooses the cut that maximises Cohen's kappa with people on the given
    items (the figure the gate reads; among equally good cuts, the middle one).
    ``isotonic`` fits scikit-learn's ``IsotonicRegression`` (increasing, clipped to
    [0, 1]); ``platt`` a logistic regression of the label on the score
    (Platt 1999). A judge without signal gets a mapping that agrees with people no
    better than chance; the out-of-fold figures show it.

    Raises:
        ValueError: empty or mismatched arrays, labels other than 0/1, or one class only.
    """
    values = np.asarray(scores, dtype=np.float64).ravel()
    labels = _binary_array(people, "people")
    if values.size != labels.size:
        raise ValueError(f"scores has {values.size} items and people {labels.size}")
    if not np.all(np.isfinite(values)):
        raise ValueError("scores has missing values; leave unscored items out")
    if labels.min() == labels.max():
        raise ValueError("fitting a mapping needs items people passed and items they failed")
    unique = np.unique(values)
    cuts = np.concatenate([[unique[0] - 1.0], (unique[:-1] + unique[1:]) / 2, [unique[-1] + 1.0]])
    if method == "threshold":
        kappas = _kappa_by_threshold(values, labels, cuts)
        best = np.flatnonzero(kappas >= kappas.max() - 1e-12)
        return ScoreMapping(
            method="threshold", threshold=float(cuts[best[len(best) // 2]]), score=score
        )
    if method == "isotonic":
        from sklearn.isotonic import IsotonicRegression

        model = IsotonicRegression(increasing=True, y_min=0.0, y_max=1.0, out_of_bounds="clip")
        model.fit(values, labels)
        mapping = ScoreMapping(
            method="isotonic",
            threshold=0.0,
            score=score,
            x=[float(v) for v in model.X_thresholds_],
            y=[float(v) for v in model.y_thresholds_],
        )
    elif method == "platt":
        from sklearn.linear_model import LogisticRegression

        logistic = LogisticRegression(C=1e6)
        logistic.fit(values.reshape(-1, 1), labels.astype(int))
        mapping = ScoreMapping(
            method="platt",
            threshold=0.0,
            score=score,
            coef=float(logistic.coef_[0][0]),
            intercept=float(logistic.intercept_[0]),
        )
    else:
        raise ValueError(f"unknown fit method {method!r}; use one of {list(FIT_METHODS)}")
    passing = unique[mapping.verdicts(unique) == 1]
    threshold = float(passing.min()) if passing.size else float(unique[-1] + 1.0)
    return mapping.model_copy(update={"threshold": threshold})


def cross_fitted_verdicts(
    scores: ArrayLike,
    people: ArrayLike,
    *,
    method: FitMethod = "threshold",
    folds: int = 5,
    seed: int = 0,
    groups: Sequence[str] | None = None,
) -> FloatArray:
    """Returns each item's verdict from a mapping fitted on the other folds (0/1).

    K-fold cross-fitting: the items are split into ``folds`` folds stratified by
    people's label (scikit-learn ``StratifiedKFold``, or ``StratifiedGroupKFold`` when
    ``groups`` keeps items of one question together), seeded; each fold's verdicts come
    from :func:`fit_mapping` on the remaining folds. Agreement computed on these
    verdicts is an out-of-fold estimate: it does not reward a mapping for fitting the
    very items it is scored on.

    Raises:
        ValueError: fewer than 2 items of either class per fold, or bad arrays.
    """
    from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold

    values = np.asarray(scores, dtype=np.float64).ravel()
    labels = _binary_array(people, "people")
    if values.size != labels.size:
        raise ValueError(f"scores has {values.size} items and people {labels.size}")
    smallest = int(min(labels.sum(), labels.size - labels.sum()))
    if folds < 2 or smallest < folds:
        raise ValueError(
            f"{folds}-fold cross-fitting needs at least {max(folds, 2)} items of each label "
            f"(the smaller class has {smallest})"
        )
    out = np.full(values.size, np.nan)
    splitter: Any
    if groups is not None:
        splitter = StratifiedGroupKFold(n_splits=folds, shuffle=True, random_state=seed)
        splits = splitter.split(values.reshape(-1, 1), labels, groups=list(groups))
    else:
        splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
        splits = splitter.split(values.reshape(-1, 1), labels)
    for train, test in splits:
        train_labels = labels[train]
        if train_labels.min() == train_labels.max():
            raise ValueError("a training fold holds one label only; use fewer folds")
        mapping = fit_mapping(values[train], train_labels, method=method)
        out[test] = mapping.verdicts(values[test])
    return out


# ---------------------------------------------------------------- the stored record


class CalibratedItem(BaseModel):
    """One labelled item as calibrated: the judge's label (or why none) and people's.

    With a fitted mapping, ``judge`` is the item's out-of-fold verdict (from a mapping
    fitted on the other folds), ``raw`` the judge's own verdict and ``score`` the score
    the mapping reads; without one, ``judge`` is the judge's own verdict.
    """

    model_config = ConfigDict(frozen=True)

    id: str
    judge: LabelValue | None
    people: LabelValue
    ratings: dict[str, LabelValue] = Field(default_factory=dict)
    error: str | None = None
    flipped: bool | None = None
    raw: LabelValue | None = None
    score: float | None = None


class FitSummary(BaseModel):
    """How a record's mapping was fitted and checked (out of fold)."""

    model_config = ConfigDict(frozen=True)

    method: FitMethod
    folds: int
    seed: int
    grouped: bool = Field(description="folds keep items of one group (question) together")
    n_soft: int = Field(description="items whose score is a soft score, not a 0/1 verdict")
    in_sample_kappa: float | None = Field(
        description="kappa of the final mapping on the items it was fitted on (optimistic)"
    )


class CalibrationRecord(BaseModel):
    """A judge's stored calibration (``judges/NAME.calibration.json``), tied to its fingerprint."""

    model_config = ConfigDict(frozen=True, ser_json_inf_nan="null")

    schema_version: int = RECORD_SCHEMA_VERSION
    judge: str
    fingerprint: str = Field(
        description="the fingerprint of the judge as it scores: with a mapping, "
        "calibrated_fingerprint(judge_fingerprint, mapping)"
    )
    judge_fingerprint: str | None = Field(
        default=None, description="the judge definition's own fingerprint (None: = fingerprint)"
    )
    model: str = ""
    scale: Scale
    categories: list[LabelValue]
    labels_path: str
    labels_fingerprint: str
    created_at: str
    evalkit_version: str
    n_items: int
    n: int = Field(description="items the judge scored (the figures' sample size)")
    n_unscored: int = 0
    raters: list[str] = Field(default_factory=list)
    n_multi_rated: int = 0
    consensus_rule: str = "majority; a tie goes to the first rater listed on the item"
    kappa_weights: Literal["none", "quadratic"] = "none"
    figures: dict[str, Figure] = Field(
        description="agreement of the verdicts the judge gives when scoring: out of fold "
        "when a mapping was fitted"
    )
    confusion: Confusion
    mapping: ScoreMapping | None = None
    fit: FitSummary | None = None
    raw_figures: dict[str, Figure] = Field(
        default_factory=dict, description="with a mapping: the judge's own verdicts' agreement"
    )
    raw_confusion: Confusion | None = None
    subset: dict[str, Any] | None = Field(
        default=None, description="when calibrated on a deterministic subset: n, of, seed, rule"
    )
    seconds_per_item: float | None = Field(
        default=None, description="wall time per labelled item the judge worked on (not cached)"
    )
    bootstrap: dict[str, float] = Field(default_factory=dict)
    totals: dict[str, float] = Field(default_factory=dict)
    items: list[CalibratedItem] = Field(default_factory=list)

    @property
    def definition_fingerprint(self) -> str:
        """Returns the fingerprint of the judge definition the record measured."""
        return self.judge_fingerprint or self.fingerprint

    def calibration_arrays(self) -> tuple[FloatArray, FloatArray]:
        """Returns (judge, people) codes of the scored items, for corrected estimates."""
        scored = [item for item in self.items if item.judge is not None]
        judge = encode([item.judge for item in scored], self.scale)
        people = encode([item.people for item in scored], self.scale)
        return judge, people


def record_path(judges_dir: str | Path, judge: str) -> Path:
    """Returns where judge ``judge``'s calibration record lives."""
    return Path(judges_dir) / f"{judge}.calibration.json"


def load_record(path: str | Path) -> CalibrationRecord | None:
    """Returns the calibration record at ``path``, or None when there is none.

    Raises:
        InvalidInputError: the file exists but is not a valid record.
    """
    source = Path(path)
    if not source.is_file():
        return None
    try:
        return CalibrationRecord.model_validate_json(source.read_bytes())
    except ValueError as err:
        raise InvalidInputError(
            [
                Problem(
                    str(source),
                    None,
                    f"not a valid calibration record ({str(err).splitlines()[0]}); "
                    "run `evalkit calibrate` again to rewrite it",
                )
            ]
        ) from err


def save_record(record: CalibrationRecord, path: str | Path) -> None:
    """Writes ``record`` as indented JSON, atomically."""
    from evalkit.util._atomic import atomic_write_text

    data = json.loads(record.model_dump_json())
    atomic_write_text(Path(path), json.dumps(data, indent=2, ensure_ascii=False) + "\n")


# ---------------------------------------------------------------- the gate


class _HasFingerprint(Protocol):
    def fingerprint(self) -> str | None: ...


class JudgeGateStatus(NamedTuple):
    """Whether a judge metric may gate (``calibrated``) and why not otherwise."""

    status: GateState
    reason: str


def judge_gate_status(
    judge: str | _HasFingerprint,
    record: CalibrationRecord | None,
    *,
    min_n: int = JUDGE_MIN_ITEMS,
    min_kappa: float = JUDGE_MIN_KAPPA,
) -> JudgeGateStatus:
    """Returns ``calibrated``, ``uncalibrated`` or ``stale`` for a judge, with the reason.

    A judge metric gates only when its calibration record was made with the judge's
    current fingerprint (model, rubric, scale, few-shot examples, parameters) and shows
    at least ``min_n`` scored labelled items and a kappa point estimate of at least
    ``min_kappa`` (Cohen's kappa for binary and pairwise judges, quadratic-weighted for
    ordinal ones). Otherwise the metric is advisory: reported, never failing or passing
    the build. ``stale``: the record belongs to another fingerprint (e.g. the rubric
    changed). ``uncalibrated``: no record, too few items, or kappa too low or undefined.

    Args:
        judge: the judge's current fingerprint, or an object with ``fingerprint()``.
        record: its calibration record (:func:`load_record`), or None.
        min_n: the suite's ``gate.judge_min_n``.
        min_kappa: the suite's ``gate.judge_min_kappa``.
    """
    current = judge if isinstance(judge, str) else judge.fingerprint()
    if record is None:
        return JudgeGateStatus(
            "uncalibrated", "no calibration record; run `evalkit calibrate JUDGE`"
        )
    if current is None or record.fingerprint != current:
        return JudgeGateStatus(
            "stale",
            f"calibration record is for fingerprint {record.fingerprint}, the judge is now "
            f"{current}; its rubric, model or parameters changed: run `evalkit calibrate "
            f"{record.judge}` again",
        )
    kappa = record.figures.get("kappa", Figure(value=None)).value
    kappa_name = "weighted kappa" if record.kappa_weights == "quadratic" else "kappa"
    shortfall = judge_shortfall(record.n, kappa, min_n=min_n, min_kappa=min_kappa)
    if shortfall == "too few items":
        return JudgeGateStatus(
            "uncalibrated",
            f"only {record.n} labelled item(s) scored (need >= {min_n}); label more items",
        )
    if shortfall == "kappa too low":
        shown = "undefined" if kappa is None else f"{kappa:.2f}"
        return JudgeGateStatus(
            "uncalibrated",
            f"{kappa_name} with people is {shown} (need >= {min_kappa:.2f}, n={record.n}); "
            "the judge's verdicts are advisory",
        )
    return JudgeGateStatus(
        "calibrated", f"{kappa_name} {kappa:.2f} >= {min_kappa:.2f} on n={record.n} (n >= {min_n})"
    )


def describe(record: CalibrationRecord) -> list[str]:
    """Returns the record's figures as short lines for a terminal."""
    names = {
        "accuracy": "accuracy",
        "kappa": "Cohen's kappa" + (" (quadratic)" if record.kappa_weights == "quadratic" else ""),
        "alpha": "Krippendorff's alpha (judge vs people)",
        "alpha_people": "Krippendorff's alpha (people vs people)",
        "spearman": "Spearman",
        "mean_bias": "mean bias (judge - people)",
        "sensitivity": "sensitivity",
        "specificity": "specificity",
        "flip_rate": "position-flip rate",
    }
    lines = []
    if record.mapping is not None and record.fit is not None:
        fit = record.fit
        lines.append(
            f"fitted mapping: pass when {record.mapping.describe()}; figures below are "
            f"out of fold ({fit.folds}-fold cross-fitting"
            + (", grouped by question" if fit.grouped else "")
            + f"); {fit.n_soft} of {record.n} items had a soft score"
        )
    lines += [
        f"{names.get(name, name)}: {figure.text()}" for name, figure in record.figures.items()
    ]
    header = " ".join(f"{label!s:>6}" for label in record.confusion.labels)
    lines.append(f"confusion (rows people, columns judge): {header}")
    for label, row in zip(record.confusion.labels, record.confusion.counts, strict=True):
        lines.append(f"  {label!s:>6} " + " ".join(f"{count:>6}" for count in row))
    if record.raw_figures:
        shown = ", ".join(
            f"{names.get(name, name)} {record.raw_figures[name].text()}"
            for name in ("kappa", "sensitivity", "specificity")
            if name in record.raw_figures
        )
        lines.append(f"without the fitted mapping (the judge's own verdicts): {shown}")
        if record.fit is not None and record.fit.in_sample_kappa is not None:
            lines.append(
                f"the mapping's kappa on the items it was fitted on: "
                f"{record.fit.in_sample_kappa:.2f} (optimistic; not what the gate reads)"
            )
    return lines


def as_dict(value: Any) -> dict[str, Any]:
    """Returns an estimate dataclass as a JSON-ready dict (NaN as None)."""
    from dataclasses import asdict

    out = asdict(value)
    return {k: json_safe(v) if isinstance(v, float) else v for k, v in out.items()}
