"""``evalkit init``: scaffolds a working suite and never clobbers a user's files."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from evalkit.cli import main
from evalkit.cli._init_project import scaffold
from evalkit.config._suite import load_config
from evalkit.data._golden import load_golden_set


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
    golden = tmp_path / "tests" / "golden_sets" / "qa.jsonl"
    golden.parent.mkdir(parents=True)
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


# ------------------------------------------------------------- evalkit as the project's dependency

GIT = "evalkit @ git+https://example.invalid/acme/evalkit@v0.1.0"
WORKFLOW = Path(".github") / "workflows" / "evalkit.yml"


def _workflow(root: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((root / WORKFLOW).read_text())
    return loaded


def _install_step(root: Path) -> str:
    (step,) = [
        s for s in _workflow(root)["jobs"]["gate"]["steps"] if "Install" in s.get("name", "")
    ]
    return str(step["run"])


def test_init_adds_evalkit_to_the_dev_group_and_changes_nothing_else(tmp_path: Path) -> None:
    original = (
        "# the shop\n"
        "[project]\n"
        'name = "shop"   # keep this comment\n'
        "dependencies = [\n"
        '    "requests>=2",  # http\n'
        "]\n\n"
        "[dependency-groups]\n"
        "dev = [\n"
        '    "pytest>=8",  # tests\n'
        "]\n"
        'lint = ["ruff"]  # linters\n'
    )
    (tmp_path / "pyproject.toml").write_text(original)
    actions = scaffold(tmp_path, requirement=GIT)
    text = (tmp_path / "pyproject.toml").read_text()
    # One line in the dev group; everything after the old text is init's own tables.
    expected = original.replace("# tests\n", f'# tests\n    "{GIT}",\n')
    assert text.startswith(expected)
    assert set(tomllib.loads(text[len(expected) :])) == {"tool"}
    assert tomllib.loads(text)["dependency-groups"] == {"dev": ["pytest>=8", GIT], "lint": ["ruff"]}
    assert [a.note for a in actions if a.action == "recorded"] == [
        f"{GIT} in pyproject.toml [dependency-groups] dev"
    ]
    assert _workflow(tmp_path)["env"]["EVALKIT_REQUIREMENT"] == GIT
    assert _install_step(tmp_path) == "python -m pip install -e . --group dev"

    again = scaffold(tmp_path, requirement="evalkit @ file:///elsewhere/evalkit.whl")
    assert (tmp_path / "pyproject.toml").read_text() == text  # never twice
    assert any(a.action == "kept" and "[dependency-groups] dev" in a.note for a in again)


@pytest.mark.parametrize(
    ("tables", "where", "install"),
    [
        (
            '[project.optional-dependencies]\ndev = ["pytest"]\n',
            ("project", "optional-dependencies", "dev"),
            'python -m pip install -e ".[dev]"',
        ),
        (
            '[project.optional-dependencies]\ndocs = ["sphinx"]\n',
            ("project", "optional-dependencies", "eval"),
            'python -m pip install -e ".[eval]"',
        ),
        ("", ("dependency-groups", "eval"), "python -m pip install -e . --group eval"),
        (
            '[dependency-groups]\ntest = ["pytest"]\n[project.optional-dependencies]\n'
            'docs = ["sphinx"]\n',
            ("dependency-groups", "eval"),
            "python -m pip install -e . --group eval",
        ),
    ],
    ids=["dev-extra", "new-extra", "new-group", "groups-win"],
)
def test_init_follows_how_the_project_declares_its_dependencies(
    tmp_path: Path, tables: str, where: tuple[str, ...], install: str
) -> None:
    original = f'[project]\nname = "shop"\nversion = "1.0"\n\n{tables}'
    (tmp_path / "pyproject.toml").write_text(original)
    scaffold(tmp_path, requirement=GIT)
    document: Any = tomllib.loads((tmp_path / "pyproject.toml").read_text())
    for key in where:
        document = document[key]
    assert document[-1] == GIT
    assert _install_step(tmp_path) == install
    # Take evalkit and init's [tool] tables out again: what remains is the original.
    after = tomllib.loads((tmp_path / "pyproject.toml").read_text())
    del after["tool"]
    *parents, name = where
    container = after
    for key in parents:
        container = container[key]
    container[name].remove(GIT)
    if not container[name]:
        del container[name]
    if after.get("dependency-groups") == {}:
        del after["dependency-groups"]
    assert after == tomllib.loads(original)


def test_init_without_a_project_table_records_evalkit_in_a_requirements_file(
    tmp_path: Path,
) -> None:
    (tmp_path / "requirements.txt").write_text("requests>=2\n")
    dev = tmp_path / "dev-requirements.txt"
    dev.write_text("pytest  # tests")  # no final newline
    scaffold(tmp_path, requirement=GIT)
    assert dev.read_text() == f"pytest  # tests\n{GIT}\n"
    assert (tmp_path / "requirements.txt").read_text() == "requests>=2\n"
    assert "project" not in tomllib.loads((tmp_path / "pyproject.toml").read_text())
    assert _install_step(tmp_path) == (
        "python -m pip install -r requirements.txt -r dev-requirements.txt"
    )
    assert _workflow(tmp_path)["jobs"]["gate"]["steps"][1]["with"]["cache-dependency-path"] == (
        "requirements.txt\ndev-requirements.txt\n"
    )
    scaffold(tmp_path, requirement="evalkit>=0.2")
    assert dev.read_text() == f"pytest  # tests\n{GIT}\n"  # never twice


def test_evalkit_already_in_a_requirements_file_is_used_without_its_comment(
    tmp_path: Path,
) -> None:
    dev = tmp_path / "requirements-dev.txt"
    dev.write_text(f"# tools\n-e {GIT.split(' @ ')[1]}#egg=evalkit  # ours\n")
    actions = scaffold(tmp_path)
    assert dev.read_text() == f"# tools\n-e {GIT.split(' @ ')[1]}#egg=evalkit  # ours\n"
    assert any(a.action == "kept" and a.path == dev for a in actions)
    expected = f"{GIT.split(' @ ')[1]}#egg=evalkit"
    assert _workflow(tmp_path)["env"]["EVALKIT_REQUIREMENT"] == expected


def test_init_in_an_empty_folder_creates_requirements_dev_txt(tmp_path: Path) -> None:
    scaffold(tmp_path, requirement=GIT, ci="none")
    assert (tmp_path / "requirements-dev.txt").read_text().splitlines()[-1] == GIT
    assert not (tmp_path / ".github").exists() and not (tmp_path / ".gitlab-ci.yml").exists()


def test_evalkit_already_a_dependency_is_used_as_it_is(tmp_path: Path) -> None:
    original = '[project]\nname = "shop"\ndependencies = ["evalkit>=0.1"]\n'
    (tmp_path / "pyproject.toml").write_text(original)
    actions = scaffold(tmp_path, requirement=GIT)
    assert (tmp_path / "pyproject.toml").read_text().startswith(original)
    assert tomllib.loads((tmp_path / "pyproject.toml").read_text())["project"]["dependencies"] == [
        "evalkit>=0.1"
    ]
    assert "dependency-groups" not in (tmp_path / "pyproject.toml").read_text()
    assert not [a for a in actions if a.action == "recorded"]
    assert _workflow(tmp_path)["env"]["EVALKIT_REQUIREMENT"] == "evalkit>=0.1"
    assert _install_step(tmp_path) == "python -m pip install -e ."


def test_init_writes_a_gitlab_job_and_keeps_an_existing_pipeline(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first = tmp_path / "a"
    first.mkdir()
    assert main(["init", "--ci", "gitlab", "--requirement", GIT, "--dir", str(first)]) == 0
    job = yaml.safe_load((first / ".gitlab-ci.yml").read_text())["evalkit-gate"]
    assert job["variables"]["EVALKIT_REQUIREMENT"] == GIT
    assert any("--evalkit-suite qa" in line for line in job["script"])
    assert job["artifacts"]["reports"]["junit"] == "evalkit-reports/junit.xml"
    assert not (first / ".github").exists()

    second = tmp_path / "b"
    second.mkdir()
    (second / ".gitlab-ci.yml").write_text("test:\n  script: [pytest]\n")
    capsys.readouterr()
    assert main(["init", "--ci", "gitlab", "--requirement", GIT, "--dir", str(second)]) == 0
    assert (second / ".gitlab-ci.yml").read_text() == "test:\n  script: [pytest]\n"
    assert (second / ".gitlab" / "evalkit.gitlab-ci.yml").is_file()
    assert "include: [{local: .gitlab/evalkit.gitlab-ci.yml}]" in capsys.readouterr().out


def test_a_local_requirement_is_flagged_as_unreachable_from_ci(tmp_path: Path) -> None:
    actions = scaffold(tmp_path, requirement="evalkit @ file:///home/me/evalkit-0.1.0.whl")
    assert any(
        a.action == "note" and "CI cannot get evalkit from file:///home/me" in a.note
        for a in actions
    )


def test_a_requirement_that_is_not_evalkit_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["init", "--requirement", "requests>=2", "--dir", str(tmp_path)]) == 2
    assert "does not name evalkit" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_the_nightly_workflow_in_the_docs_installs_evalkit_like_the_gate(tmp_path: Path) -> None:
    import evalkit

    (tmp_path / "pyproject.toml").write_text('[project]\nname = "shop"\n')
    scaffold(tmp_path, requirement=GIT)
    gate = _workflow(tmp_path)["jobs"]["gate"]["steps"]
    docs = Path(evalkit.__file__).resolve().parent.parent / "docs" / "nightly.md"
    block = docs.read_text().split("```yaml\nname: nightly-evals\n", 1)[1].split("```", 1)[0]
    nightly = yaml.safe_load("name: nightly-evals\n" + block)["jobs"]["nightly"]["steps"]

    def setup(steps: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The steps up to the project's install, the call cache left out."""
        end = next(i for i, s in enumerate(steps) if s.get("name", "").startswith("Install"))
        return [s for s in steps[:end] if s.get("with", {}).get("path") != ".evalkit/cache"]

    assert setup(nightly) == setup(gate)
    install = next(s for s in nightly if s.get("name", "").startswith("Install"))
    assert install["run"] == _install_step(tmp_path) + " s3fs"
    assert install["env"] == {"PIP_ONLY_BINARY": "llama-cpp-python"}


def test_init_keeps_a_flat_layout_project_installable(tmp_path: Path) -> None:
    from setuptools.discovery import FlatLayoutModuleFinder, FlatLayoutPackageFinder

    (tmp_path / "pyproject.toml").write_text('[project]\nname = "shop"\nversion = "1"\n')
    (tmp_path / "shop.py").write_text("")
    scaffold(tmp_path, requirement=GIT)
    # What the gate and the store then write beside them.
    (tmp_path / "evalkit-reports" / "qa").mkdir(parents=True)
    (tmp_path / ".evalkit" / "runs").mkdir(parents=True)
    # setuptools' automatic discovery still finds the one module and no package: with
    # init's folders taken for packages, `pip install -e .` stops ("Multiple top-level
    # packages discovered in a flat-layout").
    assert FlatLayoutPackageFinder.find(str(tmp_path)) == []
    assert FlatLayoutModuleFinder.find(str(tmp_path)) == ["shop"]
