"""A small evalkit project for pytester tests: a scripted fake server decides every answer."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest

from tests.support.fakeserver import FakeOpenAIServer

N_CASES = 30
CRITICAL = {"c05"}


def case_ids(n: int = N_CASES) -> list[str]:
    """Returns the project's case ids."""
    return [f"c{i:02d}" for i in range(n)]


def answer(case_id: str) -> str:
    """Returns the expected answer of a case."""
    return f"answer {case_id}"


def rules(
    *, wrong: Iterable[str] = (), flaky: Iterable[str] = (), n: int = N_CASES
) -> list[dict[str, Any]]:
    """Returns fake-server rules: the right answer, except ``wrong`` and ``flaky`` cases."""
    wrong, flaky = set(wrong), set(flaky)
    out: list[dict[str, Any]] = []
    for case in case_ids(n):
        match = f"question {case}?"
        if case in flaky:
            out.append({"match": match, "replies": [answer(case), "no idea"]})
        else:
            out.append({"match": match, "reply": "no idea" if case in wrong else answer(case)})
    return out


def write_project(
    pytester: pytest.Pytester,
    api_base: str,
    *,
    n: int = N_CASES,
    sut: str = "",
    gate: str = "",
) -> Path:
    """Writes pyproject.toml ([tool.evalkit] suite qa) and golden_sets/qa.jsonl."""
    lines = []
    for case in case_ids(n):
        tags = ["critical"] if case in CRITICAL else []
        tags.append("even" if int(case[1:]) % 2 == 0 else "odd")
        row = {"id": case, "input": f"question {case}?", "expected": answer(case), "tags": tags}
        lines.append(json.dumps(row))
    golden = pytester.path / "golden_sets" / "qa.jsonl"
    golden.parent.mkdir(parents=True, exist_ok=True)
    golden.write_text("\n".join(lines) + "\n")
    pytester.makepyprojecttoml(
        f"""
[tool.pytest.ini_options]
addopts = "-p no:deepeval -p no:langsmith_plugin -p no:cacheprovider"
asyncio_default_fixture_loop_scope = "function"

[tool.evalkit]
store = ".evalkit/runs"
cache_dir = ".evalkit/cache"
report_dir = "reports"

[tool.evalkit.suites.qa]
golden = "golden_sets/qa.jsonl"
metrics = [
    {{ name = "exact", scorer = "exact_normalized", threshold = 1.0 }},
    {{ name = "f1", scorer = "token_f1", threshold = 0.5 }},
]
concurrency = 8

[tool.evalkit.suites.qa.sut]
model = "openai/fake"
mode = "chat"
api_base = "{api_base}"
max_retries = 0
timeout = 5
{sut}

[tool.evalkit.suites.qa.gate]
bootstrap = 500
{gate}
"""
    )
    return golden


def configure(server: FakeOpenAIServer, **kwargs: Any) -> None:
    """Scripts the fake server with :func:`rules` and resets its counters."""
    server.reset()
    server.configure(rules=rules(**kwargs))
