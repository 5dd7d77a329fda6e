"""Run progress: a live bar with rate and ETA on a terminal, plain lines in CI logs."""

from __future__ import annotations

import sys
import time
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
    ) -> None:
        self.total = total
        self.done = done
        self.errors = 0
        self.cached = 0
        self.label = label
        self.stream = stream or sys.stderr
        self.interval = interval
        self._started = time.monotonic()
        self._start_done = done
        self._last_time = self._started
        self._last_decile = self._decile(done)
        if done:
            self._print(f"resuming: {done}/{total} already done")

    def _decile(self, done: int) -> int:
        return (10 * done) // self.total if self.total else 10

    def _print(self, message: str) -> None:
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
        decile = self._decile(self.done)
        if now - self._last_time >= self.interval or decile > self._last_decile:
            self._last_time = now
            self._last_decile = decile
            self._print(self.line())

    def close(self) -> None:
        """Prints the final line."""
        elapsed = time.monotonic() - self._started
        self._print(f"done {self.line()} in {elapsed:.1f}s")


class BarProgress:
    """A rich progress bar with rate and ETA."""

    def __init__(self, total: int, *, done: int = 0, label: str = "run") -> None:
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
        self._bar.start()

    def advance(self, *, ok: bool, cached: bool) -> None:
        """Moves the bar by one."""
        self._done += 1
        self.errors += int(not ok)
        elapsed = time.monotonic() - self._started
        rate = (self._done - self._start_done) / elapsed if elapsed > 0 else 0.0
        self._bar.update(self._task, advance=1, rate=f"{rate:.1f}", errors=self.errors)

    def close(self) -> None:
        """Stops the bar."""
        self._bar.stop()


def make_progress(
    total: int,
    *,
    done: int = 0,
    enabled: bool | None = None,
    label: str = "run",
    stream: TextIO | None = None,
    interval: float = 5.0,
) -> Progress:
    """Returns a bar on a terminal, plain lines otherwise, nothing when ``enabled`` is False.

    Args:
        total: how many (case, sample) calls the run has, including those already done.
        done: how many were done before (a resumed run).
        enabled: None: on; False: off; True: on.
        label: shown before each line (the suite name).
        stream: where to write (default stderr); a non-terminal stream gets plain lines.
        interval: seconds between plain lines (one is also printed at every 10%).
    """
    if enabled is False:
        return NoProgress()
    out = stream or sys.stderr
    if out.isatty() and stream is None:
        return BarProgress(total, done=done, label=label)
    return PlainProgress(total, done=done, label=label, stream=out, interval=interval)
