"""Golden sets: every bad input is reported as file:line with what to do."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from evalkit.data._golden import GoldenCase, fingerprint_cases, load_golden_set, parse_jsonl
from evalkit.errors import GoldenSetError, NotFoundError


def write(tmp_path: Path, text: str | bytes, name: str = "set.jsonl") -> Path:
    path = tmp_path / name
    if isinstance(text, str):
        path.write_text(text, encoding="utf-8")
    else:
        path.write_bytes(text)
    return path


def problems_of(path: Path) -> list[str]:
    with pytest.raises(GoldenSetError) as info:
        load_golden_set(path)
    return [str(p) for p in info.value.problems]


def test_valid_set_loads_every_input_shape(tmp_path: Path) -> None:
    lines = [
        {"id": "a", "input": "plain string", "expected": "x"},
        {"id": "b", "input": {"question": "q"}, "expected": ["y", "z"], "tags": ["critical"]},
        {"id": "c", "input": [{"role": "user", "content": "hi"}], "contexts": ["ctx"]},
        {"id": "d", "input": {"text": "t"}, "expected": {"name": "Ann"}, "group": "doc1"},
        {"id": "e", "input": "n", "expected": 42, "metadata": {"source": "manual"}},
    ]
    path = write(tmp_path, "".join(json.dumps(x) + "\n" for x in lines))
    golden = load_golden_set(path)
    assert golden.ids == ["a", "b", "c", "d", "e"]
    assert golden.by_id()["b"].critical
    assert golden.lines["d"] == 4
    assert golden.fingerprint.startswith("sha256:")


def test_missing_id_names_file_and_line(tmp_path: Path) -> None:
    path = write(tmp_path, '{"id": "a", "input": "x"}\n{"input": "y"}\n')
    assert problems_of(path) == [
        f'{path}:2: missing "id"; every case needs a non-empty string; '
        "see the golden-set format in README"
    ]


def test_duplicate_id_points_at_first_occurrence(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        '{"id": "a", "input": "x"}\n{"id": "b", "input": "x"}\n{"id": "a", "input": "y"}\n',
    )
    (problem,) = problems_of(path)
    assert problem.startswith(f'{path}:3: duplicate id "a" (first on line 1)')


def test_wrong_types_are_explained(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        '{"id": 7, "input": "x"}\n'
        '{"id": "b", "input": 3}\n'
        '{"id": "c", "input": "x", "tags": "critical"}\n'
        '{"id": "d", "input": "x", "contexts": ["ok", 5]}\n'
        '{"id": "e", "input": [{"role": "robot", "content": "x"}]}\n'
        '{"id": "  ", "input": "x"}\n',
    )
    found = problems_of(path)
    assert len(found) == 6
    assert found[0].startswith(f'{path}:1: "id" must be a non-empty string, got a number')
    assert found[1].startswith(f'{path}:2: "input" must be a string, an object')
    assert found[2].startswith(f'{path}:3: "tags" must be a list of strings, got a string')
    assert "an item is not a string" in found[3]
    assert found[4].startswith(f'{path}:5: "input" must be') and "role" in found[4]
    assert "blank" in found[5]


def test_unknown_key_is_an_error_that_suggests_metadata(tmp_path: Path) -> None:
    path = write(tmp_path, '{"id": "a", "input": "x", "answer": "y"}\n')
    (problem,) = problems_of(path)
    assert 'unknown key "answer"' in problem and '"metadata"' in problem
    assert problem.startswith(f"{path}:1:")


def test_non_object_line(tmp_path: Path) -> None:
    path = write(tmp_path, '["id", "input"]\n')
    (problem,) = problems_of(path)
    assert problem.startswith(f"{path}:1: expected a JSON object, got a list")


def test_invalid_json_in_the_middle(tmp_path: Path) -> None:
    path = write(tmp_path, '{"id": "a", "input": "x"}\n{"id": "b", input: 1}\n')
    (problem,) = problems_of(path)
    assert problem.startswith(f"{path}:2: not valid JSON")


def test_invalid_utf8(tmp_path: Path) -> None:
    path = write(tmp_path, b'{"id": "a", "input": "x"}\n{"id": "b", "input": "caf\xe9"}\n')
    (problem,) = problems_of(path)
    assert problem.startswith(f"{path}:2: invalid UTF-8")


def test_empty_file(tmp_path: Path) -> None:
    path = write(tmp_path, "\n  \n")
    (problem,) = problems_of(path)
    assert problem.startswith(f"{path}: the file is empty")


def test_truncated_last_line(tmp_path: Path) -> None:
    path = write(tmp_path, '{"id": "a", "input": "x"}\n{"id": "b", "inp')
    (problem,) = problems_of(path)
    assert problem.startswith(f"{path}:2: the last line is truncated")


def test_all_problems_are_reported_in_one_pass(tmp_path: Path) -> None:
    path = write(tmp_path, '{"input": "x"}\nnot json\n{"id": "a", "input": "x", "zzz": 1}\n[]\n')
    found = problems_of(path)
    assert [p.split(":")[1] for p in found] == ["1", "2", "3", "4"]


def test_blank_lines_are_skipped_and_numbering_stays_true(tmp_path: Path) -> None:
    path = write(tmp_path, '{"id": "a", "input": "x"}\n\n{"id": "b"}\n')
    (problem,) = problems_of(path)
    assert problem.startswith(f"{path}:3:")


def test_missing_file_is_not_found(tmp_path: Path) -> None:
    with pytest.raises(NotFoundError, match="no such golden set"):
        load_golden_set(tmp_path / "nope.jsonl")


def test_fingerprint_ignores_order_and_whitespace_but_not_content() -> None:
    a = parse_jsonl(b'{"id": "a", "input": "x"}\n{"id": "b", "input": "y"}\n', "p")
    b = parse_jsonl(b'{"input":"y","id":"b"}\n{"id":"a",  "input":"x"}', "p")
    c = parse_jsonl(b'{"id": "a", "input": "x"}\n{"id": "b", "input": "z"}\n', "p")
    assert a.fingerprint == b.fingerprint
    assert a.fingerprint != c.fingerprint


def test_canonical_json_round_trips() -> None:
    case = GoldenCase.model_validate({"id": "a", "input": {"q": 1}, "expected": ["x"]})
    again = GoldenCase.model_validate(json.loads(case.canonical_json()))
    assert again == case
    assert fingerprint_cases([case]) == fingerprint_cases([again])


def test_large_file_loads_in_seconds(tmp_path: Path) -> None:
    # Not a timing assertion (see bench/bench_golden.py): checks 100k cases load correctly.
    row = '{{"id": "c{i}", "input": {{"question": "q{i}"}}, "expected": "a{i}", "tags": ["t"]}}\n'
    path = write(tmp_path, "".join(row.format(i=i) for i in range(100_000)))
    start = time.perf_counter()
    golden = load_golden_set(path)
    assert len(golden) == 100_000
    assert golden.by_id()["c99999"].expected == "a99999"
    # Generous bound to catch an accidental quadratic algorithm, not to measure speed.
    assert time.perf_counter() - start < 60


def test_hf_dataset_round_trip(tmp_path: Path) -> None:
    from evalkit.data._export import golden_to_dataset

    path = write(
        tmp_path,
        '{"id": "a", "input": {"q": "x"}, "expected": {"k": 1}, "tags": ["t"]}\n'
        '{"id": "b", "input": "plain", "expected": ["p", "q"], "group": "g"}\n',
    )
    golden = load_golden_set(path)
    dataset = golden_to_dataset(golden)
    folder = tmp_path / "ds"
    dataset.save_to_disk(str(folder))
    again = load_golden_set(folder)
    assert again.fingerprint == golden.fingerprint
    parquet = tmp_path / "set.parquet"
    dataset.to_parquet(str(parquet))
    assert load_golden_set(parquet).fingerprint == golden.fingerprint


def test_hf_dataset_with_column_mapping(tmp_path: Path) -> None:
    import datasets

    from evalkit.data._golden import load_hf_dataset

    folder = tmp_path / "ds"
    datasets.Dataset.from_dict(
        {"qid": [1, 2], "question": ["q1", "q2"], "answer": ["a1", "a2"]}
    ).save_to_disk(str(folder))
    golden = load_hf_dataset(
        folder, columns={"id": "qid", "input": "question", "expected": "answer"}
    )
    assert golden.ids == ["1", "2"]
    assert golden.by_id()["2"].expected == "a2"


def test_hf_dataset_without_mapping_names_its_columns(tmp_path: Path) -> None:
    import datasets

    folder = tmp_path / "ds"
    datasets.Dataset.from_dict({"question": ["q"]}).save_to_disk(str(folder))
    with pytest.raises(GoldenSetError, match="its columns are \\['question'\\]"):
        load_golden_set(folder)


def test_fast_fingerprint_equals_the_model_based_one(tmp_path: Path) -> None:
    # parse_jsonl hashes the validated line dicts; it must agree with fingerprint_cases
    # (used for sets built in Python) for every input shape, with and without defaults.
    lines = [
        {"id": "a", "input": "x", "expected": None, "tags": [], "metadata": {}},
        {"id": "b", "input": {"q": "é"}, "expected": ["y"], "group": "g", "contexts": ["c"]},
        {"id": "c", "input": [{"role": "user", "content": "hi"}], "expected": {"k": 1}},
        {"id": "d", "input": "n", "expected": 0, "metadata": {"m": [1, 2]}},
    ]
    golden = load_golden_set(write(tmp_path, "".join(json.dumps(x) + "\n" for x in lines)))
    assert golden.fingerprint == fingerprint_cases(golden.cases)
