"""Labelled sets: loading, consensus, and file:line errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from evalkit.cli import main
from evalkit.errors import LabelledSetError
from evalkit.judging._labelled_sets import load_labels, parse_labels


def _line(**item: object) -> str:
    return json.dumps(item)


def _item(id: str, value: object = "pass", **extra: object) -> str:
    return _line(
        id=id,
        input="Capital of France?",
        output="Paris",
        expected="Paris",
        labels=[{"rater": "ref-a", "value": value}],
        **extra,
    )


def _parse(*lines: str) -> object:
    return parse_labels(("\n".join(lines) + "\n").encode(), "set.labels.jsonl")


def _errors(*lines: str) -> list[str]:
    with pytest.raises(LabelledSetError) as info:
        _parse(*lines)
    return [str(problem) for problem in info.value.problems]


def test_binary_set_loads_with_kind_raters_and_fingerprint() -> None:
    labelled = parse_labels(
        (_item("a") + "\n" + _item("b", "fail") + "\n").encode(), "x.labels.jsonl"
    )
    assert labelled.kind == "binary"
    assert len(labelled) == 2
    assert labelled.raters == ["ref-a"]
    assert labelled.values == ["fail", "pass"]
    assert labelled.fingerprint.startswith("sha256:")
    assert labelled.lines == {"a": 1, "b": 2}


def test_fingerprint_ignores_line_order() -> None:
    one = parse_labels((_item("a") + "\n" + _item("b") + "\n").encode(), "x")
    two = parse_labels((_item("b") + "\n" + _item("a") + "\n").encode(), "x")
    assert one.fingerprint == two.fingerprint


def test_ordinal_and_pairwise_sets_get_their_kind() -> None:
    ordinal = parse_labels((_item("a", 4) + "\n").encode(), "x")
    assert ordinal.kind == "ordinal"
    pair = _line(id="p", input="q", a="one", b="two", labels=[{"rater": "r", "value": "tie"}])
    assert parse_labels((pair + "\n").encode(), "x").kind == "pairwise"


def test_consensus_is_the_majority_and_a_tie_goes_to_the_first_rater() -> None:
    labelled = parse_labels(
        "\n".join(
            [
                _line(
                    id="maj",
                    input="q",
                    output="o",
                    labels=[
                        {"rater": "x", "value": "fail"},
                        {"rater": "y", "value": "pass"},
                        {"rater": "z", "value": "pass"},
                    ],
                ),
                _line(
                    id="tie",
                    input="q",
                    output="o",
                    labels=[{"rater": "b", "value": "fail"}, {"rater": "a", "value": "pass"}],
                ),
            ]
        ).encode(),
        "x",
    )
    majority, tie = labelled.items
    assert majority.consensus() == "pass"
    assert tie.consensus() == "fail"
    assert tie.label_of("a") == "pass"


def test_every_problem_is_reported_with_file_and_line() -> None:
    errors = _errors(
        _item("a"),
        "{not json",
        _item("a"),
        _item("c", "maybe"),
        _line(id="d", input="q", labels=[{"rater": "r", "value": "pass"}]),
        _line(id="e", input="q", output="o", labels=[]),
    )
    assert errors[0].startswith("set.labels.jsonl:2: not valid JSON")
    assert 'set.labels.jsonl:3: duplicate id "a" (first on line 1)' in errors[1]
    assert errors[2].startswith("set.labels.jsonl:4:") and '"maybe"' in errors[2]
    assert errors[3].startswith('set.labels.jsonl:5: missing "output"')
    assert errors[4].startswith("set.labels.jsonl:6:") and "labels" in errors[4]
    assert len(errors) == 5


def test_a_rater_labelling_an_item_twice_is_an_error() -> None:
    line = _line(
        id="a",
        input="q",
        output="o",
        labels=[{"rater": "r", "value": "pass"}, {"rater": "r", "value": "fail"}],
    )
    (error,) = _errors(line)
    assert 'rater "r" labels this item 2 times' in error


def test_pairwise_labels_must_be_a_b_or_tie() -> None:
    line = _line(id="p", input="q", a="x", b="y", labels=[{"rater": "r", "value": "pass"}])
    (error,) = _errors(line)
    assert error.startswith("set.labels.jsonl:1:") and '"a", "b" or "tie"' in error


def test_mixing_pointwise_kinds_in_one_file_is_an_error() -> None:
    (error,) = _errors(_item("a"), _item("b", 3))
    assert error.startswith("set.labels.jsonl:2: this item is ordinal but the set is binary")


def test_unknown_keys_and_booleans_are_rejected() -> None:
    errors = _errors(_item("a", True), _item("b", colour="red"))
    assert errors[0].startswith("set.labels.jsonl:1:")
    assert 'unknown key "colour"' in errors[1]


def test_check_scale_names_labels_off_the_judges_scale() -> None:
    labelled = parse_labels((_item("a", 7) + "\n").encode(), "x.labels.jsonl")
    with pytest.raises(LabelledSetError) as info:
        labelled.check_scale([1, 2, 3, 4, 5], "quality")
    assert str(info.value.problems[0]).startswith("x.labels.jsonl:1:")
    assert 'judge "quality"' in str(info.value)


def test_empty_file_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(LabelledSetError, match="empty"):
        parse_labels(b"\n", "x")
    from evalkit.errors import NotFoundError

    with pytest.raises(NotFoundError):
        load_labels(tmp_path / "nope.labels.jsonl")


def test_shipped_correctness_labels_validate_with_at_least_100_items() -> None:
    labelled = load_labels(Path(__file__).parents[2] / "judges" / "correctness.labels.jsonl")
    assert len(labelled) >= 100
    assert labelled.kind == "binary"
    assert set(labelled.values) == {"pass", "fail"}
    assert len(labelled.raters) >= 2


def test_validate_command_reports_labelled_sets(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = tmp_path / "good.labels.jsonl"
    good.write_text(_item("a") + "\n" + _item("b", "fail") + "\n")
    bad = tmp_path / "bad.labels.jsonl"
    bad.write_text(_item("a") + "\n" + _item("a") + "\n")
    assert main(["validate", str(good)]) == 0
    assert "2 labelled item(s)" in capsys.readouterr().out
    assert main(["validate", str(bad)]) == 2
    assert f"{bad}:2: duplicate id" in capsys.readouterr().err
