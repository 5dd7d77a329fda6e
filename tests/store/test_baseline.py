"""Baselines: a diff-friendly, atomically written pinned run, and `evalkit baseline`."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from evalkit.cli import main
from evalkit.data._records import Output, Run, outputs_frame
from evalkit.errors import InvalidInputError
from evalkit.store._baselines import is_baseline_file, load_baseline, write_baseline
from tests.support.runs import CORRECT, F1, make_run


def sample_run() -> Run:
    rows = [
        ("b-case", "correct", 1.0, 0),
        ("b-case", "correct", 0.0, 1),
        ("b-case", "f1", 0.123456789, 0),
        ("a-case", "correct", None, 0),
        ("a-case", "f1", 2 / 3, 0),
    ]
    run = make_run(
        "20250101T000000000Z-qa-abc123",
        rows,
        metrics=[CORRECT, F1],
        tags={"a-case": ["geo", "critical"]},
        groups={"b-case": "doc-1"},
    )
    outputs = outputs_frame(
        [
            Output("a-case", 0, "Paris"),
            Output("b-case", 0, "Berlin"),
            Output("b-case", 1, None, error="timeout after 60s"),
        ]
    )
    return Run(run.manifest, outputs, run.scores, tags=run.tags, groups=run.groups)


def test_baseline_round_trips_scores_unscored_reasons_outputs_tags_and_groups(
    tmp_path: Path,
) -> None:
    path = write_baseline(sample_run(), tmp_path / "qa.baseline.jsonl")
    loaded = load_baseline(path)
    assert loaded.manifest == sample_run().manifest
    scores = loaded.scores.set_index(["case_id", "metric", "sample"])
    assert scores.loc[("b-case", "f1", 0), "value"] == 0.123457  # 6 significant digits
    assert scores.loc[("b-case", "correct", 1), "value"] == 0.0
    unscored = scores.loc[("a-case", "correct", 0)]
    assert unscored["error"] == "judge reply unparseable" and unscored["value"] != unscored["value"]
    assert scores.loc[("a-case", "f1", 0), "kind"] == "continuous"
    assert loaded.tags == {"a-case": ["geo", "critical"]} and loaded.groups == {"b-case": "doc-1"}
    outputs = loaded.outputs.set_index(["case_id", "sample"])
    assert outputs.loc[("a-case", 0), "text"] == "Paris"
    assert outputs.loc[("b-case", 1), "error"] == "timeout after 60s"
    assert is_baseline_file(path)


def test_baseline_file_is_sorted_stable_and_one_line_per_case(tmp_path: Path) -> None:
    path = write_baseline(sample_run(), tmp_path / "b.jsonl")
    lines = path.read_text(encoding="utf-8").splitlines()
    assert json.loads(lines[0])["evalkit_baseline"] == 1
    assert [json.loads(line)["case_id"] for line in lines[1:]] == ["a-case", "b-case"]
    assert list(json.loads(lines[2])) == ["case_id", "group", "scores", "outputs", "output_errors"]
    assert json.loads(lines[2])["scores"] == {"correct": [1.0, 0.0], "f1": [0.123457]}
    again = write_baseline(load_baseline(path), tmp_path / "again.jsonl")
    assert again.read_bytes() == path.read_bytes()


def test_changing_one_case_changes_one_line(tmp_path: Path) -> None:
    first = write_baseline(sample_run(), tmp_path / "one.jsonl").read_text().splitlines()
    run = sample_run()
    scores = run.scores.copy()
    scores.loc[(scores["case_id"] == "b-case") & (scores["metric"] == "f1"), "value"] = 0.9
    changed = Run(run.manifest, run.outputs, scores, tags=run.tags, groups=run.groups)
    second = write_baseline(changed, tmp_path / "two.jsonl").read_text().splitlines()
    assert [i for i, (a, b) in enumerate(zip(first, second, strict=True)) if a != b] == [2]


def test_a_failed_write_leaves_the_old_baseline_intact(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_baseline(sample_run(), tmp_path / "qa.baseline.jsonl")
    before = path.read_bytes()

    def crash(*_: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError, match="disk full"):
        write_baseline(make_run("other", [("x", "f1", 0.1)], metrics=[F1]), path)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["qa.baseline.jsonl"]


def test_bad_baseline_files_name_the_file_and_line(tmp_path: Path) -> None:
    path = write_baseline(sample_run(), tmp_path / "b.jsonl")
    lines = path.read_text().splitlines()
    path.write_text("\n".join([lines[0], lines[1], '{"scores": {}}']) + "\n")
    with pytest.raises(InvalidInputError) as caught:
        load_baseline(path)
    assert str(caught.value).startswith(f"{path}:3: bad baseline case line")
    not_baseline = tmp_path / "scores.jsonl"
    not_baseline.write_text('{"case_id": "a", "metric": "m", "value": 1}\n')
    with pytest.raises(InvalidInputError, match=r"scores.jsonl:1: not an evalkit baseline"):
        load_baseline(not_baseline)
    assert not is_baseline_file(not_baseline)


def _project(tmp_path: Path, gate: str = "") -> Path:
    (tmp_path / "golden_sets").mkdir()
    (tmp_path / "golden_sets" / "qa.jsonl").write_text(
        '{"id": "a-case", "input": "a"}\n{"id": "b-case", "input": "b"}\n', encoding="utf-8"
    )
    (tmp_path / "evalkit.toml").write_text(
        f'[suites.qa]\ngolden = "golden_sets/qa.jsonl"\n{gate}', encoding="utf-8"
    )
    return tmp_path


def _of_golden_set(run: Run, project: Path) -> Run:
    """Returns ``run`` as made from the project's golden set (its fingerprint)."""
    from evalkit.data._golden import load_golden_set

    fingerprint = load_golden_set(project / "golden_sets" / "qa.jsonl").fingerprint
    manifest = run.manifest.model_copy(update={"golden_fingerprint": fingerprint})
    return Run(manifest, run.outputs, run.scores, tags=run.tags, groups=run.groups)


def test_cli_baseline_update_pins_a_stored_run_and_show_summarises_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from evalkit.store._runs import RunStore

    # sample_run leaves 1 of 2 cases unscored on "correct": within a limit of 50%.
    project = _project(tmp_path, "[suites.qa.gate]\nmax_unscored_share = 0.5\n")
    monkeypatch.chdir(project)
    run = _of_golden_set(sample_run(), project)
    RunStore(project / ".evalkit" / "runs").write_run(run)
    assert main(["baseline", "update", "qa", "--from", run.manifest.run_id]) == 0
    target = project / "golden_sets" / "qa.baseline.jsonl"
    assert "pinned run 20250101T000000000Z-qa-abc123" in capsys.readouterr().out
    assert load_baseline(target).manifest.run_id == run.manifest.run_id
    assert main(["baseline", "show", "qa"]) == 0
    shown = capsys.readouterr().out
    assert "run 20250101T000000000Z-qa-abc123 (complete)" in shown
    assert "│ correct │ binary" in shown and "0.3951" in shown  # f1: (2/3 + 0.123457) / 2


def test_cli_baseline_update_refuses_another_suites_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from evalkit.store._runs import RunStore

    project = _project(tmp_path)
    monkeypatch.chdir(project)
    other = make_run("r-other", [("a", "f1", 0.5)], metrics=[F1], suite="rag")
    RunStore(project / ".evalkit" / "runs").write_run(other)
    assert main(["baseline", "update", "qa", "--from", "r-other"]) == 2
    assert "belongs to suite 'rag'" in capsys.readouterr().err
    assert not (project / "golden_sets" / "qa.baseline.jsonl").exists()
    assert main(["baseline", "show", "qa"]) == 2
    assert "no such baseline file" in capsys.readouterr().err
