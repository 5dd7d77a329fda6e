"""The event loops evalkit starts: ``asyncio.run`` whose thread pool closes abandoned coroutines.

litellm's ``acompletion`` builds the provider's request coroutine in a worker thread
(``loop.run_in_executor``) and awaits it when the thread returns it. A call cancelled
while that thread runs (a stopping run cancels the calls still in flight after the
runner's ``STOP_GRACE_S``) leaves the coroutine to the garbage collector, and Python
prints "RuntimeWarning: coroutine 'OpenAIChatCompletion.acompletion' was never
awaited" after evalkit's one-line message.

:func:`run` gives its loop a thread pool whose futures close such a coroutine instead:
it never started, so closing it runs none of its code and sends nothing. Loops that
evalkit does not own (a user awaiting :func:`evalkit.execution._pipeline.arun_suite`) are
left as they are.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


def _close_if_coroutine(value: object) -> None:
    if asyncio.iscoroutine(value):
        value.close()


class _HandOff(concurrent.futures.Future[Any]):
    """The future ``submit`` returns; its result goes to whoever awaits it, or is closed.

    asyncio cancels this future when the awaiting task is cancelled: before the worker
    is done it becomes cancelled and the worker's result is closed on arrival; after,
    the result already here will never be taken, so it is closed now.
    """

    def __init__(self, inner: concurrent.futures.Future[Any]) -> None:
        super().__init__()
        self._inner = inner

    def cancel(self) -> bool:
        if super().cancel():
            self._inner.cancel()  # not started yet: it never runs
            return True
        if self.exception(timeout=0) is None:
            _close_if_coroutine(self.result(timeout=0))
        return False

    def settle(self, inner: concurrent.futures.Future[Any]) -> None:
        """Passes the worker's outcome on (closing the result if nobody waits for it)."""
        if inner.cancelled():
            super().cancel()
            return
        error = inner.exception(timeout=0)
        try:
            if error is not None:
                self.set_exception(error)
            else:
                self.set_result(inner.result(timeout=0))
        except concurrent.futures.InvalidStateError:  # cancelled while the worker ran
            if error is None:
                _close_if_coroutine(inner.result(timeout=0))


class ClosingThreadPool(concurrent.futures.ThreadPoolExecutor):
    """A ThreadPoolExecutor whose abandoned coroutine results are closed, not leaked."""

    def submit(
        self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any
    ) -> concurrent.futures.Future[Any]:
        inner = super().submit(fn, *args, **kwargs)
        outer = _HandOff(inner)
        inner.add_done_callback(outer.settle)
        return outer


def run(main: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run(main)`` on a loop whose default thread pool is a :class:`ClosingThreadPool`."""
    with asyncio.Runner() as runner:
        runner.get_loop().set_default_executor(ClosingThreadPool(thread_name_prefix="evalkit"))
        return runner.run(main)
