"""``evalkit init``: scaffolds a working suite and never clobbers a user's files."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from evalkit.cli import main
from evalkit.config import load_config
from evalkit.golden import load_golden_set
from evalkit.init_project import scaffold


def test_init_in_an_empty_folder_creates_a_loadable_suite(tmp_path: Path) -> None:
    assert main(["init", "--dir", str(tmp_path)]) == 0
    config = load_config(tmp_path / "pyproject.toml")
    suite = config.suite("qa")
    assert len(load_golden_set(config.path(suite.golden))) == 5
    assert config.path(suite.sut.prompt or "").is_file()
    pytest_options = tomllib.loads((tmp_path / "pyproject.toml").read_text())["tool"]["pytest"]
    assert "-p no:deepeval -p no:langsmith_plugin" in pytest_options["ini_options"]["addopts"]
    workflow = (tmp_path / ".github" / "workflows" / "evalkit.yml").read_text()
    assert "pytest --evalkit-suite qa" in workflow and "upload-artifact" in workflow


def test_init_appends_to_an_existing_pyproject_and_keeps_its_content(tmp_path: Path) -> None:
    original = '[project]\nname = "app"\n\n[tool.pytest.ini_options]\naddopts = "-q"\n'
    (tmp_path / "pyproject.toml").write_text(original)
    actions = scaffold(tmp_path, suite="support")
    text = (tmp_path / "pyproject.toml").read_text()
    assert text.startswith(original)
    assert (
        load_config(tmp_path / "pyproject.toml").suite("support").golden.endswith("support.jsonl")
    )
    assert any(a.action == "note" and "no:deepeval" in a.note for a in actions)
    again = scaffold(tmp_path, suite="support")
    assert (tmp_path / "pyproject.toml").read_text() == text
    assert all(a.action in ("kept", "note") for a in again)


def test_existing_files_are_kept_unless_confirmed_or_forced(tmp_path: Path) -> None:
    golden = tmp_path / "golden_sets" / "qa.jsonl"
    golden.parent.mkdir()
    golden.write_text('{"id": "mine", "input": "my case"}\n')
    scaffold(tmp_path)
    assert "mine" in golden.read_text()
    asked: list[Path] = []
    scaffold(tmp_path, confirm=lambda path: asked.append(path) is not None)
    assert asked == [golden] and "mine" in golden.read_text()
    scaffold(tmp_path, force=True)
    assert "capital-france" in golden.read_text()


def test_invalid_existing_pyproject_is_an_error_not_a_rewrite(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "pyproject.toml").write_text("[project\n")
    assert main(["init", "--dir", str(tmp_path)]) == 2
    assert "not valid TOML" in capsys.readouterr().err
    assert (tmp_path / "pyproject.toml").read_text() == "[project\n"
