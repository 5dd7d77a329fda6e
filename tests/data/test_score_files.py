"""Score files at scale: the vectorised reader accepts exactly what the row-by-row one does.

The fast reader (pyarrow's CSV and JSON readers, checks on whole columns) must give the
same Run as the row-by-row reader on every valid file, and hand every file with a
problem to the row-by-row reader, which names each bad row by file and line.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from evalkit.data import _scorefile as scorefile
from evalkit.data._jsonl import checked_utf8
from evalkit.data._records import Run
from evalkit.errors import InvalidInputError

RICH_CSV = (
    "case_id,metric,value,sample,group,kind,tags,error,rationale,extra\n"
    " a ,f1,0.5,0,d1,continuous,geo;critical,,good,x\n"
    "a,f1,0.70,1,d1,,,,,\n"
    "b,f1,,0,, ,geo|news,judge down,,\n"
    "b,ok,1,,,,,,,\n"
    "c,ok, NA ,0,d2,binary,news,,,\n"
    'c,f1,"1e-3",0,"d2",,"geo; news",,"a, quoted",\n'
    "d,ok,0,2,,,,,,\n"
)
RICH_JSONL = "".join(
    json.dumps(row) + "\n"
    for row in [
        {"case_id": " a ", "metric": "f1", "value": 0.5, "sample": 0, "group": "d1",
         "kind": "continuous", "tags": ["geo", "critical"], "rationale": "good", "extra": 1},
        {"case_id": "a", "metric": "f1", "value": 0.7, "sample": 1, "group": "d1"},
        {"case_id": "b", "metric": "f1", "value": None, "tags": ["geo", "news"],
         "error": "judge down"},
        {"case_id": "b", "metric": "ok", "value": 1, "tags": []},
        {"case_id": "c", "metric": "ok", "value": None, "group": "d2", "kind": "binary"},
        {"case_id": "c", "metric": "f1", "value": 1e-3, "group": None, "tags": ["news"]},
        {"case_id": "d\u2028", "metric": "ok", "value": 0, "sample": 2},
    ]
)  # fmt: skip


def _both(path: Path) -> tuple[Run, Run]:
    """Returns the Run read by the fast reader and by the row-by-row reader."""
    data = checked_utf8(path.read_bytes(), str(path))
    is_csv = path.suffix == ".csv"
    fast = scorefile._fast_scores(data, is_csv)
    assert fast is not None, "the fast reader should accept this valid file"
    slow = scorefile._checked_scores(data.decode("utf-8"), str(path), is_csv)
    return scorefile._run_of(fast, path, "s"), scorefile._run_of(slow, path, "s")


@pytest.mark.parametrize(("name", "text"), [("s.csv", RICH_CSV), ("s.jsonl", RICH_JSONL)])
def test_fast_reader_gives_the_same_run_as_the_row_by_row_reader(
    tmp_path: Path, name: str, text: str
) -> None:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    fast, slow = _both(path)
    pd.testing.assert_frame_equal(fast.scores, slow.scores)
    assert fast.manifest == slow.manifest
    assert (fast.groups, fast.tags) == (slow.groups, slow.tags)
    # And what both read is what the file says.
    assert fast.groups == {"a": "d1", "c": "d2"}
    assert fast.tags["a"] == ["geo", "critical"] and fast.tags["b"] == ["geo", "news"]
    assert {m.name: m.kind for m in fast.manifest.metrics} == {"f1": "continuous", "ok": "binary"}
    assert fast.manifest.samples == 3 and fast.manifest.n_cases == 4
    errors = fast.scores.set_index(["case_id", "metric"])["error"]
    assert errors[("b", "f1")] == "judge down"
    assert errors[("c", "ok")] == "no value in score file"


@pytest.mark.parametrize(
    ("name", "text", "line", "message"),
    [
        ("s.csv", "case_id,metric,value\na,m,1\nb,m,high\n", 3, '"value" must be a number'),
        ("s.csv", "case_id,metric,value\na,m,1\nb,m,inf\n", 3, '"value" must be finite'),
        ("s.csv", "case_id,metric,value\na,m,1\nb,m,-nan\n", 3, '"value" must be finite'),
        ("s.csv", "case_id,metric,value\na,m,1\na,m,0\n", 3, "already scored on line 2"),
        ("s.csv", "case_id,metric,value\n ,m,1\n", 2, '"case_id" must be a non-empty'),
        ("s.csv", "case_id,metric,value,sample\na,m,1,-1\n", 2, '"sample" must be'),
        ("s.csv", "case_id,metric,value,sample\na,m,1,1.5\n", 2, '"sample" must be'),
        ("s.csv", "case_id,metric,value,kind\na,m,1,bool\n", 2, '"kind" must be one of'),
        ("s.csv", "case_id,metric,value,kind\na,m,1,binary\nb,m,1,ordinal\n", 3, "one kind"),
        ("s.csv", "case_id,metric,value,group\na,m,1,g1\na,n,1,g2\n", 3, "one group"),
        ("s.jsonl", '{"case_id": "a", "metric": "m", "value": 1}\n{"case_id": "b"}\n', 2,
         "missing metric, value"),
        ("s.jsonl", '{"case_id": "a", "metric": "m", "value": 1}\n{"case_id": "b", '
         '"metric": "m"}\n', 2, "missing value"),
        ("s.jsonl", '{"case_id": "a", "metric": "m", "value": 1}\n[1]\n', 2,
         "expected a JSON object"),
        ("s.jsonl", '{"case_id": "a", "metric": "m", "value": 1}\n{"case_id": 5, '
         '"metric": "m", "value": true, "tags": "x"}\n{"case_id": "a", "metric": "m", '
         '"value": 1}\n', 3, "already scored on line 1"),
    ],
)  # fmt: skip
def test_a_file_with_a_problem_is_read_row_by_row_and_the_row_is_named(
    tmp_path: Path, name: str, text: str, line: int, message: str
) -> None:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    data = checked_utf8(path.read_bytes(), str(path))
    assert scorefile._fast_scores(data, name.endswith(".csv")) is None
    with pytest.raises(InvalidInputError) as caught:
        scorefile.load_score_file(path)
    problems = [p for p in caught.value.problems if p.line == line]
    assert any(message in p.message for p in problems), caught.value.problems


def test_a_value_arrow_cannot_convert_exactly_is_left_to_the_row_by_row_reader(
    tmp_path: Path,
) -> None:
    path = tmp_path / "s.jsonl"
    big = 2**53 + 1  # no double holds it: Arrow's safe cast refuses, Python rounds
    path.write_text(
        f'{{"case_id": "a", "metric": "m", "value": {big}}}\n'
        '{"case_id": "b", "metric": "m", "value": 1}\n',
        encoding="utf-8",
    )
    assert scorefile._fast_scores(checked_utf8(path.read_bytes(), str(path)), False) is None
    assert scorefile.load_score_file(path).scores["value"].tolist() == [float(big), 1.0]


def test_jsonl_with_numbers_and_text_in_one_column_is_read_row_by_row(tmp_path: Path) -> None:
    path = tmp_path / "s.jsonl"
    path.write_text(
        '{"case_id": "a", "metric": "m", "value": 1}\n'
        '{"case_id": "b", "metric": "m", "value": ""}\n'
        '{"case_id": "c", "metric": "m", "value": "0.25"}\n',
        encoding="utf-8",
    )
    run = scorefile.load_score_file(path)
    assert run.scores["value"].tolist()[0] == 1.0
    assert pd.isna(run.scores["value"].tolist()[1])
    assert run.scores["value"].tolist()[2] == 0.25


def test_first_bad_row_of_a_large_file_is_named_by_line(tmp_path: Path) -> None:
    path = tmp_path / "big.csv"
    rows = [f"case-{i:05d},m{j},{(i * j) % 7 / 7:.6g}" for i in range(5000) for j in range(4)]
    rows[17_321] = "case-04330,m1,0.5x"  # line 17,323 (the header is line 1)
    path.write_text("case_id,metric,value\n" + "\n".join(rows) + "\n", encoding="utf-8")
    with pytest.raises(InvalidInputError) as caught:
        scorefile.load_score_file(path)
    assert [str(p) for p in caught.value.problems] == [
        f"{path}:17323: \"value\" must be a number or empty (unscored), got '0.5x'"
    ]
