"""The HTML report: one self-contained file, escaped data, summaries, scale safeguards."""

from __future__ import annotations

import html as html_lib
import json
import re
import sys
import types
from pathlib import Path
from typing import Any

import pytest

from evalkit.comparison._model import Comparison
from evalkit.data._records import (
    MetricInfo,
    Output,
    Run,
    RunManifest,
    ScoreRow,
    outputs_frame,
    scores_frame,
)
from evalkit.report import ReportPaths, render_report
from evalkit.report._base import script_safe_json
from evalkit.report._data import build_report, payload_size
from evalkit.report._plots import ForestItem, forest_plot, histogram
from evalkit.report._summary import md_escape, summary_markdown
from tests.support.hostile import ATTR_XSS, SCRIPT_XSS, TAG_XSS, hostile_data
from tests.support.synthetic_runs import SyntheticData, synthetic_comparison, synthetic_runs


def embedded_payload(html: str) -> dict[str, Any]:
    match = re.search(
        r'<script type="application/json" id="evalkit-data">(.*?)</script>', html, re.S
    )
    assert match, "payload script element not found"
    data: dict[str, Any] = json.loads(match.group(1))
    return data


@pytest.fixture(scope="module")
def compared() -> tuple[SyntheticData, Comparison]:
    data = hostile_data()
    return data, synthetic_comparison(data)


@pytest.fixture(scope="module")
def rendered(compared: Any, tmp_path_factory: pytest.TempPathFactory) -> ReportPaths:
    data, comparison = compared
    return render_report(
        data.candidate,
        baseline=data.baseline,
        comparison=comparison,
        golden=data.golden,
        output=tmp_path_factory.mktemp("report") / "report.html",
    )


def test_report_is_one_file_that_fetches_nothing(rendered: ReportPaths) -> None:
    paths = rendered
    html = paths.html.read_text(encoding="utf-8")
    assert paths.summary_json.parent == paths.html.parent == paths.summary_md.parent
    assert not re.search(r"<script[^>]*\bsrc=", html)
    assert not re.search(r"<link[^>]*stylesheet", html)
    assert not re.search(r"(src|href)=\"(https?:)?//", html)
    assert "@import" not in html and "url(" not in html
    csp = re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', html)
    assert csp and "default-src 'none'" in html_lib.unescape(csp.group(1))
    assert '<svg class="forest"' in html and '<svg class="hist"' in html


def test_hostile_strings_are_escaped_in_page_and_payload(rendered: ReportPaths) -> None:
    html = rendered.html.read_text(encoding="utf-8")
    assert "window.__pwned" in html  # the strings are there...
    assert "<script>window.__pwned" not in html  # ...but never as markup
    assert "<img src=x" not in html
    assert "<b onmouseover" not in html
    assert "&lt;b onmouseover=alert(1)&gt;tag&lt;/b&gt;" in html  # the tag, escaped by Jinja
    assert html.count("<script") == 2  # the JSON payload and the report's own script
    assert "\u2028" not in embedded_payload_raw(html)
    payload = embedded_payload(html)
    outputs = {case["id"]: case["x"].get("oc") for case in payload["cases"]}
    assert outputs["case-00003"] == SCRIPT_XSS
    assert outputs["case-00004"] == ATTR_XSS
    assert TAG_XSS in payload["tags"]
    assert SCRIPT_XSS + " \u2028 " + ATTR_XSS in payload["contexts"]


def embedded_payload_raw(html: str) -> str:
    start = html.index('id="evalkit-data">') + len('id="evalkit-data">')
    return html[start : html.index("</script>", start)]


def test_script_safe_json_escapes_markup_and_line_separators() -> None:
    value = {"a": "</script><!-- & \u2028\u2029 >"}
    text = script_safe_json(value)
    assert not set("<>&\u2028\u2029") & set(text)
    assert json.loads(text) == value


def test_single_run_report_has_scores_distributions_and_no_gate(tmp_path: Path) -> None:
    data = synthetic_runs(30, seed=3)
    paths = render_report(data.candidate, golden=data.golden, output=tmp_path)
    assert paths.html == tmp_path / "report.html"
    html = paths.html.read_text(encoding="utf-8")
    summary = json.loads(paths.summary_json.read_text(encoding="utf-8"))
    assert summary["verdict"] == "single-run" and summary["gate"] is None
    assert [m["metric"] for m in summary["metrics"]] == ["exact", "f1", "helpfulness"]
    exact = data.candidate.scores.query("metric == 'exact'")["value"]
    assert summary["metrics"][0]["mean"] == pytest.approx(exact.mean(), abs=1e-4)
    payload = embedded_payload(html)
    assert payload["mode"] == "single" and len(payload["cases"]) == 30
    assert "b" not in payload["cases"][0] and "oc" in payload["cases"][0]["x"]
    assert "Single run" in html and html.count('<svg class="hist"') == 3
    assert "Run `run\\-candidate`" not in paths.summary_md.read_text()  # code spans stay literal
    assert "Run `run-candidate`" in paths.summary_md.read_text()


def test_summaries_carry_verdict_metric_table_and_top_regressed_cases(
    tmp_path: Path, compared: Any
) -> None:
    data, comparison = compared
    paths = render_report(
        data.candidate,
        baseline=data.baseline,
        comparison=comparison,
        golden=data.golden,
        output=tmp_path / "report.html",
        report_url="https://ci.example/artifacts/report.html",
    )
    summary = json.loads(paths.summary_json.read_text(encoding="utf-8"))
    assert summary["verdict"] == ("pass" if comparison.gate.passed else "fail")
    assert summary["reasons"] == list(comparison.gate.reasons)
    assert [m["metric"] for m in summary["metrics"]] == [m.metric for m in comparison.overall()]
    worst = summary["top_regressed"]
    assert worst, "the synthetic candidate is worse on some cases"
    critical = [c["critical"] for c in worst]
    assert critical == sorted(critical, reverse=True)  # critical failures first
    markdown = paths.summary_md.read_text(encoding="utf-8")
    assert markdown.startswith("### ")
    assert "| metric | baseline | candidate |" in markdown
    assert "[Full report](https://ci.example/artifacts/report.html)" in markdown
    assert len(markdown) < 65_000  # fits a GitHub comment


def test_markdown_escapes_hostile_names() -> None:
    assert md_escape("<img src=x onerror=y>|*x*") == "&lt;img src=x onerror=y&gt;\\|\\*x\\*"
    summary = {
        "verdict": "fail",
        "suite": "s",
        "headline": "Fail",
        "candidate_id": "c`|",
        "baseline_id": "b",
        "gate": {"policy": "regression", "alpha": 0.05},
        "cases": {"cases": 1},
        "reasons": ["<script>x</script>"],
        "metrics": [],
        "slices": [],
        "top_regressed": [
            {
                "case_id": "a|b`<script>",
                "metric": "m",
                "baseline": 1.0,
                "candidate": 0.0,
                "delta": -1.0,
                "flipped": "to-fail",
                "critical": True,
            }
        ],
        "advisory": [],
        "warnings": [],
        "report": "report (1).html",
    }
    text = summary_markdown(summary)
    assert "- &lt;script&gt;x&lt;/script&gt;" in text
    assert "<script>" not in re.sub(r"`[^`]*`", "", text)  # raw only inside code spans
    assert "`a\\|b'<script>`" in text  # literal inside a code span, pipe escaped for tables
    assert "(report%20%281%29.html)" in text


def test_payload_over_budget_drops_texts_of_quiet_cases_first(compared: Any) -> None:
    data, comparison = compared
    options = {"baseline": data.baseline, "comparison": comparison, "golden": data.golden}
    full = build_report(data.candidate, **options)
    budget = int(payload_size(full.payload) * 0.85)
    small = build_report(data.candidate, size_budget=budget, **options)
    assert full.notes == () and payload_size(small.payload) <= budget
    assert "unchanged or passing cases show scores only" in small.notes[0]
    cases = small.payload["cases"]
    assert len(cases) == len(full.payload["cases"])
    assert any("x" not in c for c in cases)
    assert all("x" in c for c in cases if "f" in c or c["b"] != c["c"])


def test_payload_far_over_budget_keeps_scores_only(compared: Any) -> None:
    data, comparison = compared
    small = build_report(data.candidate, comparison=comparison, size_budget=10_000)
    assert all("x" not in c and "c" in c for c in small.payload["cases"])
    assert "scores only" in small.notes[0]


def test_comparison_without_baseline_run_shows_candidate_outputs(compared: Any) -> None:
    data, comparison = compared
    model = build_report(data.candidate, comparison=comparison, golden=data.golden)
    first = model.payload["cases"][0]
    assert "ob" not in first["x"] and "oc" in first["x"]
    assert first["b"] == [
        None if v is None else round(v, 4)
        for v in (comparison.cases[0].baseline[m] for m in ("exact", "f1", "helpfulness"))
    ]


def test_flaky_cases_are_listed_when_samples_repeat(tmp_path: Path) -> None:
    data = synthetic_runs(25, samples=3, seed=5)
    comparison = synthetic_comparison(data)
    model = build_report(
        data.candidate, baseline=data.baseline, comparison=comparison, golden=data.golden
    )
    expected = {d.case_id for d in comparison.cases if d.flaky}
    assert expected and model.n_flaky == len(expected)
    assert {row.case_id for row in model.flaky} <= expected
    flaky_case = next(c for c in model.payload["cases"] if c["id"] in expected)
    assert "s" in flaky_case and len(flaky_case["x"]["smp"]) == 2


def test_forest_plot_centres_zero_and_brackets_each_point() -> None:
    plot = forest_plot(
        [
            ForestItem("a", -0.1, -0.15, -0.05, "regression", margin=0.02),
            ForestItem("b", 0.02, -0.01, 0.05, "no-change"),
            ForestItem("c", None, None, None, "inconclusive"),
        ]
    )
    assert plot.zero_x == pytest.approx((plot.left + plot.right) / 2)
    a, b, c = plot.rows
    assert a.x_low is not None and a.x is not None and a.x_high is not None
    assert a.x_low < a.x < a.x_high < plot.zero_x
    assert a.x_margin is not None and a.x_margin < plot.zero_x  # margin on the worse side
    assert b.x_low is not None and b.x_low < plot.zero_x < (b.x_high or 0)
    assert c.x is None and c.value_text == "n/a"


def test_histogram_bar_heights_are_shares_of_each_run() -> None:
    h = histogram("exact", "binary", [1, 1, 0, 0], [1, 0, 0, 0])
    heights = {(bar.side, bar.title.split(":")[1].strip()): bar.h for bar in h.bars}
    tallest = h.bottom - 14.0
    assert heights[("candidate", "fail (0)")] == pytest.approx(tallest)
    assert heights[("baseline", "pass (1)")] == pytest.approx(tallest * 2 / 3, abs=0.01)
    assert [t.label for t in h.x_labels] == ["fail (0)", "pass (1)"]


def test_histogram_gives_averaged_binary_samples_their_own_bar() -> None:
    h = histogram("exact", "binary", None, [1.0, 0.5, 0.5, 0.0])
    assert [t.label for t in h.x_labels] == ["fail (0)", "0.5", "pass (1)"]
    assert [b.title.split(": ")[2].split(" of")[0] for b in h.bars] == ["1", "2", "1"]


def test_calibration_section_renders_figures_escaped(tmp_path: Path, compared: Any) -> None:
    data, comparison = compared
    calibration = {
        TAG_XSS: {
            "status": "uncalibrated",
            "n": 12,
            "figures": {"kappa": {"estimate": 0.41, "ci_low": 0.1, "ci_high": 0.7}},
            "confusion": {"labels": ["fail", "pass"], "matrix": [[3, 2], [1, 6]]},
        }
    }
    paths = render_report(
        data.candidate,
        baseline=data.baseline,
        comparison=comparison,
        output=tmp_path / "report.html",
        calibration=calibration,
    )
    html = paths.html.read_text(encoding="utf-8")
    section = html[html.index('<section id="calibration">') :]
    assert "Judge calibration" in section and "0.410" in section
    assert "<b onmouseover" not in html


def test_calibration_section_shows_a_fitted_judges_mapping_and_own_figures(
    tmp_path: Path, compared: Any
) -> None:
    data, comparison = compared
    calibration = {
        "correctness": {
            "status": "uncalibrated",
            "n": 60,
            "figures": {"kappa": {"estimate": 0.31, "ci_low": 0.1, "ci_high": 0.5}},
            "mapping": {"method": "threshold", "threshold": 0.27, "score": "P(pass)"},
            "fit": {"folds": 5, "grouped": True},
            "raw_figures": {"kappa": {"estimate": 0.05, "ci_low": 0.0, "ci_high": 0.1}},
            "labels_path": "judges/correctness.labels.jsonl",
            "raters": ["openqa-annotator1", TAG_XSS],
            "subset": {"n": 60, "of": 1489},
            "seconds_per_item": 36.5,
        }
    }
    paths = render_report(
        data.candidate,
        baseline=data.baseline,
        comparison=comparison,
        output=tmp_path / "report.html",
        calibration=calibration,
    )
    html = paths.html.read_text(encoding="utf-8")
    section = html[html.index('<section id="calibration">') :]
    assert "P(pass) &ge; 0.270 (threshold)" in section and "out of fold (5-fold" in section
    assert "Without the fitted mapping" in section and "0.050" in section
    assert "a deterministic subset of 60 of 1489 items" in section
    assert "<b onmouseover" not in html


def test_hostile_metric_name_is_escaped_in_server_rendered_tables(tmp_path: Path) -> None:
    name = "<script>window.__pwned=3</script>"
    manifest = RunManifest(
        run_id="r1",
        suite="<i>suite</i>",
        golden_path="g.jsonl",
        golden_fingerprint="sha256:0",
        n_cases=2,
        sut_fingerprint="sha256:1",
        started_at="2025-01-01T00:00:00Z",
        evalkit_version="0.1.0",
        metrics=[MetricInfo(name=name, scorer="x", kind="continuous")],
    )
    run = Run(
        manifest=manifest,
        outputs=outputs_frame([Output("a", 0, "x"), Output("b", 0, None, error="boom")]),
        scores=scores_frame(
            [
                ScoreRow("a", 0, name, 0.5, "continuous"),
                ScoreRow("b", 0, name, None, "continuous", error="no output"),
            ]
        ),
    )
    html = render_report(run, output=tmp_path / "r.html").html.read_text(encoding="utf-8")
    assert "<script>window.__pwned" not in html and "<i>suite</i>" not in html
    assert "&lt;script&gt;window.__pwned=3&lt;/script&gt;" in html


def test_baseline_without_comparison_is_compared_lazily(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, compared: Any
) -> None:
    data, comparison = compared
    calls: list[Any] = []

    def compare_runs(baseline: Run, candidate: Run, *, gate: Any, **_: Any) -> Comparison:
        calls.append((baseline, candidate, gate))
        return comparison

    fake = types.ModuleType("evalkit.comparison._compare")
    fake.compare_runs = compare_runs  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "evalkit.comparison._compare", fake)
    paths = render_report(data.candidate, baseline=data.baseline, output=tmp_path / "x.html")
    assert len(calls) == 1 and calls[0][0] is data.baseline and calls[0][1] is data.candidate
    assert type(calls[0][2]).__name__ == "GateConfig"
    assert json.loads(paths.summary_json.read_text())["baseline_id"] == "run-baseline"


def test_cli_report_writes_to_report_dir_and_prints_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from evalkit.cli import _report_cmd as report_cmd
    from evalkit.cli import main

    data = synthetic_runs(12, seed=9)
    comparison = synthetic_comparison(data)
    runs = {"cand": data.candidate, "base": data.baseline}
    monkeypatch.setattr(report_cmd, "load_run_ref", lambda ref, project, store: runs[ref])
    fake = types.ModuleType("evalkit.comparison._compare")
    fake.compare_runs = lambda b, c, *, gate: comparison  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "evalkit.comparison._compare", fake)
    (tmp_path / "pyproject.toml").write_text('[tool.evalkit]\nreport_dir = "out"\n')
    monkeypatch.chdir(tmp_path)
    assert main(["report", "cand", "--baseline", "base"]) == 0
    printed = Path(capsys.readouterr().out.strip())
    assert printed == tmp_path / "out" / "synthetic-run-candidate" / "report.html"
    assert printed.exists() and (printed.parent / "summary.md").exists()
    assert main(["report", "cand", "-o", str(tmp_path / "single.html")]) == 0
    assert "Single run" in (tmp_path / "single.html").read_text(encoding="utf-8")


@pytest.mark.slow
def test_report_from_stored_runs_end_to_end(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """evalkit report with the real run store and the real compare_runs."""
    import evalkit.comparison._compare
    from evalkit.cli import main
    from evalkit.store._runs import RunStore

    data = synthetic_runs(20, seed=7)
    store = RunStore(tmp_path / "runs")
    store.write_run(data.baseline)
    store.write_run(data.candidate)
    made: list[Comparison] = []
    real = evalkit.comparison._compare.compare_runs

    def recording(*args: Any, **kwargs: Any) -> Comparison:
        made.append(real(*args, **kwargs))
        return made[-1]

    monkeypatch.setattr(evalkit.comparison._compare, "compare_runs", recording)
    out = tmp_path / "out" / "report.html"
    argv = ["report", "run-candidate", "--baseline", "run-baseline", "-o", str(out)]
    assert main([*argv, "--store", str(tmp_path / "runs")]) == 0
    assert Path(capsys.readouterr().out.strip()) == out
    summary = json.loads(out.with_name("summary.json").read_text(encoding="utf-8"))
    (comparison,) = made
    assert comparison.baseline_id == "run-baseline" and comparison.candidate_id == "run-candidate"
    assert summary["verdict"] == ("pass" if comparison.gate.passed else "fail")
    assert summary["reasons"] == list(comparison.gate.reasons)
    assert [(m["metric"], m["verdict"]) for m in summary["metrics"]] == [
        (m.metric, m.verdict) for m in comparison.overall()
    ]
    payload = embedded_payload(out.read_text(encoding="utf-8"))
    assert len(payload["cases"]) == 20 and payload["mode"] == "comparison"


def test_report_reads_a_committed_baseline_file(tmp_path: Path) -> None:
    from evalkit.cli._report_cmd import load_run_ref
    from evalkit.config._suite import ProjectConfig
    from evalkit.store._baselines import write_baseline

    data = synthetic_runs(10, seed=8)
    path = write_baseline(data.baseline, tmp_path / "synthetic.baseline.jsonl")
    loaded = load_run_ref(str(path), ProjectConfig(), None)
    assert loaded.manifest.run_id == "run-baseline"
    assert sorted(loaded.outputs["case_id"]) == sorted(data.baseline.outputs["case_id"])


def test_top_regressed_ranks_new_critical_failures_first_and_skips_known_ones() -> None:
    from evalkit.comparison._model import CaseDiff
    from evalkit.report._data import MetricView, _top_regressed

    def case(case_id: str, b: float, c: float, **flags: Any) -> CaseDiff:
        return CaseDiff(case_id, (), None, {"m": b}, {"m": c}, {"m": c - b}, {}, **flags)

    metrics = [MetricView("m", "continuous")]
    ranked = _top_regressed(
        [
            case("small-drop", 0.5, 0.4),
            case("known-critical", 0.2, 0.2, critical_failed=True, known_failure=True),
            case("big-drop", 0.9, 0.1),
            case("new-critical", 0.6, 0.55, critical_failed=True),
            case("better", 0.1, 0.9),
        ],
        metrics,
    )
    assert [r.case_id for r in ranked] == ["new-critical", "big-drop", "small-drop"]
    assert ranked[0].critical and not ranked[1].critical


def test_payload_size_counts_the_escaped_bytes_the_page_holds() -> None:
    payload = {"cases": ["<<>>&&", "\u2028x"]}
    assert payload_size(payload) == len(script_safe_json(payload).encode("utf-8"))
