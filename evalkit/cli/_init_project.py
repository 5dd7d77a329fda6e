"""``evalkit init``: add evalkit to a project.

It records evalkit as a dependency the way the project declares its own, and scaffolds a
suite, a golden set, a prompt, pytest options and a CI workflow (GitHub Actions, GitLab CI
or none). Never clobbers: pyproject.toml is appended to (created when absent) and its
dependency list gains one entry, with its formatting and comments kept; any other file
that exists is kept unless the user agrees to overwrite it (``confirm``) or passes force.
Running it twice changes nothing.
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import tomlkit

from evalkit.errors import ConfigError, Problem
from evalkit.util._atomic import atomic_write_text

ADDOPTS = "-p no:deepeval -p no:langsmith_plugin"
CI_CHOICES = ("github", "gitlab", "none")
#: Groups or extras that hold a project's development tools, in the order init prefers them.
DEV_NAMES = ("eval", "evals", "dev")
NEW_NAME = "eval"
#: Requirements files for development tools, in the order init looks for them; the first
#: one is created when none exists.
REQUIREMENT_FILES = (
    "requirements-dev.txt",
    "dev-requirements.txt",
    "requirements/dev.txt",
    "requirements-test.txt",
    "test-requirements.txt",
    "requirements/test.txt",
)
# Where init puts the golden set and prompt, and reports go. Neither name may look like a
# Python package to setuptools' flat-layout discovery (a top-level folder named like an
# identifier): `pip install -e .` of a flat-layout project would then fail ("Multiple
# top-level packages discovered") or ship the folder as a package. tests/ is excluded by
# that discovery, and a hyphen is never part of a package name.
GOLDEN_DIR = "tests/golden_sets"
REPORT_DIR = "evalkit-reports"
# A requirement (or requirements-file line) that names evalkit: "evalkit", "evalkit @ URL",
# "evalkit>=0.1", ".../evalkit-0.1.0-py3-none-any.whl", "git+URL#egg=evalkit".
_NAMES_EVALKIT = re.compile(r"(?i)(?:^|[/#=\s])evalkit(?=$|[\s\[@=<>~!;,-])")

EXAMPLE_CASES = [
    ("capital-france", "What is the capital of France?", "Paris", ["geography", "critical"]),
    ("capital-japan", "What is the capital of Japan?", "Tokyo", ["geography"]),
    ("math-add", "What is 2 + 3?", "5", ["math"]),
    ("author-hamlet", "Who wrote Hamlet?", "William Shakespeare", ["literature"]),
    ("planet-red", "Which planet is called the red planet?", "Mars", ["science"]),
]

PROMPT = """Answer each question in a few words.

Q: What is the capital of Hungary?
A: Budapest
Q: {{ question }}
A:"""

# The workflows' placeholders (<<NAME>>) are filled by _render; GitHub's own ${{ }}
# expressions stay as they are.
GITHUB_WORKFLOW = """\
# Written by `evalkit init`: the pull-request gate of suite <<SUITE>>.
name: evalkit
on: [pull_request, workflow_dispatch]

env:
  # Where CI gets evalkit before installing the project: the requirement `evalkit init`
  # recorded in <<PLACE>>. Change both together.
  EVALKIT_REQUIREMENT: <<REQUIREMENT>>

jobs:
  gate:
    runs-on: ubuntu-latest
    timeout-minutes: 60
    steps:
      - uses: actions/checkout@v4
      - uses: actions/setup-python@v5
        with:
          python-version: "3.11"
          cache: pip  # pip's downloaded and built wheels, between runs
          cache-dependency-path: <<DEPENDENCY_FILES>>
      - name: evalkit, for its llama.cpp wheel builder
        id: llama
        run: |
          python -m pip install --upgrade pip
          python -m pip install --no-deps "$EVALKIT_REQUIREMENT"
          folder="$(python -m evalkit.models.llama_wheel --dir)"
          echo "dir=$folder" >> "$GITHUB_OUTPUT"
          echo "key=$(basename "$folder")" >> "$GITHUB_OUTPUT"
      - uses: actions/cache@v4  # the portable llama-cpp-python wheel, one per build configuration
        with:
          path: ${{ steps.llama.outputs.dir }}
          key: ${{ runner.os }}-${{ runner.arch }}-${{ steps.llama.outputs.key }}
      - name: Build llama-cpp-python portably (only when the cache missed, ~15 min)
        run: |
          wheel="$(python -m evalkit.models.llama_wheel)"
          echo "PIP_FIND_LINKS=$(dirname "$wheel")" >> "$GITHUB_ENV"
      - name: Install the project with evalkit
        env:
          PIP_ONLY_BINARY: llama-cpp-python  # the wheel above, never a native build
        run: <<INSTALL>>
      - uses: actions/cache@v4  # evalkit's call cache: unchanged calls are not paid twice
        with:
          path: <<CACHE_DIR>>
          key: evalkit-calls-${{ github.run_id }}
          restore-keys: evalkit-calls-
      # The release gate: exit 1 on a regression, 3 when the suite could not be decided
      # (SUT unreachable, too many unscored cases).
      - name: evalkit gate
        run: >-
          python -m pytest --evalkit-suite <<SUITE>> --evalkit-report evalkit-reports
          --junitxml=evalkit-reports/junit.xml
      - uses: actions/upload-artifact@v4
        if: always()
        with:
          name: evalkit-report
          path: evalkit-reports
      - name: Job summary
        if: always()
        run: cat evalkit-reports/<<SUITE>>/summary.md >> "$GITHUB_STEP_SUMMARY"
"""

GITLAB_WORKFLOW = """\
# Written by `evalkit init`: the merge-request gate of suite <<SUITE>>.
evalkit-gate:
  image: python:3.11
  stage: test
  rules:
    - if: $CI_PIPELINE_SOURCE == "merge_request_event"
    - if: $CI_PIPELINE_SOURCE == "web"
  variables:
    # Where CI gets evalkit before installing the project: the requirement `evalkit init`
    # recorded in <<PLACE>>. Change both together.
    EVALKIT_REQUIREMENT: <<REQUIREMENT>>
    PIP_CACHE_DIR: $CI_PROJECT_DIR/.cache/pip
    # evalkit keeps its portable llama-cpp-python wheel in $XDG_CACHE_HOME/evalkit/wheels
    XDG_CACHE_HOME: $CI_PROJECT_DIR/.cache
  cache:
    - key: evalkit-wheels-py3.11  # pip's wheels and the llama-cpp-python build
      paths: [.cache/pip, .cache/evalkit/wheels]
    - key: evalkit-calls  # evalkit's call cache: unchanged calls are not paid twice
      paths: [<<CACHE_DIR>>]
  script:
    - python -m pip install --upgrade pip
    - python -m pip install --no-deps "$EVALKIT_REQUIREMENT"
    # Builds llama-cpp-python portably once (~15 min); later jobs find it in the cache.
    - wheel="$(python -m evalkit.models.llama_wheel)"
    - export PIP_FIND_LINKS="$(dirname "$wheel")"
    - PIP_ONLY_BINARY=llama-cpp-python <<INSTALL>>
    # The release gate: exit 1 on a regression, 3 when the suite could not be decided.
    - >-
      python -m pytest --evalkit-suite <<SUITE>> --evalkit-report evalkit-reports
      --junitxml=evalkit-reports/junit.xml
  after_script:
    - cat evalkit-reports/<<SUITE>>/summary.md
  artifacts:
    when: always
    expose_as: evalkit report
    paths: [evalkit-reports/]
    reports:
      junit: evalkit-reports/junit.xml
"""


@dataclass(frozen=True)
class Action:
    """What init did with one file: created, appended, recorded, overwritten, kept, or a note."""

    path: Path
    action: str
    note: str = ""


@dataclass(frozen=True)
class DependencyPlace:
    """Where a project declares its development dependencies, and so evalkit.

    ``kind`` is ``"group"`` (PEP 735 ``[dependency-groups]``), ``"extra"``
    (``[project.optional-dependencies]``), ``"requirements"`` (a requirements file; ``name``
    is its path relative to the project) or ``"project"`` (``[project] dependencies``,
    where init never adds evalkit but finds it).
    """

    kind: str
    name: str

    def describe(self) -> str:
        """Returns where this is, in words a user finds in their files."""
        if self.kind == "group":
            return f"pyproject.toml [dependency-groups] {self.name}"
        if self.kind == "extra":
            return f"pyproject.toml [project.optional-dependencies] {self.name}"
        if self.kind == "project":
            return "pyproject.toml [project] dependencies"
        return self.name

    def files(self, root: Path) -> list[str]:
        """Returns the files that declare what the project installs (relative to ``root``)."""
        if self.kind != "requirements":
            return ["pyproject.toml"]
        if self.name != "requirements.txt" and (root / "requirements.txt").is_file():
            return ["requirements.txt", self.name]
        return [self.name]

    def install_command(self, root: Path) -> str:
        """Returns the pip command that installs the project with this place's dependencies."""
        if self.kind == "group":
            return f"python -m pip install -e . --group {self.name}"
        if self.kind == "extra":
            return f'python -m pip install -e ".[{self.name}]"'
        if self.kind == "project":
            return "python -m pip install -e ."
        return "python -m pip install " + " ".join(f"-r {name}" for name in self.files(root))


def evalkit_requirement() -> str:
    """Returns the requirement that installs this evalkit the way it was installed.

    From the installed distribution's ``direct_url.json`` (PEP 610): a git URL pinned to
    the revision it was installed from, a wheel or archive URL, or a folder's ``file://``
    URL; ``evalkit>=VERSION`` when it came from a package index.
    """
    try:
        distribution = metadata.distribution("evalkit")
    except metadata.PackageNotFoundError:  # running from a source tree without install
        return "evalkit"
    raw = distribution.read_text("direct_url.json")
    if not raw:
        return f"evalkit>={distribution.version}"
    origin: dict[str, Any] = json.loads(raw)
    url = str(origin["url"])
    vcs = origin.get("vcs_info")
    if isinstance(vcs, dict):
        revision = vcs.get("requested_revision") or vcs.get("commit_id")
        url = f"{vcs['vcs']}+{url}" + (f"@{revision}" if revision else "")
    return f"evalkit @ {url}"


def _names_evalkit(requirement: str) -> bool:
    """Returns whether a requirement or requirements-file line installs evalkit."""
    return bool(_NAMES_EVALKIT.search(requirement.split("#", 1)[0].strip())) or bool(
        re.search(r"(?i)#egg=evalkit\b", requirement)
    )


def _requirement_lines(path: Path) -> list[str]:
    """Returns a requirements file's lines without comments (a URL's #fragment stays)."""
    lines = path.read_text(encoding="utf-8").splitlines()
    return [re.split(r"(?:^|\s+)#", line, maxsplit=1)[0].strip() for line in lines]


def find_dependency_place(
    root: Path, document: dict[str, Any]
) -> tuple[DependencyPlace, str | None]:
    """Returns where the project at ``root`` declares (or would declare) evalkit.

    The second item is the requirement already there (None: evalkit is not declared).
    With a ``[project]`` table: an existing group, then extra, named eval, evals or dev;
    else a new group ``eval`` (a new extra ``eval`` when the project has extras but no
    groups). Without one: the first requirements file of :data:`REQUIREMENT_FILES` that
    exists (or requirements.txt when it already names evalkit), else a new
    requirements-dev.txt.
    """
    project = document.get("project")
    if isinstance(project, dict):
        groups = document.get("dependency-groups") or {}
        extras = project.get("optional-dependencies") or {}
        declared = [
            (DependencyPlace("project", ""), project.get("dependencies") or []),
            *((DependencyPlace("group", name), items) for name, items in groups.items()),
            *((DependencyPlace("extra", name), items) for name, items in extras.items()),
        ]
        for place, items in declared:
            for item in items:
                if isinstance(item, str) and _names_evalkit(item):
                    return place, item
        for name in DEV_NAMES:
            if name in groups:
                return DependencyPlace("group", name), None
        for name in DEV_NAMES:
            if name in extras:
                return DependencyPlace("extra", name), None
        kind = "extra" if extras and not groups else "group"
        return DependencyPlace(kind, NEW_NAME), None
    for name in (*REQUIREMENT_FILES, "requirements.txt"):
        path = root / name
        lines = _requirement_lines(path) if path.is_file() else []
        for line in lines:
            if _names_evalkit(line):
                return DependencyPlace("requirements", name), line.removeprefix("-e ").strip()
    for name in REQUIREMENT_FILES:
        if (root / name).is_file():
            return DependencyPlace("requirements", name), None
    return DependencyPlace("requirements", REQUIREMENT_FILES[0]), None


def _add_to_pyproject(text: str, place: DependencyPlace, requirement: str) -> str:
    """Returns ``text`` with ``requirement`` added to the place's list, nothing else changed."""
    document = tomlkit.parse(text)
    if place.kind == "group":
        container: Any = document.setdefault("dependency-groups", tomlkit.table())
    else:
        project: Any = document["project"]
        container = project.setdefault("optional-dependencies", tomlkit.table())
    if place.name in container:
        container[place.name].append(requirement)
    else:
        container[place.name] = [requirement]
    return tomlkit.dumps(document)


def _record_requirements_file(path: Path, requirement: str) -> str:
    """Returns the requirements file's new text: the old one and one line for evalkit."""
    if not path.exists():
        return f"# Development dependencies (evalkit recorded by `evalkit init`)\n{requirement}\n"
    text = path.read_text(encoding="utf-8")
    return text + ("" if text.endswith("\n") or not text else "\n") + requirement + "\n"


def _suite_toml(suite: str, model: str) -> str:
    return f"""
[tool.evalkit.suites.{suite}]
description = "Short factual answers (scaffolded by evalkit init)"
golden = "{GOLDEN_DIR}/{suite}.jsonl"
metrics = [
    {{ name = "exact", scorer = "exact_normalized", threshold = 1.0 }},
    {{ name = "f1", scorer = "token_f1", threshold = 0.5 }},
]

[tool.evalkit.suites.{suite}.sut]
model = "{model}"
mode = "text"
prompt = "{GOLDEN_DIR}/prompts/{suite}.jinja"
params = {{ temperature = 0.0, max_tokens = 16, stop = ["\\n"] }}

[tool.evalkit.suites.{suite}.gate]
alpha = 0.05
margin = 0.02
"""


def _pyproject_additions(document: dict[str, Any], suite: str, model: str) -> tuple[str, list[str]]:
    """Returns the text to append to pyproject.toml and notes for what init cannot edit."""
    tool = document.get("tool", {})
    notes: list[str] = []
    parts: list[str] = []
    pytest_options = tool.get("pytest", {}).get("ini_options")
    if pytest_options is None:
        parts.append(f'\n[tool.pytest.ini_options]\naddopts = "{ADDOPTS}"\n')
    elif "no:deepeval" not in str(pytest_options.get("addopts", "")):
        notes.append(
            f'add "{ADDOPTS}" to addopts in [tool.pytest.ini_options]: deepeval\'s and '
            "langsmith's pytest plugins add ~4 s to every pytest run"
        )
    evalkit_table = tool.get("evalkit")
    if evalkit_table is None:
        parts.append(
            '\n[tool.evalkit]\nstore = ".evalkit/runs"\ncache_dir = ".evalkit/cache"\n'
            f'report_dir = "{REPORT_DIR}"\n'
        )
    if suite in (evalkit_table or {}).get("suites", {}):
        notes.append(f"suite {suite!r} is already in [tool.evalkit]; kept as it is")
    else:
        parts.append(_suite_toml(suite, model))
    return "".join(parts), notes


def _render(template: str, **values: str) -> str:
    for key, value in values.items():
        template = template.replace(f"<<{key}>>", value)
    return template


def _workflow_files(
    root: Path, ci: str, suite: str, requirement: str, place: DependencyPlace, cache_dir: str
) -> tuple[dict[Path, str], list[str]]:
    """Returns the CI files to write (path -> text) and notes for the user."""
    if ci == "none":
        return {}, []
    values = {
        "SUITE": suite,
        "REQUIREMENT": json.dumps(requirement),  # a JSON string is a YAML string
        "PLACE": place.describe(),
        "INSTALL": place.install_command(root),
        "CACHE_DIR": cache_dir,
        # setup-python's pip cache is keyed on these files (one a line)
        "DEPENDENCY_FILES": "|" + "".join(f"\n            {name}" for name in place.files(root)),
    }
    notes = []
    if requirement.startswith("evalkit @ file:") or requirement == "evalkit":
        where = requirement.split("@", 1)[1].strip() if "@" in requirement else "a package index"
        notes.append(
            f"CI cannot get evalkit from {where}: give a URL CI can reach (a git URL or a "
            f"wheel's URL) in {place.describe()} and in the workflow's EVALKIT_REQUIREMENT"
        )
    if ci == "github":
        return {
            root / ".github" / "workflows" / "evalkit.yml": _render(GITHUB_WORKFLOW, **values)
        }, notes
    text = _render(GITLAB_WORKFLOW, **values)
    if (root / ".gitlab-ci.yml").exists():
        path = root / ".gitlab" / "evalkit.gitlab-ci.yml"
        notes.append(
            "your .gitlab-ci.yml is kept: add `include: [{local: .gitlab/evalkit.gitlab-ci.yml}]`"
            " to it"
        )
        return {path: text}, notes
    return {root / ".gitlab-ci.yml": text}, notes


def scaffold(
    root: Path,
    *,
    suite: str = "qa",
    model: str = "embedded",
    ci: str = "github",
    requirement: str | None = None,
    force: bool = False,
    confirm: Callable[[Path], bool] | None = None,
) -> list[Action]:
    """Returns what was done to add evalkit and ``suite`` to the project at ``root``.

    Args:
        root: the project folder.
        suite: the suite's name (also the golden set's and prompt's file name).
        model: the SUT's LiteLLM model ("embedded": the bundled Gemma 3 270M).
        ci: which CI workflow to write: "github", "gitlab" or "none".
        requirement: how the project requires evalkit; None: the way this evalkit was
            installed (:func:`evalkit_requirement`).
        force: overwrite existing files (pyproject.toml and requirements files are still
            only added to).
        confirm: asked before overwriting an existing file; None: never overwrite.
    """
    if not re.fullmatch(r"[A-Za-z_][\w-]*", suite):
        raise ConfigError([Problem("--suite", None, f"{suite!r} is not a valid suite name")])
    if ci not in CI_CHOICES:
        raise ConfigError([Problem("--ci", None, f"{ci!r} is not one of {', '.join(CI_CHOICES)}")])
    if requirement is not None and not _names_evalkit(requirement):
        raise ConfigError(
            [Problem("--requirement", None, f"{requirement!r} does not name evalkit")]
        )
    actions: list[Action] = []
    pyproject = root / "pyproject.toml"
    existing = pyproject.read_text(encoding="utf-8") if pyproject.exists() else ""
    try:
        document = tomllib.loads(existing)
    except tomllib.TOMLDecodeError as err:
        raise ConfigError([Problem(str(pyproject), None, f"not valid TOML: {err}")]) from err

    place, recorded = find_dependency_place(root, document)
    text = existing
    if recorded is not None:  # never twice: the project's own requirement wins
        requirement = recorded
        where = root / ("pyproject.toml" if place.kind != "requirements" else place.name)
        actions.append(Action(where, "kept", f"evalkit is already in {place.describe()}"))
    elif place.kind == "requirements":
        requirement = requirement or evalkit_requirement()
        path = root / place.name
        atomic_write_text(path, _record_requirements_file(path, requirement))
        actions.append(Action(path, "recorded", requirement))
    else:
        requirement = requirement or evalkit_requirement()
        text = _add_to_pyproject(existing, place, requirement)
        actions.append(Action(pyproject, "recorded", f"{requirement} in {place.describe()}"))

    addition, notes = _pyproject_additions(document, suite, model)
    if addition:
        text = text.rstrip("\n") + "\n" + addition if text else addition.lstrip("\n")
        actions.append(Action(pyproject, "appended" if existing else "created"))
    if text != existing:
        tomllib.loads(text)  # never write a file that no longer parses
        atomic_write_text(pyproject, text)
    actions += [Action(pyproject, "note", note) for note in notes]

    cache_dir = str(document.get("tool", {}).get("evalkit", {}).get("cache_dir", ".evalkit/cache"))
    workflows, ci_notes = _workflow_files(root, ci, suite, requirement, place, cache_dir)
    golden = "".join(
        json.dumps({"id": i, "input": {"question": q}, "expected": a, "tags": t}) + "\n"
        for i, q, a, t in EXAMPLE_CASES
    )
    files = {
        root / GOLDEN_DIR / f"{suite}.jsonl": golden,
        root / GOLDEN_DIR / "prompts" / f"{suite}.jinja": PROMPT + "\n",
        **workflows,
    }
    for path, content in files.items():
        if path.exists():
            if path.read_text(encoding="utf-8") == content:
                actions.append(Action(path, "kept", "already up to date"))
                continue
            if not (force or (confirm is not None and confirm(path))):
                actions.append(Action(path, "kept", "exists; --force to overwrite"))
                continue
            atomic_write_text(path, content)
            actions.append(Action(path, "overwritten"))
            continue
        atomic_write_text(path, content)
        actions.append(Action(path, "created"))
    actions += [Action(path, "note", note) for note in ci_notes for path in list(workflows)[:1]]
    return actions
