"""The embedded server's JSON path: strict string grammar and the two speed-ups.

The speed-ups (``evalkit.models._llama_speedups``) must choose exactly the tokens
llama-cpp-python's own sampling chooses; the Gemma tests compare a server with them and
one without (``EVALKIT_LLAMA_SPEEDUPS=0``) on the judge prompts evalkit sends.
"""

from __future__ import annotations

import json
import types
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from evalkit.models import _embedded as embedded
from evalkit.models._llama_speedups import INSTALLED_LINE
from evalkit.models._llm import GRAMMAR_RECIPE, ModelRequest, grammar_for_text_completion
from evalkit.scorers import _completion_prompts as prompts

_SCHEMA = {"type": "object", "properties": {"verdict": {"type": "integer", "enum": [0, 1]}}}


def _json_request(**params: Any) -> ModelRequest:
    extra = {"response_format": {"type": "json_object", "schema": _SCHEMA}}
    return ModelRequest(model="embedded", mode="text", prompt="x", params={"extra_body": extra})


def test_an_embedded_json_request_is_cached_under_the_grammar_recipe() -> None:
    json_identity = _json_request().cache_identity()
    assert json_identity["grammar"] == GRAMMAR_RECIPE
    plain = ModelRequest(model="embedded", mode="text", prompt="x", params={"max_tokens": 4})
    assert "grammar" not in plain.cache_identity()  # SUT and verdict-token keys unchanged
    other = ModelRequest(
        model="gpt-4o-mini", mode="chat", prompt="x", params=_json_request().params
    )
    assert "grammar" not in other.cache_identity()


def test_schema_grammar_strings_exclude_control_characters() -> None:
    schema = {"type": "object", "properties": {"s": {"type": "string", "maxLength": 9}}}
    params = {"extra_body": {"response_format": {"type": "json_object", "schema": schema}}}
    grammar = grammar_for_text_completion(params)["extra_body"]["grammar"]
    char_rules = [line for line in grammar.splitlines() if line.startswith("char ::= ")]
    assert len(char_rules) == 1
    assert char_rules[0].startswith(r'char ::= [^"\\\x7F\x00-\x1F] | ')


def test_the_speed_ups_stay_out_of_another_llama_cpp_python_version(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import llama_cpp
    from llama_cpp import llama as llama_module

    from evalkit.models import _llama_speedups

    monkeypatch.setattr(llama_cpp, "__version__", "0.4.0")
    original = llama_module.Llama._init_sampler
    assert _llama_speedups.install() is False
    assert llama_module.Llama._init_sampler is original
    assert "speed-ups not installed: llama-cpp-python 0.4.0" in capsys.readouterr().err


# ---------------------------------------------------------------- real Gemma (slow)

_ANSWERS = [
    (
        "What is the largest file I can attach on the Plus plan?",
        "The largest file on the Plus plan is 25 MB.",
    ),
    (
        "How much does the Plus plan cost?",
        "The Plus plan costs $6 per month or $60 per year, and it includes 20 GB of storage.",
    ),
    ("Can I restore a deleted note?", "Yes, deleted notes stay in the trash for 30 days."),
]
_CONTEXT = (
    "The largest single attachment you can upload is 25 MB on the Free plan and 200 MB on "
    "the Plus and Team plans. Deleted notes stay in the trash for 30 days."
)


def _judge_prompts() -> list[prompts.CompletionPrompt]:
    rendered = []
    for question, answer in _ANSWERS:
        data = types.SimpleNamespace(question=question, answer=answer, response=answer)
        rendered.append(prompts.ragas_statements(data))
        rendered.append(prompts.ragas_question(data))
    rendered.append(
        prompts.ragas_nli(
            types.SimpleNamespace(
                context=_CONTEXT,
                statements=[
                    "Attachments can be 200 MB on Plus.",
                    "Notes stay in the trash for a year.",
                ],
            )
        )
    )
    rendered.append(
        prompts.geval_results(
            "1. Check that the answer gives the size limit.",
            f"Input:\n{_ANSWERS[0][0]} \n\nActual Output:\n{_ANSWERS[0][1]} \n\n",
            (1, 10),
        )
    )
    return rendered


def _complete(url: str, prompt: prompts.CompletionPrompt, logprobs: int | None = None) -> str:
    params = {
        "max_tokens": prompt.max_tokens,
        "temperature": 0.0,
        "stop": ["\n"],
        "extra_body": {"response_format": {"type": "json_object", "schema": prompt.schema}},
    }
    body = grammar_for_text_completion(params)
    body = {**{k: v for k, v in body.items() if k != "extra_body"}, **body["extra_body"]}
    body["prompt"] = str(prompt)
    if logprobs:
        body["logprobs"] = logprobs
    reply = httpx.post(f"{url}/completions", json=body, timeout=300).json()
    choice = reply["choices"][0]
    return f"{choice['finish_reason']}: {choice['text']}"


@pytest.fixture(scope="module")
def plain_url(monkeypatch_module: pytest.MonkeyPatch) -> Iterator[str]:
    """A second embedded server running llama-cpp-python's own sampling (no speed-ups)."""
    monkeypatch_module.setenv("EVALKIT_LLAMA_SPEEDUPS", "0")
    server = embedded.EmbeddedServer()
    url = server.start()
    monkeypatch_module.delenv("EVALKIT_LLAMA_SPEEDUPS")
    try:
        assert server.log_path is not None
        assert INSTALLED_LINE not in server.log_path.read_text(encoding="utf-8")
        yield url
    finally:
        server.stop()


@pytest.fixture(scope="module")
def monkeypatch_module() -> Iterator[pytest.MonkeyPatch]:
    with pytest.MonkeyPatch.context() as patch:
        yield patch


@pytest.mark.gemma
def test_the_speed_ups_choose_the_tokens_llama_cpp_python_chooses(
    embedded_url: str, plain_url: str
) -> None:
    server = embedded._server
    assert server is not None and server.log_path is not None
    assert INSTALLED_LINE in server.log_path.read_text(encoding="utf-8")
    for prompt in _judge_prompts():
        fast = _complete(embedded_url, prompt)
        assert fast == _complete(plain_url, prompt), str(prompt)[-200:]
        assert fast.startswith("stop: ")
        json.loads(fast.removeprefix("stop: "))
    # A grammar request with log-probabilities takes llama-cpp-python's own path.
    last = _judge_prompts()[-1]
    assert _complete(embedded_url, last, logprobs=2) == _complete(plain_url, last, logprobs=2)


@pytest.mark.gemma
def test_a_statement_split_is_not_cut_by_a_newline_inside_a_string(embedded_url: str) -> None:
    # With llama-cpp-python's string grammar Gemma wrote a raw newline after "The file can
    # be" and the one-line stop sequence cut the reply mid-string (no JSON value found).
    question, answer = _ANSWERS[0]
    prompt = prompts.ragas_statements(types.SimpleNamespace(question=question, answer=answer))
    reply = _complete(embedded_url, prompt)
    assert reply.startswith("stop: ")
    statements = json.loads(reply.removeprefix("stop: "))["statements"]
    assert statements and all("\n" not in s for s in statements)
