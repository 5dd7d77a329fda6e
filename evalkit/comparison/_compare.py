"""Compare a candidate run with a baseline run on the same case ids: the Comparison.

What happens, in order:

1. Repeated samples are averaged within each (case, metric); unscored samples are left
   out, and a case with no scored sample is unscored for that metric.
2. Cases are paired by id. Cases only in the candidate (added) or only in the baseline
   (removed) are listed and left out of the paired tests. A changed golden fingerprint is
   a warning; the comparison runs on the intersection.
3. Per metric, over all paired cases and within each tag slice, :func:`evalkit.comparison._stats.
   paired_columns` gives the estimates, CI, one-sided p-values and MDE (design-time, from
   the baseline's spread: docs/sizing.md), clustered by the cases' ``group``. All
   metrics x slices share one set of resamples.
4. p-values are adjusted across all metrics x slices (``gate.correction``: BH, Holm or
   none); verdicts follow :func:`evalkit.comparison._stats.decide_verdicts` on the adjusted values.
   A metric whose unscored share (cases unscored on either side / paired cases) exceeds
   ``gate.max_unscored_share`` is ``inconclusive`` and makes the gate an error.
5. The gate (see :func:`evaluate_gate`).

Gate semantics (every reason is listed in ``GateResult.reasons``; the rules themselves are
:mod:`evalkit._policy`'s):

* policy ``regression``: fails when a gating metric, overall or in a slice, has the
  verdict ``regression``.
* policy ``non-inferiority``: additionally fails when a gating metric over all cases is
  not shown non-inferior (the 1 - alpha CI's worse end is below -margin). Slices still
  fail only on ``regression``: a small slice can rarely show non-inferiority.
* a critical case (tag ``critical``) that fails a gating metric in the candidate (below the metric's
  threshold, binary below 0.5, or unscored: :mod:`evalkit._policy`) fails the gate when it is newly
  failing: it passed that metric in the baseline, or the baseline has no record of the case. A
  critical case that failed in the baseline too (``known_failure``: every gating metric it fails
  now, it failed or was unscored on in the baseline) is a known failure: listed in
  ``GateResult.known_failures`` (a warning in the terminal and the report), not a reason to fail.
  The gate asks whether the change made things worse; a case that was already broken is visible, and
  fixing it is its own piece of work.
* judge metrics whose judge is not ``calibrated`` are advisory: reported, listed in
  ``GateResult.advisory``, never failing or passing the gate; so are metrics with
  ``gate = false``.
* too many unscored cases on a gating metric, or nothing to compare, is an error
  (``GateResult.error``), never a pass.
"""

from __future__ import annotations

import gc
import math
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from evalkit._policy import MetricPolicy, gate_failure, is_critical, metric_policy
from evalkit.comparison import _stats as stats
from evalkit.comparison._model import (
    CaseDiff,
    Comparison,
    GateResult,
    MetricComparison,
    Verdict,
    interval_text,
    mde_text,
)
from evalkit.config._suite import GateConfig, MetricSpec
from evalkit.data._records import Run
from evalkit.util._format import terminal_number, terminal_p_value

_UNKNOWN_FINGERPRINTS = ("", "unknown")


@dataclass(frozen=True)
class _Side:
    """One run as a (cases x metrics) table of per-case sample means."""

    mean: npt.NDArray[np.float64]  # NaN: no scored sample (or no row)
    sd: npt.NDArray[np.float64]
    has_case: npt.NDArray[np.bool_]
    metrics: frozenset[str]
    kinds: dict[str, str]


def _codes(values: pd.Series, index: pd.Index) -> npt.NDArray[np.int64]:
    """Returns each value's position in ``index`` (-1: absent), hashing each distinct value once."""
    codes, uniques = pd.factorize(values)
    positions = index.get_indexer(pd.Index(uniques.astype(str)))
    return np.where(codes >= 0, positions[codes], -1).astype(np.int64)


def _unique_strings(values: pd.Series) -> list[str]:
    uniques = pd.unique(values.dropna())
    return [str(v) for v in np.asarray(uniques, dtype=object).tolist()]


def _case_ids(run: Run) -> set[str]:
    return set(_unique_strings(run.scores["case_id"])) | set(
        _unique_strings(run.outputs["case_id"])
    )


def _stored_precision(values: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Returns ``values`` rounded as a committed baseline stores them.

    Baseline files keep 6 significant digits (evalkit.store._baselines); rounding both sides the
    same way keeps an unchanged SUT from showing 1e-9 "differences" that a rank test
    would count.
    """
    from evalkit.store._baselines import SIGNIFICANT_DIGITS

    with np.errstate(divide="ignore", invalid="ignore"):
        magnitude = np.floor(np.log10(np.abs(values)))
    digits = np.where(np.isfinite(magnitude), SIGNIFICANT_DIGITS - 1 - magnitude, 0)
    scale = np.power(10.0, digits)
    rounded: npt.NDArray[np.float64] = np.where(
        np.isfinite(magnitude), np.round(values * scale) / scale, values
    )
    return rounded


def _side(run: Run, ids: set[str], case_index: pd.Index, metric_index: pd.Index) -> _Side:
    frame = run.scores
    n_cases, n_metrics = len(case_index), len(metric_index)
    shape = (n_cases, n_metrics)
    case_pos = _codes(frame["case_id"], case_index)
    metric_pos = _codes(frame["metric"], metric_index)
    keep = (case_pos >= 0) & (metric_pos >= 0)
    key = case_pos[keep] * n_metrics + metric_pos[keep]
    values = _stored_precision(frame["value"].to_numpy(dtype=np.float64)[keep])
    moments = stats.moments_by_code(key, values, n_cases * n_metrics)
    has_case = np.zeros(n_cases, dtype=bool)
    has_case[case_index.get_indexer(pd.Index(list(ids), dtype=object))] = True
    first_kind = frame.drop_duplicates("metric")[["metric", "kind"]].dropna()
    return _Side(
        mean=moments.mean.reshape(shape),
        sd=moments.sd.reshape(shape),
        has_case=has_case,
        metrics=frozenset(_unique_strings(frame["metric"])),
        kinds={
            str(m): str(k) for m, k in zip(first_kind["metric"], first_kind["kind"], strict=True)
        },
    )


def _metric_names(baseline: Run, candidate: Run, metrics: Sequence[MetricSpec] | None) -> list[str]:
    if metrics is not None:
        return [spec.name for spec in metrics]
    ordered: dict[str, None] = {}
    for run in (candidate, baseline):
        ordered.update((m.name, None) for m in run.manifest.metrics)
    for run in (candidate, baseline):
        ordered.update((m, None) for m in sorted(_unique_strings(run.scores["metric"])))
    return list(ordered)


def _missing_metric_row(policy: MetricPolicy, side: str) -> MetricComparison:
    nan = math.nan
    return MetricComparison(
        metric=policy.name,
        kind=policy.kind,
        slice=None,
        higher_is_better=policy.higher_is_better,
        n_paired=0,
        baseline_mean=nan,
        candidate_mean=nan,
        delta=nan,
        ci_low=nan,
        ci_high=nan,
        p_value=nan,
        q_value=nan,
        p_value_two_sided=nan,
        test="none",
        mde=nan,
        margin=policy.margin,
        non_inferior=False,
        verdict="inconclusive",
        gating=False,
        reason=f"metric missing in the {side} run",
        judge_status=policy.judge_status,
    )


def _describe(row: MetricComparison) -> str:
    where = f" [{row.slice}]" if row.slice else ""
    return (
        f"{row.metric}{where}: {terminal_number(row.baseline_mean)} -> "
        f"{terminal_number(row.candidate_mean)}, delta {terminal_number(row.delta, signed=True)} "
        f"{interval_text(row.ci_low, row.ci_high)}, "
        f"p={terminal_p_value(row.p_value)}, q={terminal_p_value(row.q_value)}"
    )


def evaluate_gate(
    rows: Sequence[MetricComparison],
    cases: Sequence[CaseDiff],
    *,
    gate: GateConfig,
    policies: Mapping[str, MetricPolicy],
    errors: Sequence[str] = (),
) -> GateResult:
    """Returns the gate's decision for the compared rows and cases (module docstring)."""
    reasons: list[str] = []
    advisory = sorted({p.advisory for p in policies.values() if p.advisory})
    for row in rows:
        failure = gate_failure(row, gate.policy)
        if failure == "regression":
            reasons.append(f"{_describe(row)}: regression")
        elif failure == "not non-inferior":
            reasons.append(
                f"{_describe(row)}: not shown non-inferior (margin {row.margin:g}, "
                f"MDE {mde_text(row.mde)})"
            )
    known_failures: list[str] = []
    if gate.fail_on_critical:
        for case in cases:
            if not case.critical_failed:
                continue
            failing = ", ".join(sorted(_failing_metrics(case, policies)))
            if case.known_failure:
                known_failures.append(
                    f"critical case {case.case_id} fails {failing}: known failure "
                    "(it failed in the baseline too; not a gate failure)"
                )
            else:
                reasons.append(f"critical case {case.case_id} fails {failing}")
    error = "; ".join(errors) if errors else None
    return GateResult(
        passed=not reasons and error is None,
        policy=gate.policy,
        alpha=gate.alpha,
        reasons=tuple(reasons),
        advisory=tuple(advisory),
        error=error,
        known_failures=tuple(known_failures),
    )


def _failing_metrics(case: CaseDiff, policies: Mapping[str, MetricPolicy]) -> list[str]:
    failing = []
    for name, value in case.candidate.items():
        policy = policies.get(name)
        if policy is None or not policy.gating or policy.threshold is None:
            continue
        if value is None or bool(policy.fails(np.array([value]))[0]):
            failing.append(name if value is not None else f"{name} (unscored)")
    return failing


def _rows_of(values: npt.NDArray[np.float64]) -> list[list[float | None]]:
    """Returns the matrix as nested lists with None where it is NaN."""
    rows: list[list[float | None]] = values.tolist()
    # Plain float lists are several times faster to make than object arrays; only the
    # (usually few) rows with a NaN are patched.
    for i in np.nonzero(np.isnan(values).any(axis=1))[0].tolist():
        rows[i] = [None if v != v else v for v in rows[i]]
    return rows


def _case_diffs(
    case_ids: Sequence[str],
    names: Sequence[str],
    base: _Side,
    cand: _Side,
    policies: Mapping[str, MetricPolicy],
    metric_cols: npt.NDArray[np.intp],
    tags: Mapping[str, Sequence[str]],
    groups: Mapping[str, str],
) -> list[CaseDiff]:
    b = base.mean[:, metric_cols]
    c = cand.mean[:, metric_cols]
    fail_b = np.zeros(b.shape, dtype=bool)
    fail_c = np.zeros(c.shape, dtype=bool)
    for j, name in enumerate(names):
        fail_b[:, j] = policies[name].fails(b[:, j])
        fail_c[:, j] = policies[name].fails(c[:, j])
    both = ~np.isnan(b) & ~np.isnan(c)
    gating_rule = np.array(
        [policies[n].gating and policies[n].threshold is not None for n in names], dtype=bool
    )
    failing_now = (fail_c | np.isnan(c)) & gating_rule & cand.has_case[:, None]
    failing_base = (fail_b | np.isnan(b)) & gating_rule
    # Known: failing now, in the baseline, and every metric it fails failed there too.
    known = failing_now.any(axis=1) & base.has_case & ~(failing_now & ~failing_base).any(axis=1)
    critical = np.array([is_critical(tags.get(case, ())) for case in case_ids], dtype=bool)
    critical_failed = critical & failing_now.any(axis=1)

    flips: dict[int, dict[str, str]] = {}
    for label, moved in (
        ("to-fail", both & ~fail_b & fail_c),
        ("to-pass", both & fail_b & ~fail_c),
    ):
        for i, j in zip(*np.nonzero(moved), strict=True):
            flips.setdefault(int(i), {})[names[j]] = label
    flaky_sd = np.where(cand.has_case[:, None], cand.sd[:, metric_cols], base.sd[:, metric_cols])
    flaky: dict[int, dict[str, float]] = {}
    for i, j in zip(*np.nonzero(flaky_sd > 1e-12), strict=True):
        flaky.setdefault(int(i), {})[names[j]] = float(flaky_sd[i, j])

    base_rows, cand_rows, delta_rows = _rows_of(b), _rows_of(c), _rows_of(c - b)
    known_list, critical_list = known.tolist(), critical_failed.tolist()
    # 100k small objects: the cyclic GC would rescan the growing heap many times over.
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        return [
            CaseDiff(
                case_id=case,
                tags=tuple(tags.get(case, ())),
                group=groups.get(case),
                baseline=dict(zip(names, base_rows[i])),  # noqa: B905 (rows have len(names) items)
                candidate=dict(zip(names, cand_rows[i])),  # noqa: B905 (rows have len(names) items)
                delta=dict(zip(names, delta_rows[i])),  # noqa: B905 (rows have len(names) items)
                flipped=flips.get(i, {}),
                critical_failed=critical_list[i],
                known_failure=known_list[i],
                flaky=flaky.get(i, {}),
            )
            for i, case in enumerate(case_ids)
        ]
    finally:
        if gc_was_enabled:
            gc.enable()


def compare_runs(
    baseline: Run,
    candidate: Run,
    *,
    gate: GateConfig | None = None,
    metrics: Sequence[MetricSpec] | None = None,
    judge_status: Mapping[str, str] | None = None,
) -> Comparison:
    """Returns the paired Comparison of ``candidate`` against ``baseline`` (module docstring).

    ``metrics`` restricts and configures the compared metrics (threshold, margin, gate);
    by default every metric of either run is compared with its manifest's MetricInfo.
    ``judge_status`` maps a judge metric to its calibration status; a judge metric whose
    status is not ``calibrated`` (or unknown) is advisory.
    """
    gate = gate or GateConfig()
    warnings: list[str] = []
    gate_errors: list[str] = []
    b_manifest, c_manifest = baseline.manifest, candidate.manifest
    if (
        b_manifest.golden_fingerprint not in _UNKNOWN_FINGERPRINTS
        and c_manifest.golden_fingerprint not in _UNKNOWN_FINGERPRINTS
        and b_manifest.golden_fingerprint != c_manifest.golden_fingerprint
    ):
        warnings.append(
            f"golden set changed ({b_manifest.golden_fingerprint} -> "
            f"{c_manifest.golden_fingerprint}): comparing the cases both runs share"
        )
    if b_manifest.suite != c_manifest.suite:
        warnings.append(f"comparing different suites: {b_manifest.suite} vs {c_manifest.suite}")

    base_ids, cand_ids = _case_ids(baseline), _case_ids(candidate)
    id_array = np.array(sorted(base_ids | cand_ids), dtype=object)
    all_ids = pd.Index(id_array, dtype=object)
    names = _metric_names(baseline, candidate, metrics)
    metric_index = pd.Index(names)
    base = _side(baseline, base_ids, all_ids, metric_index)
    cand = _side(candidate, cand_ids, all_ids, metric_index)
    specs = {spec.name: spec for spec in metrics or ()}
    infos = {m.name: m for m in b_manifest.metrics}
    infos.update({m.name: m for m in c_manifest.metrics})
    policies = {
        name: metric_policy(
            name,
            spec=specs.get(name),
            info=infos.get(name),
            observed_kind=cand.kinds.get(name) or base.kinds.get(name),
            gate=gate,
            judge_status=judge_status,
        )
        for name in names
    }

    common = base.has_case & cand.has_case
    added = tuple(id_array[cand.has_case & ~base.has_case].tolist())
    removed = tuple(id_array[base.has_case & ~cand.has_case].tolist())
    if added or removed:
        warnings.append(
            f"{len(added)} case(s) only in the candidate and {len(removed)} only in the "
            "baseline: left out of the paired tests"
        )
    tags = {**baseline.tags, **candidate.tags}
    groups = {**baseline.groups, **candidate.groups}
    common_ids: list[str] = id_array[common].tolist()

    compared = [n for n in names if n in base.metrics and n in cand.metrics]
    missing_rows = []
    for name in names:
        for side, run_side in (("baseline", base), ("candidate", cand)):
            if name not in run_side.metrics:
                missing_rows.append(_missing_metric_row(policies[name], side))
                warnings.append(f"metric {name} is missing in the {side} run; not compared")
                break

    slice_names = sorted({t for case in common_ids for t in tags.get(case, ())})
    slice_members = {
        tag: np.array([tag in tags.get(case, ()) for case in common_ids], dtype=bool)
        for tag in slice_names
    }
    metric_cols = metric_index.get_indexer(pd.Index(compared))
    b_common = base.mean[common][:, metric_cols]
    c_common = cand.mean[common][:, metric_cols]
    column_keys: list[tuple[str, str | None]] = [(n, None) for n in compared]
    b_blocks, c_blocks = [b_common], [c_common]
    for tag in slice_names:
        inside = slice_members[tag][:, None]
        b_blocks.append(np.where(inside, b_common, np.nan))
        c_blocks.append(np.where(inside, c_common, np.nan))
        column_keys.extend((n, tag) for n in compared)

    case_ids: list[str] = id_array.tolist()

    def build_case_diffs() -> list[CaseDiff]:
        return _case_diffs(case_ids, compared, base, cand, policies, metric_cols, tags, groups)

    rows: list[MetricComparison] = []
    cases: list[CaseDiff] | None = None
    if compared and common_ids:
        b_matrix = np.hstack(b_blocks)
        c_matrix = np.hstack(c_blocks)
        col_policies = [policies[name] for name, _ in column_keys]
        # The statistics (mostly the bootstrap, whose numpy work releases the GIL) run in
        # a worker thread while this thread builds the per-case diffs (pure Python); they
        # share no data. 100k cases x 10 metrics (bench/bench_compare.py): 5.4 s one
        # after the other, 4.8 s overlapped.
        with ThreadPoolExecutor(max_workers=1) as pool:
            pending = pool.submit(
                stats.paired_columns,
                b_matrix,
                c_matrix,
                kinds=[p.kind for p in col_policies],
                groups=[groups.get(case) for case in common_ids],
                alpha=gate.alpha,
                margin=[p.margin for p in col_policies],
                higher_is_better=[p.higher_is_better for p in col_policies],
                n_boot=gate.bootstrap,
                rng=gate.seed,
                correction=gate.correction,
                mde_correlation=gate.mde_correlation,
            )
            cases = build_case_diffs()
            columns = pending.result()
        q_worse = stats.adjust_pvalues(columns.p_worse, gate.correction)
        q_better = stats.adjust_pvalues(columns.p_better, gate.correction)
        verdicts, reasons = stats.decide_verdicts(columns, q_worse=q_worse, q_better=q_better)
        rows = _metric_rows(
            column_keys,
            col_policies,
            columns,
            q_worse,
            verdicts,
            reasons,
            b_matrix,
            c_matrix,
            [slice_members[tag] if tag else None for _, tag in column_keys],
            gate,
            gate_errors,
        )
    elif not common_ids:
        gate_errors.append("no case is in both runs: nothing to compare")
    else:
        gate_errors.append("no metric is in both runs: nothing to compare")

    if cases is None:
        cases = build_case_diffs()
    rows = [r for r in rows if r.slice is None] + missing_rows + [r for r in rows if r.slice]
    gate_result = evaluate_gate(rows, cases, gate=gate, policies=policies, errors=gate_errors)
    return Comparison(
        suite=c_manifest.suite,
        baseline_id=b_manifest.run_id,
        candidate_id=c_manifest.run_id,
        metrics=tuple(rows),
        cases=tuple(cases),
        gate=gate_result,
        added_cases=added,
        removed_cases=removed,
        warnings=tuple(warnings),
        baseline_manifest=b_manifest.model_dump(mode="json"),
        candidate_manifest=c_manifest.model_dump(mode="json"),
    )


def _metric_rows(
    column_keys: Sequence[tuple[str, str | None]],
    policies: Sequence[MetricPolicy],
    columns: stats.PairedColumns,
    q_worse: npt.NDArray[np.float64],
    verdicts: list[Verdict],
    reasons: list[str],
    b_matrix: npt.NDArray[np.float64],
    c_matrix: npt.NDArray[np.float64],
    memberships: Sequence[npt.NDArray[np.bool_] | None],
    gate: GateConfig,
    gate_errors: list[str],
) -> list[MetricComparison]:
    rows = []
    for j, ((name, tag), policy) in enumerate(zip(column_keys, policies, strict=True)):
        b_col, c_col = b_matrix[:, j], c_matrix[:, j]
        inside = memberships[j]
        members = inside if inside is not None else np.ones(len(b_col), dtype=bool)
        n_cases = int(members.sum())
        unscored_b = int(np.sum(members & np.isnan(b_col)))
        unscored_c = int(np.sum(members & np.isnan(c_col)))
        left_out = n_cases - int(columns.n_paired[j])
        verdict: Verdict = verdicts[j]
        reason = reasons[j]
        share = left_out / n_cases if n_cases else 1.0
        if share > gate.max_unscored_share:
            verdict = "inconclusive"
            reason = (
                f"{left_out} of {n_cases} cases unscored ({share:.0%} > "
                f"max_unscored_share {gate.max_unscored_share:.0%})"
            )
            if tag is None and policy.gating:
                gate_errors.append(f"{name}: {reason}")
        if policy.advisory:
            reason = f"{reason}; {policy.advisory.split(': ', 1)[1]}"
        fails_b = policy.fails(b_col)
        fails_c = policy.fails(c_col)
        both = ~np.isnan(b_col) & ~np.isnan(c_col)
        rows.append(
            MetricComparison(
                metric=name,
                kind=policy.kind,
                slice=tag,
                higher_is_better=policy.higher_is_better,
                n_paired=int(columns.n_paired[j]),
                baseline_mean=float(columns.baseline_mean[j]),
                candidate_mean=float(columns.candidate_mean[j]),
                delta=float(columns.delta[j]),
                ci_low=float(columns.ci_low[j]),
                ci_high=float(columns.ci_high[j]),
                p_value=float(columns.p_worse[j]),
                q_value=float(q_worse[j]),
                p_value_two_sided=float(columns.p_two_sided[j]),
                test=columns.tests[j],
                mde=float(columns.mde[j]),
                margin=policy.margin,
                non_inferior=bool(columns.non_inferior[j]),
                verdict=verdict,
                gating=policy.gating,
                reason=reason,
                n_unscored_baseline=unscored_b,
                n_unscored_candidate=unscored_c,
                n_clusters=int(columns.n_units[j]) if columns.clustered else None,
                flips_to_fail=int(np.sum(both & ~fails_b & fails_c)),
                flips_to_pass=int(np.sum(both & fails_b & ~fails_c)),
                judge_status=policy.judge_status,
                mde_observed=float(columns.mde_observed[j]),
                mde_alpha=columns.mde_alpha,
                mde_correlation=columns.mde_correlation,
            )
        )
    return rows
