"""The design-time MDE: known answers (statsmodels, Connor 1987, exact McNemar power), the
intra-cluster correlation, the per-row alpha, its config key, n/a for what cannot be
estimated (MDE and CI, issue 18), and the ``evalkit plan`` verb."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps
from statsmodels.stats.power import NormalIndPower, TTestPower

from evalkit.cli import main
from evalkit.comparison import _stats as stats
from evalkit.comparison._compare import compare_runs
from evalkit.comparison._model import interval_text, mde_text
from evalkit.comparison._planning import plan_from_baseline
from evalkit.config._suite import GateConfig, parse_config
from evalkit.data._records import MetricInfo
from evalkit.errors import ConfigError
from evalkit.gate._decision import describe_row
from tests.support.runs import CORRECT, F1, make_run

Z_SUM = float(sps.norm.ppf(0.95) + sps.norm.ppf(0.8))  # 2.486

# ---------------------------------------------------------------- known answers


@pytest.mark.parametrize("rho", [0.0, 0.5, 0.8])
def test_paired_design_mde_and_cases_match_statsmodels_normal_power(rho: float) -> None:
    n, sigma = 400, 0.3
    sd_diff = math.sqrt(2 * sigma**2 * (1 - rho))
    mde = float(stats.design_mde(sigma**2, n, correlation=rho, alpha=0.05))
    # A paired design is a one-sample z test on the differences: NormalIndPower, ratio=0.
    effect = NormalIndPower().solve_power(
        nobs1=n, alpha=0.05, power=0.8, ratio=0, alternative="larger"
    )
    assert mde == pytest.approx(effect * sd_diff, rel=1e-6)
    assert mde == pytest.approx(Z_SUM * sd_diff / math.sqrt(n), rel=1e-6)
    needed = float(stats.cases_needed(0.03, sigma**2, correlation=rho, alpha=0.05))
    reference = NormalIndPower().solve_power(
        effect_size=0.03 / sd_diff, alpha=0.05, power=0.8, ratio=0, alternative="larger"
    )
    assert needed == pytest.approx(reference, rel=1e-6)


def test_uncorrelated_runs_need_what_two_independent_groups_need() -> None:
    sigma, drop = 0.25, 0.05
    needed = float(stats.cases_needed(drop, sigma**2, correlation=0.0, alpha=0.05))
    reference = NormalIndPower().solve_power(
        effect_size=drop / sigma, alpha=0.05, power=0.8, ratio=1, alternative="larger"
    )
    assert needed == pytest.approx(reference, rel=1e-6)


@pytest.mark.parametrize("clusters", [12, 40])
def test_clustered_design_mde_is_close_to_statsmodels_noncentral_t_power(clusters: int) -> None:
    # On G cluster means the test is Student's t with G - 1 df: TTestPower is exact for it,
    # design_mde with df = G - 1 uses the usual (t_a + t_b) approximation.
    sd_means = 0.2
    mde = float(
        stats.design_mde(sd_means**2 / 2, clusters, correlation=0.0, alpha=0.01, df=clusters - 1)
    )
    effect = TTestPower().solve_power(nobs=clusters, alpha=0.01, power=0.8, alternative="larger")
    assert mde == pytest.approx(effect * sd_means, rel=0.02)


def test_mcnemar_sizing_is_connors_formula() -> None:
    # Connor 1987: n = (z_a sqrt(psi) + z_b sqrt(psi - delta^2))^2 / delta^2, psi the
    # discordant share; in evalkit's terms V = psi - delta^2 and cluster_size k = 1.
    p10, p01 = 0.15, 0.08
    psi, delta = p10 + p01, p10 - p01
    z_a, z_b = sps.norm.ppf(0.95), sps.norm.ppf(0.8)
    connor = (z_a * math.sqrt(psi) + z_b * math.sqrt(psi - delta**2)) ** 2 / delta**2
    variance = psi - delta**2  # Var(diff); with rho = 0 design_mde doubles a variance
    ours = float(stats.cases_needed(delta, variance / 2, correlation=0.0, cluster_size=1.0))
    assert ours == pytest.approx(connor, rel=1e-9)
    mde = float(stats.design_mde(variance / 2, math.ceil(connor), correlation=0, cluster_size=1))
    assert mde == pytest.approx(delta, rel=0.01)


def _exact_mcnemar_power(n: int, p: float, q: float, rho: float, alpha: float) -> float:
    """Returns the power of the one-sided exact McNemar test, summed over discordant counts."""
    sb, sc = math.sqrt(p * (1 - p)), math.sqrt(q * (1 - q))
    both = p * q + rho * sb * sc
    to_fail, to_pass = p - both, q - both
    discordant = np.arange(n + 1)
    weight = sps.binom.pmf(discordant, n, to_fail + to_pass)
    # smallest b with P(Binomial(D, 1/2) >= b) <= alpha
    b = np.arange(n + 2)[None, :]
    tail = sps.binom.sf(b - 1, discordant[:, None], 0.5)
    k = np.argmax((tail <= alpha) | (b > discordant[:, None]), axis=1)
    hit = sps.binom.sf(k - 1, discordant, to_fail / (to_fail + to_pass))
    return float(np.sum(weight * hit))


@pytest.mark.parametrize("n,alpha", [(300, 0.05), (1000, 0.05), (1000, 0.005)])
def test_exact_mcnemar_test_has_80_percent_power_at_the_binary_mde(n: int, alpha: float) -> None:
    rate, rho = 0.7, 0.5
    base = np.r_[np.ones(round(rate * n)), np.zeros(n - round(rate * n))]
    mde = float(stats.design_mde_columns(base, kinds="binary", alpha=alpha, correlation=rho).mde[0])
    power = _exact_mcnemar_power(n, rate, rate - mde, rho, alpha)
    assert power == pytest.approx(0.8, abs=0.02), power


def test_intraclass_correlation_is_the_oneway_anova_estimator() -> None:
    rng = np.random.default_rng(3)
    sizes = rng.integers(2, 9, 30)
    groups = np.repeat(np.arange(30), sizes)
    values = rng.normal(0, 1, 30)[groups] + rng.normal(0, 1.5, len(groups))
    spread = stats.baseline_spread(values, kinds="continuous", groups=groups)
    frame = pd.DataFrame({"g": groups, "y": values})
    n, g = len(frame), 30
    means = frame.groupby("g")["y"].agg(["mean", "size"])
    grand = frame["y"].mean()
    msb = float((means["size"] * (means["mean"] - grand) ** 2).sum()) / (g - 1)
    msw = float(((frame["y"] - frame.groupby("g")["y"].transform("mean")) ** 2).sum()) / (n - g)
    m0 = (n - float((means["size"] ** 2).sum()) / n) / (g - 1)
    assert spread.icc[0] == pytest.approx((msb - msw) / (msb + (m0 - 1) * msw), rel=1e-9)
    assert spread.variance[0] == pytest.approx(np.var(values, ddof=1), rel=1e-9)
    k = float((sizes**2).sum()) / n
    assert spread.design_effect[0] == pytest.approx(1 + (k - 1) * spread.icc[0])
    # Without clusters there is no design effect; a pass rate's variance is p (1 - p).
    flat = stats.baseline_spread(np.r_[np.ones(7), np.zeros(3)], kinds="binary")
    assert flat.icc[0] == 0 and flat.design_effect[0] == 1
    assert flat.variance[0] == pytest.approx(0.21)


def test_icc_estimate_recovers_the_true_value_on_average() -> None:
    rng = np.random.default_rng(8)
    groups = np.repeat(np.arange(80), 5)
    true_icc = 0.3
    values = math.sqrt(true_icc) * rng.normal(0, 1, (80, 500))[groups] + math.sqrt(
        1 - true_icc
    ) * rng.normal(0, 1, (400, 500))
    icc = stats.baseline_spread(values, kinds="continuous", groups=groups).icc
    assert float(np.mean(icc)) == pytest.approx(true_icc, abs=0.02)


def test_per_row_alpha_is_alpha_over_rows_and_flags_a_lone_regression_under_bh() -> None:
    assert stats.family_alpha(0.05, "bh", 10) == pytest.approx(0.005)
    assert stats.family_alpha(0.05, "holm", 4) == pytest.approx(0.0125)
    assert stats.family_alpha(0.05, "none", 10) == 0.05
    # A row at alpha / m is flagged by BH and Holm whatever the other rows' p-values.
    rng = np.random.default_rng(0)
    for _ in range(200):
        p = rng.random(10)
        p[3] = 0.005
        assert stats.adjust_pvalues(p, "bh")[3] <= 0.05 + 1e-12
        assert stats.adjust_pvalues(p, "holm")[3] <= 0.05 + 1e-12


def test_compare_uses_the_per_row_alpha_of_its_correction() -> None:
    rng = np.random.default_rng(4)
    values = (rng.random(300) < 0.7).astype(float)
    rows = [(f"c{i}", "correct", float(v)) for i, v in enumerate(values)]
    rows += [(f"c{i}", "f1", float(rng.random())) for i in range(300)]
    tags = {f"c{i}": ["odd" if i % 2 else "even"] for i in range(300)}
    run = make_run("b", rows, metrics=[CORRECT, F1], tags=tags)
    bh = compare_runs(run, run, gate=GateConfig(correction="bh"))
    none = compare_runs(run, run, gate=GateConfig(correction="none"))
    assert [r.mde_alpha for r in bh.metrics] == pytest.approx([0.05 / 6] * 6)
    assert {r.mde_alpha for r in none.metrics} == {0.05}
    for a, b in zip(bh.metrics, none.metrics, strict=True):
        assert a.mde > b.mde  # a stricter level per row: a larger MDE
        assert a.mde_correlation == 0.5


# ---------------------------------------------------------------- config key


def test_mde_correlation_is_a_validated_gate_key_that_moves_the_mde() -> None:
    config = parse_config(
        {"suites": {"qa": {"golden": "g.jsonl", "gate": {"mde_correlation": 0.8}}}},
        source="pyproject.toml",
    )
    assert config.suites["qa"].gate.mde_correlation == 0.8
    for bad in (1.0, -0.1, "high"):
        with pytest.raises(ConfigError, match="mde_correlation"):
            parse_config(
                {"suites": {"qa": {"golden": "g.jsonl", "gate": {"mde_correlation": bad}}}},
                source="pyproject.toml",
            )
    rng = np.random.default_rng(5)
    rows = [(f"c{i}", "f1", float(rng.random())) for i in range(200)]
    run = make_run("b", rows, metrics=[F1])
    low = compare_runs(run, run, gate=GateConfig(mde_correlation=0.2)).overall()[0]
    high = compare_runs(run, run, gate=GateConfig(mde_correlation=0.8)).overall()[0]
    assert low.mde == pytest.approx(high.mde * math.sqrt(0.8 / 0.2), rel=1e-9)


# ---------------------------------------------------------------- n/a, never 0 (issue 18)

SIMILARITY = MetricInfo(name="similarity", scorer="embedding_similarity", kind="continuous")


def test_unchanged_deterministic_runs_report_a_design_mde_and_an_na_observed_one() -> None:
    rng = np.random.default_rng(9)
    scores = rng.uniform(0.3, 1.0, 120)
    base = make_run("b", [(f"c{i}", "similarity", float(s)) for i, s in enumerate(scores)],
                    metrics=[SIMILARITY])  # fmt: skip
    # The same model again, with the float noise of the embedding step.
    noisy = [(f"c{i}", "similarity", float(s) + 3e-9) for i, s in enumerate(scores)]
    cand = make_run("c", noisy, metrics=[SIMILARITY])
    row = compare_runs(base, cand).overall()[0]
    assert row.delta == 0 and row.verdict == "no-change"
    assert math.isnan(row.mde_observed)  # no variance in the differences: n/a, not 0
    expected = stats.design_mde(np.var(scores, ddof=1), 120, efficiency=3 / math.pi)
    assert row.mde == pytest.approx(float(expected), rel=1e-3)
    assert mde_text(row.mde_observed) == "n/a"
    data = compare_runs(base, cand).to_dict()["metrics"][0]
    assert data["mde_observed"] is None and data["mde"] == pytest.approx(row.mde)


def test_mde_is_na_when_the_baseline_has_no_spread_and_never_zero() -> None:
    rows = [(f"c{i}", "f1", 0.7) for i in range(50)]
    run = make_run("b", rows, metrics=[F1])
    row = compare_runs(run, run).overall()[0]
    assert math.isnan(row.mde) and math.isnan(row.mde_observed)
    assert "MDE n/a" in describe_row(row, "why")
    assert compare_runs(run, run).to_dict()["metrics"][0]["mde"] is None


def _one_cluster_slice_runs() -> tuple:
    rng = np.random.default_rng(11)
    ids = [f"c{i}" for i in range(60)]
    groups = {case: ("geo" if i < 12 else f"g{i % 6}") for i, case in enumerate(ids)}
    tags = {case: (["geo"] if i < 12 else ["other"]) for i, case in enumerate(ids)}
    base_values = rng.random(60)
    cand_values = base_values - 0.2 - rng.normal(0, 0.05, 60)
    base = make_run("b", [(c, "f1", float(v)) for c, v in zip(ids, base_values, strict=True)],
                    metrics=[F1], tags=tags, groups=groups)  # fmt: skip
    cand = make_run("c", [(c, "f1", float(v)) for c, v in zip(ids, cand_values, strict=True)],
                    metrics=[F1], tags=tags, groups=groups)  # fmt: skip
    return base, cand


def test_a_slice_in_a_single_cluster_has_no_ci_rather_than_a_zero_width_one() -> None:
    base, cand = _one_cluster_slice_runs()
    comparison = compare_runs(base, cand)
    geo = next(r for r in comparison.metrics if r.slice == "geo")
    other = next(r for r in comparison.metrics if r.slice == "other")
    assert geo.n_clusters == 1 and math.isnan(geo.ci_low) and math.isnan(geo.ci_high)
    assert geo.verdict == "inconclusive" and math.isnan(geo.mde)
    assert other.ci_low < other.ci_high  # several clusters: a real interval
    assert interval_text(geo.ci_low, geo.ci_high) == "n/a"
    assert "delta -0.2" in describe_row(geo, "x") and "n/a, p=" in describe_row(geo, "x")
    row = next(r for r in comparison.to_dict()["metrics"] if r["slice"] == "geo")
    assert row["ci_low"] is None and row["ci_high"] is None


def test_single_cluster_ci_reads_na_in_the_terminal_and_the_report(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from evalkit.report._render import render_report
    from evalkit.store._baselines import write_baseline

    monkeypatch.chdir(tmp_path)
    base, cand = _one_cluster_slice_runs()
    write_baseline(base, tmp_path / "b.baseline.jsonl")
    write_baseline(cand, tmp_path / "c.baseline.jsonl")
    main(["compare", str(tmp_path / "b.baseline.jsonl"), str(tmp_path / "c.baseline.jsonl")])
    out = capsys.readouterr().out
    geo_line = next(line for line in out.splitlines() if " geo " in line)
    assert "n/a" in geo_line
    low = f"{next(r for r in compare_runs(base, cand).metrics if r.slice == 'geo').delta:+.3g}"
    assert f"[{low}, {low}]" not in out
    paths = render_report(
        cand, baseline=base, comparison=compare_runs(base, cand), output=tmp_path / "r"
    )
    html = paths.html.read_text(encoding="utf-8")
    geo_rows = re.findall(r'<tr><th scope="row">geo</th>.*?</tr>', html, flags=re.S)
    assert len(geo_rows) == 1 and '<td class="ci">n/a</td>' in geo_rows[0]
    assert f"[{low}, {low}]" not in html


# ---------------------------------------------------------------- evalkit plan


def _pass_rate_run(n: int, rate: float, *, seed: int = 0) -> tuple:
    rng = np.random.default_rng(seed)
    values = np.zeros(n)
    values[rng.permutation(n)[: round(rate * n)]] = 1.0
    rows = [(f"c{i}", "correct", float(v)) for i, v in enumerate(values)]
    return make_run("base", rows, metrics=[CORRECT]), values


def test_plan_reports_the_mde_compare_reports_and_the_cases_a_drop_needs() -> None:
    run, _ = _pass_rate_run(400, 0.7)
    plan = plan_from_baseline(run, drop=0.05)
    (row,) = plan.rows
    compared = compare_runs(run, run).overall()[0]
    assert row.mde == pytest.approx(compared.mde)
    assert row.mean == pytest.approx(0.7) and row.n_cases == 400
    # At the number of cases it names, the MDE is the drop (and one case fewer misses it).
    grown, _ = _pass_rate_run(int(row.cases_needed), 0.7, seed=1)
    at = plan_from_baseline(grown).rows[0].mde
    assert at == pytest.approx(0.05, abs=0.002)
    assert row.cases_needed == pytest.approx(589, abs=8)  # docs/sizing.md's table: ~590


def test_plan_cli_prints_json_and_a_table_and_rejects_bad_values(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from evalkit.store._baselines import write_baseline

    monkeypatch.chdir(tmp_path)
    run, _ = _pass_rate_run(300, 0.7)
    path = tmp_path / "qa.baseline.jsonl"
    write_baseline(run, path)
    assert main(["plan", str(path), "--drop", "0.02", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["mde_alpha"] == pytest.approx(0.05) and data["correlation"] == 0.5
    (row,) = data["rows"]
    assert row["metric"] == "correct" and row["cases_needed"] > 3000
    assert main(["plan", str(path), "--rho", "0.8"]) == 0
    table = capsys.readouterr().out
    assert "correct" in table and "MDE" in table and "correlation 0.8" in table
    for bad in (["--rho", "1"], ["--power", "1.5"], ["--drop", "-0.1"], ["--metric", "nope"]):
        assert main(["plan", str(path), *bad]) == 2
        assert "Traceback" not in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["--help"])
    assert "plan" in capsys.readouterr().out


def test_nightly_summary_shows_the_mde_next_to_the_observed_one() -> None:
    from evalkit.nightly._night import _brief, summary_markdown

    rng = np.random.default_rng(12)
    rows = [(f"c{i}", "f1", float(rng.random())) for i in range(200)]
    run = make_run("b", rows, metrics=[F1])
    comparison = compare_runs(run, run)
    brief = _brief(comparison, "baseline", "b")
    assert brief.rows[0].mde == pytest.approx(comparison.overall()[0].mde)
    assert brief.rows[0].mde_observed is None  # identical runs: n/a, not 0
    night = {
        "suite": "qa",
        "status": "ok",
        "night_id": "n1",
        "night_at": "2026-12-01T02:00:00Z",
        "metrics": [{"name": "f1", "mean": 0.5, "ci_low": 0.45, "ci_high": 0.55}],
        "vs_baseline": brief.model_dump(mode="json"),
    }
    text = summary_markdown({"status": "ok", "nights": [night]})
    assert f"(MDE {brief.rows[0].mde:.3g}, n/a)" in text
