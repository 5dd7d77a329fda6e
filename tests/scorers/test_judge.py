"""evalkit's LLM judge: definitions, strict parsing, re-ask once, pairwise, score_outputs."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from evalkit.config._suite import MetricSpec, ProjectConfig, SuiteConfig
from evalkit.data._golden import GoldenCase, GoldenSet
from evalkit.data._records import Output
from evalkit.errors import ConfigError, NotFoundError
from evalkit.execution._scoring import score_outputs
from evalkit.judging._definitions import (
    JudgeDefinition,
    UnparseableVerdict,
    load_judge,
    parse_verdict,
)
from evalkit.models._llm import CallResult, ModelClient, ModelRequest
from evalkit.scorers import ScoreInput, ScorerContext, create_scorer
from evalkit.scorers._judge import RETRY_SAMPLE_OFFSET

REPO = Path(__file__).resolve().parents[2]

CHAT_JUDGE = """
model = "openai/judge"
mode = "chat"
api_base = "{url}"
scale = "{scale}"
structured = "json_object"
rubric = "Grade the answer against the reference ({{{{ scale }}}})."
template = "Q: {{{{ input }}}}\\nRef: {{{{ expected }}}}\\nAnswer: {{{{ output }}}}"
params = {{ max_tokens = 20 }}
max_retries = 0

[[examples]]
input = "2+2?"
expected = "4"
output = "4"
verdict = "{example_verdict}"
"""

PAIRWISE_JUDGE = """
model = "openai/judge"
mode = "chat"
api_base = "{url}"
type = "pairwise"
structured = "none"
rubric = "Which answer is better? Reply with JSON."
template = "Q: {{{{ input }}}}\\nA: {{{{ output_a }}}}\\nB: {{{{ output_b }}}}"
max_retries = 0
"""


def write_judge(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.toml"
    path.write_text(text)
    return path


def project_at(root: Path) -> ProjectConfig:
    return ProjectConfig(source=str(root / "evalkit.toml"), root=str(root))


def items(*rows: tuple[str, str, Any]) -> list[ScoreInput]:
    return [ScoreInput(f"c{i}", 0, q, out, expected=exp) for i, (q, out, exp) in enumerate(rows)]


@pytest.fixture
def api_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-dummy")


# ---------------------------------------------------------------- definitions


def test_shipped_correctness_judge_is_text_mode_few_shot_with_constrained_json() -> None:
    judge = load_judge("correctness", REPO / "judges")
    assert (judge.model, judge.mode, judge.scale, judge.type) == (
        "embedded",
        "text",
        "pass/fail",
        "pointwise",
    )
    assert len(judge.examples) >= 2
    assert {e.verdict for e in judge.examples} == {"pass", "fail"}
    params = judge.request_params()
    assert params["temperature"] == 0.0
    schema = params["extra_body"]["response_format"]["schema"]
    assert schema["properties"]["verdict"]["enum"] == ["pass", "fail"]
    assert "response_format" not in params  # rejected by LiteLLM on the text route
    prompt, messages = judge.build_prompt(
        {"input": "Capital of Peru?", "expected": "Lima", "output": "Lima", "answers": ["Lima"]}
    )
    assert messages is None and prompt is not None
    assert prompt.count('Judgement: {"verdict": "pass"}') >= 1
    assert prompt.count('Judgement: {"verdict": "fail"}') >= 1
    assert prompt.endswith("Answer: Lima\nJudgement:")


def test_fingerprint_changes_with_rubric_examples_scale_and_params() -> None:
    judge = load_judge("correctness", REPO / "judges")
    same = load_judge(REPO / "judges" / "correctness.toml")
    assert judge.fingerprint() == same.fingerprint()
    changes: list[dict[str, Any]] = [
        {"rubric": judge.rubric + " Be strict."},
        {"examples": judge.examples[:1]},
        {"scale": "1..5"},
        {"params": {"temperature": 0.5}},
        {"model": "openai/gpt-4o-mini"},
    ]
    for change in changes:
        assert judge.model_copy(update=change).fingerprint() != judge.fingerprint(), change
    # Cosmetic fields do not change it.
    assert judge.model_copy(update={"description": "x"}).fingerprint() == judge.fingerprint()


def test_unknown_judge_lists_the_judges_and_bad_fields_are_config_errors(tmp_path: Path) -> None:
    write_judge(tmp_path, "good", 'rubric = "r"\ntemplate = "{{ output }}"\n')
    with pytest.raises(NotFoundError, match=r"judges in .*: good"):
        load_judge("missing", tmp_path)
    write_judge(tmp_path, "bad", 'rubric = "r"\ntemplate = "t"\nscale = "5..1"\ncolour = 1\n')
    with pytest.raises(ConfigError) as info:
        load_judge("bad", tmp_path)
    text = str(info.value)
    assert "scale" in text and "unknown key 'colour'" in text
    write_judge(tmp_path, "syntax", 'rubric = "r"\ntemplate = "{{ output"\n')
    with pytest.raises(ConfigError, match="Jinja2 syntax error"):
        load_judge("syntax", tmp_path)


# ---------------------------------------------------------------- strict parsing


def definition(**fields: Any) -> JudgeDefinition:
    return JudgeDefinition(name="t", rubric="r", template="{{ output }}", **fields)


def test_parse_verdict_accepts_json_fenced_json_and_one_verdict_line() -> None:
    judge = definition()
    assert parse_verdict('{"verdict": "pass"}', judge).value == 1.0
    assert parse_verdict('```json\n{"reason": "ok", "verdict": "FAIL"}\n```', judge).value == 0.0
    assert parse_verdict('```json\n{"reason": "ok", "verdict": "fail"}\n```', judge).reason == "ok"
    assert parse_verdict("Verdict: pass", judge).label == "pass"


@pytest.mark.parametrize(
    "reply",
    ["", "I think it passes", '{"verdict": "maybe"}', '{"score": 1}', "Verdict: probably"],
)
def test_parse_verdict_rejects_anything_else(reply: str) -> None:
    with pytest.raises(UnparseableVerdict):
        parse_verdict(reply, definition())


def test_numeric_scale_accepts_only_integers_in_range() -> None:
    judge = definition(scale="1..5")
    assert parse_verdict('{"score": 4}', judge).value == 4.0
    assert parse_verdict("Score: 2", judge).value == 2.0
    for reply in ('{"score": 6}', '{"score": 3.5}', '{"score": true}', '{"verdict": "pass"}'):
        with pytest.raises(UnparseableVerdict):
            parse_verdict(reply, judge)


def test_pairwise_verdicts_are_a_b_or_tie() -> None:
    judge = definition(type="pairwise")
    assert [parse_verdict(f'{{"verdict": "{v}"}}', judge).value for v in "AB"] == [1.0, 0.0]
    assert parse_verdict('{"verdict": "tie"}', judge).value == 0.5
    with pytest.raises(UnparseableVerdict):
        parse_verdict('{"verdict": "C"}', judge)


# ---------------------------------------------------------------- through the model client


def judge_scorer(tmp_path: Path, url: str, client: ModelClient, **fmt: str) -> Any:
    values = {"url": url, "scale": "pass/fail", "example_verdict": "pass", **fmt}
    write_judge(tmp_path / "judges", "grader", CHAT_JUDGE.format(**values))
    context = ScorerContext(client=client, project=project_at(tmp_path))
    return create_scorer("judge", {"name": "grader"}, context)


def test_pointwise_judge_scores_through_the_server_and_keeps_raw(
    tmp_path: Path, openai_server: Any, api_key: None
) -> None:
    openai_server.configure(
        rules=[
            {"match": "Answer: Paris", "reply": '{"verdict": "pass"}'},
            {"match": "Answer: Lyon", "reply": '{"verdict": "fail"}'},
        ]
    )
    client = ModelClient(cache=None)
    scorer = judge_scorer(tmp_path, openai_server.url, client)
    batch = items(("Capital of France?", "Paris", "Paris"), ("Capital of France?", "Lyon", "Paris"))
    results = asyncio.run(scorer.score(batch))
    assert [r.value for r in results] == [1.0, 0.0]
    assert results[0].raw == '{"verdict": "pass"}'
    assert openai_server.stats()["chat"] == 2
    assert client.stats()["judge:grader"]["calls"] == 2
    assert scorer.shape.kind == "binary"
    assert scorer.fingerprint() == load_judge("grader", tmp_path / "judges").fingerprint()


def test_unparseable_judge_reply_is_reasked_once_then_unscored_with_raw(
    tmp_path: Path, openai_server: Any, api_key: None
) -> None:
    from evalkit.models._cache import Cache

    openai_server.configure(default_reply="I would say it is probably right.")
    client = ModelClient(cache=Cache(tmp_path / "cache"))
    scorer = judge_scorer(tmp_path, openai_server.url, client)
    (result,) = asyncio.run(scorer.score(items(("q", "a", "a"))))
    assert result.value is None  # never a fail
    assert "unparseable judge reply after one retry" in (result.error or "")
    assert result.raw == "I would say it is probably right."
    # The re-ask was a new call, not the cached first reply.
    assert openai_server.stats()["chat"] == 2
    # A second run is served from the cache and is still unscored.
    (again,) = asyncio.run(scorer.score(items(("q", "a", "a"))))
    assert again.value is None and openai_server.stats()["chat"] == 2


class ScriptedClient:
    """A ModelClient stand-in replying from a script, recording each request."""

    def __init__(self, replies: Sequence[str]) -> None:
        self.replies = list(replies)
        self.requests: list[ModelRequest] = []

    async def call(self, request: ModelRequest) -> CallResult:
        self.requests.append(request)
        text = self.replies.pop(0)
        return CallResult(text, None, 0.0, 0, 0, 0.0, False, 1, "stop")


def test_reasked_call_uses_a_sample_offset_and_its_verdict_counts(tmp_path: Path) -> None:
    client = ScriptedClient(["no idea", '{"verdict": "fail"}'])
    scorer = judge_scorer(tmp_path, "http://unused", client)  # type: ignore[arg-type]
    batch = [ScoreInput("c", 3, "q", "a", expected="b")]
    (result,) = asyncio.run(scorer.score(batch))
    assert result.value == 0.0
    assert [r.sample for r in client.requests] == [3, 3 + RETRY_SAMPLE_OFFSET]
    assert client.requests[0].tag == "judge:grader"
    assert client.requests[0].params["temperature"] == 0.0
    assert client.requests[0].params["response_format"] == {"type": "json_object"}


def test_failed_judge_call_is_unscored_with_the_reason(
    tmp_path: Path, openai_server: Any, api_key: None
) -> None:
    openai_server.configure(faults=[{"status": 400, "times": 5}])
    scorer = judge_scorer(tmp_path, openai_server.url, ModelClient(cache=None))
    (result,) = asyncio.run(scorer.score(items(("q", "a", "a"))))
    assert result.value is None
    assert (result.error or "").startswith("judge call failed: 400")


def test_ordinal_judge_reports_its_scale(tmp_path: Path, openai_server: Any, api_key: None) -> None:
    openai_server.configure(default_reply='{"score": 4}')
    scorer = judge_scorer(
        tmp_path, openai_server.url, ModelClient(cache=None), scale="1..5", example_verdict="5"
    )
    (result,) = asyncio.run(scorer.score(items(("q", "a", "a"))))
    assert result.value == 4.0
    assert (scorer.shape.kind, scorer.shape.low, scorer.shape.high) == ("ordinal", 1.0, 5.0)


def test_pairwise_runs_both_orders_and_reports_position_flips(
    tmp_path: Path, openai_server: Any, api_key: None
) -> None:
    write_judge(tmp_path / "judges", "pair", PAIRWISE_JUDGE.format(url=openai_server.url))
    openai_server.configure(
        rules=[
            # A fair judge for q1: prefers the GOOD answer wherever it stands.
            {"match": "re:q1\\nA: GOOD", "reply": '{"verdict": "A"}'},
            {"match": "re:q1\\nA: ref\\nB: GOOD", "reply": '{"verdict": "B"}'},
            # A position-biased judge for q2: always says A.
            {"match": "q2", "reply": "Verdict: A"},
        ]
    )
    context = ScorerContext(client=ModelClient(cache=None), project=project_at(tmp_path))
    scorer = create_scorer("judge", {"name": "pair"}, context)
    fair, biased = asyncio.run(scorer.score(items(("q1", "GOOD", "ref"), ("q2", "meh", "ref"))))
    assert fair.value == 1.0 and fair.extras == {"position_flip": 0.0}
    assert biased.value == 0.5 and biased.extras == {"position_flip": 1.0}
    assert "flips with the order" in (biased.rationale or "")
    assert openai_server.stats()["chat"] == 4


# ---------------------------------------------------------------- score_outputs


def test_score_outputs_rows_metric_info_and_sut_errors(
    tmp_path: Path, openai_server: Any, api_key: None
) -> None:
    write_judge(
        tmp_path / "judges",
        "grader",
        CHAT_JUDGE.format(url=openai_server.url, scale="pass/fail", example_verdict="pass"),
    )
    write_judge(tmp_path / "judges", "pair", PAIRWISE_JUDGE.format(url=openai_server.url))
    openai_server.configure(
        rules=[{"match": "A:", "reply": '{"verdict": "tie"}'}],
        default_reply='{"verdict": "pass"}',
    )
    suite = SuiteConfig(
        name="s",
        golden="g.jsonl",
        judge="grader",
        metrics=[
            MetricSpec(name="exact"),
            MetricSpec(name="correct", scorer="judge", threshold=1.0),
            MetricSpec(name="pref", scorer="judge", params={"name": "pair"}, gate=False),
        ],
    )
    cases = (
        GoldenCase(id="a", input={"question": "Capital of France?"}, expected="Paris"),
        GoldenCase(id="b", input="Capital of Peru?", expected="Lima"),
        GoldenCase(id="c", input="No reference?"),
    )
    golden = GoldenSet("g.jsonl", cases, "sha256:x")
    outputs = [
        Output("a", 0, "Paris"),
        Output("b", 0, None, error="500 from SUT after 4 attempts"),
        Output("c", 0, "whatever"),
    ]
    rows, infos = asyncio.run(
        score_outputs(suite, project_at(tmp_path), golden, outputs, client=ModelClient(cache=None))
    )
    by = {(r.case_id, r.metric): r for r in rows}
    assert len(rows) == 3 * 4  # exact, correct, pref, pref.position_flip
    assert by[("a", "exact")].value == 1.0
    assert by[("a", "correct")].value == 1.0
    assert by[("a", "pref")].value == 0.5
    assert by[("a", "pref.position_flip")].value == 0.0
    for metric in ("exact", "correct", "pref", "pref.position_flip"):
        row = by[("b", metric)]
        assert row.value is None and row.error == "SUT error: 500 from SUT after 4 attempts"
    assert by[("c", "exact")].value is None and "needs an 'expected'" in (
        by[("c", "exact")].error or ""
    )
    info = {i.name: i for i in infos}
    assert info["exact"].judge_fingerprint is None and info["exact"].kind == "binary"
    grader = load_judge("grader", tmp_path / "judges")
    assert info["correct"].judge_fingerprint == grader.fingerprint()
    assert info["correct"].threshold == 1.0 and info["correct"].scorer == "judge"
    assert info["pref"].gate is False and info["pref.position_flip"].gate is False
    assert info["pref.position_flip"].higher_is_better is False


def test_score_outputs_fails_fast_on_unknown_scorer(tmp_path: Path) -> None:
    suite = SuiteConfig(name="s", golden="g.jsonl", metrics=[MetricSpec(name="exakt")])
    golden = GoldenSet("g.jsonl", (GoldenCase(id="a", input="q", expected="x"),), "sha256:x")
    with pytest.raises(NotFoundError, match="known scorers"):
        asyncio.run(
            score_outputs(
                suite,
                project_at(tmp_path),
                golden,
                [Output("a", 0, "x")],
                client=ModelClient(cache=None),
            )
        )


@pytest.mark.gemma
def test_correctness_judge_gives_parseable_verdicts_on_embedded_gemma(tmp_path: Path) -> None:
    context = ScorerContext(
        client=ModelClient(cache=None), project=ProjectConfig(source="x", root=str(REPO))
    )
    scorer = create_scorer("judge", {"name": "correctness"}, context)
    batch = items(
        ("What is the capital of Italy?", "Rome", "Rome"),
        ("How many days are in a week?", "Five days.", "7"),
    )
    results = asyncio.run(scorer.score(batch))
    # The 270M model is a weak judge; what must hold is that every item gets a verdict:
    # the one token Gemma writes after the reply's fixed start begins "pass" or "fail".
    from evalkit.judging._definitions import parse_verdict_token

    judge = scorer.definition
    assert judge.verdict_prefix == '{"verdict": "'
    assert all(r.value in (0.0, 1.0) for r in results), [r.error for r in results]
    for result in results:
        raw = result.raw or ""
        assert raw.startswith(judge.verdict_prefix), raw
        token = raw.removeprefix(judge.verdict_prefix)
        assert parse_verdict_token(token, judge).label in ("pass", "fail"), raw
        assert result.soft_score is not None and 0.0 <= result.soft_score <= 1.0


def test_auto_structured_output_uses_the_schema_only_for_self_hosted_models() -> None:
    from evalkit.judging._definitions import JudgeModel

    schema = {"type": "object"}
    hosted = JudgeModel(model="openai/gpt-4o-mini", mode="chat").request_params(schema)
    assert hosted["response_format"] == {"type": "json_object"}
    local = JudgeModel(model="openai/x", mode="chat", api_base="http://127.0.0.1:1/v1")
    assert local.request_params(schema)["response_format"]["schema"] == schema
    embedded = JudgeModel(model="embedded", mode="text").request_params(schema)
    assert embedded["extra_body"]["response_format"]["schema"] == schema
    assert "response_format" not in embedded
    bare = JudgeModel(model="openai/x", structured="none", params={"temperature": 0.7})
    assert bare.request_params(schema) == {"temperature": 0.7}
