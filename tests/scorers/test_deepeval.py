"""deepeval metrics through evalkit's judge adapter, against scripted judge replies."""

from __future__ import annotations

import asyncio
import json
import os
import socket
from typing import Any

import pytest

from evalkit.models._llm import ModelClient
from evalkit.scorers import Score, ScoreInput, ScorerContext, create_scorer

STEPS = "generate 3-4 concise evaluation steps"
EVALUATE = "re:(?s)^You are an evaluator.*Actual Output:\\n"
STATEMENTS = "breakdown and generate a list of statements"


@pytest.fixture
def judge_params(openai_server: Any, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-dummy")
    return {"judge": {"model": "openai/judge", "mode": "chat", "api_base": openai_server.url}}


def reply(data: Any) -> str:
    return json.dumps(data)


def cases(*outputs: str) -> list[ScoreInput]:
    return [
        ScoreInput(f"c{i}", 0, "What is the capital of France?", out, expected="Paris")
        for i, out in enumerate(outputs)
    ]


def score(scorer: Any, batch: list[ScoreInput]) -> list[Score]:
    return list(asyncio.run(scorer.score(batch)))


def geval(params: dict[str, Any], **options: Any) -> Any:
    context = ScorerContext(client=ModelClient(cache=None))
    options.setdefault("criteria", "Is the actual output correct given the expected output?")
    options.setdefault("evaluation_params", ["input", "actual_output", "expected_output"])
    return create_scorer("geval", {**params, **options}, context, metric="correctness")


def test_geval_generates_steps_once_per_suite_and_rescales_scores(
    openai_server: Any, judge_params: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    hosts: list[str] = []
    real_getaddrinfo = socket.getaddrinfo

    def recording(host: Any, *args: Any, **kwargs: Any) -> Any:
        hosts.append(str(host))
        return real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", recording)
    openai_server.configure(
        rules=[
            {"match": STEPS, "reply": reply({"steps": ["Compare the facts.", "Penalise errors."]})},
            {"match": EVALUATE + "Paris", "reply": reply({"reason": "correct", "score": 9})},
            {"match": EVALUATE + "Lyon", "reply": reply({"reason": "wrong city", "score": 2})},
        ]
    )
    scorer = geval(judge_params)
    results = score(scorer, cases("Paris", "Lyon", "Paris, of course"))
    assert [r.value for r in results] == pytest.approx([0.9, 0.2, 0.9])
    assert results[1].rationale == "wrong city"
    prompts = openai_server.stats()["prompts"]
    assert sum(STEPS in p for p in prompts) == 1  # deepeval alone would ask once per case
    assert len(prompts) == 4
    assert all("Compare the facts." in p for p in prompts if p.startswith("You are an evaluator"))
    # A second batch (same scorer, same suite) reuses the steps.
    score(scorer, cases("Paris"))
    assert sum(STEPS in p for p in openai_server.stats()["prompts"]) == 1
    # No telemetry or other network: only the loopback test server was looked up.
    assert os.environ["DEEPEVAL_TELEMETRY_OPT_OUT"] == "YES"
    assert hosts and set(hosts) <= {"127.0.0.1", "localhost"}, hosts


def test_geval_with_explicit_steps_makes_no_steps_call(
    openai_server: Any, judge_params: dict[str, Any]
) -> None:
    openai_server.configure(default_reply=reply({"reason": "ok", "score": 10}))
    scorer = geval(judge_params, criteria=None, evaluation_steps=["Check the city."])
    (result,) = score(scorer, cases("Paris"))
    assert result.value == 1.0
    assert openai_server.stats()["chat"] == 1


def test_geval_unparseable_result_is_reasked_then_unscored_with_raw(
    openai_server: Any, judge_params: dict[str, Any]
) -> None:
    openai_server.configure(
        rules=[{"match": STEPS, "reply": reply({"steps": ["Check."]})}],
        default_reply="Score: great!",
    )
    (result,) = score(geval(judge_params), cases("Paris"))
    assert result.value is None
    assert "unparseable judge reply after one retry" in (result.error or "")
    assert result.raw == "Score: great!"
    assert openai_server.stats()["chat"] == 3  # steps, result, one re-ask


def test_geval_steps_failure_leaves_every_case_unscored(
    openai_server: Any, judge_params: dict[str, Any]
) -> None:
    openai_server.configure(default_reply="no steps today")
    results = score(geval(judge_params), cases("Paris", "Lyon"))
    assert all(r.value is None and "evaluation steps" in (r.error or "") for r in results)
    assert openai_server.stats()["chat"] == 2  # one steps call + its re-ask, not per case


def test_geval_config_errors() -> None:
    from evalkit.errors import ConfigError

    with pytest.raises(ConfigError, match="criteria"):
        create_scorer("geval", {})
    with pytest.raises(ConfigError, match="unknown evaluation_params"):
        create_scorer("geval", {"criteria": "x", "evaluation_params": ["output"]})


def test_deepeval_answer_relevancy_is_relevant_statements_over_statements(
    openai_server: Any, judge_params: dict[str, Any]
) -> None:
    openai_server.configure(
        rules=[
            {
                "match": STATEMENTS,
                "reply": reply({"statements": ["Paris is the capital.", "I like trains."]}),
            }
        ],
        default_reply=reply({"verdicts": [{"verdict": "yes"}, {"verdict": "no", "reason": "off"}]}),
    )
    context = ScorerContext(client=ModelClient(cache=None))
    scorer = create_scorer("deepeval_answer_relevancy", judge_params, context)
    (result,) = score(scorer, cases("Paris is the capital. I like trains."))
    assert result.value == pytest.approx(0.5)
    assert openai_server.stats()["chat"] == 2  # statements + verdicts; no reason call


def test_deepeval_answer_relevancy_without_statements_is_unscored(
    openai_server: Any, judge_params: dict[str, Any]
) -> None:
    openai_server.configure(
        rules=[{"match": STATEMENTS, "reply": reply({"statements": []})}],
        default_reply=reply({"verdicts": []}),
    )
    context = ScorerContext(client=ModelClient(cache=None))
    scorer = create_scorer("deepeval_answer_relevancy", judge_params, context)
    (result,) = score(scorer, cases("..."))
    assert result.value is None  # deepeval itself would say 1.0
    assert "no statements" in (result.error or "")


# ---------------------------------------------------------------- base-model (text) judges

TEXT_STEPS = "re:(?s)^Write 3 or 4 short evaluation steps.*Steps:\n$"
TEXT_SCORE = "re:(?s)^Score from 0 to 10.*Actual Output: {}\n.*Reply:\n$"


@pytest.fixture
def text_judge(openai_server: Any, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-dummy")
    return {
        "judge": {
            "model": "openai/base",
            "mode": "text",
            "api_base": openai_server.url,
            "params": {"max_tokens": 16},
        }
    }


def test_geval_on_a_text_judge_uses_few_shot_prompts_and_deepevals_rescaling(
    openai_server: Any, text_judge: dict[str, Any]
) -> None:
    steps = ["Compare the city with the expected output.", "Penalise a wrong city."]
    openai_server.configure(
        rules=[
            {"match": TEXT_STEPS, "reply": reply({"steps": steps})},
            {"match": TEXT_SCORE.format("Paris"), "reply": reply({"reason": "ok", "score": 8})},
            {"match": TEXT_SCORE.format("Lyon"), "reply": reply({"reason": "no", "score": 1})},
        ]
    )
    results = score(geval(text_judge), cases("Paris", "Lyon"))
    assert [r.value for r in results] == pytest.approx([0.8, 0.1])
    stats = openai_server.stats()
    assert stats["completions"] == 3 and stats["chat"] == 0
    scoring = [p for p in stats["prompts"] if p.startswith("Score from")]
    # The suite's steps come after the worked examples, one test-case field per line.
    assert all("1. " + steps[0] in p and "Expected Output: Paris\n" in p for p in scoring)
    assert all(16 < budget < 1000 for budget in stats["max_tokens"])


def test_deepeval_answer_relevancy_on_a_text_judge_gets_one_verdict_slot_per_statement(
    openai_server: Any, text_judge: dict[str, Any]
) -> None:
    from evalkit.scorers._completion_prompts import deepeval_verdicts

    statements = ["Paris is the capital.", "I like trains.", "It is big."]
    openai_server.configure(
        rules=[
            {
                "match": "re:^Break the text into short statements",
                "reply": reply({"statements": statements}),
            },
            {
                "match": "re:^One verdict per statement",
                "reply": reply({"verdicts": [{"verdict": v} for v in ("yes", "no", "borderline")]}),
            },
        ]
    )
    context = ScorerContext(client=ModelClient(cache=None))
    scorer = create_scorer("deepeval_answer_relevancy", text_judge, context)
    (result,) = score(scorer, cases("Paris is the capital. I like trains. It is big."))
    assert result.value == pytest.approx(2 / 3)  # deepeval counts borderline as relevant
    assert openai_server.stats()["completions"] == 2
    schema = deepeval_verdicts("Capital?", statements).schema
    assert len(schema["properties"]["verdicts"]["prefixItems"]) == 3


def test_geval_steps_copied_from_the_few_shot_example_leave_every_case_unscored(
    openai_server: Any, text_judge: dict[str, Any]
) -> None:
    # What the embedded Gemma wrote for "The actual output states the same facts as the
    # expected output.": the worked example's steps, about a time.
    copied = [
        "Read the question in the input.",
        "Find the time in the actual output.",
        "Check that the time answers the question.",
    ]
    openai_server.configure(
        rules=[
            {"match": TEXT_STEPS, "reply": reply({"steps": copied})},
            {"match": "re:^Score from", "reply": reply({"reason": "ok", "score": 8})},
        ]
    )
    results = score(geval(text_judge), cases("Paris", "Lyon"))
    assert all(r.value is None for r in results)
    assert all("copied the few-shot example's evaluation steps" in (r.error or "") for r in results)
    assert openai_server.stats()["completions"] == 2  # the steps call and its re-ask only


@pytest.mark.gemma
def test_geval_scores_support_answers_on_embedded_gemma(embedded_url: str) -> None:
    client = ModelClient(cache=None)  # replies the model really produces, not a cache
    # Evaluation steps given: the 270M model does not write steps for a criteria, it
    # copies the few-shot example's (which evalkit rejects; see the test above).
    scorer = create_scorer(
        "geval",
        {
            "evaluation_steps": [
                "Find the facts in the expected output.",
                "Check that the actual output states the same facts.",
            ],
            "evaluation_params": ["input", "actual_output", "expected_output"],
            "judge": {"timeout": 900},  # the embedded server is slow on a loaded machine
        },
        ScorerContext(client=client),
        metric="correct",
    )
    batch = [
        ScoreInput(
            "right",
            0,
            "How many notebooks can I create on the Free plan?",
            "You can create up to 3 notebooks.",
            expected="The Free plan allows up to 3 notebooks.",
        ),
        ScoreInput(
            "wrong",
            0,
            "How much does the Plus plan cost?",
            "The Plus plan is free for students.",
            expected="Plus costs $6 per month or $60 per year.",
        ),
    ]
    results = score(scorer, batch)
    for result in results:
        assert result.value is not None, result.error
        assert 0.0 <= result.value <= 1.0
        assert result.rationale  # G-Eval's reason, from the model's JSON
    assert scorer.steps_generated == 0
    assert client.stats()["judge:deepeval"]["calls"] == 2  # one per case
