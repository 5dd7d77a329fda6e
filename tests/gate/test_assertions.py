"""The ``evalkit`` fixture's assert-style API: score one case, fail with a verdict."""

from __future__ import annotations

import pytest

from evalkit.config._suite import ProjectConfig
from evalkit.errors import SUTError
from evalkit.gate._assertions import Evaluator
from tests.support.fakeserver import FakeOpenAIServer

F1 = {"name": "f1", "scorer": "token_f1", "threshold": 0.5}


@pytest.fixture
def evaluator(tmp_path: object) -> Evaluator:
    return Evaluator(ProjectConfig(source="(test)", root=str(tmp_path)), use_cache=False)


def test_given_output_that_meets_the_threshold_passes(evaluator: Evaluator) -> None:
    result = evaluator.check(
        {"input": "Capital of France?", "expected": "Paris"}, output="Paris", metrics=[F1]
    )
    assert result.passed and result.scores == {"f1": 1.0}


def test_a_miss_raises_assertion_error_with_value_and_threshold(evaluator: Evaluator) -> None:
    with pytest.raises(AssertionError, match=r"case capital: f1 0 < threshold 0.5 .*'Rome'"):
        evaluator.check(
            {"id": "capital", "input": "Capital of France?", "expected": "Paris"},
            output="Rome",
            metrics=[F1],
        )


def test_without_output_the_sut_answers_the_case(
    evaluator: Evaluator, openai_server: FakeOpenAIServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-dummy")
    openai_server.configure(rules=[{"match": "France", "reply": "Paris"}])
    sut = {"model": "openai/fake", "api_base": openai_server.url, "max_retries": 0}
    result = evaluator.check(
        {"input": "Capital of France?", "expected": "Paris"}, metrics=[F1], **sut
    )
    assert result.output == "Paris" and openai_server.stats()["requests"] == 1
    with pytest.raises(AssertionError, match="f1 0 < threshold 0.5"):
        evaluator.check({"input": "Capital of Spain?", "expected": "Madrid"}, metrics=[F1], **sut)


def test_a_sut_that_gives_no_answer_raises_sut_error_not_a_missed_threshold(
    evaluator: Evaluator, openai_server: FakeOpenAIServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-dummy")
    openai_server.configure(faults=[{"status": 401, "times": 1}])
    sut = {"model": "openai/fake", "api_base": openai_server.url, "max_retries": 0}
    with pytest.raises(SUTError, match="case c1: the SUT failed: 401") as caught:
        evaluator.score({"id": "c1", "input": "q", "expected": "Paris"}, metrics=[F1], **sut)
    assert not isinstance(caught.value, AssertionError) and caught.value.retryable is False


pytest_plugins = ["pytester"]


def test_the_evalkit_fixture_is_available_in_ordinary_tests(pytester: pytest.Pytester) -> None:
    # A project with pytest-asyncio's setting, as ours has (else pytest-asyncio warns).
    pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\n")
    pytester.makepyfile(
        test_fixture="""
        CASE = {"id": "c1", "input": "q", "expected": "Paris"}

        def test_ok(evalkit):
            evalkit.check(CASE, output="Paris", metrics=["exact_normalized"])

        def test_miss(evalkit):
            evalkit.check(CASE, output="Rome", metrics=["exact_normalized"])
        """
    )
    result = pytester.runpytest("-p", "no:deepeval", "-p", "no:langsmith_plugin")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*AssertionError: case c1: exact_normalized 0 < threshold 0.5*"])
