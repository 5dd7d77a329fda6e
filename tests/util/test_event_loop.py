"""evalkit's event loops close a coroutine that a cancelled executor call left behind."""

from __future__ import annotations

import asyncio
import gc
import inspect
import threading
import warnings
from collections.abc import Callable, Coroutine
from typing import Any

import pytest

from evalkit.util._event_loop import run


async def _request() -> str:
    return "sent"


def _cancel_while_the_worker_runs(runner: Callable[[Coroutine[Any, Any, Any]], Any]) -> Any:
    """Cancels a run_in_executor call whose worker (like litellm's) builds a coroutine."""
    started, release = threading.Event(), threading.Event()
    made: list[Coroutine[Any, Any, str]] = []

    def build() -> Coroutine[Any, Any, str]:
        started.set()
        release.wait(10)
        made.append(_request())
        return made[-1]

    async def main() -> None:
        loop = asyncio.get_running_loop()
        call = asyncio.ensure_future(loop.run_in_executor(None, build))
        await asyncio.to_thread(started.wait, 10)
        call.cancel()
        release.set()
        with pytest.raises(asyncio.CancelledError):
            await call

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        runner(main())
        state = inspect.getcoroutinestate(made[0])
        made.clear()
        gc.collect()
    return state, [str(w.message) for w in caught if "never awaited" in str(w.message)]


def test_a_coroutine_left_by_a_cancelled_executor_call_is_closed() -> None:
    state, unawaited = _cancel_while_the_worker_runs(run)
    assert state == inspect.CORO_CLOSED
    assert unawaited == []


def test_asyncio_run_leaves_it_unawaited_which_is_what_run_fixes() -> None:
    state, unawaited = _cancel_while_the_worker_runs(asyncio.run)
    assert state == inspect.CORO_CREATED
    assert unawaited == ["coroutine '_request' was never awaited"]


def test_results_and_errors_of_executor_calls_pass_through() -> None:
    def fail() -> None:
        raise ValueError("boom")

    async def main() -> tuple[Any, ...]:
        loop = asyncio.get_running_loop()
        value = await loop.run_in_executor(None, lambda: 41 + 1)
        coroutine = await loop.run_in_executor(None, _request)
        with pytest.raises(ValueError, match="boom"):
            await loop.run_in_executor(None, fail)
        return value, await coroutine

    assert run(main()) == (42, "sent")
