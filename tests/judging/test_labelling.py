"""Label sheets: a random draw of a run's outputs, an offline form, and importing answers."""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

import numpy as np
import pytest

from evalkit.cli import main
from evalkit.data._records import (
    MetricInfo,
    Output,
    Run,
    RunManifest,
    ScoreRow,
    outputs_frame,
    scores_frame,
)
from evalkit.errors import LabelImportError
from evalkit.judging._calibration import ppi_mean
from evalkit.judging._labelling_sheet import (
    draw_sheet,
    load_human_labels,
    ppi_for_metric,
    read_answers,
    sheet_html,
    store_human_labels,
    validate_answers,
)
from evalkit.store._runs import RunStore

N_OUTPUTS = 120


def _store_run(root: Path, golden: Path | None = None) -> Run:
    rng = np.random.default_rng(0)
    outputs = [
        Output(
            case_id=f"c{i}", sample=0, text=f"answer <script>x{i}</script>", prompt=f"question {i}"
        )
        for i in range(N_OUTPUTS)
    ]
    rows = [
        ScoreRow(
            case_id=f"c{i}",
            sample=0,
            metric="correct",
            value=float(rng.random() < 0.6),
            kind="binary",
        )
        for i in range(N_OUTPUTS - 1)
    ]
    rows.append(
        ScoreRow(
            case_id=f"c{N_OUTPUTS - 1}",
            sample=0,
            metric="correct",
            value=None,
            kind="binary",
            error="unparseable judge reply",
        )
    )
    manifest = RunManifest(
        run_id="20250101T000000000Z-qa-abc123",
        suite="qa",
        status="complete",
        golden_path=str(golden) if golden else "golden_sets/missing.jsonl",
        golden_fingerprint="sha256:x",
        n_cases=N_OUTPUTS,
        sut_fingerprint="sha256:y",
        metrics=[
            MetricInfo(name="exact", scorer="exact", kind="binary"),
            MetricInfo(name="correct", scorer="judge", kind="binary", judge_fingerprint="sha256:j"),
        ],
        started_at="2025-01-01T00:00:00+00:00",
        evalkit_version="0.1.0",
    )
    run = Run(manifest, outputs_frame(outputs), scores_frame(rows))
    store = RunStore(root)
    location = store.write_run(run)
    return store.load_run(location)


@pytest.fixture
def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Run:
    # The CLI reads the nearest project config: run in a folder without one.
    monkeypatch.chdir(tmp_path)
    return _store_run(tmp_path / "runs")


def test_sheet_is_a_seeded_random_draw_of_scored_outputs(run: Run) -> None:
    sheet = draw_sheet(run, n=50, seed=3)
    again = draw_sheet(run, n=50, seed=3)
    other = draw_sheet(run, n=50, seed=4)
    ids = [item.case_id for item in sheet.items]
    assert ids == [item.case_id for item in again.items]
    assert ids != [item.case_id for item in other.items]
    assert len(set(ids)) == 50
    assert f"c{N_OUTPUTS - 1}" not in ids  # unscored outputs are not drawn
    assert sheet.n_population == N_OUTPUTS - 1
    assert sheet.metric == "correct" and sheet.labels == ["pass", "fail"]
    assert draw_sheet(run, n=500).items.__len__() == N_OUTPUTS - 1


def test_sheet_shows_golden_input_and_reference_when_the_golden_set_exists(tmp_path: Path) -> None:
    golden = tmp_path / "qa.jsonl"
    golden.write_text(
        "".join(
            json.dumps({"id": f"c{i}", "input": {"question": f"Q{i}?"}, "expected": [f"A{i}", "x"]})
            + "\n"
            for i in range(N_OUTPUTS)
        )
    )
    run = _store_run(tmp_path / "runs", golden)
    item = draw_sheet(run, n=1, golden_path=golden).items[0]
    number = item.case_id[1:]
    assert item.input == f"Q{number}?"
    assert item.expected == f"A{number} OR x"


def test_html_form_escapes_outputs_and_needs_no_network(run: Run) -> None:
    html = sheet_html(draw_sheet(run, n=10))
    assert "<script>x" not in html and "&lt;script&gt;x" in html
    assert "default-src 'none'" in html
    assert not re.search(r"(src|href)=\"https?://", html)
    assert "Export CSV" in html and "Export JSON" in html
    assert html.count('type="radio"') == 20


def test_label_command_writes_csv_html_and_json(
    run: Run, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "sheet"
    status = main(["label", run.location, "--n", "20", "--seed", "1", "-o", str(out), "--json"])
    assert status == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["n"] == 20 and payload["metric"] == "correct"
    rows = list(csv.DictReader(io.StringIO((out / "sheet.csv").read_text())))
    assert len(rows) == 20 and rows[0]["label"] == "" and rows[0]["run_id"] == run.manifest.run_id
    assert json.loads((out / "sheet.json").read_text())["seed"] == 1
    assert (out / "sheet.html").read_text().startswith("<!doctype html>")


def _answers_csv(path: Path, rows: list[dict[str, object]]) -> Path:
    columns = ["item", "run_id", "metric", "case_id", "sample", "label", "rater", "note"]
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        for row in rows:
            writer.writerow({key: row.get(key, "") for key in columns})
    return path


def test_imported_answers_are_stored_with_the_run_and_feed_ppi(
    run: Run, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sheet = draw_sheet(run, n=40, seed=2)
    scores = run.scores.set_index("case_id")["value"]
    rows = [
        {
            "run_id": run.manifest.run_id,
            "metric": "correct",
            "case_id": item.case_id,
            "sample": 0,
            "label": "pass" if scores[item.case_id] == 1 else "FAIL",
            "rater": "ann",
        }
        for item in sheet.items
    ]
    rows[0]["label"] = ""  # one left unlabelled
    answers = _answers_csv(tmp_path / "answers.csv", rows)
    assert main(["label", "--import", str(answers), run.location]) == 0
    out = capsys.readouterr().out
    assert "imported 39 label(s)" in out and "1 item(s) of the sheet are unlabelled" in out
    stored = load_human_labels(run)
    assert len(stored) == 39 and {label.rater for label in stored} == {"ann"}
    assert (Path(run.location) / "human_labels.jsonl").is_file()
    estimate = ppi_for_metric(run, "correct")
    assert estimate is not None
    assert estimate.n_labelled == 39 and estimate.n_unlabelled == N_OUTPUTS - 1 - 39
    labelled = [label.case_id for label in sorted(stored, key=lambda x: x.case_id)]
    direct = ppi_mean(
        scores.dropna().to_numpy(),
        scores[labelled].to_numpy(),
        np.array([label.value for label in sorted(stored, key=lambda x: x.case_id)]),
    )
    assert estimate == direct
    assert estimate.ci_low < estimate.estimate < estimate.ci_high


def test_reimporting_replaces_a_raters_labels(run: Run, tmp_path: Path) -> None:
    first = [
        {"case_id": "c1", "label": "pass", "rater": "ann"},
        {"case_id": "c2", "label": "fail", "rater": "bob"},
    ]
    answers = read_answers(_answers_csv(tmp_path / "a.csv", first))
    _, labels, _ = validate_answers(answers, run, "a.csv")
    store_human_labels(run, labels)
    second = read_answers(
        _answers_csv(tmp_path / "b.csv", [{"case_id": "c1", "label": "fail", "rater": "ann"}])
    )
    _, labels, _ = validate_answers(second, run, "b.csv")
    store_human_labels(run, labels)
    stored = {(label.case_id, label.rater): label.label for label in load_human_labels(run)}
    assert stored == {("c1", "ann"): "fail", ("c2", "bob"): "fail"}


def test_bad_answers_are_reported_with_file_and_line(run: Run, tmp_path: Path) -> None:
    rows = [
        {"case_id": "c1", "label": "maybe", "rater": "ann"},
        {"case_id": "nope", "label": "pass", "rater": "ann"},
        {"case_id": "c2", "label": "pass"},
        {"case_id": "c3", "label": "pass", "rater": "ann"},
        {"case_id": "c3", "label": "fail", "rater": "ann"},
        {"case_id": "c4", "label": "pass", "rater": "ann", "run_id": "other-run"},
    ]
    path = _answers_csv(tmp_path / "bad.csv", rows)
    with pytest.raises(LabelImportError) as info:
        validate_answers(read_answers(path), run, str(path))
    problems = [str(problem) for problem in info.value.problems]
    assert problems[0].startswith(f"{path}:2: label 'maybe' is not one of pass, fail")
    assert problems[1].startswith(f"{path}:3: run") and "'nope'" in problems[1]
    assert problems[2].startswith(f"{path}:4: no rater")
    assert problems[3].startswith(f"{path}:6: rater 'ann' labels case 'c3'")
    assert "(first on line 5)" in problems[3]
    assert problems[4].startswith(f"{path}:7: run_id 'other-run'")
    assert len(problems) == 5


def test_json_export_of_the_form_imports(run: Run, tmp_path: Path) -> None:
    payload = {
        "format": "evalkit-labels/1",
        "run_id": run.manifest.run_id,
        "metric": "correct",
        "rater": "cy",
        "answers": [{"item": 1, "case_id": "c5", "sample": 0, "label": "pass", "note": "ok"}],
    }
    path = tmp_path / "labels.json"
    path.write_text(json.dumps(payload))
    metric, labels, unanswered = validate_answers(read_answers(path), run, str(path))
    assert metric == "correct" and unanswered == 0
    assert labels[0].rater == "cy" and labels[0].value == 1.0 and labels[0].note == "ok"


def test_label_without_a_judge_metric_choice_is_a_usage_error(
    run: Run, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["label", run.location, "--metric", "missing"]) == 2
    assert "no metric 'missing'" in capsys.readouterr().err
