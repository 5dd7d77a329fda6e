"""A Python function as the system under test, registered as a LiteLLM custom provider.

A suite with ``sut.callable = "package.module:function"`` calls that function once per
(case, sample) with the case's ``input`` (a string, a dict or a list of chat messages).
The function may be sync (run in a worker thread) or async, and returns either a string
or a dict ``{"output": str, "contexts": [str, ...]}`` (retrieved passages, for RAG
metrics).

The call goes through LiteLLM as the model ``evalkit-callable/package.module:function``,
so a RAG pipeline or an agent gets the same cache, retries, accounting and journal as a
plain model. The case input travels as JSON in the single user message (see
:func:`evalkit.prompting.callable_payload`), which also makes it part of the cache key.
"""

from __future__ import annotations

import asyncio
import importlib
import inspect
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from evalkit.errors import NotFoundError

PROVIDER = "evalkit-callable"
_ENVELOPE = "\x00evalkit-output:"
_registered = False


def model_name(target: str) -> str:
    """Returns the LiteLLM model name for the callable ``target`` ("pkg.mod:fn")."""
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


def pack_output(value: Any) -> str:
    """Returns the callable's return value as the text LiteLLM carries."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and "output" in value:
        contexts = value.get("contexts")
        if contexts is None:
            return str(value["output"])
        payload = {"output": str(value["output"]), "contexts": [str(c) for c in contexts]}
        return _ENVELOPE + json.dumps(payload, ensure_ascii=False)
    raise TypeError(
        f"a callable SUT must return a string or a dict with 'output' (and optional "
        f"'contexts'), got {type(value).__name__}"
    )


def unpack_output(text: str) -> tuple[str, tuple[str, ...] | None]:
    """Returns ``(output, contexts)`` from text made by :func:`pack_output`."""
    if not text.startswith(_ENVELOPE):
        return text, None
    payload = json.loads(text[len(_ENVELOPE) :])
    return str(payload["output"]), tuple(payload["contexts"])


def decode_input(messages: list[dict[str, Any]]) -> Any:
    """Returns the case input carried in the last message."""
    content = messages[-1]["content"] if messages else ""
    try:
        payload = json.loads(content)
    except (TypeError, json.JSONDecodeError):
        return content
    if isinstance(payload, dict) and "evalkit_input" in payload:
        return payload["evalkit_input"]
    return content


async def invoke(target: str, case_input: Any) -> str:
    """Returns the packed output of calling ``target`` with ``case_input``."""
    function = resolve(target)
    if inspect.iscoroutinefunction(function):
        value = await function(case_input)
    else:
        value = await asyncio.to_thread(function, case_input)
        if inspect.isawaitable(value):
            value = await value
    return pack_output(value)


def register_provider() -> None:
    """Registers the ``evalkit-callable`` provider with LiteLLM (idempotent)."""
    global _registered
    if _registered:
        return
    import litellm
    from litellm import CustomLLM
    from litellm.llms.custom_llm import CustomLLMError

    class CallableSUT(CustomLLM):  # type: ignore[misc]
        """LiteLLM handler that calls a Python function with the case input."""

        async def acompletion(self, *args: Any, **kwargs: Any) -> Any:
            target = str(kwargs.get("model", ""))
            if target.startswith(PROVIDER + "/"):
                target = target[len(PROVIDER) + 1 :]
            messages = kwargs.get("messages") or []
            case_input = decode_input(messages)
            try:
                text = await invoke(target, case_input)
            except NotFoundError as err:
                raise CustomLLMError(status_code=404, message=str(err)) from err
            except TypeError as err:
                raise CustomLLMError(status_code=400, message=str(err)) from err
            except Exception as err:
                # The function itself failed: retryable (a RAG backend may be flaky).
                raise CustomLLMError(
                    status_code=500, message=f"{type(err).__name__}: {err}"
                ) from err
            return litellm.ModelResponse(
                model=target,
                choices=[
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": text},
                        "finish_reason": "stop",
                    }
                ],
            )

        def completion(self, *args: Any, **kwargs: Any) -> Any:
            return asyncio.run(self.acompletion(*args, **kwargs))

    handler = CallableSUT()
    providers = [p for p in litellm.custom_provider_map if p.get("provider") != PROVIDER]
    providers.append({"provider": PROVIDER, "custom_handler": handler})
    litellm.custom_provider_map = providers
    # LiteLLM reads the map into its provider list when it is set up.
    from litellm.utils import custom_llm_setup

    custom_llm_setup()
    _registered = True
