"""Synthetic runs and comparisons: report previews, tests and benchmarks without a model.

``synthetic_runs`` makes a golden set and a baseline and candidate run of any size (the
candidate slightly worse on one slice), and ``synthetic_comparison`` compares them with
simple normal-approximation statistics. The numbers look like a real comparison; they
are not evalkit's statistics (see :mod:`evalkit.comparison._compare` for those).
"""

from __future__ import annotations

import hashlib
import math
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from evalkit.comparison._model import CaseDiff, Comparison, GateResult, MetricComparison, Verdict
from evalkit.data._golden import GoldenCase, GoldenSet, fingerprint_cases
from evalkit.data._records import (
    MetricInfo,
    Output,
    Run,
    RunManifest,
    ScoreRow,
    Totals,
    outputs_frame,
    scores_frame,
)

_VOCABULARY = """
the a refund policy order account shipping returns within days customer support invoice
payment card address password reset warranty product store delivery tracking number email
please contact our team business hours weekend holiday discount code subscription cancel
renew plan premium basic upgrade downgrade
"""
_WORDS = tuple(_VOCABULARY.split())
TAGS = ("billing", "shipping", "account", "returns", "critical", "long")
METRICS = (
    MetricInfo(name="exact", scorer="exact_normalized", kind="binary", threshold=1.0),
    MetricInfo(name="f1", scorer="token_f1", kind="continuous", threshold=0.5),
    MetricInfo(
        name="helpfulness",
        scorer="judge",
        kind="ordinal",
        low=1.0,
        high=5.0,
        threshold=3.0,
        gate=False,
        judge_fingerprint="sha256:judge0001",
    ),
)


@dataclass(frozen=True)
class SyntheticData:
    """A golden set with a baseline and a candidate run over it."""

    golden: GoldenSet
    baseline: Run
    candidate: Run


def _sentence(rng: random.Random, words: int) -> str:
    text = " ".join(rng.choice(_WORDS) for _ in range(words))
    return text[0].upper() + text[1:] + "."


def _mutate(rng: random.Random, text: str, rate: float) -> str:
    words = text.split(" ")
    return " ".join(rng.choice(_WORDS) if rng.random() < rate else w for w in words)


def _f1(answer: str, expected: str) -> float:
    a, b = answer.lower().split(), expected.lower().split()
    common = sum(min(a.count(w), b.count(w)) for w in set(a))
    if not common:
        return 0.0
    precision, recall = common / len(a), common / len(b)
    return 2 * precision * recall / (precision + recall)


def _run(
    run_id: str,
    golden: GoldenSet,
    outputs: list[Output],
    scores: list[ScoreRow],
    samples: int,
    model: str,
) -> Run:
    latencies = sorted(o.latency_s for o in outputs)
    manifest = RunManifest(
        run_id=run_id,
        suite="synthetic",
        status="complete",
        golden_path="golden_sets/synthetic.jsonl",
        golden_fingerprint=golden.fingerprint,
        n_cases=len(golden),
        samples=samples,
        sut={"model": model, "mode": "chat", "params": {"temperature": 0.7}},
        sut_fingerprint="sha256:" + hashlib.sha256(model.encode()).hexdigest()[:16],
        judges={"helpfulness": "sha256:judge0001"},
        metrics=list(METRICS),
        git_sha="0123456789abcdef0123456789abcdef01234567",
        started_at="2025-01-01T10:00:00+00:00",
        finished_at="2025-01-01T10:12:00+00:00",
        evalkit_version="0.1.0",
        totals=Totals(
            calls=len(outputs),
            prompt_tokens=sum(o.prompt_tokens for o in outputs),
            completion_tokens=sum(o.completion_tokens for o in outputs),
            cost_usd=sum(o.cost_usd for o in outputs),
            latency_p50_s=latencies[len(latencies) // 2] if latencies else None,
            wall_s=720.0,
        ),
    )
    return Run(
        manifest=manifest,
        outputs=outputs_frame(outputs),
        scores=scores_frame(scores),
        location=f"synthetic/{run_id}",
        groups={c.id: c.group for c in golden if c.group},
        tags={c.id: list(c.tags) for c in golden},
    )


def synthetic_runs(
    n_cases: int = 200,
    *,
    seed: int = 0,
    samples: int = 1,
    answer_words: int = 24,
    context_words: int = 60,
    context_pool: int = 400,
    regress_tag: str | None = "billing",
    overrides: Mapping[str, str] | None = None,
    case_updates: Mapping[str, Mapping[str, Any]] | None = None,
    rationales: Mapping[str, str] | None = None,
) -> SyntheticData:
    """Returns a golden set and a baseline and candidate run over ``n_cases`` cases.

    The candidate answers cases tagged ``regress_tag`` worse (more words changed), so a
    comparison shows a regression on that slice. ``overrides`` maps case ids to the
    candidate's output text (all samples), e.g. to plant hostile strings;
    ``case_updates`` maps case ids to golden-case fields to replace (``input``, ``tags``,
    ...); ``rationales`` maps case ids to the candidate judge's rationale.
    """
    rng = random.Random(seed)
    pool = [_sentence(rng, context_words) for _ in range(context_pool)]
    cases = []
    for index in range(n_cases):
        tags = sorted(rng.sample(TAGS[:4], k=rng.choice((1, 1, 2))))
        if rng.random() < 0.05:
            tags.append("critical")
        expected = _sentence(rng, answer_words)
        cases.append(
            GoldenCase(
                id=f"case-{index:05d}",
                input={"question": _sentence(rng, 14)},
                expected=expected,
                contexts=[pool[rng.randrange(context_pool)] for _ in range(2)],
                tags=tags,
                group=f"doc-{index % 50:02d}",
            )
        )
    if case_updates:
        cases = [
            case.model_copy(update=dict(case_updates[case.id])) if case.id in case_updates else case
            for case in cases
        ]
    golden = GoldenSet("golden_sets/synthetic.jsonl", tuple(cases), fingerprint_cases(cases))

    def side(worse: float, label: str) -> tuple[list[Output], list[ScoreRow]]:
        side_rng = random.Random(f"{seed}-{label}")
        outputs, scores = [], []
        for case in cases:
            assert isinstance(case.expected, str)
            rate = 0.1 + (worse if regress_tag in case.tags else 0.0)
            for sample in range(samples):
                if overrides and case.id in overrides and label == "candidate":
                    text = overrides[case.id]
                elif side_rng.random() < 0.5:
                    text = case.expected
                else:
                    text = _mutate(side_rng, case.expected, rate)
                error = None
                if side_rng.random() < 0.004:
                    error, text = "APIConnectionError: server closed the connection", ""
                outputs.append(
                    Output(
                        case_id=case.id,
                        sample=sample,
                        text=None if error else text,
                        error=error,
                        latency_s=round(side_rng.lognormvariate(-0.5, 0.5), 3),
                        prompt_tokens=120 + side_rng.randrange(80),
                        completion_tokens=30 + side_rng.randrange(30),
                        cost_usd=0.00021,
                        cached=side_rng.random() < 0.1,
                    )
                )
                if error:
                    for metric in METRICS:
                        scores.append(
                            ScoreRow(case.id, sample, metric.name, None, metric.kind, "no output")
                        )
                    continue
                f1 = _f1(text, case.expected)
                judged = float(min(5, max(1, round(1 + 4 * f1 + side_rng.uniform(-0.6, 0.6)))))
                scores.append(
                    ScoreRow(case.id, sample, "exact", float(text == case.expected), "binary")
                )
                scores.append(ScoreRow(case.id, sample, "f1", round(f1, 4), "continuous"))
                scores.append(
                    ScoreRow(
                        case.id,
                        sample,
                        "helpfulness",
                        judged,
                        "ordinal",
                        rationale=(rationales or {}).get(case.id)
                        if label == "candidate" and case.id in (rationales or {})
                        else f"The answer covers {f1:.0%} of the reference; "
                        + ("it is complete." if judged >= 4 else "key details are missing."),
                    )
                )
        return outputs, scores

    base_out, base_scores = side(0.0, "baseline")
    cand_out, cand_scores = side(0.35, "candidate")
    baseline = _run("run-baseline", golden, base_out, base_scores, samples, "model-a")
    candidate = _run("run-candidate", golden, cand_out, cand_scores, samples, "model-b")
    return SyntheticData(golden, baseline, candidate)


# ---------------------------------------------------------------- a simple comparison


def _phi(z: float) -> float:
    return 0.5 * math.erfc(-z / math.sqrt(2))


def _bh(p_values: Sequence[float]) -> list[float]:
    order = sorted(range(len(p_values)), key=lambda i: p_values[i])
    q = [1.0] * len(p_values)
    running = 1.0
    for rank, index in reversed(list(enumerate(order, start=1))):
        running = min(running, p_values[index] * len(p_values) / rank)
        q[index] = running
    return q


def synthetic_comparison(
    data: SyntheticData, *, alpha: float = 0.05, slices: bool = True
) -> Comparison:
    """Returns a comparison of the synthetic runs (normal-approximation paired tests)."""
    means = {}
    for label, run in (("b", data.baseline), ("c", data.candidate)):
        frame = run.scores.groupby(["case_id", "metric"])["value"].mean().unstack()
        means[label] = frame
    sds = data.candidate.scores.groupby(["case_id", "metric"])["value"].std().unstack()
    by_id = data.golden.by_id()
    rows: list[dict[str, Any]] = []
    for slice_tag in [None, *(sorted(TAGS) if slices else [])]:
        ids = [c.id for c in data.golden if slice_tag is None or slice_tag in c.tags]
        for info in METRICS:
            b = means["b"].reindex(ids)[info.name]
            c = means["c"].reindex(ids)[info.name]
            paired = pd.DataFrame({"b": b, "c": c}).dropna()
            diff = paired["c"] - paired["b"]
            n = len(diff)
            delta = float(diff.mean()) if n else math.nan
            se = float(diff.std(ddof=1)) / math.sqrt(n) if n > 1 else math.nan
            z = 1.959964
            p = _phi(delta / se) if se and se > 0 else (0.5 if n else math.nan)
            if not info.higher_is_better:
                p = 1 - p
            p2 = min(1.0, 2 * min(p, 1 - p)) if math.isfinite(p) else math.nan
            rows.append(
                {
                    "metric": info.name,
                    "kind": info.kind,
                    "slice": slice_tag,
                    "higher_is_better": info.higher_is_better,
                    "n_paired": n,
                    "baseline_mean": float(paired["b"].mean()) if n else math.nan,
                    "candidate_mean": float(paired["c"].mean()) if n else math.nan,
                    "delta": delta,
                    "ci_low": delta - z * se,
                    "ci_high": delta + z * se,
                    "p_value": p,
                    "p_value_two_sided": p2,
                    "test": "normal-approximation",
                    "mde": 2.8 * se if math.isfinite(se) else math.nan,
                    "margin": 0.02,
                    "gating": info.gate,
                    "n_unscored_baseline": int(b.isna().sum()),
                    "n_unscored_candidate": int(c.isna().sum()),
                    "judge_status": "uncalibrated" if info.scorer == "judge" else "not-a-judge",
                }
            )
    q_values = _bh([r["p_value"] if math.isfinite(r["p_value"]) else 1.0 for r in rows])
    metrics = []
    for row, q in zip(rows, q_values, strict=True):
        ci_high, ci_low = float(row["ci_high"]), float(row["ci_low"])
        verdict: Verdict
        if q < alpha and float(row["delta"]) < 0:
            verdict = "regression"
        elif ci_low > 0:
            verdict = "improvement"
        elif math.isfinite(ci_high - ci_low) and ci_high - ci_low < 0.2:
            verdict = "no-change"
        else:
            verdict = "inconclusive"
        reason = "" if row["gating"] else "judge is uncalibrated: advisory only"
        metrics.append(
            MetricComparison(
                q_value=q,
                non_inferior=ci_low > -0.02,
                verdict=verdict,
                reason=reason,
                **row,
            )
        )
    case_diffs = []
    for case in data.golden:
        b_vals = {m.name: _value(means["b"], case.id, m.name) for m in METRICS}
        c_vals = {m.name: _value(means["c"], case.id, m.name) for m in METRICS}
        flipped = {}
        for m in METRICS:
            bv, cv = b_vals[m.name], c_vals[m.name]
            if m.threshold is not None and bv is not None and cv is not None:
                if bv >= m.threshold > cv:
                    flipped[m.name] = "to-fail"
                elif cv >= m.threshold > bv:
                    flipped[m.name] = "to-pass"
        flaky = {
            m.name: sd
            for m in METRICS
            if (sd := _value(sds, case.id, m.name)) is not None and sd > 0
        }
        exact_b, exact_c = b_vals["exact"], c_vals["exact"]
        case_diffs.append(
            CaseDiff(
                case_id=case.id,
                tags=tuple(by_id[case.id].tags),
                group=case.group,
                baseline=b_vals,
                candidate=c_vals,
                delta={
                    k: (None if b_vals[k] is None or c_vals[k] is None else c_vals[k] - b_vals[k])  # type: ignore[operator]
                    for k in b_vals
                },
                flipped=flipped,
                critical_failed=case.critical and exact_c is not None and exact_c < 1,
                known_failure=exact_b is not None and exact_b < 1,
                flaky=flaky,
            )
        )
    overall = [m for m in metrics if m.slice is None]
    reasons = tuple(
        f"{m.metric} {m.baseline_mean:.3f} -> {m.candidate_mean:.3f}, delta {m.delta:+.3f} "
        f"[{m.ci_low:+.3f}, {m.ci_high:+.3f}], p={m.p_value:.3g}, q={m.q_value:.3g}: regression"
        for m in overall
        if m.verdict == "regression" and m.gating
    )
    critical = tuple(f"critical case {d.case_id} failed" for d in case_diffs if d.critical_failed)
    gate = GateResult(
        passed=not reasons and not critical,
        policy="regression",
        alpha=alpha,
        reasons=reasons + critical[:5],
        advisory=tuple(f"{m.metric}: judge is uncalibrated" for m in overall if not m.gating),
    )
    return Comparison(
        suite=data.candidate.manifest.suite,
        baseline_id=data.baseline.manifest.run_id,
        candidate_id=data.candidate.manifest.run_id,
        metrics=tuple(metrics),
        cases=tuple(case_diffs),
        gate=gate,
        baseline_manifest=data.baseline.manifest.model_dump(mode="json"),
        candidate_manifest=data.candidate.manifest.model_dump(mode="json"),
    )


def _value(frame: pd.DataFrame, case_id: str, metric: str) -> float | None:
    try:
        value: Any = frame.at[case_id, metric]
    except KeyError:
        return None
    number = float(value)
    return None if math.isnan(number) else round(number, 6)
