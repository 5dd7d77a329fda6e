"""Endpoint health: notice when a model endpoint that worked stops answering, and decide.

Per-call retries handle a flaky call. They are the wrong tool when the endpoint itself is
gone: every worker then retries every remaining case with backoff, and a run grinds for
minutes through doomed calls. :class:`EndpointHealth` watches all attempts to one
endpoint (model + api_base) together:

* after a success, ``TRIP_AFTER`` attempts in a row that failed for an outage reason
  (connection refused or reset, timeout, HTTP 5xx), from at least two different calls,
  open an *outage*;
* during an outage one caller, the prober, re-sends its own request with backoff (1 s
  doubling to 15 s) while every other caller waits instead of calling;
* the first answer ends the outage and everyone goes on; if none comes within the
  request's ``outage_timeout`` seconds, the endpoint is declared down and every caller
  gets :class:`EndpointDownError` (an InfrastructureError: exit 3, the journal keeps the
  finished cases, the same command resumes).

An endpoint that never answered is the runner's early stop's business (its first calls
all fail the same way), and the embedded server's death is reported at once by the client
(no probing: its process is gone).
"""

from __future__ import annotations

import asyncio
import time

from evalkit.errors import EndpointDownError

TRIP_AFTER = 5
PROBE_FIRST_DELAY_S = 1.0
PROBE_MAX_DELAY_S = 15.0


class EndpointHealth:
    """The shared view of one endpoint's recent attempts (one per event loop and endpoint)."""

    def __init__(self, where: str) -> None:
        self.where = where
        self.ever_answered = False
        self.failures_in_a_row = 0
        self.failing_calls: set[int] = set()
        self.first_failure_at: float | None = None
        self.last_error = ""
        self.down: str | None = None
        self._outage: asyncio.Event | None = None  # set when the outage ends

    @property
    def in_outage(self) -> bool:
        """True while a prober is finding out whether the endpoint comes back."""
        return self._outage is not None

    def record_success(self) -> None:
        """Notes an answer: ends any outage."""
        self.ever_answered = True
        self.failures_in_a_row = 0
        self.failing_calls.clear()
        self.first_failure_at = None
        self._end_outage()

    def record_failure(self, call_id: int, message: str) -> bool:
        """Notes an outage-type failure; returns True when this caller should start probing."""
        self.failures_in_a_row += 1
        self.failing_calls.add(call_id)
        self.last_error = message
        if self.first_failure_at is None:
            self.first_failure_at = time.monotonic()
        tripped = (
            self.ever_answered
            and self.failures_in_a_row >= TRIP_AFTER
            and len(self.failing_calls) >= 2
        )
        if tripped and self._outage is None and self.down is None:
            self._outage = asyncio.Event()
            return True
        return False

    def record_other(self) -> None:
        """Notes a failure that says the endpoint is up (e.g. 400, 429): not an outage."""
        self.failures_in_a_row = 0
        self.failing_calls.clear()
        self.first_failure_at = None

    async def wait_while_probing(self) -> None:
        """Waits while an outage is being probed; raises EndpointDownError if it is down."""
        if self._outage is not None:
            await self._outage.wait()
        if self.down is not None:
            raise EndpointDownError(self.down)

    def declare_down(self, message: str) -> EndpointDownError:
        """Marks the endpoint down, wakes every waiting caller; returns the error to raise."""
        self.down = message
        self._end_outage()
        return EndpointDownError(message)

    def end_probe(self) -> None:
        """Ends an outage without a verdict (the probe got an answer of another kind)."""
        self._end_outage()

    def outage_message(self, outage_timeout: float) -> str:
        """Returns the one message a stopped run prints."""
        since = time.monotonic() - (self.first_failure_at or time.monotonic())
        return (
            f"{self.where} stopped answering: every call failed for {since:.0f}s "
            f"({self.failures_in_a_row} attempts in a row; last error: {self.last_error}); "
            f"probed with backoff for {outage_timeout:g}s without an answer, so the run "
            f"stopped. Finished cases are kept: run the same command again to resume "
            f"(the SUT's outage_timeout sets how long to wait)."
        )

    def _end_outage(self) -> None:
        if self._outage is not None:
            self._outage.set()
            self._outage = None


def probe_delays(outage_timeout: float) -> list[float]:
    """Returns the waits before each probe: 1 s doubling to 15 s, within the timeout."""
    delays, total, delay = [], 0.0, PROBE_FIRST_DELAY_S
    while total + delay <= outage_timeout:
        delays.append(delay)
        total += delay
        delay = min(delay * 2, PROBE_MAX_DELAY_S)
    if total < outage_timeout:
        delays.append(outage_timeout - total)
    return delays
