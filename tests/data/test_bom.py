"""Byte-order marks: golden sets, labelled sets and score files saved by Windows editors load.

Any other encoding error is still named by file and line.
"""

from __future__ import annotations

import codecs
from pathlib import Path

import pytest

from evalkit.cli import main
from evalkit.data._golden import load_golden_set
from evalkit.data._scorefile import load_score_file
from evalkit.errors import GoldenSetError, InvalidInputError, LabelledSetError
from evalkit.judging._labelled_sets import load_labels

GOLDEN = (
    '{"id": "q1", "input": "Capital of France?", "expected": "Paris"}\n'
    '{"id": "q2", "input": "Straße?", "expected": "street"}\n'
)
LABELS = (
    '{"id": "a", "input": "q", "output": "Paris", "labels": [{"rater": "r", "value": "pass"}]}\n'
    '{"id": "b", "input": "q", "output": "Lyon", "labels": [{"rater": "r", "value": "fail"}]}\n'
)
SCORES_CSV = "case_id,metric,value,tags\nq1,correct,1,géo\nq2,correct,0,\n"
SCORES_JSONL = (
    '{"case_id": "q1", "metric": "correct", "value": 1, "tags": ["géo"]}\n'
    '{"case_id": "q2", "metric": "correct", "value": 0}\n'
)

#: How Windows editors save text: UTF-8 with a mark ("UTF-8 with BOM"), or UTF-16 ("Unicode").
ENCODINGS = {
    "utf-8-bom": lambda text: codecs.BOM_UTF8 + text.encode("utf-8"),
    "utf-16-le-bom": lambda text: (
        codecs.BOM_UTF16_LE + text.replace("\n", "\r\n").encode("utf-16-le")
    ),
    "utf-16-be-bom": lambda text: codecs.BOM_UTF16_BE + text.encode("utf-16-be"),
    "utf-32-le-bom": lambda text: codecs.BOM_UTF32_LE + text.encode("utf-32-le"),
}


@pytest.mark.parametrize("encoding", sorted(ENCODINGS))
def test_golden_set_with_a_byte_order_mark_loads_like_plain_utf8(
    tmp_path: Path, encoding: str
) -> None:
    plain, marked = tmp_path / "plain.jsonl", tmp_path / "marked.jsonl"
    plain.write_text(GOLDEN, encoding="utf-8")
    marked.write_bytes(ENCODINGS[encoding](GOLDEN))
    expected = load_golden_set(plain)
    loaded = load_golden_set(marked)
    assert [case.canonical_json() for case in loaded.cases] == [
        case.canonical_json() for case in expected.cases
    ]
    assert loaded.fingerprint == expected.fingerprint
    assert loaded.lines == expected.lines


def test_validate_accepts_a_golden_set_with_a_utf8_bom(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "qa.jsonl").write_bytes(ENCODINGS["utf-8-bom"](GOLDEN))
    assert main(["validate", "qa.jsonl"]) == 0, capsys.readouterr()


@pytest.mark.parametrize("encoding", sorted(ENCODINGS))
def test_labelled_set_with_a_byte_order_mark_loads(tmp_path: Path, encoding: str) -> None:
    path = tmp_path / "judge.labels.jsonl"
    path.write_bytes(ENCODINGS[encoding](LABELS))
    labelled = load_labels(path)
    assert labelled.values == ["fail", "pass"]
    assert labelled.lines == {"a": 1, "b": 2}


@pytest.mark.parametrize("encoding", sorted(ENCODINGS))
@pytest.mark.parametrize(
    ("suffix", "text"), [(".csv", SCORES_CSV), (".jsonl", SCORES_JSONL)], ids=["csv", "jsonl"]
)
def test_score_file_with_a_byte_order_mark_loads(
    tmp_path: Path, encoding: str, suffix: str, text: str
) -> None:
    path = tmp_path / f"scores{suffix}"
    path.write_bytes(ENCODINGS[encoding](text))
    run = load_score_file(path)
    assert run.scores["case_id"].tolist() == ["q1", "q2"]
    assert run.scores["value"].tolist() == [1.0, 0.0]
    assert run.tags == {"q1": ["géo"]}


def test_invalid_utf8_in_a_score_file_is_named_by_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "scores.csv"
    path.write_bytes(
        codecs.BOM_UTF8 + b"case_id,metric,value\nq1,m,1\nq2,m\xff,0\nq3,m,1\nq4,\xfe,1\n"
    )
    with pytest.raises(InvalidInputError) as caught:
        load_score_file(path)
    assert [str(p) for p in caught.value.problems] == [
        f"{path}:3: invalid UTF-8 at byte 4 of the line; save the file as UTF-8",
        f"{path}:5: invalid UTF-8 at byte 3 of the line; save the file as UTF-8",
    ]


def test_invalid_utf8_after_a_bom_in_a_golden_set_is_named_by_line(tmp_path: Path) -> None:
    path = tmp_path / "qa.jsonl"
    path.write_bytes(codecs.BOM_UTF8 + GOLDEN.encode() + b'{"id": "q3", "input": "\xff"}\n')
    with pytest.raises(GoldenSetError) as caught:
        load_golden_set(path)
    assert [str(p) for p in caught.value.problems] == [
        f"{path}:3: invalid UTF-8 at byte 23 of the line; save the file as UTF-8"
    ]


def test_a_mark_in_the_middle_of_a_file_is_still_an_error_on_its_line(tmp_path: Path) -> None:
    path = tmp_path / "qa.jsonl"
    path.write_bytes(GOLDEN.encode() + codecs.BOM_UTF8 + b'{"id": "q3", "input": "x"}\n')
    with pytest.raises(GoldenSetError) as caught:
        load_golden_set(path)
    [problem] = caught.value.problems
    assert (problem.line, "not valid JSON" in problem.message) == (3, True)


def test_broken_utf16_after_its_mark_is_named_by_line(tmp_path: Path) -> None:
    path = tmp_path / "judge.labels.jsonl"
    good = LABELS.encode("utf-16-le")
    lone_surrogate = "\ud800".encode("utf-16-le", "surrogatepass")
    path.write_bytes(codecs.BOM_UTF16_LE + good + lone_surrogate + "x\n".encode("utf-16-le"))
    with pytest.raises(LabelledSetError) as caught:
        load_labels(path)
    [problem] = caught.value.problems
    assert problem.line == 3
    assert problem.message.startswith("invalid UTF-16 at character 1 of the line")


ANSWERS_CSV = "item,run_id,metric,case_id,sample,label,rater,note\n1,r1,correct,q1,0,pass,ana,é\n"


def test_answers_file_with_a_utf16_mark_is_read(tmp_path: Path) -> None:
    from evalkit.judging._labelling_sheet import read_answers

    path = tmp_path / "answers.csv"
    path.write_bytes(ENCODINGS["utf-16-le-bom"](ANSWERS_CSV))
    [answer] = read_answers(path)
    assert (answer.case_id, answer.label, answer.note) == ("q1", "pass", "é")


def test_answers_file_that_is_not_utf8_is_named_by_line(tmp_path: Path) -> None:
    from evalkit.errors import LabelImportError
    from evalkit.judging._labelling_sheet import read_answers

    path = tmp_path / "answers.csv"
    path.write_bytes(ANSWERS_CSV.encode("utf-8") + b"2,r1,correct,q2,0,fail,ana,caf\xe9\n")
    with pytest.raises(LabelImportError) as caught:
        read_answers(path)
    assert [str(p) for p in caught.value.problems] == [
        f"{path}:3: invalid UTF-8 at byte 30 of the line; save the file as UTF-8"
    ]
