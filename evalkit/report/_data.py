"""Builds what the report shows: the template's view model and the embedded JSON payload.

Everything here is plain data. Tables the reader needs at a glance (verdict, metrics,
slices, plots, costs, metadata) are rendered by the template; the per-case table is
rendered in the browser from a compact JSON payload (one object a case, contexts shared
through a string table, outputs as one word-diff instead of two texts), so a
10,000-case comparison stays a few MB and opens fast.
"""

from __future__ import annotations

import json
import math
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from evalkit.comparison._model import CaseDiff, Comparison, MetricComparison
from evalkit.data._golden import GoldenCase, GoldenSet
from evalkit.data._records import Run, RunManifest
from evalkit.report._plots import ForestItem, ForestPlot, Histogram, forest_plot, histogram
from evalkit.util._format import finite_or_none

MAX_TEXT_CHARS = 4000  # per text field in the payload; longer texts are cut with a note
SIZE_BUDGET_BYTES = 9_400_000  # payload budget: keeps the whole file under 10 MB
SHRINK_CAPS = (1500, 600, 240)  # successive caps when the payload is over budget
MAX_SAMPLES_SHOWN = 5
FLAKY_ROWS = 25
TOP_REGRESSED = 10


def num(value: Any, digits: int = 4) -> float | None:
    """Returns ``value`` as a rounded float, or None when missing, NaN, infinite or not a number."""
    try:
        number = finite_or_none(value)
    except (TypeError, ValueError):
        return None
    return None if number is None else round(number, digits)


def truncate(text: str, cap: int) -> str:
    """Returns ``text`` cut to ``cap`` characters, saying how much was left out."""
    if len(text) <= cap:
        return text
    return text[:cap] + f" … [{len(text) - cap:,} more characters not shown]"


def _text(value: Any) -> str | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return str(value)


# ---------------------------------------------------------------- metrics


@dataclass(frozen=True)
class MetricView:
    """What the report needs to know about a metric: kind, direction, range, threshold."""

    name: str
    kind: str
    higher_is_better: bool = True
    low: float | None = 0.0
    high: float | None = 1.0
    threshold: float | None = None
    gating: bool = True

    @property
    def pass_threshold(self) -> float | None:
        """Returns the per-case pass threshold: the declared one, 0.5 for binary, else None."""
        if self.threshold is not None:
            return self.threshold
        return 0.5 if self.kind == "binary" else None


def metric_views(
    candidate: Run, baseline: Run | None, comparison: Comparison | None
) -> list[MetricView]:
    """Returns every metric of the runs, in the comparison's order, then the manifests'."""
    infos = {}
    for run in (baseline, candidate):  # candidate last: its declaration wins
        if run is not None:
            infos.update({info.name: info for info in run.manifest.metrics})
    names: list[str] = []
    kinds: dict[str, str] = {}
    directions: dict[str, bool] = {}
    if comparison is not None:
        for row in comparison.overall():
            names.append(row.metric)
            kinds[row.metric] = row.kind
            directions[row.metric] = row.higher_is_better
    for run in (candidate, baseline):
        if run is None:
            continue
        names.extend(info.name for info in run.manifest.metrics)
        if not run.scores.empty:
            first = run.scores.drop_duplicates("metric")
            for metric, kind in zip(first["metric"], first["kind"], strict=True):
                names.append(str(metric))
                kinds.setdefault(str(metric), str(kind))
    views = []
    for name in dict.fromkeys(names):
        info = infos.get(name)
        if info is not None:
            views.append(
                MetricView(
                    name=name,
                    kind=info.kind,
                    higher_is_better=info.higher_is_better,
                    low=info.low,
                    high=info.high,
                    threshold=info.threshold,
                    gating=info.gate,
                )
            )
        else:
            views.append(
                MetricView(
                    name=name,
                    kind=kinds.get(name, "continuous"),
                    higher_is_better=directions.get(name, True),
                    low=None,
                    high=None,
                )
            )
    return views


# ---------------------------------------------------------------- per-case tables


def case_means(scores: pd.DataFrame) -> dict[str, dict[str, float | None]]:
    """Returns case id -> metric -> mean over samples (None: every sample unscored)."""
    table: dict[str, dict[str, float | None]] = {}
    if scores.empty:
        return table
    means = scores.groupby(["case_id", "metric"], sort=False)["value"].mean()
    for key, value in zip(means.index.tolist(), means.tolist(), strict=True):
        case_id, metric = key
        table.setdefault(str(case_id), {})[str(metric)] = num(value)
    return table


def sample_sd(scores: pd.DataFrame) -> dict[str, dict[str, float]]:
    """Returns case id -> metric -> sd across repeated samples, for cases where it is > 0."""
    table: dict[str, dict[str, float]] = {}
    scored = scores.dropna(subset=["value"]) if not scores.empty else scores
    if scored.empty:
        return table
    stats = scored.groupby(["case_id", "metric"], sort=False)["value"].agg(["std", "count"])
    stats = stats[(stats["count"] > 1) & (stats["std"] > 0)]
    for key, sd in zip(stats.index.tolist(), stats["std"].tolist(), strict=True):
        case_id, metric = key
        value = num(sd)
        if value:
            table.setdefault(str(case_id), {})[str(metric)] = value
    return table


@dataclass(frozen=True)
class OutputView:
    """The first sample's output of a case: its text, error and rendered prompt."""

    text: str | None
    error: str | None
    prompt: str | None


def first_outputs(outputs: pd.DataFrame) -> dict[str, OutputView]:
    """Returns case id -> the output of its lowest-numbered sample."""
    if outputs.empty:
        return {}
    frame = outputs.sort_values(["case_id", "sample"], kind="stable").drop_duplicates("case_id")
    views = {}
    for case_id, text, error, prompt in zip(
        frame["case_id"], frame["text"], frame["error"], frame["prompt"], strict=True
    ):
        views[str(case_id)] = OutputView(_text(text), _text(error), _text(prompt))
    return views


def other_samples(outputs: pd.DataFrame, ids: set[str]) -> dict[str, list[str]]:
    """Returns case id -> texts of samples after the first (for flaky cases in ``ids``)."""
    if outputs.empty or not ids:
        return {}
    frame = outputs[outputs["case_id"].isin(ids)].sort_values(["case_id", "sample"])
    texts: dict[str, list[str]] = {}
    seen: set[str] = set()
    for case_id, text, error in zip(frame["case_id"], frame["text"], frame["error"], strict=True):
        key = str(case_id)
        if key not in seen:
            seen.add(key)
            continue
        shown = texts.setdefault(key, [])
        if len(shown) < MAX_SAMPLES_SHOWN:
            shown.append(_text(text) or f"(error: {_text(error) or 'no text'})")
    return texts


def score_notes(scores: pd.DataFrame) -> dict[tuple[str, str], tuple[str | None, str | None]]:
    """Returns (case id, metric) -> (rationale, unscored reason) of the earliest sample."""
    if scores.empty:
        return {}
    mask = scores["rationale"].notna() | scores["error"].notna()
    frame = scores[mask].sort_values("sample", kind="stable")
    frame = frame.drop_duplicates(["case_id", "metric"])
    return {
        (str(c), str(m)): (_text(r), _text(e))
        for c, m, r, e in zip(
            frame["case_id"], frame["metric"], frame["rationale"], frame["error"], strict=True
        )
    }


def input_text(case: GoldenCase) -> str:
    """Returns a case's input as readable text (chat as role: content, variables as JSON)."""
    value = case.input
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return "\n\n".join(f"{message.role}: {message.content}" for message in value)
    return "\n".join(
        f"{key}: {item if isinstance(item, str) else json.dumps(item, ensure_ascii=False)}"
        for key, item in value.items()
    )


def expected_text(case: GoldenCase) -> str | None:
    """Returns a case's expected answer as text (None when it has none)."""
    if case.expected is None:
        return None
    if isinstance(case.expected, str):
        return case.expected
    return json.dumps(case.expected, indent=2, ensure_ascii=False)


# ---------------------------------------------------------------- view model


@dataclass(frozen=True)
class Banner:
    """The verdict banner: status (pass, fail, error, single), headline and reasons."""

    status: str
    headline: str
    reasons: tuple[str, ...] = ()
    advisory: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    facts: tuple[str, ...] = ()


@dataclass(frozen=True)
class SingleMetricRow:
    """One metric of a single run: mean with a 95% CI, and the pass rate at its threshold."""

    metric: str
    kind: str
    higher_is_better: bool
    n: int
    n_unscored: int
    mean: float | None
    ci_low: float | None
    ci_high: float | None
    threshold: float | None
    pass_rate: float | None
    ci_method: str


@dataclass(frozen=True)
class SliceGroup:
    """One metric's rows per tag slice, with their forest plot."""

    metric: str
    rows: tuple[MetricComparison, ...]
    plot: ForestPlot


@dataclass(frozen=True)
class SingleSliceRow:
    """One tag of a single run: case count and the mean of each metric."""

    tag: str
    n: int
    means: tuple[float | None, ...]


@dataclass(frozen=True)
class LabelledValues:
    """A table row with a baseline and a candidate value, already formatted."""

    label: str
    baseline: str
    candidate: str
    differs: bool = False


@dataclass(frozen=True)
class FlakyRow:
    """A case whose repeated samples disagree: sd per metric."""

    case_id: str
    sds: tuple[tuple[str, float], ...]
    worst: float


@dataclass(frozen=True)
class RegressedCase:
    """A case that got worse: the metric where it got worst, and how."""

    case_id: str
    metric: str
    baseline: float | None
    candidate: float | None
    delta: float | None
    flipped: str | None
    critical: bool


@dataclass(frozen=True)
class ReportModel:
    """Everything the template and the summaries show."""

    mode: str  # "comparison" | "single"
    suite: str
    candidate_id: str
    baseline_id: str | None
    banner: Banner
    metrics: tuple[MetricView, ...]
    comparison_rows: tuple[MetricComparison, ...]
    single_rows: tuple[SingleMetricRow, ...]
    slice_groups: tuple[SliceGroup, ...]
    single_slices: tuple[SingleSliceRow, ...]
    forest: ForestPlot | None
    histograms: tuple[Histogram, ...]
    flaky: tuple[FlakyRow, ...]
    n_flaky: int
    samples: int
    costs: tuple[LabelledValues, ...]
    meta: tuple[LabelledValues, ...]
    top_regressed: tuple[RegressedCase, ...]
    tags: tuple[str, ...]
    n_cases: int
    alpha: float | None
    calibration: Mapping[str, Any] | None
    payload: dict[str, Any]
    notes: tuple[str, ...] = ()
    counts: Mapping[str, int] = field(default_factory=dict)
    has_baseline_run: bool = False
    #: Rows (over all cases and per slice) whose verdict is regression or improvement,
    #: regressions first: what the first screen shows.
    changed: tuple[MetricComparison, ...] = ()
    #: Cases that flipped to pass, most improved first (the first screen's other list).
    top_improved: tuple[RegressedCase, ...] = ()


# ---------------------------------------------------------------- banner


def _comparison_banner(comparison: Comparison) -> Banner:
    gate = comparison.gate
    overall = comparison.overall()
    regressions = [m.metric for m in overall if m.verdict == "regression"]
    improvements = [m.metric for m in overall if m.verdict == "improvement"]
    facts = [
        f"{len(comparison.cases):,} paired cases",
        f"gate policy: {gate.policy}, alpha {gate.alpha:g}",
    ]
    if regressions:
        facts.append("regressed: " + ", ".join(regressions))
    if improvements:
        facts.append("improved: " + ", ".join(improvements))
    if comparison.added_cases:
        facts.append(f"{len(comparison.added_cases):,} new cases (not in the paired tests)")
    if comparison.removed_cases:
        facts.append(f"{len(comparison.removed_cases):,} cases missing from the candidate")
    if gate.error:
        status, headline = "error", f"Gate error: {gate.error}"
    elif gate.passed:
        status = "pass"
        headline = "Pass: no metric regressed"
        if gate.policy == "non-inferiority":
            headline = "Pass: candidate shown no worse than baseline within the margin"
    else:
        status = "fail"
        headline = f"Fail: {len(gate.reasons)} reason{'s' if len(gate.reasons) != 1 else ''}"
    return Banner(
        status=status,
        headline=headline,
        reasons=tuple(gate.reasons),
        advisory=tuple(gate.advisory),
        warnings=(*comparison.warnings, *comparison.gate.known_failures),
        facts=tuple(facts),
    )


def _single_banner(candidate: Run, rows: Sequence[SingleMetricRow], n_cases: int) -> Banner:
    manifest = candidate.manifest
    errors = int(candidate.outputs["error"].notna().sum()) if not candidate.outputs.empty else 0
    facts = [f"{n_cases:,} cases", f"{manifest.samples} sample(s) per case"]
    facts.extend(f"{row.metric}: {row.mean:.3f}" for row in rows if row.mean is not None)
    warnings = []
    if errors:
        warnings.append(f"{errors:,} SUT call(s) failed; their cases are unscored")
    if manifest.status != "complete":
        warnings.append(f"run status is {manifest.status!r}")
    if manifest.error:
        warnings.append(manifest.error)
    return Banner(
        status="single",
        headline="Single run: no baseline to compare with, so no gate",
        facts=tuple(facts),
        warnings=tuple(warnings),
    )


# ---------------------------------------------------------------- single-run statistics


def _single_rows(
    metrics: Sequence[MetricView], means: Mapping[str, Mapping[str, float | None]]
) -> list[SingleMetricRow]:
    rows = []
    for metric in metrics:
        values = [v for per_case in means.values() if (v := per_case.get(metric.name)) is not None]
        present = sum(1 for per_case in means.values() if metric.name in per_case)
        n = len(values)
        mean = ci_low = ci_high = pass_rate = None
        method = ""
        if n:
            mean = statistics.fmean(values)
            if metric.kind == "binary":
                # Wilson score interval: sane near 0 and 1, unlike mean +- 1.96 se.
                z = 1.959964
                centre = (mean + z * z / (2 * n)) / (1 + z * z / n)
                half = z * math.sqrt(mean * (1 - mean) / n + z * z / (4 * n * n)) / (1 + z * z / n)
                ci_low, ci_high, method = centre - half, centre + half, "Wilson"
            elif n > 1:
                half = 1.959964 * statistics.stdev(values) / math.sqrt(n)
                ci_low, ci_high, method = mean - half, mean + half, "normal"
            threshold = metric.pass_threshold
            if threshold is not None:
                passed = [
                    (v >= threshold) if metric.higher_is_better else (v <= threshold)
                    for v in values
                ]
                pass_rate = sum(passed) / n
        rows.append(
            SingleMetricRow(
                metric=metric.name,
                kind=metric.kind,
                higher_is_better=metric.higher_is_better,
                n=n,
                n_unscored=present - n,
                mean=mean,
                ci_low=ci_low,
                ci_high=ci_high,
                threshold=metric.pass_threshold,
                pass_rate=pass_rate,
                ci_method=method,
            )
        )
    return rows


def _single_slices(
    metrics: Sequence[MetricView],
    means: Mapping[str, Mapping[str, float | None]],
    tags: Mapping[str, Sequence[str]],
) -> list[SingleSliceRow]:
    by_tag: dict[str, list[str]] = {}
    for case_id, case_tags in tags.items():
        for tag in case_tags:
            by_tag.setdefault(tag, []).append(case_id)
    rows = []
    for tag in sorted(by_tag):
        ids = by_tag[tag]
        row_means: list[float | None] = []
        for metric in metrics:
            values = [v for i in ids if (v := means.get(i, {}).get(metric.name)) is not None]
            row_means.append(statistics.fmean(values) if values else None)
        rows.append(SingleSliceRow(tag, len(ids), tuple(row_means)))
    return rows


# ---------------------------------------------------------------- costs and metadata


def _percentile(values: Sequence[float], q: float) -> float | None:
    return float(np.percentile(values, q)) if len(values) else None


def _cost_side(run: Run) -> dict[str, Any]:
    totals = run.manifest.totals
    outputs = run.outputs
    if outputs.empty:
        return {
            "calls": totals.calls,
            "errors": totals.errors,
            "cached": totals.cached,
            "prompt_tokens": totals.prompt_tokens,
            "completion_tokens": totals.completion_tokens,
            "cost_usd": totals.cost_usd,
            "p50": totals.latency_p50_s,
            "p95": totals.latency_p95_s,
            "wall_s": totals.wall_s,
            "cases": run.manifest.n_cases,
        }
    cached = outputs["cached"].astype(bool)
    # Cache hits take ~0 s and would drag the percentiles down: use live calls if any.
    live = outputs.loc[~cached, "latency_s"] if (~cached).any() else outputs["latency_s"]
    latencies = [float(v) for v in live.dropna()]
    return {
        "calls": len(outputs),
        "errors": int(outputs["error"].notna().sum()),
        "cached": int(cached.sum()),
        "prompt_tokens": int(outputs["prompt_tokens"].fillna(0).sum()),
        "completion_tokens": int(outputs["completion_tokens"].fillna(0).sum()),
        "cost_usd": float(outputs["cost_usd"].fillna(0).sum()),
        "p50": _percentile(latencies, 50),
        "p95": _percentile(latencies, 95),
        "wall_s": totals.wall_s,
        "cases": int(outputs["case_id"].nunique()),
    }


def _fmt_int(value: Any) -> str:
    return "–" if value is None else f"{int(value):,}"


def _fmt_seconds(value: Any) -> str:
    if value is None:
        return "–"
    seconds = float(value)
    return f"{seconds * 1000:.0f} ms" if seconds < 1 else f"{seconds:.2f} s"


def _fmt_usd(value: Any) -> str:
    if value is None:
        return "–"
    amount = float(value)
    return f"${amount:,.4f}" if amount < 1 else f"${amount:,.2f}"


def _cost_rows(candidate: Run, baseline: Run | None) -> list[LabelledValues]:
    cand = _cost_side(candidate)
    base = _cost_side(baseline) if baseline is not None else None
    per_case = {
        side: (s["cost_usd"] / s["cases"] if s and s["cases"] else None)
        for side, s in (("b", base), ("c", cand))
    }
    spec: list[tuple[str, str, Any]] = [
        ("SUT calls", "calls", _fmt_int),
        ("failed calls", "errors", _fmt_int),
        ("cache hits", "cached", _fmt_int),
        ("prompt tokens", "prompt_tokens", _fmt_int),
        ("completion tokens", "completion_tokens", _fmt_int),
        ("cost", "cost_usd", _fmt_usd),
        ("latency p50", "p50", _fmt_seconds),
        ("latency p95", "p95", _fmt_seconds),
        ("wall time", "wall_s", _fmt_seconds),
    ]
    rows = [
        LabelledValues(label, fmt(base[key]) if base else "", fmt(cand[key]))
        for label, key, fmt in spec
    ]
    rows.insert(
        6,
        LabelledValues(
            "cost per case",
            _fmt_usd(per_case["b"]) if base else "",
            _fmt_usd(per_case["c"]),
        ),
    )
    return rows


def _manifest_dict(run: Run | None, fallback: Mapping[str, Any]) -> dict[str, Any]:
    if run is not None:
        return run.manifest.model_dump(mode="json")
    return dict(fallback)


def _meta_value(manifest: Mapping[str, Any], key: str) -> str:
    value = manifest.get(key)
    if value is None or value == {} or value == "":
        return "–"
    if isinstance(value, dict):
        return ", ".join(
            f"{k}: {v if isinstance(v, str) else json.dumps(v, ensure_ascii=False)}"
            for k, v in value.items()
        )
    return str(value)


def _meta_rows(candidate: RunManifest, baseline: Mapping[str, Any] | None) -> list[LabelledValues]:
    cand = candidate.model_dump(mode="json")
    keys = [
        ("run id", "run_id"),
        ("suite", "suite"),
        ("status", "status"),
        ("golden set", "golden_path"),
        ("golden fingerprint", "golden_fingerprint"),
        ("cases", "n_cases"),
        ("samples per case", "samples"),
        ("SUT", "sut"),
        ("SUT fingerprint", "sut_fingerprint"),
        ("judges (fingerprints)", "judges"),
        ("git sha", "git_sha"),
        ("started", "started_at"),
        ("finished", "finished_at"),
        ("evalkit version", "evalkit_version"),
        ("shard", "shard"),
    ]
    rows = []
    for label, key in keys:
        c = _meta_value(cand, key)
        if baseline is None:
            rows.append(LabelledValues(label, "", c))
            continue
        b = _meta_value(baseline, key)
        differs = key in {"golden_fingerprint", "sut_fingerprint", "judges", "samples"} and b != c
        rows.append(LabelledValues(label, b, c, differs))
    return rows


# ---------------------------------------------------------------- per-case payload


def _oriented(delta: float | None, higher_is_better: bool) -> float | None:
    if delta is None:
        return None
    return delta if higher_is_better else -delta


def _span(metric: MetricView) -> float:
    if metric.low is not None and metric.high is not None and metric.high > metric.low:
        return metric.high - metric.low
    return 1.0


def _top_regressed(
    cases: Iterable[CaseDiff], metrics: Sequence[MetricView], limit: int = TOP_REGRESSED
) -> list[RegressedCase]:
    """Returns the cases that got worst: critical failures first, then by scaled delta."""
    ranked: list[tuple[tuple[int, float], RegressedCase]] = []
    for case in cases:
        worst: tuple[float, MetricView] | None = None
        for metric in metrics:
            delta = case.delta.get(metric.name)
            oriented = _oriented(delta, metric.higher_is_better)
            if case.flipped.get(metric.name) == "to-fail":
                oriented = min(oriented if oriented is not None else 0.0, -_span(metric))
            if oriented is None or oriented >= 0:
                continue
            scaled = oriented / _span(metric)
            if worst is None or scaled < worst[0]:
                worst = (scaled, metric)
        newly_critical = case.critical_failed and not case.known_failure
        if worst is None and not newly_critical:
            continue
        chosen = worst[1] if worst else (metrics[0] if metrics else None)
        name = chosen.name if chosen else ""
        entry = RegressedCase(
            case_id=case.case_id,
            metric=name,
            baseline=case.baseline.get(name),
            candidate=case.candidate.get(name),
            delta=case.delta.get(name),
            flipped=case.flipped.get(name),
            critical=newly_critical,
        )
        ranked.append(((0 if newly_critical else 1, worst[0] if worst else 0.0), entry))
    ranked.sort(key=lambda item: item[0])
    return [entry for _, entry in ranked[:limit]]


def _changed_rows(comparison: Comparison) -> tuple[MetricComparison, ...]:
    """Returns the rows that moved (regression or improvement), regressions first.

    Over all cases before slices, then by q-value: the order a reader acts on.
    """
    moved = [m for m in comparison.metrics if m.verdict in ("regression", "improvement")]
    moved.sort(
        key=lambda m: (
            m.verdict != "regression",
            not m.gating,
            m.slice is not None,
            m.q_value if math.isfinite(m.q_value) else 1.0,
        )
    )
    return tuple(moved)


def _top_improved(
    cases: Iterable[CaseDiff], metrics: Sequence[MetricView], limit: int = TOP_REGRESSED
) -> list[RegressedCase]:
    """Returns the cases that flipped to pass on a metric, most improved first."""
    ranked: list[tuple[float, RegressedCase]] = []
    for case in cases:
        best: tuple[float, MetricView] | None = None
        for metric in metrics:
            if case.flipped.get(metric.name) != "to-pass":
                continue
            oriented = _oriented(case.delta.get(metric.name), metric.higher_is_better) or 0.0
            scaled = oriented / _span(metric)
            if best is None or scaled > best[0]:
                best = (scaled, metric)
        if best is None:
            continue
        name = best[1].name
        entry = RegressedCase(
            case_id=case.case_id,
            metric=name,
            baseline=case.baseline.get(name),
            candidate=case.candidate.get(name),
            delta=case.delta.get(name),
            flipped="to-pass",
            critical=False,
        )
        ranked.append((-best[0], entry))
    ranked.sort(key=lambda item: (item[0], item[1].case_id))
    return [entry for _, entry in ranked[:limit]]


@dataclass
class _PayloadBuilder:
    """Accumulates the per-case JSON: shared context strings and tag indices."""

    metrics: Sequence[MetricView]
    tags: list[str] = field(default_factory=list)
    tag_index: dict[str, int] = field(default_factory=dict)
    contexts: list[str] = field(default_factory=list)
    context_index: dict[str, int] = field(default_factory=dict)

    def tag_ids(self, tags: Iterable[str]) -> list[int]:
        ids = []
        for tag in tags:
            if tag not in self.tag_index:
                self.tag_index[tag] = len(self.tags)
                self.tags.append(tag)
            ids.append(self.tag_index[tag])
        return ids

    def context_ids(self, contexts: Iterable[str]) -> list[int]:
        ids = []
        for text in contexts:
            text = truncate(text, MAX_TEXT_CHARS)
            if text not in self.context_index:
                self.context_index[text] = len(self.contexts)
                self.contexts.append(text)
            ids.append(self.context_index[text])
        return ids


def _details(
    case_id: str,
    golden: GoldenCase | None,
    base_out: OutputView | None,
    cand_out: OutputView | None,
    notes_b: Mapping[tuple[str, str], tuple[str | None, str | None]],
    notes_c: Mapping[tuple[str, str], tuple[str | None, str | None]],
    samples: Sequence[str],
    builder: _PayloadBuilder,
    compare: bool,
) -> dict[str, Any]:
    detail: dict[str, Any] = {}
    if golden is not None:
        detail["in"] = truncate(input_text(golden), MAX_TEXT_CHARS)
        expected = expected_text(golden)
        if expected is not None:
            detail["exp"] = truncate(expected, MAX_TEXT_CHARS)
        if golden.contexts:
            detail["ctx"] = builder.context_ids(golden.contexts)
    elif cand_out is not None and cand_out.prompt:
        detail["p"] = truncate(cand_out.prompt, MAX_TEXT_CHARS)
    base_text = base_out.text if base_out else None
    cand_text = cand_out.text if cand_out else None
    # The word diff is computed in the browser when a row opens; identical outputs are
    # stored once.
    if compare and base_text is not None and base_text == cand_text:
        detail["oc"] = truncate(base_text, MAX_TEXT_CHARS)
        detail["same"] = 1
    else:
        if base_text is not None:
            detail["ob"] = truncate(base_text, MAX_TEXT_CHARS)
        if cand_text is not None:
            detail["oc"] = truncate(cand_text, MAX_TEXT_CHARS)
    if base_out is not None and base_out.error:
        detail["eb"] = truncate(base_out.error, MAX_TEXT_CHARS)
    if cand_out is not None and cand_out.error:
        detail["ec"] = truncate(cand_out.error, MAX_TEXT_CHARS)
    notes = []
    for index, metric in enumerate(builder.metrics):
        rb, ub = notes_b.get((case_id, metric.name), (None, None))
        rc, uc = notes_c.get((case_id, metric.name), (None, None))
        if rb or ub or rc or uc:
            notes.append(
                [
                    index,
                    truncate(rb, MAX_TEXT_CHARS) if rb else None,
                    truncate(rc, MAX_TEXT_CHARS) if rc else None,
                    ub,
                    uc,
                ]
            )
    if notes:
        detail["r"] = notes
    if samples:
        detail["smp"] = [truncate(text, MAX_TEXT_CHARS) for text in samples]
    return detail


def _shrink(value: Any, cap: int) -> Any:
    """Returns ``value`` with every string longer than ``cap`` truncated (recursively)."""
    if isinstance(value, str):
        return truncate(value, cap)
    if isinstance(value, list):
        return [_shrink(item, cap) for item in value]
    if isinstance(value, dict):
        return {key: _shrink(item, cap) for key, item in value.items()}
    return value


def payload_size(payload: Mapping[str, Any]) -> int:
    """Returns the bytes ``payload`` takes in the page: compact UTF-8 JSON, once escaped.

    The page escapes ``<``, ``>`` and ``&`` as six-byte ``\\u003c`` sequences and
    U+2028/U+2029 (three bytes) the same way, so markup-heavy texts count for more.
    """
    text = json.dumps(payload, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    markup = text.count("<") + text.count(">") + text.count("&")
    separators = text.count("\u2028") + text.count("\u2029")
    return len(text.encode("utf-8")) + 5 * markup + 3 * separators


def _quiet(case: Mapping[str, Any], metrics: Sequence[Mapping[str, Any]]) -> bool:
    """True for a case with nothing to look at: unchanged (or passing), no flags."""
    if any(key in case for key in ("f", "fl", "s", "err")):
        return False
    if "b" in case:
        return all(
            (b is None and c is None) or (b is not None and c is not None and abs(b - c) < 1e-9)
            for b, c in zip(case["b"], case["c"], strict=True)
        )
    for value, metric in zip(case["c"], metrics, strict=True):
        threshold = metric["thr"]
        if value is None:
            return False
        if threshold is not None and (value < threshold if metric["hib"] else value > threshold):
            return False
    return True


def fit_payload(payload: dict[str, Any], budget: int) -> tuple[dict[str, Any], str | None]:
    """Returns the payload cut to fit ``budget`` bytes, and a note saying what was cut.

    Cuts in order until it fits: long texts to 1,500 then 600 characters; then the texts
    of quiet cases (unchanged, or passing in a single run), so the cases a reader opens
    keep theirs; then texts to 240 characters; at last every case's texts.
    """
    if payload_size(payload) <= budget:
        return payload, None
    steps = [(cap, False) for cap in SHRINK_CAPS[:2]] + [(SHRINK_CAPS[1], True)]
    steps += [(cap, True) for cap in SHRINK_CAPS[2:]]
    for cap, drop_quiet in steps:
        cases = []
        dropped = 0
        for case in payload["cases"]:
            if "x" not in case:
                cases.append(case)
            elif drop_quiet and _quiet(case, payload["metrics"]):
                cases.append({k: v for k, v in case.items() if k != "x"})
                dropped += 1
            else:
                cases.append({**case, "x": _shrink(case["x"], cap)})
        shrunk = {**payload, "cases": cases}
        shrunk["contexts"] = [truncate(text, cap) for text in payload["contexts"]]
        if payload_size(shrunk) <= budget:
            note = f"To keep this file small, texts longer than {cap:,} characters are cut"
            if dropped:
                note += f" and {dropped:,} unchanged or passing cases show scores only"
            return shrunk, note + "; the full texts are in the stored runs."
    shrunk = {
        **payload,
        "cases": [{k: v for k, v in case.items() if k != "x"} for case in payload["cases"]],
        "contexts": [],
    }
    return shrunk, (
        "This report is too large to embed inputs and outputs; the per-case table shows "
        "scores only. The full texts are in the stored runs."
    )


# ---------------------------------------------------------------- the whole model


def _forest_items(rows: Sequence[MetricComparison], label_of_slice: bool) -> list[ForestItem]:
    items = []
    for row in rows:
        label = (row.slice or "(all)") if label_of_slice else row.metric
        items.append(
            ForestItem(
                label=label,
                delta=num(row.delta, 6),
                ci_low=num(row.ci_low, 6),
                ci_high=num(row.ci_high, 6),
                verdict=row.verdict,
                margin=row.margin or 0.0,
                higher_is_better=row.higher_is_better,
                title=(
                    f"{row.metric}{' / ' + row.slice if row.slice else ''}: {row.verdict}, "
                    f"n={row.n_paired}, p={row.p_value:.3g}, q={row.q_value:.3g}"
                    if num(row.p_value) is not None and num(row.q_value) is not None
                    else f"{row.metric}: {row.verdict}, n={row.n_paired}"
                ),
            )
        )
    return items


def build_report(
    candidate: Run,
    *,
    baseline: Run | None = None,
    comparison: Comparison | None = None,
    golden: GoldenSet | None = None,
    calibration: Mapping[str, Any] | None = None,
    size_budget: int = SIZE_BUDGET_BYTES,
) -> ReportModel:
    """Returns the report's view model and payload for a run, or a comparison of two runs."""
    compare = comparison is not None
    metrics = metric_views(candidate, baseline, comparison)
    metric_index = {m.name: i for i, m in enumerate(metrics)}
    golden_cases = golden.by_id() if golden is not None else {}
    cand_means = case_means(candidate.scores)
    cand_sd = sample_sd(candidate.scores)
    cand_outputs = first_outputs(candidate.outputs)
    base_outputs = first_outputs(baseline.outputs) if baseline is not None else {}
    notes_c = score_notes(candidate.scores)
    notes_b = score_notes(baseline.scores) if baseline is not None else {}

    def tags_of(case_id: str) -> list[str]:
        if case_id in candidate.tags:
            return list(candidate.tags[case_id])
        if case_id in golden_cases:
            return list(golden_cases[case_id].tags)
        if baseline is not None and case_id in baseline.tags:
            return list(baseline.tags[case_id])
        return []

    # The case list: the comparison's paired cases, then new and removed ones; for a single
    # run, golden order first, then any other case the run has.
    entries: list[dict[str, Any]] = []
    flaky: dict[str, dict[str, float]] = {}
    if comparison is not None:
        for diff in comparison.cases:
            entry: dict[str, Any] = {
                "id": diff.case_id,
                "tags": list(diff.tags) or tags_of(diff.case_id),
                "group": diff.group,
                "b": [num(diff.baseline.get(m.name)) for m in metrics],
                "c": [num(diff.candidate.get(m.name)) for m in metrics],
            }
            flips = [
                {"to-fail": -1, "to-pass": 1}.get(diff.flipped.get(m.name, ""), 0) for m in metrics
            ]
            if any(flips):
                entry["f"] = flips
            flags = []
            if diff.critical_failed:
                flags.append("critical-failed")
            if diff.known_failure:
                flags.append("known-failure")
            if flags:
                entry["fl"] = flags
            sd = diff.flaky or cand_sd.get(diff.case_id, {})
            if sd:
                flaky[diff.case_id] = dict(sd)
            entries.append(entry)
        for case_id in comparison.added_cases:
            values = cand_means.get(case_id, {})
            entries.append(
                {
                    "id": case_id,
                    "tags": tags_of(case_id),
                    "group": candidate.groups.get(case_id),
                    "b": [None for _ in metrics],
                    "c": [num(values.get(m.name)) for m in metrics],
                    "fl": ["added"],
                }
            )
        base_means = case_means(baseline.scores) if baseline is not None else {}
        for case_id in comparison.removed_cases:
            values = base_means.get(case_id, {})
            entries.append(
                {
                    "id": case_id,
                    "tags": tags_of(case_id),
                    "group": baseline.groups.get(case_id) if baseline is not None else None,
                    "b": [num(values.get(m.name)) for m in metrics],
                    "c": [None for _ in metrics],
                    "fl": ["removed"],
                }
            )
    else:
        ids = list(golden_cases) if golden is not None else []
        known = set(ids)
        run_ids = list(dict.fromkeys([*cand_outputs, *cand_means]))
        ids.extend(i for i in run_ids if i not in known)
        if golden is not None:
            ran = set(run_ids)
            ids = [i for i in ids if i in ran]
        for case_id in ids:
            values = cand_means.get(case_id, {})
            entry = {
                "id": case_id,
                "tags": tags_of(case_id),
                "group": candidate.groups.get(case_id)
                or (golden_cases[case_id].group if case_id in golden_cases else None),
                "c": [num(values.get(m.name)) for m in metrics],
            }
            if case_id in cand_sd:
                flaky[case_id] = cand_sd[case_id]
            entries.append(entry)

    builder = _PayloadBuilder(metrics)
    samples_texts = other_samples(candidate.outputs, set(flaky))
    payload_cases = []
    for entry in entries:
        case_id = entry["id"]
        item: dict[str, Any] = {"id": case_id}
        if entry["tags"]:
            item["t"] = builder.tag_ids(entry["tags"])
        if entry.get("group"):
            item["g"] = entry["group"]
        if compare:
            item["b"] = entry["b"]
        item["c"] = entry["c"]
        for key in ("f", "fl"):
            if key in entry:
                item[key] = entry[key]
        if case_id in flaky:
            item["s"] = [num(flaky[case_id].get(m.name), 3) for m in metrics]
        if cand_outputs.get(case_id) and cand_outputs[case_id].error:
            item["err"] = 1
        detail = _details(
            case_id,
            golden_cases.get(case_id),
            base_outputs.get(case_id),
            cand_outputs.get(case_id),
            notes_b,
            notes_c,
            samples_texts.get(case_id, []),
            builder,
            compare,
        )
        if detail:
            item["x"] = detail
        payload_cases.append(item)

    default_metric = 0
    if comparison is not None:
        for row in comparison.overall():
            if row.verdict == "regression" and row.metric in metric_index:
                default_metric = metric_index[row.metric]
                break
    payload: dict[str, Any] = {
        "schema": 1,
        "mode": "comparison" if compare else "single",
        "metrics": [
            {
                "name": m.name,
                "kind": m.kind,
                "hib": m.higher_is_better,
                "thr": m.pass_threshold,
            }
            for m in metrics
        ],
        "defaultMetric": default_metric,
        "tags": builder.tags,
        "contexts": builder.contexts,
        "samples": candidate.manifest.samples,
        "cases": payload_cases,
    }
    payload, cut_note = fit_payload(payload, size_budget)

    # Server-rendered sections.
    comparison_rows: tuple[MetricComparison, ...] = ()
    slice_groups: list[SliceGroup] = []
    forest = None
    single_rows: list[SingleMetricRow] = []
    single_slices: list[SingleSliceRow] = []
    top: list[RegressedCase] = []
    improved: list[RegressedCase] = []
    changed: tuple[MetricComparison, ...] = ()
    if comparison is not None:
        comparison_rows = tuple(comparison.overall())
        forest = forest_plot(_forest_items(comparison_rows, False)) if comparison_rows else None
        for metric in metrics:
            rows = tuple(
                m for m in comparison.metrics if m.slice is not None and m.metric == metric.name
            )
            if rows:
                slice_groups.append(
                    SliceGroup(metric.name, rows, forest_plot(_forest_items(rows, True)))
                )
        top = _top_regressed(comparison.cases, [m for m in metrics if m.gating] or metrics)
        improved = _top_improved(comparison.cases, [m for m in metrics if m.gating] or metrics)
        changed = _changed_rows(comparison)
        banner = _comparison_banner(comparison)
    else:
        single_rows = _single_rows(metrics, cand_means)
        single_slices = _single_slices(metrics, cand_means, {e["id"]: e["tags"] for e in entries})
        banner = _single_banner(candidate, single_rows, len(entries))

    histograms = []
    for index, metric in enumerate(metrics):
        cand_values = [c["c"][index] for c in entries if c["c"][index] is not None]
        base_values = (
            [c["b"][index] for c in entries if c["b"][index] is not None] if compare else None
        )
        if cand_values or base_values:
            histograms.append(
                histogram(
                    metric.name,
                    metric.kind,
                    base_values,
                    cand_values,
                    low=metric.low,
                    high=metric.high,
                )
            )

    flaky_rows = sorted(
        (
            FlakyRow(case_id, tuple(sorted(sds.items())), max(sds.values()))
            for case_id, sds in flaky.items()
        ),
        key=lambda row: (-row.worst, row.case_id),
    )
    baseline_manifest = (
        _manifest_dict(baseline, comparison.baseline_manifest if comparison else {})
        if compare
        else None
    )
    counts = {
        "cases": len(entries),
        "added": len(comparison.added_cases) if comparison else 0,
        "removed": len(comparison.removed_cases) if comparison else 0,
        "flips_to_fail": sum(1 for e in entries if -1 in e.get("f", [])),
        "flips_to_pass": sum(1 for e in entries if 1 in e.get("f", [])),
        "critical_failed": sum(1 for e in entries if "critical-failed" in e.get("fl", [])),
        "errors": sum(1 for c in payload_cases if c.get("err")),
    }
    return ReportModel(
        mode="comparison" if compare else "single",
        suite=candidate.manifest.suite,
        candidate_id=candidate.manifest.run_id,
        baseline_id=comparison.baseline_id if comparison else None,
        banner=banner,
        metrics=tuple(metrics),
        comparison_rows=comparison_rows,
        single_rows=tuple(single_rows),
        slice_groups=tuple(slice_groups),
        single_slices=tuple(single_slices),
        forest=forest,
        histograms=tuple(histograms),
        flaky=tuple(flaky_rows[:FLAKY_ROWS]),
        n_flaky=len(flaky_rows),
        samples=candidate.manifest.samples,
        costs=tuple(_cost_rows(candidate, baseline)),
        meta=tuple(_meta_rows(candidate.manifest, baseline_manifest)),
        top_regressed=tuple(top),
        tags=tuple(builder.tags),
        n_cases=len(entries),
        alpha=comparison.gate.alpha if comparison else None,
        calibration=calibration,
        payload=payload,
        notes=(cut_note,) if cut_note else (),
        counts=counts,
        has_baseline_run=baseline is not None,
        changed=changed,
        top_improved=tuple(improved),
    )
