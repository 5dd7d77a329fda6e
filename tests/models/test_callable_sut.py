"""A Python function as the SUT, called directly: cache, retries, timeout, journal, accounting.

The function records every call it gets in a file next to it, so each test can count
what actually reached it (not what evalkit says it did).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

import evalkit
from evalkit.execution._runner import Journal
from evalkit.models._cache import Cache
from tests.support.callable_sut import callable_golden, run_callable

SUT_MODULE = textwrap.dedent(
    """
    import asyncio, json, os
    from pathlib import Path

    LOG = Path(__file__).with_suffix(".calls")

    def _record(name, case_input):
        with LOG.open("a") as handle:
            handle.write(json.dumps([name, case_input]) + "\\n")
        seen = [json.loads(line) for line in LOG.read_text().splitlines()]
        return seen.count([name, case_input])

    def answer(case_input):
        _record("answer", case_input)
        return "echo:" + case_input["question"]

    async def rag(case_input):
        _record("rag", case_input)
        return {"output": "from docs", "contexts": ["doc 1", 2]}

    def flaky(case_input):
        # Fails the first two times it sees an input, then answers.
        if _record("flaky", case_input) <= 2:
            raise ConnectionError("index warming up")
        return "ok"

    def wrong_type(case_input):
        _record("wrong_type", case_input)
        return 42

    async def slow(case_input):
        _record("slow", case_input)
        await asyncio.sleep(5)
        return "late"
    """
)


@pytest.fixture
def sut(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[str, Path]:
    """Returns (module name, call log) of a fresh SUT module on sys.path."""
    name = f"evalkit_callable_sut_{tmp_path.name.replace('-', '_')}"
    (tmp_path / f"{name}.py").write_text(SUT_MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    return name, tmp_path / f"{name}.calls"


def _calls(log: Path) -> list[Any]:
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


def test_answers_come_from_the_cache_on_a_second_run(sut: tuple[str, Path], tmp_path: Path) -> None:
    module, log = sut
    cache = Cache(tmp_path / "cache")
    first, _ = run_callable(
        f"{module}:answer", callable_golden(4), tmp_path / "j1.jsonl", cache=cache, samples=2
    )
    assert len(_calls(log)) == 8  # 4 cases x 2 samples: the sample is part of the key
    second, stats = run_callable(
        f"{module}:answer", callable_golden(4), tmp_path / "j2.jsonl", cache=cache
    )
    assert len(_calls(log)) == 8  # nothing reached the function
    assert all(o.cached and o.attempts == 0 for o in second)
    assert [o.text for o in second] == [o.text for o in first if o.sample == 0]
    assert stats["sut"]["cached"] == 4 and stats["sut"]["attempts"] == 0
    cache.close()


def test_contexts_survive_the_cache(sut: tuple[str, Path], tmp_path: Path) -> None:
    module, log = sut
    cache = Cache(tmp_path / "cache")
    fresh, _ = run_callable(f"{module}:rag", callable_golden(2), tmp_path / "j1.jsonl", cache=cache)
    cached, _ = run_callable(
        f"{module}:rag", callable_golden(2), tmp_path / "j2.jsonl", cache=cache
    )
    assert [o.contexts for o in fresh] == [("doc 1", "2")] * 2
    assert [(o.contexts, o.cached) for o in cached] == [(("doc 1", "2"), True)] * 2
    assert len(_calls(log)) == 2
    cache.close()


def test_a_failing_function_is_retried_with_accounting(
    sut: tuple[str, Path], tmp_path: Path
) -> None:
    module, log = sut
    outputs, stats = run_callable(
        f"{module}:flaky", callable_golden(3), tmp_path / "j.jsonl", max_retries=2
    )
    assert [(o.text, o.attempts) for o in outputs] == [("ok", 3)] * 3
    assert len(_calls(log)) == 9
    assert stats["sut"] == pytest.approx(
        {"calls": 3, "cached": 0, "errors": 0, "attempts": 9, "prompt_tokens": 0,
         "completion_tokens": 0, "cost_usd": 0.0, "latency_s": stats["sut"]["latency_s"]}
    )  # fmt: skip
    too_few, _ = run_callable(
        f"{module}:flaky", callable_golden(1, start=9), tmp_path / "j2.jsonl", max_retries=0
    )
    assert not too_few[0].ok
    assert "ConnectionError: index warming up" in (too_few[0].error or "")


def test_a_wrong_return_type_or_a_missing_function_is_not_retried(
    sut: tuple[str, Path], tmp_path: Path
) -> None:
    module, log = sut
    outputs, _ = run_callable(
        f"{module}:wrong_type", callable_golden(1), tmp_path / "j.jsonl", max_retries=3
    )
    assert outputs[0].attempts == 1 and "got int" in (outputs[0].error or "")
    assert len(_calls(log)) == 1
    missing, _ = run_callable(
        f"{module}:nope", callable_golden(1), tmp_path / "j2.jsonl", max_retries=3
    )
    assert missing[0].attempts == 1 and "has no 'nope'" in (missing[0].error or "")


def test_a_slow_function_times_out_and_is_retried(sut: tuple[str, Path], tmp_path: Path) -> None:
    module, log = sut
    outputs, _ = run_callable(
        f"{module}:slow", callable_golden(1), tmp_path / "j.jsonl", timeout=0.2, max_retries=1
    )
    assert outputs[0].attempts == 2
    assert "timed out after 0.2s" in (outputs[0].error or "")
    assert len(_calls(log)) == 2
    assert outputs[0].latency_s < 2.0  # the function's 5 s sleep was not waited for


def test_a_resumed_run_calls_only_what_the_journal_lacks(
    sut: tuple[str, Path], tmp_path: Path
) -> None:
    module, log = sut
    journal = tmp_path / "j.jsonl"
    run_callable(f"{module}:answer", callable_golden(3), journal)
    assert len(Journal(journal).read()) == 3
    resumed, stats = run_callable(f"{module}:answer", callable_golden(5), journal)
    assert [o.text for o in resumed] == [f"echo:q{i}" for i in range(5)]
    assert sorted(c[1]["question"] for c in _calls(log)) == ["q0", "q1", "q2", "q3", "q4"]
    assert stats["sut"]["calls"] == 2


def test_a_callable_run_does_not_import_litellm(sut: tuple[str, Path], tmp_path: Path) -> None:
    module, _ = sut
    code = textwrap.dedent(
        f"""
        import sys
        sys.path.insert(0, {str(tmp_path)!r})
        from tests.support.callable_sut import callable_golden, run_callable
        from pathlib import Path
        journal = Path({str(tmp_path / "j.jsonl")!r})
        outputs, _ = run_callable({module + ":answer"!r}, callable_golden(3), journal)
        assert [o.text for o in outputs] == ["echo:q0", "echo:q1", "echo:q2"], outputs
        print("litellm" in sys.modules)
        """
    )
    source_root = str(Path(evalkit.__file__).resolve().parent.parent)
    repo_root = str(Path(__file__).resolve().parents[2])  # for `tests.support.callable_sut`
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([source_root, repo_root])}
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "False"
