"""`evalkit validate`: all problems, file:line, exit 2, no traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from evalkit.cli import main


def test_validate_lists_every_problem_and_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "a", "input": "x"}\n{"id": "a", "input": "y"}\n{"input": 1}\n')
    good = tmp_path / "good.jsonl"
    good.write_text('{"id": "a", "input": "x"}\n')
    status = main(["validate", str(good), str(bad)])
    out, err = capsys.readouterr()
    assert status == 2
    assert f"ok  {good}: 1 case(s)" in out
    assert f"{bad}:2: duplicate id" in err
    assert f"{bad}:3: " in err
    assert "3 problem(s) found" in err  # line 3 lacks "id" and has a bad "input"
    assert "Traceback" not in err


def test_validate_config_checks_suite_golden_sets(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "qa.jsonl").write_text('{"id": "a", "inputs": "x"}\n')
    config = tmp_path / "evalkit.toml"
    config.write_text('[suites.qa]\ngolden = "qa.jsonl"\n')
    assert main(["validate", str(config)]) == 2
    assert 'unknown key "inputs"' in capsys.readouterr().err


def test_validate_missing_path(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(tmp_path / "missing.jsonl")]) == 2
    assert "no such golden set" in capsys.readouterr().err


def test_console_script_prints_no_traceback_for_user_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text("{")
    result = subprocess.run(
        [sys.executable, "-m", "evalkit", "validate", str(bad)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2
    assert f"{bad}:1: the last line is truncated" in result.stderr
    assert "Traceback" not in result.stderr


def test_unknown_verb_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["frobnicate"])
    assert info.value.code == 2


def test_repository_suites_validate(capsys: pytest.CaptureFixture[str]) -> None:
    root = Path(__file__).resolve().parents[2]
    assert main(["validate", str(root / "pyproject.toml")]) == 0


def test_export_golden_set_as_dataset(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = tmp_path / "s.jsonl"
    source.write_text('{"id": "a", "input": {"q": "x"}}\n{"id": "b", "input": "y"}\n')
    out = tmp_path / "ds"
    assert main(["export", "--golden", str(source), "-o", str(out)]) == 0
    assert "wrote 2 rows" in capsys.readouterr().out
    assert main(["validate", str(out)]) == 0
