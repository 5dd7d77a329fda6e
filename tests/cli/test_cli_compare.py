"""`evalkit compare` over score files, baselines and stored runs; and score-file parsing."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from evalkit.cli import main
from evalkit.data._scorefile import load_score_file
from evalkit.errors import InvalidInputError
from evalkit.store._baselines import write_baseline
from tests.support.runs import CORRECT, make_run


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Runs each test in an empty folder (no project config is picked up)."""
    monkeypatch.chdir(tmp_path)


def write_jsonl(path: Path, rows: list[dict[str, object]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def write_csv(path: Path, rows: list[dict[str, object]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def binary_scores(values: list[float | None]) -> list[dict[str, object]]:
    return [{"case_id": f"q{i:03d}", "metric": "correct", "value": v} for i, v in enumerate(values)]


# ---------------------------------------------------------------- the command


def test_compare_exits_1_and_shows_the_regression_in_a_table(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base = write_csv(tmp_path / "base.csv", binary_scores([1.0] * 80 + [0.0] * 20))
    cand = write_jsonl(tmp_path / "cand.jsonl", binary_scores([1.0] * 55 + [0.0] * 45))
    assert main(["compare", str(base), str(cand)]) == 1
    out = capsys.readouterr().out
    assert "correct" in out and "regression" in out and "-0.25" in out
    assert "gate FAILED" in out


def test_compare_exits_0_when_nothing_changed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = binary_scores([1.0] * 40 + [0.0] * 10)
    base = write_jsonl(tmp_path / "base.jsonl", rows)
    cand = write_csv(tmp_path / "cand.csv", rows)
    assert main(["compare", str(base), str(cand)]) == 0
    out = capsys.readouterr().out
    assert "no-change" in out and "gate PASSED" in out


def test_compare_json_prints_the_versioned_comparison(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base = write_jsonl(tmp_path / "b.jsonl", binary_scores([1.0] * 30))
    cand = write_jsonl(tmp_path / "c.jsonl", binary_scores([1.0] * 29 + [0.0]))
    assert main(["compare", str(base), str(cand), "--json", "--alpha", "0.1"]) == 0
    out = capsys.readouterr().out
    assert out.count("\n") == 1  # not a terminal: one line (the fast C encoder)
    data = json.loads(out)
    assert data["schema_version"] == 1
    assert data["gate"]["alpha"] == 0.1 and data["gate"]["passed"] is True
    [row] = data["metrics"]
    assert row["metric"] == "correct" and row["kind"] == "binary" and row["flips_to_fail"] == 1
    assert {"delta", "ci_low", "ci_high", "p_value", "q_value", "mde", "verdict"} <= set(row)
    assert len(data["cases"]) == 30


def test_compare_policy_and_margin_flags_set_the_gate(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    values: list[float | None] = [1.0] * 15 + [0.0] * 5
    base = write_jsonl(tmp_path / "b.jsonl", binary_scores(values))
    cand = write_jsonl(tmp_path / "c.jsonl", binary_scores(values[::-1]))  # same mean
    args = ["compare", str(base), str(cand), "--policy", "non-inferiority", "--margin", "0.05"]
    assert main(args) == 1
    assert "not shown non-inferior" in capsys.readouterr().out
    assert main(["compare", str(base), str(cand), "--alpha", "1.5"]) == 2
    assert "--alpha" in capsys.readouterr().err


def test_compare_exits_3_when_too_many_cases_are_unscored(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base = write_jsonl(tmp_path / "b.jsonl", binary_scores([1.0] * 20))
    cand = write_jsonl(tmp_path / "c.jsonl", binary_scores([1.0] * 10 + [None] * 10))
    assert main(["compare", str(base), str(cand)]) == 3
    out = capsys.readouterr().out
    assert "gate ERROR" in out and "10 of 20 cases unscored" in out


def test_compare_exits_2_with_file_and_line_for_a_bad_score_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = write_jsonl(tmp_path / "b.jsonl", binary_scores([1.0] * 3))
    bad = tmp_path / "c.jsonl"
    bad.write_text('{"case_id": "q0", "metric": "correct", "value": 1}\n{"case_id": "q1"}\n')
    assert main(["compare", str(good), str(bad)]) == 2
    err = capsys.readouterr().err
    assert f"{bad}:2: missing metric, value" in err and "Traceback" not in err
    assert main(["compare", str(good), "no-such-run"]) == 2
    assert "no run 'no-such-run'" in capsys.readouterr().err


def test_compare_reads_baseline_files_and_stored_runs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from evalkit.store._runs import RunStore

    rows = [(f"q{i}", "correct", 1.0 if i % 4 else 0.0) for i in range(40)]
    baseline = write_baseline(make_run("base-run", rows, metrics=[CORRECT]), tmp_path / "b.jsonl")
    RunStore(tmp_path / ".evalkit" / "runs").write_run(
        make_run("cand-run", rows, metrics=[CORRECT])
    )
    assert main(["compare", str(baseline), "cand-run", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert (data["baseline_id"], data["candidate_id"]) == ("base-run", "cand-run")
    run_dir = tmp_path / ".evalkit" / "runs" / "cand-run"
    assert main(["compare", str(run_dir), str(baseline)]) == 0


# ---------------------------------------------------------------- score files


def test_score_file_reads_samples_groups_kinds_and_tags(tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "s.csv",
        [
            {"case_id": "a", "metric": "f1", "value": "0.5", "sample": "0", "group": "d1",
             "kind": "continuous", "tags": "geo;critical"},
            {"case_id": "a", "metric": "f1", "value": "0.7", "sample": "1", "group": "d1",
             "kind": "", "tags": ""},
            {"case_id": "b", "metric": "f1", "value": "", "sample": "0", "group": "",
             "kind": "", "tags": "geo"},
            {"case_id": "b", "metric": "ok", "value": "1", "sample": "", "group": "",
             "kind": "", "tags": ""},
        ],
    )  # fmt: skip
    run = load_score_file(path)
    assert run.groups == {"a": "d1"}
    assert run.tags == {"a": ["geo", "critical"], "b": ["geo"]}
    kinds = {m.name: m.kind for m in run.manifest.metrics}
    assert kinds == {"f1": "continuous", "ok": "binary"}
    assert run.manifest.samples == 2 and run.manifest.n_cases == 2
    unscored = run.scores[run.scores["value"].isna()]
    assert list(unscored["case_id"]) == ["b"] and unscored["error"].iloc[0]
    assert list(run.scores["kind"]) == ["continuous", "continuous", "continuous", "binary"]


def test_score_file_reports_every_bad_row_with_its_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    lines = [
        {"case_id": "a", "metric": "m", "value": 1, "kind": "binary"},
        {"case_id": "a", "metric": "m", "value": "high"},
        {"case_id": "b", "metric": "m", "value": 0.5, "kind": "continuous"},
        {"case_id": "a", "metric": "m", "value": 1},
        {"case_id": "", "metric": "m", "value": 1, "sample": -1},
        {"case_id": "c", "metric": "m", "value": 1, "group": "g1"},
        {"case_id": "c", "metric": "n", "value": 1, "group": "g2"},
    ]
    path.write_text("\n".join(json.dumps(x) for x in lines) + "\nnot json\n")
    with pytest.raises(InvalidInputError) as caught:
        load_score_file(path)
    messages = [str(p) for p in caught.value.problems]
    assert messages[0] == f"{path}:2: \"value\" must be a number or empty (unscored), got 'high'"
    assert messages[1].startswith(f"{path}:3: metric 'm' is 'continuous' here but 'binary'")
    assert messages[2].startswith(f"{path}:4: case 'a', metric 'm', sample 0 already scored")
    assert messages[3] == f'{path}:5: "case_id" must be a non-empty string'
    assert messages[4].startswith(f'{path}:5: "sample" must be a non-negative integer')
    assert messages[5].startswith(f"{path}:7: case 'c' is in group 'g2' here but 'g1'")
    assert messages[6].startswith(f"{path}:8: not valid JSON")
    assert len(messages) == 7


def test_csv_score_file_without_required_columns_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "s.csv"
    path.write_text("case,metric,score\na,m,1\n")
    with pytest.raises(InvalidInputError, match=r"s.csv:1: missing column\(s\) case_id, value"):
        load_score_file(path)


def test_score_file_comparison_matches_the_library_on_the_same_numbers(tmp_path: Path) -> None:
    from evalkit.comparison._compare import compare_runs

    rng = np.random.default_rng(0)
    base_values = rng.random(50)
    cand_values = np.clip(base_values - 0.05 + rng.normal(0, 0.05, 50), 0, 1)
    rows_b = [
        {"case_id": f"q{i}", "metric": "f1", "value": float(v)} for i, v in enumerate(base_values)
    ]
    rows_c = [
        {"case_id": f"q{i}", "metric": "f1", "value": float(v)} for i, v in enumerate(cand_values)
    ]
    result = compare_runs(
        load_score_file(write_jsonl(tmp_path / "b.jsonl", rows_b)),
        load_score_file(write_jsonl(tmp_path / "c.jsonl", rows_c)),
    )
    [row] = result.overall()

    # compare_runs works at the precision baselines are stored with (6 significant digits).
    def stored(values: np.ndarray) -> np.ndarray:
        return np.array([float(f"{v:.6g}") for v in values])

    assert row.delta == pytest.approx(float(np.mean(stored(cand_values) - stored(base_values))))
    assert row.verdict == "regression" and row.test == "wilcoxon"


def test_compare_suite_flag_applies_the_suites_gate_and_metric_settings(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "evalkit.toml").write_text(
        "[suites.qa]\n"
        'golden = "qa.jsonl"\n'
        'metrics = [{ name = "correct", gate = false }, "f1"]\n'
        "[suites.qa.gate]\n"
        "alpha = 0.01\n",
        encoding="utf-8",
    )
    base_rows = binary_scores([1.0] * 80 + [0.0] * 20)
    cand_rows = binary_scores([1.0] * 55 + [0.0] * 45)
    f1 = [{"case_id": f"q{i:03d}", "metric": "f1", "value": 0.5} for i in range(100)]
    base = write_jsonl(tmp_path / "b.jsonl", base_rows + f1)
    cand = write_jsonl(tmp_path / "c.jsonl", cand_rows + f1)
    assert main(["compare", str(base), str(cand)]) == 1
    capsys.readouterr()
    assert main(["compare", str(base), str(cand), "--suite", "qa", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["gate"]["alpha"] == 0.01
    correct = next(r for r in data["metrics"] if r["metric"] == "correct")
    assert correct["verdict"] == "regression" and correct["gating"] is False
    assert main(["compare", str(base), str(cand), "--suite", "nope"]) == 2
    assert "no suite named 'nope'" in capsys.readouterr().err
