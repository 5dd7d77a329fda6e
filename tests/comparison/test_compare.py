"""compare_runs: pairing, slices, unscored cases, samples, gate policies and critical cases."""

from __future__ import annotations

import json
import math
import pathlib
from collections.abc import Sequence

import numpy as np
import pytest

from evalkit.comparison import _stats as stats
from evalkit.comparison._compare import compare_runs
from evalkit.config._suite import GateConfig, MetricSpec
from evalkit.data._records import MetricInfo
from tests.support.runs import CORRECT, F1, Row, make_run


def binary_rows(values: Sequence[float | None], metric: str = "correct") -> list[Row]:
    return [(f"c{i:03d}", metric, v) for i, v in enumerate(values)]


def test_a_clear_binary_regression_fails_the_gate_with_a_readable_reason() -> None:
    base = make_run("b", binary_rows([1.0] * 80 + [0.0] * 20), metrics=[CORRECT])
    cand = make_run("c", binary_rows([1.0] * 55 + [0.0] * 45), metrics=[CORRECT])
    result = compare_runs(base, cand)
    [row] = result.overall()
    assert row.verdict == "regression" and row.test == "mcnemar-exact"
    assert row.delta == pytest.approx(-0.25)
    assert (row.flips_to_fail, row.flips_to_pass) == (25, 0)
    assert row.mde > 0 and row.n_paired == 100
    assert not result.gate.passed and result.gate.error is None
    assert result.gate.reasons[0].startswith("correct: 0.8 -> 0.55, delta -0.25")
    assert result.gate.reasons[0].endswith(": regression")
    flipped = [c.case_id for c in result.cases if c.flipped.get("correct") == "to-fail"]
    assert flipped == [f"c{i:03d}" for i in range(55, 80)]


def test_identical_runs_pass_with_no_change() -> None:
    rng = np.random.default_rng(0)
    rows = [(f"c{i}", "f1", float(v)) for i, v in enumerate(rng.random(60))]
    result = compare_runs(make_run("b", rows, metrics=[F1]), make_run("c", rows, metrics=[F1]))
    assert [r.verdict for r in result.metrics] == ["no-change"]
    assert result.gate.passed and result.gate.reasons == ()
    assert result.cases[0].delta == {"f1": 0.0}


def test_added_and_removed_cases_are_listed_and_left_out_of_pairing() -> None:
    base = make_run("b", binary_rows([1.0] * 30), metrics=[CORRECT])
    cand_rows = [*binary_rows([1.0] * 30)[5:], ("new1", "correct", 0.0), ("new2", "correct", 1.0)]
    result = compare_runs(base, make_run("c", cand_rows, metrics=[CORRECT]))
    assert result.added_cases == ("new1", "new2")
    assert result.removed_cases == tuple(f"c{i:03d}" for i in range(5))
    assert result.overall()[0].n_paired == 25
    assert any("only in the candidate" in w for w in result.warnings)
    new1 = next(c for c in result.cases if c.case_id == "new1")
    assert new1.baseline == {"correct": None} and new1.delta == {"correct": None}


def test_changed_golden_fingerprint_warns_and_compares_the_intersection() -> None:
    base = make_run("b", binary_rows([1.0] * 20), metrics=[CORRECT], golden="sha256:old")
    cand = make_run("c", binary_rows([1.0] * 20), metrics=[CORRECT], golden="sha256:new")
    result = compare_runs(base, cand)
    assert any("golden set changed" in w for w in result.warnings)
    assert result.overall()[0].n_paired == 20 and result.gate.passed


def test_a_metric_missing_on_one_side_is_reported_not_crashed() -> None:
    base_rows = binary_rows([1.0] * 20) + [(f"c{i:03d}", "f1", 0.5) for i in range(20)]
    base = make_run("b", base_rows, metrics=[CORRECT, F1])
    cand = make_run("c", binary_rows([1.0] * 20), metrics=[CORRECT])
    result = compare_runs(base, cand)
    missing = next(r for r in result.metrics if r.metric == "f1")
    assert missing.verdict == "inconclusive" and not missing.gating
    assert "missing in the candidate" in missing.reason
    assert any("f1 is missing in the candidate" in w for w in result.warnings)
    assert result.gate.passed


def test_too_many_unscored_cases_are_inconclusive_and_a_gate_error() -> None:
    base = make_run("b", binary_rows([1.0] * 50), metrics=[CORRECT])
    cand = make_run("c", binary_rows([1.0] * 40 + [None] * 10), metrics=[CORRECT])
    result = compare_runs(base, cand, gate=GateConfig(max_unscored_share=0.1))
    [row] = result.overall()
    assert row.verdict == "inconclusive" and row.n_paired == 40
    assert row.n_unscored_candidate == 10 and row.n_unscored_baseline == 0
    assert "10 of 50 cases unscored" in row.reason
    assert not result.gate.passed and "unscored" in (result.gate.error or "")
    relaxed = compare_runs(base, cand, gate=GateConfig(max_unscored_share=0.25))
    assert relaxed.gate.passed and relaxed.overall()[0].verdict == "no-change"


def test_repeated_samples_are_averaged_and_flaky_cases_reported() -> None:
    metrics = [CORRECT]
    base = make_run(
        "b", [(f"c{i}", "correct", 1.0, s) for i in range(10) for s in range(3)], metrics=metrics
    )
    cand_rows: list[Row] = [(f"c{i}", "correct", 1.0, s) for i in range(1, 10) for s in range(3)]
    cand_rows += [("c0", "correct", 1.0, 0), ("c0", "correct", 0.0, 1), ("c0", "correct", 0.0, 2)]
    result = compare_runs(base, make_run("c", cand_rows, metrics=metrics))
    [row] = result.overall()
    assert row.n_paired == 10 and row.test == "wilcoxon"  # a 1/3 mean is not 0/1
    c0 = next(c for c in result.cases if c.case_id == "c0")
    assert c0.candidate["correct"] == pytest.approx(1 / 3)
    assert c0.flaky["correct"] == pytest.approx(np.std([1, 0, 0], ddof=1))
    assert c0.flipped == {"correct": "to-fail"}
    assert all(not c.flaky for c in result.cases if c.case_id != "c0")


def test_slices_by_tag_and_q_values_adjusted_across_metrics_and_slices() -> None:
    rng = np.random.default_rng(1)
    n = 120
    tags = {f"c{i}": (["hard"] if i % 3 == 0 else ["easy"]) for i in range(n)}
    base_f1 = rng.random(n)
    cand_f1 = base_f1 - np.where(np.arange(n) % 3 == 0, 0.2, 0.0) + rng.normal(0, 0.05, n)
    base_rows = [(f"c{i}", "f1", float(v)) for i, v in enumerate(base_f1)]
    cand_rows = [(f"c{i}", "f1", float(np.clip(v, 0, 1))) for i, v in enumerate(cand_f1)]
    base_rows += [(f"c{i}", "correct", 1.0) for i in range(n)]
    cand_rows += [(f"c{i}", "correct", 1.0) for i in range(n)]
    metrics = [CORRECT, F1]
    result = compare_runs(
        make_run("b", base_rows, metrics=metrics, tags=tags),
        make_run("c", cand_rows, metrics=metrics, tags=tags),
    )
    keys = [(r.metric, r.slice) for r in result.metrics]
    assert keys == [
        ("correct", None), ("f1", None), ("correct", "easy"), ("f1", "easy"),
        ("correct", "hard"), ("f1", "hard"),
    ]  # fmt: skip
    by_key = {(r.metric, r.slice): r for r in result.metrics}
    assert by_key[("f1", "hard")].verdict == "regression"
    assert by_key[("f1", "hard")].n_paired == 40
    p = np.array([r.p_value for r in result.metrics])
    q = np.array([r.q_value for r in result.metrics])
    assert np.allclose(q, stats.adjust_pvalues(p, "bh"))
    holm = compare_runs(
        make_run("b", base_rows, metrics=metrics, tags=tags),
        make_run("c", cand_rows, metrics=metrics, tags=tags),
        gate=GateConfig(correction="holm"),
    )
    assert np.allclose([r.q_value for r in holm.metrics], stats.adjust_pvalues(p, "holm"))


def test_a_newly_failing_critical_case_fails_the_gate_and_a_known_failure_warns() -> None:
    tags = {"c000": ["critical"], "c001": ["critical"], "c050": ["critical"]}
    base = make_run("b", binary_rows([1.0, 0.0] + [1.0] * 48), metrics=[CORRECT], tags=tags)
    # c050 is new in the candidate: no baseline record, so its failure is not "known".
    cand = make_run("c", binary_rows([0.0, 0.0] + [1.0] * 48 + [0.0]), metrics=[CORRECT], tags=tags)
    result = compare_runs(base, cand)
    assert result.overall()[0].verdict == "no-change"  # one flip is not significant
    newly, known, new = result.cases[0], result.cases[1], result.cases[50]
    assert newly.critical_failed and not newly.known_failure
    assert known.critical_failed and known.known_failure
    assert new.case_id == "c050" and new.critical_failed and not new.known_failure
    assert not result.gate.passed
    assert result.gate.reasons == (
        "critical case c000 fails correct",
        "critical case c050 fails correct",
    )
    assert result.gate.known_failures == (
        "critical case c001 fails correct: known failure (it failed in the baseline too; "
        "not a gate failure)",
    )
    assert result.to_dict()["gate"]["known_failures"] == list(result.gate.known_failures)
    lenient = compare_runs(base, cand, gate=GateConfig(fail_on_critical=False))
    assert lenient.gate.passed


def test_a_critical_case_that_already_failed_in_the_baseline_does_not_fail_the_gate() -> None:
    tags = {"c001": ["critical"]}
    base = make_run("b", binary_rows([1.0, 0.0] + [1.0] * 48), metrics=[CORRECT], tags=tags)
    cand = make_run("c", binary_rows([1.0, 0.0] + [1.0] * 48), metrics=[CORRECT], tags=tags)
    result = compare_runs(base, cand)
    assert result.cases[1].critical_failed and result.cases[1].known_failure
    assert result.gate.passed and result.gate.reasons == ()
    assert len(result.gate.known_failures) == 1 and "c001" in result.gate.known_failures[0]


def test_uncalibrated_judge_metrics_are_advisory_and_never_gate() -> None:
    judge = MetricInfo(
        name="helpful", scorer="judge", kind="binary", judge_fingerprint="sha256:judge"
    )
    base = make_run("b", binary_rows([1.0] * 60, "helpful"), metrics=[judge])
    cand = make_run("c", binary_rows([0.0] * 30 + [1.0] * 30, "helpful"), metrics=[judge])
    result = compare_runs(base, cand)
    [row] = result.overall()
    assert row.verdict == "regression" and not row.gating
    assert row.judge_status == "uncalibrated"
    assert result.gate.passed
    assert result.gate.advisory == (
        "helpful: judge is uncalibrated; reported, but it does not gate",
    )
    calibrated = compare_runs(base, cand, judge_status={"helpful": "calibrated"})
    assert calibrated.overall()[0].gating and not calibrated.gate.passed
    stale = compare_runs(base, cand, judge_status={"helpful": "stale"})
    assert stale.gate.passed and "stale" in stale.gate.advisory[0]


def test_non_inferiority_policy_fails_a_suite_too_small_to_show_it() -> None:
    rng = np.random.default_rng(2)
    small = [(f"c{i}", "f1", float(v)) for i, v in enumerate(rng.random(12))]
    noisy = [(c, m, float(np.clip(v + rng.normal(0, 0.1), 0, 1))) for c, m, v in small]
    base, cand = make_run("b", small, metrics=[F1]), make_run("c", noisy, metrics=[F1])
    regression_gate = compare_runs(base, cand, gate=GateConfig(margin=0.01))
    strict_gate = compare_runs(base, cand, gate=GateConfig(margin=0.01, policy="non-inferiority"))
    assert regression_gate.gate.passed
    assert regression_gate.overall()[0].verdict == "inconclusive"
    assert not strict_gate.gate.passed
    assert "not shown non-inferior" in strict_gate.gate.reasons[0]
    big = [(f"c{i}", "f1", float(v)) for i, v in enumerate(rng.random(2000))]
    same = [(c, m, float(v + rng.normal(0, 0.01))) for c, m, v in big]
    shown = compare_runs(
        make_run("b", big, metrics=[F1]),
        make_run("c", same, metrics=[F1]),
        gate=GateConfig(margin=0.01, policy="non-inferiority"),
    )
    assert shown.overall()[0].non_inferior and shown.gate.passed


def test_groups_cluster_the_comparison() -> None:
    rng = np.random.default_rng(3)
    groups = {f"c{i}": f"doc{i // 10}" for i in range(200)}
    shift = rng.normal(0, 0.1, 20)
    base_rows = [(f"c{i}", "f1", 0.5) for i in range(200)]
    cand_rows = [(f"c{i}", "f1", 0.5 + shift[i // 10]) for i in range(200)]
    result = compare_runs(
        make_run("b", base_rows, metrics=[F1], groups=groups),
        make_run("c", cand_rows, metrics=[F1], groups=groups),
    )
    [row] = result.overall()
    assert row.test == "cluster-permutation" and row.n_clusters == 20
    assert result.cases[0].group == "doc0"


def test_direction_and_thresholds_come_from_metric_info_and_specs() -> None:
    latency = MetricInfo(name="latency", scorer="latency", kind="continuous",
                         higher_is_better=False, threshold=2.0, low=None, high=None)  # fmt: skip
    rng = np.random.default_rng(4)
    base_values = rng.gamma(2, 0.5, 100)
    base = make_run("b", [(f"c{i}", "latency", float(v)) for i, v in enumerate(base_values)],
                    metrics=[latency])  # fmt: skip
    cand = make_run("c", [(f"c{i}", "latency", float(v * 1.5)) for i, v in enumerate(base_values)],
                    metrics=[latency])  # fmt: skip
    result = compare_runs(base, cand)
    [row] = result.overall()
    assert not row.higher_is_better and row.delta > 0 and row.verdict == "regression"
    expected = int(np.sum((base_values <= 2.0) & (base_values * 1.5 > 2.0)))
    assert row.flips_to_fail == expected > 0
    spec = MetricSpec(name="latency", threshold=10.0, gate=False)
    overridden = compare_runs(base, cand, metrics=[spec])
    assert overridden.overall()[0].flips_to_fail == 0
    assert not overridden.overall()[0].gating and overridden.gate.passed


def test_nothing_in_common_is_a_gate_error_not_a_pass() -> None:
    base = make_run("b", [("a", "correct", 1.0)], metrics=[CORRECT])
    cand = make_run("c", [("b", "correct", 1.0)], metrics=[CORRECT])
    result = compare_runs(base, cand)
    assert not result.gate.passed and "nothing to compare" in (result.gate.error or "")


def test_to_dict_is_strict_json_with_a_schema_version() -> None:
    base = make_run("b", binary_rows([1.0] * 5 + [None]), metrics=[CORRECT])
    cand = make_run("c", binary_rows([1.0] * 6), metrics=[CORRECT])
    data = compare_runs(base, cand, gate=GateConfig(max_unscored_share=0.5)).to_dict()
    text = json.dumps(data, allow_nan=False)
    assert json.loads(text)["schema_version"] == 1
    assert set(data) >= {"suite", "metrics", "cases", "gate", "warnings", "added_cases"}
    row = data["metrics"][0]
    assert row["verdict"] == "no-change" and row["n_unscored_baseline"] == 1
    assert not any(isinstance(v, float) and math.isnan(v) for v in row.values())


def test_to_dict_equals_the_deep_copy_of_every_field() -> None:
    """to_dict is built field by field for speed; it must say what dataclasses.asdict says."""
    from dataclasses import asdict, replace

    from evalkit.util._format import json_safe

    base = make_run("b", binary_rows([1.0] * 5 + [None, 0.0]), metrics=[CORRECT])
    cand = make_run("c", binary_rows([1.0] * 4 + [0.0, 1.0, 1.0]), metrics=[CORRECT])
    result = compare_runs(base, cand, gate=GateConfig(max_unscored_share=0.5))
    first = result.cases[0]
    odd = replace(
        first,
        tags=("geo", "x"),
        group="doc1",
        flaky={"correct": math.nan, "other": 0.25},
        delta={"correct": math.inf},
        flipped={"correct": "to-fail"},
        critical_failed=True,
    )
    result = replace(result, cases=(odd, *result.cases[1:]), warnings=("w",))
    reference = json_safe(asdict(result))
    reference["schema_version"] = 1
    assert result.to_dict() == reference
    assert list(result.to_dict()) == list(reference)


def test_unchanged_scores_against_a_rounded_baseline_file_show_no_difference(
    tmp_path: pathlib.Path,
) -> None:
    # A committed baseline keeps 6 significant digits; the same scores at full precision
    # must compare as identical (no 1e-9 "deltas" for a rank test to count).
    from evalkit.store._baselines import load_baseline, write_baseline

    rng = np.random.default_rng(1)
    values = rng.random(40) / 3
    run = make_run("cand", [(f"c{i:03d}", "f1", float(v)) for i, v in enumerate(values)],
                   metrics=[F1])  # fmt: skip
    path = tmp_path / "qa.baseline.jsonl"
    write_baseline(run, path)
    [row] = compare_runs(load_baseline(path), run).overall()
    assert row.delta == 0.0
    assert row.p_value == 1.0
    assert row.verdict == "no-change"


def test_case_diffs_show_unscored_and_missing_values_as_none() -> None:
    base = make_run("b", [("c0", "f1", 0.5), ("c1", "f1", None), ("c2", "f1", 0.25)], metrics=[F1])
    cand = make_run("c", [("c0", "f1", 0.75), ("c1", "f1", 0.5), ("c2", "f1", None)], metrics=[F1])
    diffs = {d.case_id: d for d in compare_runs(base, cand).cases}
    assert diffs["c0"].delta == {"f1": 0.25}
    assert diffs["c1"].baseline == {"f1": None} and diffs["c1"].delta == {"f1": None}
    assert diffs["c2"].candidate == {"f1": None} and diffs["c2"].baseline == {"f1": 0.25}


def test_a_ci_of_one_cluster_or_no_spread_is_na_in_json_terminal_and_report(
    tmp_path: pathlib.Path,
) -> None:
    # A public golden set whose `group` is its category: every slice holds one cluster;
    # each cluster moved by the same amount, so overall there is no spread either.
    from evalkit.gate._decision import describe_row
    from evalkit.report import render_report

    ids = [f"c{i:03d}" for i in range(40)]
    tags = {c: ["cat-a"] if i < 20 else ["cat-b"] for i, c in enumerate(ids)}
    groups = {c: "a" if i < 20 else "b" for i, c in enumerate(ids)}
    base = make_run("b", [(c, "f1", 0.8) for c in ids], metrics=[F1], tags=tags, groups=groups)
    cand_rows: list[Row] = [(c, "f1", 0.6 if i % 2 else 0.7) for i, c in enumerate(ids)]
    cand = make_run("c", cand_rows, metrics=[F1], tags=tags, groups=groups)
    result = compare_runs(base, cand)
    assert [row.slice for row in result.metrics] == [None, "cat-a", "cat-b"]
    for row in result.metrics:
        assert row.delta == pytest.approx(-0.15)
        assert math.isnan(row.ci_low) and math.isnan(row.ci_high)
        assert " n/a, p=" in describe_row(row, "why")
    assert all(m["ci_low"] is None and m["ci_high"] is None for m in result.to_dict()["metrics"])
    paths = render_report(cand, baseline=base, comparison=result, output=tmp_path / "r.html")
    html = paths.html.read_text(encoding="utf-8")
    assert "[-0.15" not in html and "n/a" in html
    # Differences that vary keep their interval.
    varied = make_run(
        "v", [(c, "f1", 0.8 - 0.01 * (i % 7)) for i, c in enumerate(ids)], metrics=[F1]
    )
    plain = make_run("p", [(c, "f1", 0.8) for c in ids], metrics=[F1])
    row = compare_runs(plain, varied).overall()[0]
    assert row.ci_low < row.delta < row.ci_high
