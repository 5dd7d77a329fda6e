"""RAGAS metrics through evalkit's judge: scripted replies in ragas' own JSON formats."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from evalkit.models._cache import Cache
from evalkit.models._llm import ModelClient
from evalkit.scorers import Score, ScoreInput, ScorerContext, create_scorer

STATEMENTS = "re:(?s)^Given a question and an answer, analyze"
NLI = "re:(?s)^Your task is to judge the faithfulness"
PRECISION = "re:(?s)^Given question, answer and context verify"
RECALL = "re:(?s)^Given a context and an answer, analyze each statement"
QUESTION = "re:(?s)^Generate a question for the given answer"

CONTEXTS = (
    "Paris is the capital of France.",
    "France is in Europe. Its currency is the euro.",
)


@pytest.fixture
def judge_params(openai_server: Any, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-dummy")
    return {"judge": {"model": "openai/judge", "mode": "chat", "api_base": openai_server.url}}


def reply(data: Any) -> str:
    return json.dumps(data)


def run(
    name: str, params: dict[str, Any], batch: list[ScoreInput], client: Any = None
) -> list[Score]:
    context = ScorerContext(client=client or ModelClient(cache=None))
    scorer = create_scorer(name, params, context)
    return asyncio.run(scorer.score(batch))


def case(output: str, *, expected: Any = None, contexts: tuple[str, ...] = CONTEXTS) -> ScoreInput:
    return ScoreInput(
        "c", 0, "What is the capital of France?", output, expected=expected, contexts=contexts
    )


def test_faithfulness_is_supported_statements_over_all_statements(
    openai_server: Any, judge_params: dict[str, Any]
) -> None:
    statements = [
        "Paris is the capital of France.",
        "France uses the euro.",
        "Paris has ten million bridges.",
        "France is in Europe.",
    ]
    verdicts = [1, 1, 0, 1]
    openai_server.configure(
        rules=[
            {"match": STATEMENTS, "reply": reply({"statements": statements})},
            {
                "match": NLI,
                "reply": reply(
                    {
                        "statements": [
                            {"statement": s, "reason": "checked", "verdict": v}
                            for s, v in zip(statements, verdicts, strict=True)
                        ]
                    }
                ),
            },
        ]
    )
    client = ModelClient(cache=None)
    (result,) = run("faithfulness", judge_params, [case("Paris. Euro. Bridges. Europe.")], client)
    # By hand: 3 supported statements of 4.
    assert result.value == pytest.approx(3 / 4)
    assert openai_server.stats()["chat"] == 2
    assert client.stats()["judge:ragas"]["calls"] == 2
    assert result.raw is not None and "Paris has ten million bridges." in result.raw


def test_faithfulness_nan_when_no_statements_is_unscored(
    openai_server: Any, judge_params: dict[str, Any]
) -> None:
    openai_server.configure(rules=[{"match": STATEMENTS, "reply": reply({"statements": []})}])
    (result,) = run("faithfulness", judge_params, [case("Hmm.")])
    assert result.value is None
    assert "returned NaN" in (result.error or "")
    assert openai_server.stats()["chat"] == 1  # no NLI call without statements


def test_unparseable_ragas_reply_is_reasked_once_then_unscored_with_raw(
    openai_server: Any, judge_params: dict[str, Any]
) -> None:
    openai_server.configure(
        rules=[
            {"match": STATEMENTS, "reply": reply({"statements": ["Paris is the capital."]})},
            {"match": NLI, "reply": "The statement looks fine to me."},
        ]
    )
    (result,) = run("faithfulness", judge_params, [case("Paris.")])
    assert result.value is None
    assert "unparseable judge reply after one retry" in (result.error or "")
    assert result.raw == "The statement looks fine to me."
    assert openai_server.stats()["chat"] == 3  # statements + NLI + one re-ask


def test_answer_relevancy_asks_strictness_questions_with_distinct_cache_keys(
    openai_server: Any, judge_params: dict[str, Any], tmp_path: Path
) -> None:
    generated = {"question": "What is the capital of France?", "noncommittal": 0}
    openai_server.configure(rules=[{"match": QUESTION, "reply": reply(generated)}])
    client = ModelClient(cache=Cache(tmp_path))
    params = {**judge_params, "strictness": 3}
    (result,) = run("answer_relevancy", params, [case("Paris is the capital.")], client)
    # The generated question is the case's question: cosine 1 with the bundled MiniLM.
    assert result.value == pytest.approx(1.0, abs=1e-4)
    # strictness=3 means three real calls: with one shared cache key only one would reach
    # the server and the other two would be cache hits.
    assert openai_server.stats()["chat"] == 3
    (again,) = run("answer_relevancy", params, [case("Paris is the capital.")], client)
    assert again.value == result.value and openai_server.stats()["chat"] == 3


def test_answer_relevancy_asks_once_per_case_unless_the_judge_samples(
    openai_server: Any, judge_params: dict[str, Any]
) -> None:
    generated = {"question": "What is the capital of France?", "noncommittal": 0}
    openai_server.configure(rules=[{"match": QUESTION, "reply": reply(generated)}])
    # At temperature 0 (the default) the repeats would be the same question: one call.
    (result,) = run("answer_relevancy", judge_params, [case("Paris is the capital.")])
    assert result.value == pytest.approx(1.0, abs=1e-4)
    assert openai_server.stats()["chat"] == 1
    # A judge that samples gets ragas' default of three questions.
    sampling = {"judge": {**judge_params["judge"], "params": {"temperature": 0.7}}}
    run("answer_relevancy", sampling, [case("Paris is the capital.")])
    assert openai_server.stats()["chat"] == 1 + 3


def test_answer_relevancy_noncommittal_scores_zero_but_no_question_is_unscored(
    openai_server: Any, judge_params: dict[str, Any]
) -> None:
    openai_server.configure(
        rules=[
            {"match": "I do not know", "reply": reply({"question": "Capital?", "noncommittal": 1})},
            {"match": "zzz", "reply": reply({"question": "", "noncommittal": 0})},
        ]
    )
    evasive, empty = run(
        "answer_relevancy",
        {**judge_params, "strictness": 2},
        [case("I do not know"), case("zzz")],
    )
    assert evasive.value == 0.0  # an evasive answer is a real 0 in ragas' definition
    assert empty.value is None and "no question" in (empty.error or "")


def test_context_precision_is_average_precision_of_useful_contexts(
    openai_server: Any, judge_params: dict[str, Any]
) -> None:
    contexts = ("CTX-A Paris is the capital.", "CTX-B Bananas.", "CTX-C Paris, France.")
    openai_server.configure(
        rules=[
            {
                "match": PRECISION + '.*"context": "CTX-A',
                "reply": reply({"reason": "r", "verdict": 1}),
            },
            {
                "match": PRECISION + '.*"context": "CTX-B',
                "reply": reply({"reason": "r", "verdict": 0}),
            },
            {
                "match": PRECISION + '.*"context": "CTX-C',
                "reply": reply({"reason": "r", "verdict": 1}),
            },
        ]
    )
    (result,) = run(
        "context_precision", judge_params, [case("Paris", expected="Paris", contexts=contexts)]
    )
    # By hand: precision@1 = 1 (useful), @3 = 2/3 (useful); mean over useful ones = 5/6.
    assert result.value == pytest.approx((1 + 2 / 3) / 2)
    assert openai_server.stats()["chat"] == 3


def test_context_recall_is_attributed_reference_statements(
    openai_server: Any, judge_params: dict[str, Any]
) -> None:
    classifications = [
        {"statement": "Paris is the capital of France.", "reason": "r", "attributed": 1},
        {"statement": "Paris has 2 million people.", "reason": "r", "attributed": 0},
    ]
    openai_server.configure(
        rules=[{"match": RECALL, "reply": reply({"classifications": classifications})}]
    )
    (result,) = run(
        "context_recall",
        judge_params,
        [case("Paris", expected="Paris is the capital of France and has 2 million people.")],
    )
    assert result.value == pytest.approx(0.5)


def test_missing_contexts_or_reference_is_unscored_without_calls(
    openai_server: Any, judge_params: dict[str, Any]
) -> None:
    (faithful,) = run("faithfulness", judge_params, [case("Paris", contexts=())])
    (recall,) = run("context_recall", judge_params, [case("Paris", expected=None)])
    assert faithful.value is None and "needs 'contexts'" in (faithful.error or "")
    assert recall.value is None and "needs an 'expected'" in (recall.error or "")
    assert openai_server.stats()["requests"] == 0


def test_ragas_cases_are_scored_concurrently_not_serialised(
    openai_server: Any, judge_params: dict[str, Any]
) -> None:
    openai_server.configure(
        latency=0.2,
        rules=[
            {
                "match": RECALL,
                "reply": reply(
                    {"classifications": [{"statement": "s", "reason": "r", "attributed": 1}]}
                ),
            }
        ],
    )
    batch = [
        ScoreInput(f"c{i}", 0, f"question {i}?", "a", expected=f"ref {i}", contexts=("ctx",))
        for i in range(6)
    ]
    results = run("context_recall", {**judge_params, "concurrency": 6}, batch)
    assert [r.value for r in results] == [1.0] * 6
    # evaluate()'s default sync client would keep one call in flight at a time.
    assert openai_server.stats()["max_in_flight"] >= 4


def test_judge_call_errors_are_unscored(openai_server: Any, judge_params: dict[str, Any]) -> None:
    openai_server.configure(faults=[{"status": 401, "times": 10}])
    (result,) = run("context_recall", judge_params, [case("Paris", expected="Paris")])
    assert result.value is None
    assert "judge call failed: 401" in (result.error or "")


def test_judge_option_takes_a_judge_name_or_a_table(tmp_path: Path) -> None:
    from evalkit.config._suite import ProjectConfig, SuiteConfig
    from evalkit.errors import ConfigError
    from evalkit.scorers._judge import resolve_judge_model

    judges = tmp_path / "judges"
    judges.mkdir()
    (judges / "grader.toml").write_text(
        'model = "openai/big"\nmode = "chat"\nrubric = "r"\ntemplate = "{{ output }}"\n'
        "params = { max_tokens = 5 }\n"
    )
    project = ProjectConfig(source=str(tmp_path / "evalkit.toml"), root=str(tmp_path))
    suite = SuiteConfig(name="s", golden="g.jsonl", judge="grader")
    context = ScorerContext(project=project, suite=suite)
    assert resolve_judge_model(context).model == "openai/big"  # the suite's judge
    named = resolve_judge_model(ScorerContext(project=project), "grader")
    assert (named.model, named.mode, dict(named.params)) == (
        "openai/big",
        "chat",
        {"max_tokens": 5},
    )
    table = resolve_judge_model(context, {"model": "openai/small", "mode": "chat"})
    assert (table.model, table.mode) == ("openai/small", "chat")  # a model overrides the suite's
    default = resolve_judge_model(ScorerContext())
    assert (default.model, default.mode) == ("embedded", "text")
    with pytest.raises(ConfigError, match="unknown judge keys"):
        create_scorer("faithfulness", {"judge": {"modle": "x"}})


# ---------------------------------------------------------------- budgets and base-model prompts

TEXT_STATEMENTS = "re:(?s)^Break the answer into short statements.*Statements:\n$"
TEXT_NLI = "re:(?s)^One verdict per numbered statement.*Verdicts:\n$"


@pytest.fixture
def text_judge(openai_server: Any, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """A text-completion judge (a base model) whose params carry a short verdict budget."""
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-dummy")
    return {
        "judge": {
            "model": "openai/base",
            "mode": "text",
            "api_base": openai_server.url,
            "params": {"max_tokens": 16},
        }
    }


def test_ragas_calls_get_a_budget_for_their_reply_not_the_judges_verdict_budget(
    openai_server: Any, judge_params: dict[str, Any]
) -> None:
    from evalkit.scorers._completion_prompts import UNBOUNDED_BUDGET

    statements = ["Paris is the capital of France.", "France uses the euro."]
    openai_server.configure(
        rules=[
            {"match": STATEMENTS, "reply": reply({"statements": statements})},
            {
                "match": NLI,
                "reply": reply(
                    {
                        "statements": [
                            {"statement": s, "reason": "r", "verdict": 1} for s in statements
                        ]
                    }
                ),
            },
        ]
    )
    judge = {**judge_params["judge"], "params": {"max_tokens": 16}}
    (result,) = run("faithfulness", {"judge": judge}, [case("Paris. Euro.")])
    assert result.value == 1.0
    # A chat judge keeps ragas' own prompts; their lists have no length bound.
    assert openai_server.stats()["max_tokens"] == [UNBOUNDED_BUDGET, UNBOUNDED_BUDGET]


def test_reply_cut_off_by_the_budget_is_unscored_as_truncated_with_its_raw_text(
    openai_server: Any, text_judge: dict[str, Any]
) -> None:
    long_list = {"statements": [f"Statement number {i} about Paris." for i in range(400)]}
    openai_server.configure(
        rules=[{"match": TEXT_STATEMENTS, "reply": reply(long_list), "truncate": True}]
    )
    (result,) = run("faithfulness", text_judge, [case("Paris is the capital of France.")])
    budget = openai_server.stats()["max_tokens"][0]
    assert result.value is None
    assert f"reply truncated at {budget} tokens" in (result.error or "")
    assert "no JSON value found" not in (result.error or "")
    assert (result.raw or "").startswith('{"statements": ["Statement number 0')
    # Asking again would be cut at the same place: one call, no re-ask.
    assert openai_server.stats()["completions"] == 1


def test_text_judge_gets_few_shot_prompts_and_ragas_still_aggregates(
    openai_server: Any, text_judge: dict[str, Any]
) -> None:
    statements = ["Paris is the capital of France.", "Paris has ten million bridges."]
    openai_server.configure(
        rules=[
            {"match": TEXT_STATEMENTS, "reply": reply({"statements": statements})},
            # The compact reply: one verdict per statement, nothing copied back.
            {"match": TEXT_NLI, "reply": reply({"verdicts": [1, 0]})},
        ]
    )
    (result,) = run("faithfulness", text_judge, [case("Paris is the capital. It has bridges.")])
    assert result.value == pytest.approx(1 / 2)  # ragas' ratio of supported statements
    # ragas got its own reply form back: the given statements with their verdicts.
    nli_reply = json.loads(result.raw or "[]")[1]
    assert [(s["statement"], s["verdict"]) for s in nli_reply["statements"]] == [
        (statements[0], 1),
        (statements[1], 0),
    ]
    stats = openai_server.stats()
    assert stats["completions"] == 2 and stats["chat"] == 0
    nli_prompt = stats["prompts"][1]
    # The item comes last, after the worked examples, with the statements to judge.
    numbered = f"1. {statements[0]}\n2. {statements[1]}\n"
    assert nli_prompt.index("ferry") < nli_prompt.index(numbered)
    assert "Your task is to judge" not in nli_prompt  # not ragas' chat instruction
    # Budgets fit the tightened schemas (every string bounded), far above the judge's 16.
    assert all(16 < budget < 2048 for budget in stats["max_tokens"])


def test_statements_copied_from_the_few_shot_example_are_unscored_not_judged(
    openai_server: Any, text_judge: dict[str, Any]
) -> None:
    # What the embedded Gemma wrote for "Turn on the security key in Settings, Security."
    copied = {"statements": ["The ferry leaves from pier 4."]}
    openai_server.configure(
        rules=[
            {"match": TEXT_STATEMENTS, "reply": reply(copied)},
            {"match": TEXT_NLI, "reply": reply({"verdicts": [1]})},
        ]
    )
    (result,) = run("faithfulness", text_judge, [case("Turn on the security key in Settings.")])
    assert result.value is None
    assert "copied the few-shot example ('ferry')" in (result.error or "")
    assert "pier 4" in (result.raw or "")
    assert openai_server.stats()["completions"] == 2  # statements + its re-ask; no verdicts


def test_a_copied_split_is_asked_again_with_the_other_worked_examples(
    openai_server: Any, text_judge: dict[str, Any]
) -> None:
    # At temperature 0 the same prompt gives the same copy; the re-ask shows the model
    # the bakery examples instead of the ferry ones (a different prompt, a new reply).
    openai_server.configure(
        rules=[
            {
                "match": "re:(?s)^Break the answer.*sourdough.*Statements:\n$",
                "reply": reply({"statements": ["The security key is turned on in Settings."]}),
            },
            {"match": TEXT_STATEMENTS, "reply": reply({"statements": ["The ferry leaves."]})},
            {"match": TEXT_NLI, "reply": reply({"verdicts": [1]})},
        ]
    )
    (result,) = run("faithfulness", text_judge, [case("Turn on the security key in Settings.")])
    assert result.value == 1.0, result.error
    first, second, verdicts = openai_server.stats()["prompts"]
    assert "ferry" in first and "sourdough" not in first
    assert "sourdough" in second and "ferry" not in second
    assert verdicts.startswith("One verdict per numbered statement")


def test_statement_lists_have_one_slot_per_clause_at_most() -> None:
    from ragas.metrics.collections.faithfulness.util import StatementGeneratorInput

    from evalkit.scorers._completion_prompts import ragas_statements

    def most(answer: str) -> int:
        data = StatementGeneratorInput(question="Q?", answer=answer)
        return int(ragas_statements(data).schema["properties"]["statements"]["maxItems"])

    # A one-fact answer left room for a second statement, which the embedded Gemma filled
    # with an invented, contradicting one ("... 2 notebooks" after "3 notebooks").
    assert most("You can create 3 notebooks on the Free plan.") == 1
    assert most("It leaves at 8 am. Tickets cost 12 euros, and dogs ride free.") == 3


def test_completion_prompt_schemas_fix_the_statements_and_bound_every_reply() -> None:
    from pydantic import ValidationError
    from ragas.metrics.collections.faithfulness.util import (
        NLIStatementInput,
        NLIStatementOutput,
        StatementGeneratorInput,
    )

    from evalkit.scorers._completion_prompts import (
        RAGAS_PROMPTS,
        ragas_nli,
        ragas_statements,
        reply_model,
        worst_case_chars,
    )

    statements = ["The Free plan has 3 notebooks.", "It costs $5."]
    nli = ragas_nli(NLIStatementInput(context="Free: 3 notebooks.", statements=statements))
    # The model writes exactly one 0/1 verdict per statement, never a statement.
    verdicts = nli.schema["properties"]["verdicts"]
    assert verdicts["minItems"] == verdicts["maxItems"] == 2
    assert [item["enum"] for item in verdicts["prefixItems"]] == [[0, 1], [0, 1]]
    longest = {"verdicts": [1, 1]}
    assert len(json.dumps(longest)) <= worst_case_chars(nli.schema) <= nli.max_tokens
    # evalkit expands the verdicts into ragas' own output model, the statements as given.
    parsed = reply_model(nli, NLIStatementOutput).model_validate({"verdicts": [0, 1]})
    assert isinstance(parsed, NLIStatementOutput)
    assert [(a.statement, a.verdict) for a in parsed.statements] == [
        (statements[0], 0),
        (statements[1], 1),
    ]
    # A reply with the wrong number of verdicts does not parse (unscored, never guessed).
    with pytest.raises(ValidationError, match="expected 2 verdicts"):
        reply_model(nli, NLIStatementOutput).model_validate({"verdicts": [1]})
    split = ragas_statements(StatementGeneratorInput(question="Q?", answer="A. B."))
    assert split.schema["properties"]["statements"]["minItems"] == 1
    assert set(RAGAS_PROMPTS) == {
        "faithfulness",
        "answer_relevancy",
        "context_precision",
        "context_recall",
    }


# ---------------------------------------------------------------- the embedded Gemma as judge

REPO = Path(__file__).resolve().parents[2]


def support_cases(*ids: str, outputs: dict[str, str] | None = None) -> list[ScoreInput]:
    """Returns support_rag golden cases as score inputs (output: the case's expected answer)."""
    rows = [json.loads(line) for line in (REPO / "golden_sets/support_rag.jsonl").open()]
    by_id = {row["id"]: row for row in rows}
    return [
        ScoreInput(
            case_id,
            0,
            by_id[case_id]["input"]["question"],
            (outputs or {}).get(case_id, by_id[case_id]["expected"]),
            expected=by_id[case_id]["expected"],
            contexts=tuple(by_id[case_id]["contexts"]),
        )
        for case_id in ids
    ]


@pytest.mark.gemma
def test_faithfulness_scores_support_cases_on_embedded_gemma(embedded_url: str) -> None:
    from evalkit.scorers._completion_prompts import EXAMPLE_MARKERS

    client = ModelClient(cache=None)  # replies the model really produces, not a cache
    batch = support_cases(
        "rag-plans-free-notebooks",
        "rag-plans-plus-price",
        outputs={"rag-plans-plus-price": "Plus costs $6 per month and includes a free phone."},
    )
    # A long timeout: the embedded server is slow on a loaded 2-core machine.
    results = run("faithfulness", {"judge": {"timeout": 900}}, batch, client)
    for result in results:
        assert result.value is not None, result.error
        assert 0.0 <= result.value <= 1.0
    statements = [json.loads(r.raw or "[]")[0]["statements"] for r in results]
    assert all(statements), statements
    # Nothing copied from the few-shot examples (they are about a ferry timetable).
    text = json.dumps(statements).lower()
    assert not [marker for marker in EXAMPLE_MARKERS if marker in text], statements
    assert client.stats()["judge:ragas"]["calls"] == 4  # statements + verdicts, per case


@pytest.mark.gemma
def test_a_split_gemma_copied_is_scored_after_the_retry_with_other_examples(
    embedded_url: str,
) -> None:
    from evalkit.scorers._completion_prompts import EXAMPLE_MARKERS

    client = ModelClient(cache=None)
    # Gemma's own answers to these two cases (the demo's support_rag run). Asked with the
    # ferry examples, Gemma split them into "The ferry accepts payments from Visa, ..."
    # and "For up to 24 hours, the ferry can be on": both unscored before the retry
    # showed it the bakery examples instead.
    outputs = {
        "rag-billing-payment-methods": " We accept Visa, Mastercard and American Express.",
        "rag-sync-pause-limit": " For up to 24 hours.",
    }
    batch = support_cases(*outputs, outputs=outputs)
    results = run("faithfulness", {"judge": {"timeout": 900}}, batch, client)
    for result in results:
        assert result.value is not None, result.error
    statements = [json.loads(r.raw or "[]")[0]["statements"] for r in results]
    text = json.dumps(statements).lower()
    assert not [marker for marker in EXAMPLE_MARKERS if marker in text], statements
