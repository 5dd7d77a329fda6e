"""A Python function as the system under test, called directly by the model client.

A suite with ``sut.callable = "package.module:function"`` calls that function once per
(case, sample) with the case's ``input`` (a string, a dict or a list of chat messages).
The function may be sync (run in a worker thread) or async, and returns either a string
or a dict ``{"output": str, "contexts": [str, ...]}`` (retrieved passages, for RAG
metrics).

The request is named ``evalkit-callable/package.module:function`` and goes through
:class:`evalkit.models._llm.ModelClient` like a model's, so a RAG pipeline or an agent gets the
same cache, retries, timeout, accounting and journal as a plain model. The case input
travels as JSON in the single user message (see :func:`evalkit.models._prompting.callable_payload`),
which also makes it part of the cache key. The client calls the function itself
(:func:`invoke`), not through LiteLLM: through a LiteLLM custom provider a call cost
3.7 ms of CPU, this way 0.18 ms (bench/bench_callable.py), and a run of callables never
imports LiteLLM.
"""

from __future__ import annotations

import asyncio
import importlib
import inspect
import json
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from evalkit.errors import NotFoundError

PROVIDER = "evalkit-callable"


def model_name(target: str) -> str:
    """Returns the model name of the callable ``target`` ("pkg.mod:fn") in requests and caches."""
    return f"{PROVIDER}/{target}"


def resolve(target: str) -> Callable[..., Any]:
    """Returns the function named by ``target`` ("package.module:function")."""
    module_name, _, attribute = target.partition(":")
    if str(Path.cwd()) not in sys.path:
        # A project's own package (next to its pyproject.toml) is importable, as in pytest.
        sys.path.insert(0, str(Path.cwd()))
    try:
        module = importlib.import_module(module_name)
    except ImportError as err:
        raise NotFoundError(
            f"callable SUT {target!r}: cannot import {module_name!r}: {err}"
        ) from err
    found: Any = module
    for part in attribute.split("."):
        found = getattr(found, part, None)
        if found is None:
            raise NotFoundError(f"callable SUT {target!r}: {module_name} has no {attribute!r}")
    if not callable(found):
        raise NotFoundError(f"callable SUT {target!r} is not callable")
    result: Callable[..., Any] = found
    return result


def output_of(value: Any) -> tuple[str, tuple[str, ...] | None]:
    """Returns ``(output, contexts)`` from what a callable SUT returned.

    Raises:
        TypeError: the value is neither a string nor a dict with ``"output"``.
    """
    if isinstance(value, str):
        return value, None
    if isinstance(value, dict) and "output" in value:
        contexts = value.get("contexts")
        if contexts is None:
            return str(value["output"]), None
        return str(value["output"]), tuple(str(c) for c in contexts)
    raise TypeError(
        f"a callable SUT must return a string or a dict with 'output' (and optional "
        f"'contexts'), got {type(value).__name__}"
    )


def decode_input(messages: Sequence[Mapping[str, Any]]) -> Any:
    """Returns the case input carried in the last message."""
    content = messages[-1]["content"] if messages else ""
    try:
        payload = json.loads(content)
    except (TypeError, json.JSONDecodeError):
        return content
    if isinstance(payload, dict) and "evalkit_input" in payload:
        return payload["evalkit_input"]
    return content


_FUNCTIONS: dict[str, Callable[..., Any]] = {}


async def invoke(
    target: str, messages: Sequence[Mapping[str, Any]]
) -> tuple[str, tuple[str, ...] | None]:
    """Returns ``(output, contexts)`` of calling ``target`` with the input in ``messages``.

    Raises:
        NotFoundError: ``target`` cannot be imported (not retryable).
        TypeError: the function returned something else than a string or an output dict.
        Exception: whatever the function raised.
    """
    function = _FUNCTIONS.get(target)
    if function is None:
        function = _FUNCTIONS.setdefault(target, resolve(target))
    case_input = decode_input(messages)
    if inspect.iscoroutinefunction(function):
        value = await function(case_input)
    else:
        value = await asyncio.to_thread(function, case_input)
        if inspect.isawaitable(value):
            value = await value
    return output_of(value)
