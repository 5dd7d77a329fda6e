"""``evalkit init``: scaffold a suite, a golden set, a prompt, pytest options and a CI workflow.

Never clobbers: pyproject.toml is appended to (created when absent), and any other file
that exists is kept unless the user agrees to overwrite it (``confirm``) or passes force.
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from evalkit.errors import ConfigError, Problem
from evalkit.util.atomic import atomic_write_text

ADDOPTS = "-p no:deepeval -p no:langsmith_plugin"

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

WORKFLOW = """name: evalkit
on: [pull_request, workflow_dispatch]

jobs:
  gate:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - uses: actions/setup-python@v5
        with:
          python-version: "3.11"
      - run: pip install -e .
      # The release gate: case items, one gate item per suite; exit 1 on a regression,
      # 3 when the suite could not be decided (SUT unreachable, too many unscored cases).
      - run: >-
          pytest --evalkit-suite {suite} --evalkit-report reports/evalkit
          --junitxml=reports/evalkit/junit.xml
      - uses: actions/upload-artifact@v4
        if: always()
        with:
          name: evalkit-report
          path: reports/evalkit
      - if: always()
        run: cat reports/evalkit/{suite}/summary.md >> "$GITHUB_STEP_SUMMARY" || true
"""


@dataclass(frozen=True)
class Action:
    """What init did with one file: created, appended, overwritten, kept, or a note."""

    path: Path
    action: str
    note: str = ""


def _suite_toml(suite: str, model: str) -> str:
    return f"""
[tool.evalkit.suites.{suite}]
description = "Short factual answers (scaffolded by evalkit init)"
golden = "golden_sets/{suite}.jsonl"
metrics = [
    {{ name = "exact", scorer = "exact_normalized", threshold = 1.0 }},
    {{ name = "f1", scorer = "token_f1", threshold = 0.5 }},
]

[tool.evalkit.suites.{suite}.sut]
model = "{model}"
mode = "text"
prompt = "golden_sets/prompts/{suite}.jinja"
params = {{ temperature = 0.0, max_tokens = 16, stop = ["\\n"] }}

[tool.evalkit.suites.{suite}.gate]
alpha = 0.05
margin = 0.02
"""


def _pyproject_additions(text: str, suite: str, model: str) -> tuple[str, list[str]]:
    """Returns the text to append to pyproject.toml and notes for what init cannot edit."""
    document = tomllib.loads(text) if text else {}
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
        parts.append('\n[tool.evalkit]\nstore = ".evalkit/runs"\nreport_dir = "reports"\n')
    if suite in (evalkit_table or {}).get("suites", {}):
        notes.append(f"suite {suite!r} is already in [tool.evalkit]; kept as it is")
    else:
        parts.append(_suite_toml(suite, model))
    return "".join(parts), notes


def scaffold(
    root: Path,
    *,
    suite: str = "qa",
    model: str = "embedded",
    force: bool = False,
    confirm: Callable[[Path], bool] | None = None,
) -> list[Action]:
    """Returns what was done to scaffold ``suite`` into the project at ``root``.

    Args:
        root: the project folder.
        suite: the suite's name (also the golden set's and prompt's file name).
        model: the SUT's LiteLLM model ("embedded": the bundled Gemma 3 270M).
        force: overwrite existing files (pyproject.toml is still only appended to).
        confirm: asked before overwriting an existing file; None: never overwrite.
    """
    if not re.fullmatch(r"[A-Za-z_][\w-]*", suite):
        raise ConfigError([Problem("--suite", None, f"{suite!r} is not a valid suite name")])
    actions: list[Action] = []
    pyproject = root / "pyproject.toml"
    existing = pyproject.read_text(encoding="utf-8") if pyproject.exists() else ""
    try:
        addition, notes = _pyproject_additions(existing, suite, model)
    except tomllib.TOMLDecodeError as err:
        raise ConfigError([Problem(str(pyproject), None, f"not valid TOML: {err}")]) from err
    if addition:
        joined = existing.rstrip("\n") + "\n" + addition if existing else addition.lstrip("\n")
        tomllib.loads(joined)  # never write a file that no longer parses
        atomic_write_text(pyproject, joined)
        actions.append(Action(pyproject, "appended" if existing else "created"))
    actions += [Action(pyproject, "note", note) for note in notes]
    golden = "".join(
        json.dumps({"id": i, "input": {"question": q}, "expected": a, "tags": t}) + "\n"
        for i, q, a, t in EXAMPLE_CASES
    )
    files = {
        root / "golden_sets" / f"{suite}.jsonl": golden,
        root / "golden_sets" / "prompts" / f"{suite}.jinja": PROMPT + "\n",
        root / ".github" / "workflows" / "evalkit.yml": WORKFLOW.replace("{suite}", suite),
    }
    for path, text in files.items():
        if path.exists():
            if path.read_text(encoding="utf-8") == text:
                actions.append(Action(path, "kept", "already up to date"))
                continue
            if not (force or (confirm is not None and confirm(path))):
                actions.append(Action(path, "kept", "exists; --force to overwrite"))
                continue
            atomic_write_text(path, text)
            actions.append(Action(path, "overwritten"))
            continue
        atomic_write_text(path, text)
        actions.append(Action(path, "created"))
    return actions
