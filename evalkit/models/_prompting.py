"""Prompts: turn a golden case into the messages (chat) or the prompt (text) for the SUT.

Templates are Jinja2 with ``StrictUndefined``: a variable the case does not define is an
error naming the case, the template file and the variable, never a silent empty string.
The template sees the case's ``input`` keys at top level (when ``input`` is an object),
plus ``input``, ``expected``, ``contexts``, ``tags``, ``metadata`` and ``case``.

Without a template: a string ``input`` is the user message (chat) or the prompt (text);
chat ``messages`` are sent as they are; an object ``input`` needs a template.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

import jinja2

from evalkit.config._suite import SUTConfig
from evalkit.data._golden import GoldenCase
from evalkit.errors import NotFoundError, TemplateError

Messages = tuple[dict[str, str], ...]


@lru_cache(maxsize=64)
def _environment(folder: str) -> jinja2.Environment:
    # autoescape is OFF on purpose: prompts are plain text sent to a model, not HTML.
    # HTML-escaping would turn "Tom's" into "Tom&#39;s" and change what the model reads.
    # Nothing rendered here reaches a browser; the report escapes on its own side.
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(folder),
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        keep_trailing_newline=False,
    )


@lru_cache(maxsize=64)
def load_template(path: str) -> jinja2.Template:
    """Returns the compiled template at ``path``; raises NotFoundError or TemplateError."""
    file = Path(path)
    if not file.is_file():
        raise NotFoundError(f"{path}: no such prompt template; check sut.prompt / --prompt")
    try:
        return _environment(str(file.parent.resolve())).get_template(file.name)
    except jinja2.TemplateSyntaxError as err:
        raise TemplateError(f"{path}:{err.lineno}: template syntax error: {err.message}") from err
    except UnicodeDecodeError as err:
        raise TemplateError(f"{path}: not a UTF-8 text file (byte {err.start})") from err


def template_context(case: GoldenCase) -> dict[str, Any]:
    """Returns the variables a template sees for ``case``."""
    context: dict[str, Any] = {}
    if isinstance(case.input, dict):
        context.update(case.input)
    raw_input: Any = case.input
    if isinstance(case.input, list):
        raw_input = [m.model_dump() for m in case.input]
    context.update(
        {
            "input": raw_input,
            "expected": case.expected,
            "contexts": list(case.contexts),
            "tags": list(case.tags),
            "metadata": dict(case.metadata),
            "case": case,
        }
    )
    return context


def render_template(path: str, case: GoldenCase) -> str:
    """Returns the template at ``path`` rendered for ``case``."""
    template = load_template(path)
    try:
        return template.render(template_context(case))
    except jinja2.UndefinedError as err:
        raise TemplateError(
            f"case {case.id!r}: template {path} uses a variable the case does not define "
            f"({err.message}); add it to the case's input or fix the template"
        ) from err
    except jinja2.TemplateError as err:
        raise TemplateError(f"case {case.id!r}: template {path} failed: {err}") from err
    except Exception as err:  # raised by an expression in the template (e.g. 1 / 0)
        raise TemplateError(
            f"case {case.id!r}: template {path} raised {type(err).__name__} while rendering: {err}"
        ) from err


def build_prompt(
    case: GoldenCase, sut: SUTConfig, *, template_path: str | None = None
) -> tuple[Messages | None, str | None]:
    """Returns ``(messages, prompt)`` for ``case``: messages in chat mode, prompt in text mode.

    Args:
        case: the golden case.
        sut: the SUT config (mode and system message).
        template_path: the resolved prompt template file (default: none).
    """
    if template_path is not None:
        text = render_template(template_path, case)
    elif isinstance(case.input, str):
        text = case.input
    elif isinstance(case.input, list):
        messages = tuple({"role": m.role, "content": m.content} for m in case.input)
        if sut.mode == "chat":
            if sut.system and not any(m["role"] == "system" for m in messages):
                messages = ({"role": "system", "content": sut.system}, *messages)
            return messages, None
        # A base model gets the conversation as plain text.
        return None, "\n".join(f"{m['role']}: {m['content']}" for m in messages)
    else:
        keys = ", ".join(sorted(case.input)) or "none"
        raise TemplateError(
            f"case {case.id!r}: input is an object (keys: {keys}), so the suite needs a prompt "
            "template (sut.prompt, or --prompt FILE) saying how to turn it into a prompt"
        )
    if sut.mode == "text":
        return None, text
    user = {"role": "user", "content": text}
    if sut.system:
        return ({"role": "system", "content": sut.system}, user), None
    return (user,), None


def callable_payload(case: GoldenCase) -> str:
    """Returns the case input as JSON, the message a callable SUT receives."""
    raw: Any = case.input
    if isinstance(raw, list):
        raw = [m.model_dump() for m in raw]
    return json.dumps({"evalkit_input": raw}, ensure_ascii=False, sort_keys=True)
