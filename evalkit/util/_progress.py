"""Progress of every stage that waits on a model: a live bar with rate and ETA on a
terminal, plain lines in CI logs.

The runner reports each finished (case, sample) to the progress it makes. Scoring stages
(judges, ragas, deepeval) are reached through a context variable instead, so a scorer
deep in a library call can say "one more item done" with :func:`tick` without a progress
object being passed down: :func:`stage` sets it around one metric's scoring.
"""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Iterator
from contextvars import ContextVar
from typing import Any, Protocol, TextIO


class Progress(Protocol):
    """What the runner reports to: one call per finished (case, sample)."""

    def advance(self, *, ok: bool, cached: bool) -> None: ...

    def close(self) -> None: ...


class NoProgress:
    """Reports nothing."""

    def advance(self, *, ok: bool, cached: bool) -> None:
        """Does nothing."""

    def close(self) -> None:
        """Does nothing."""


class PlainProgress:
    """Prints a line every ``interval`` seconds or every 10% (whichever comes first)."""

    def __init__(
        self,
        total: int,
        *,
        done: int = 0,
        label: str = "run",
        stream: TextIO | None = None,
        interval: float = 5.0,
        delay: float = 0.0,
    ) -> None:
        self.total = total
        self.done = done
        self.errors = 0
        self.cached = 0
        self.label = label
        self.stream = stream or sys.stderr
        self.interval = interval
        self.delay = delay
        self._started = time.monotonic()
        self._start_done = done
        self._last_time = self._started
        self._last_decile = self._decile(done)
        self._printed = False
        if done:
            self._print(f"resuming: {done}/{total} already done")

    def _decile(self, done: int) -> int:
        return (10 * done) // self.total if self.total else 10

    def _print(self, message: str) -> None:
        self._printed = True
        print(f"[{self.label}] {message}", file=self.stream, flush=True)

    def line(self) -> str:
        """Returns the current status line."""
        elapsed = time.monotonic() - self._started
        new = self.done - self._start_done
        rate = new / elapsed if elapsed > 0 else 0.0
        remaining = self.total - self.done
        eta = f"{remaining / rate:.0f}s" if rate > 0 else "?"
        percent = 100.0 * self.done / self.total if self.total else 100.0
        return (
            f"{self.done}/{self.total} ({percent:.0f}%) {rate:.1f}/s eta {eta} "
            f"errors {self.errors} cached {self.cached}"
        )

    def advance(self, *, ok: bool, cached: bool) -> None:
        """Counts one finished call; prints when due."""
        self.done += 1
        self.errors += int(not ok)
        self.cached += int(cached)
        now = time.monotonic()
        if now - self._started < self.delay:
            return  # a stage that finishes within `delay` prints nothing
        decile = self._decile(self.done)
        if now - self._last_time >= self.interval or decile > self._last_decile:
            self._last_time = now
            self._last_decile = decile
            self._print(self.line())

    def close(self) -> None:
        """Prints the final line (unless the stage was over within ``delay``)."""
        elapsed = time.monotonic() - self._started
        if self._printed or elapsed >= self.delay:
            self._print(f"done {self.line()} in {elapsed:.1f}s")


class BarProgress:
    """A rich progress bar with rate and ETA."""

    def __init__(
        self, total: int, *, done: int = 0, label: str = "run", delay: float = 0.0
    ) -> None:
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            TaskProgressColumn,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )
        from rich.progress import Progress as RichProgress

        self.errors = 0
        self._bar = RichProgress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TaskProgressColumn(),
            TextColumn("{task.fields[rate]}/s"),
            TimeElapsedColumn(),
            TextColumn("eta"),
            TimeRemainingColumn(),
            TextColumn("errors {task.fields[errors]}"),
            transient=False,
        )
        self._started = time.monotonic()
        self._start_done = done
        self._done = done
        self._task: Any = self._bar.add_task(
            label, total=total, completed=done, rate="0.0", errors=0
        )
        self._delay = delay
        self._shown = False
        if delay <= 0:
            self._show()

    def _show(self) -> None:
        self._shown = True
        self._bar.start()

    def advance(self, *, ok: bool, cached: bool) -> None:
        """Moves the bar by one (showing it once the stage has run ``delay`` seconds)."""
        self._done += 1
        self.errors += int(not ok)
        elapsed = time.monotonic() - self._started
        if not self._shown and elapsed >= self._delay:
            self._show()
        rate = (self._done - self._start_done) / elapsed if elapsed > 0 else 0.0
        self._bar.update(self._task, advance=1, rate=f"{rate:.1f}", errors=self.errors)

    def close(self) -> None:
        """Stops the bar."""
        if self._shown:
            self._bar.stop()


def make_progress(
    total: int,
    *,
    done: int = 0,
    enabled: bool | None = None,
    label: str = "run",
    stream: TextIO | None = None,
    interval: float = 5.0,
    delay: float = 0.0,
) -> Progress:
    """Returns a bar on a terminal, plain lines otherwise, nothing when ``enabled`` is False.

    Args:
        total: how many (case, sample) calls the run has, including those already done.
        done: how many were done before (a resumed run).
        enabled: None: on; False: off; True: on.
        label: shown before each line (the suite name).
        stream: where to write (default stderr); a non-terminal stream gets plain lines.
        interval: seconds between plain lines (one is also printed at every 10%).
        delay: show nothing until the stage has run this long (a stage that finishes
            sooner prints nothing at all).
    """
    if enabled is False:
        return NoProgress()
    out = stream or sys.stderr
    if out.isatty() and stream is None:
        return BarProgress(total, done=done, label=label, delay=delay)
    return PlainProgress(total, done=done, label=label, stream=out, interval=interval, delay=delay)


class StageProgress:
    """The progress of one scoring stage: counts what :func:`tick` reported."""

    def __init__(self, inner: Progress, total: int) -> None:
        self.inner = inner
        self.total = total
        self.count = 0
        self.errors = 0

    def advance(self, *, ok: bool, cached: bool = False) -> None:
        """Counts one finished item."""
        self.count += 1
        self.errors += int(not ok)
        self.inner.advance(ok=ok, cached=cached)

    def settle(self, ok: list[bool]) -> None:
        """Counts the items nobody ticked (a batch scorer), given every item's outcome."""
        missing_errors = max(0, ok.count(False) - self.errors)
        for index in range(max(0, self.total - self.count)):
            self.advance(ok=index >= missing_errors)


_current: ContextVar[StageProgress | None] = ContextVar("evalkit_stage_progress", default=None)

#: Scoring stages stay silent unless they take longer than this (seconds).
STAGE_DELAY_S = 1.0


def tick(*, ok: bool) -> None:
    """Counts one item of the current scoring stage as done (no-op outside a stage)."""
    counted = _current.get()
    if counted is not None:
        counted.advance(ok=ok)


@contextlib.contextmanager
def stage(
    total: int,
    *,
    label: str,
    enabled: bool | None = None,
    stream: TextIO | None = None,
    interval: float = 5.0,
) -> Iterator[StageProgress]:
    """Shows the progress of one stage of ``total`` items that :func:`tick` reports.

    Call :meth:`StageProgress.settle` with the outcomes at the end so that items a scorer
    scored as a batch (never ticked) are counted too.
    """
    progress = StageProgress(
        make_progress(
            total,
            enabled=enabled,
            label=label,
            stream=stream,
            interval=interval,
            delay=STAGE_DELAY_S,
        ),
        total,
    )
    token = _current.set(progress)
    try:
        yield progress
    finally:
        _current.reset(token)
        progress.inner.close()
