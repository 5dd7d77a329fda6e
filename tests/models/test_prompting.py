"""Prompt building: Jinja2 templates with StrictUndefined, and the no-template defaults."""

from __future__ import annotations

from pathlib import Path

import pytest

from evalkit.config._suite import SUTConfig
from evalkit.data._golden import GoldenCase
from evalkit.errors import TemplateError
from evalkit.models._prompting import build_prompt, render_template


def _case(**fields: object) -> GoldenCase:
    return GoldenCase.model_validate({"id": "c1", **fields})


def _template(tmp_path: Path, text: str) -> str:
    path = tmp_path / "prompt.jinja"
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_input_keys_are_template_variables(tmp_path: Path) -> None:
    template = _template(tmp_path, "Q: {{ question }}\nContext: {{ contexts | join(' ') }}\nA:")
    case = _case(input={"question": "Capital of France?"}, contexts=["Paris is the capital."])
    _, prompt = build_prompt(case, SUTConfig(mode="text"), template_path=template)
    assert prompt == "Q: Capital of France?\nContext: Paris is the capital.\nA:"


def test_missing_variable_names_case_template_and_variable(tmp_path: Path) -> None:
    template = _template(tmp_path, "Q: {{ question }} ({{ languge }})")
    case = _case(id="geo-7", input={"question": "Capital?"})
    with pytest.raises(TemplateError) as raised:
        build_prompt(case, SUTConfig(mode="text"), template_path=template)
    message = str(raised.value)
    assert "geo-7" in message and template in message and "languge" in message


def test_prompts_are_not_html_escaped(tmp_path: Path) -> None:
    template = _template(tmp_path, "{{ input }}")
    assert render_template(template, _case(input="Tom's <b> & co")) == "Tom's <b> & co"


def test_string_input_without_template_is_the_user_message() -> None:
    messages, prompt = build_prompt(_case(input="Hello?"), SUTConfig(mode="chat"))
    assert messages == ({"role": "user", "content": "Hello?"},) and prompt is None


def test_string_input_without_template_is_the_prompt_in_text_mode() -> None:
    messages, prompt = build_prompt(_case(input="Hello?"), SUTConfig(mode="text"))
    assert messages is None and prompt == "Hello?"


def test_system_message_comes_first_in_chat_mode(tmp_path: Path) -> None:
    template = _template(tmp_path, "Q: {{ q }}")
    sut = SUTConfig(mode="chat", system="Answer briefly.")
    messages, _ = build_prompt(_case(input={"q": "x"}), sut, template_path=template)
    assert messages == (
        {"role": "system", "content": "Answer briefly."},
        {"role": "user", "content": "Q: x"},
    )


def test_chat_messages_input_is_sent_as_is() -> None:
    chat = [{"role": "system", "content": "s"}, {"role": "user", "content": "u"}]
    messages, _ = build_prompt(_case(input=chat), SUTConfig(mode="chat", system="other"))
    assert messages == tuple(chat)


def test_object_input_without_template_explains_a_template_is_needed() -> None:
    with pytest.raises(TemplateError, match="prompt template"):
        build_prompt(_case(input={"question": "?"}), SUTConfig(mode="chat"))


def test_template_sees_expected_tags_metadata_and_case(tmp_path: Path) -> None:
    template = _template(tmp_path, "{{ case.id }}|{{ expected }}|{{ tags[0] }}|{{ metadata.k }}")
    case = _case(input="x", expected="y", tags=["t"], metadata={"k": "v"})
    assert render_template(template, case) == "c1|y|t|v"
