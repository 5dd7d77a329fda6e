"""The runner: every (case, sample) of a golden set through the SUT, concurrently, resumably.

:func:`generate_outputs` renders every prompt first (a template error stops the run
before any call is paid for), then runs ``concurrency`` workers over the pending
(case, sample) pairs. Each result is appended to a JSONL journal as soon as it arrives
(one ``write`` per line, so a ``kill -9`` loses nothing already answered; ``fsync`` in
batches). On restart, pairs with a successful row in the journal are read back and not
called again; failed pairs are tried again.

If the first live calls of a run all fail the same way (server down, wrong key), the run
stops with one :class:`~evalkit.errors.InfrastructureError` instead of retrying every
case. Later in the run, the model client watches the endpoint as a whole
(:mod:`evalkit.models._endpoint_health`): an endpoint that stops answering is probed with backoff
for the SUT's ``outage_timeout`` and then stops the run; an embedded server that dies
stops it at once. Either way the journal keeps every finished case for the resume.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import time
import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import TypeAdapter, ValidationError

from evalkit.config._suite import ProjectConfig, SuiteConfig
from evalkit.data._golden import GoldenCase, GoldenSet
from evalkit.data._records import OUTPUT_COLUMNS, Output, Totals
from evalkit.errors import EvalkitWarning, InfrastructureError
from evalkit.models._llm import ModelClient, ModelRequest, request_summary
from evalkit.models._prompting import build_prompt, callable_payload
from evalkit.util._progress import make_progress

#: Stop early when this many calls (or every call, if fewer but >= EARLY_STOP_MIN) have
#: all failed with the same error and none has succeeded.
EARLY_STOP_CALLS = 20
EARLY_STOP_MIN = 10
# When a run stops (early, on an outage, on Ctrl-C), the calls in flight get this long to
# end by themselves before they are cancelled: cancelling a call while litellm's worker
# thread builds its request leaves that request's coroutine un-awaited (a RuntimeWarning
# printed after evalkit's message). Calls to a dead server end within milliseconds.
STOP_GRACE_S = 2.0
_FSYNC_EVERY_S = 0.5


class Journal:
    """An append-only JSONL file of outputs, durable line by line.

    Reading skips what a crash or a stray edit can leave behind: a line cut short
    mid-write, and a well-formed line that is not a whole output row (a missing field, a
    wrong type). Their cases run again; every intact row is kept. Before the first append,
    a file that does not end in a newline gets one, so a torn last line is never glued
    to the next row.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._fd: int | None = None
        self._last_sync = time.monotonic()
        self.skipped_lines = 0

    def read(self) -> dict[tuple[str, int], Output]:
        """Returns the row per (case, sample): the last successful one, else the last one.

        Unreadable lines are skipped and counted in ``skipped_lines`` (with a warning).
        """
        rows: dict[tuple[str, int], Output] = {}
        self.skipped_lines = 0
        if not self.path.exists():
            return rows
        with self.path.open("rb") as handle:
            for raw in handle:
                if not raw.strip():
                    continue
                output = _journal_row(raw)
                if output is None:
                    self.skipped_lines += 1
                    continue
                key = (output.case_id, output.sample)
                if output.ok or key not in rows or not rows[key].ok:
                    rows[key] = output
        if self.skipped_lines:
            warnings.warn(
                f"{self.path}: skipped {self.skipped_lines} unreadable line(s) (cut short by "
                "a crash, or not a whole output row); their cases are run again",
                EvalkitWarning,
                stacklevel=2,
            )
        return rows

    def append(self, output: Output) -> None:
        """Appends one output; data reaches the OS at once, the disk at least every 0.5 s."""
        if self._fd is None:
            self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            if _ends_mid_line(self.path):
                os.write(self._fd, b"\n")  # close a torn last line before the first new row
        row = {name: getattr(output, name) for name in OUTPUT_COLUMNS}
        line = json.dumps(row, ensure_ascii=False, separators=(",", ":")) + "\n"
        os.write(self._fd, line.encode("utf-8"))
        now = time.monotonic()
        if now - self._last_sync >= _FSYNC_EVERY_S:
            os.fsync(self._fd)
            self._last_sync = now

    def close(self) -> None:
        """Syncs and closes the file."""
        if self._fd is not None:
            os.fsync(self._fd)
            os.close(self._fd)
            self._fd = None

    def remove(self) -> None:
        """Deletes the journal (after the run is stored)."""
        self.close()
        if self.path.exists():
            self.path.unlink()


_OUTPUT_ADAPTER: TypeAdapter[Output] = TypeAdapter(Output)


def _journal_row(raw: bytes) -> Output | None:
    """Returns the Output on one journal line, or None if it is not a whole, valid row
    (cut short by a crash, a field missing, a field of the wrong type)."""
    try:
        # Strict: the runner writes exact types, so anything else is damage, not data.
        return _OUTPUT_ADAPTER.validate_json(raw, strict=True)
    except ValidationError:
        return None


def _ends_mid_line(path: Path) -> bool:
    """Returns True when ``path`` is non-empty and its last byte is not a newline."""
    try:
        with path.open("rb") as handle:
            if handle.seek(0, os.SEEK_END) == 0:
                return False
            handle.seek(-1, os.SEEK_END)
            return handle.read(1) != b"\n"
    except OSError:
        return False


@dataclass(frozen=True)
class _Job:
    case_id: str
    sample: int
    request: ModelRequest
    prompt_text: str


def model_name_for(suite: SuiteConfig) -> str:
    """Returns the LiteLLM model name the suite's SUT is called as."""
    if suite.sut.callable:
        from evalkit.models._callable_sut import model_name

        return model_name(suite.sut.callable)
    return suite.sut.model


def build_requests(
    suite: SuiteConfig, cases: Iterable[GoldenCase], *, project: ProjectConfig, samples: int
) -> list[_Job]:
    """Returns one job per (case, sample), prompts rendered (raises TemplateError early)."""
    sut = suite.sut
    template = str(project.path(sut.prompt)) if sut.prompt else None
    model = model_name_for(suite)
    jobs = []
    for case in cases:
        if sut.callable:
            messages: tuple[dict[str, str], ...] | None = (
                {"role": "user", "content": callable_payload(case)},
            )
            prompt = None
            mode = "chat"
        else:
            messages, prompt = build_prompt(case, sut, template_path=template)
            mode = sut.mode
        for sample in range(samples):
            request = ModelRequest(
                model=model,
                mode=mode,  # type: ignore[arg-type]
                messages=messages,
                prompt=prompt,
                params=dict(sut.params),
                api_base=sut.api_base,
                sample=sample,
                timeout=sut.timeout,
                max_retries=sut.max_retries,
                outage_timeout=sut.outage_timeout,
                tag="sut",
            )
            jobs.append(_Job(case.id, sample, request, request_summary(request)))
    return jobs


def _signature(error: str) -> str:
    """Returns an error message with ids and timings masked, to compare failures."""
    masked = re.sub(r"\b[0-9a-f]{8,}\b", "#", error)
    return re.sub(r"\d+\.\d+s", "#s", masked)


class _EarlyStop:
    """Watches the first results; trips when they all failed the same way."""

    def __init__(self, pending: int) -> None:
        self.pending = pending
        self.successes = 0
        self.failures: list[str] = []

    def record(self, output: Output) -> str | None:
        """Returns the common error when the run should stop, else None.

        Cached outputs say nothing about the endpoint and are not counted: a resumed run
        whose first live calls all fail stops as early as a new one.
        """
        if self.successes or output.cached:
            return None
        if output.ok:
            self.successes += 1
            return None
        self.failures.append(output.error or "")
        n = len(self.failures)
        enough = n >= EARLY_STOP_CALLS or (n >= EARLY_STOP_MIN and n == self.pending)
        if enough and len({_signature(e) for e in self.failures}) == 1:
            return self.failures[0]
        return None


async def generate_outputs(
    suite: SuiteConfig,
    golden: GoldenSet,
    *,
    project: ProjectConfig,
    client: ModelClient,
    journal_path: Path,
    samples: int,
    concurrency: int,
    progress: bool | None = None,
) -> list[Output]:
    """Returns one Output per (case, sample) in golden-set order, resuming from the journal.

    Args:
        suite: the suite (SUT, prompt template, params).
        golden: the cases to run (already sharded).
        project: resolves the prompt template path.
        client: the model client (cache, retries, rate limit).
        journal_path: the JSONL journal; rows already there with text are not re-run.
        samples: samples per case (the sample index is part of the cache key).
        concurrency: how many calls are in flight at most.
        progress: None or True: a bar on a terminal, plain lines otherwise; False: off.

    Raises:
        TemplateError: a prompt template failed for some case (before any call).
        InfrastructureError: the first calls all failed the same way.
    """
    jobs = build_requests(suite, golden.cases, project=project, samples=samples)
    journal = Journal(journal_path)
    finished = {key: out for key, out in journal.read().items() if out.ok}
    pending = [job for job in jobs if (job.case_id, job.sample) not in finished]
    results: dict[tuple[str, int], Output] = dict(finished)
    bar = make_progress(
        len(jobs), done=len(jobs) - len(pending), enabled=progress, label=suite.name
    )
    early = _EarlyStop(len(pending))
    queue: asyncio.Queue[_Job] = asyncio.Queue()
    for job in pending:
        queue.put_nowait(job)
    stop_reason: list[str] = []
    stopped = asyncio.Event()  # no new calls: the run is stopping

    async def worker() -> None:
        while not stopped.is_set():
            try:
                job = queue.get_nowait()
            except asyncio.QueueEmpty:
                return
            result = await client.call(job.request)
            output = Output(
                case_id=job.case_id,
                sample=job.sample,
                text=result.text,
                error=result.error,
                latency_s=result.latency_s,
                prompt_tokens=result.prompt_tokens,
                completion_tokens=result.completion_tokens,
                cost_usd=result.cost_usd,
                cached=result.cached,
                attempts=result.attempts,
                finish_reason=result.finish_reason,
                prompt=job.prompt_text,
                contexts=result.contexts,
            )
            journal.append(output)
            results[(job.case_id, job.sample)] = output
            bar.advance(ok=output.ok, cached=output.cached)
            reason = early.record(output)
            if reason is not None and not stop_reason:
                stop_reason.append(
                    f"the first {len(early.failures)} calls to the SUT all "
                    f"failed the same way: {reason}"
                )
                stopped.set()

    count = max(1, min(concurrency, len(pending)))
    workers = [asyncio.create_task(worker()) for _ in range(count if pending else 0)]
    try:
        if workers:
            stop_wait: asyncio.Future[Any] = asyncio.ensure_future(stopped.wait())
            running: set[asyncio.Future[Any]] = set(workers)
            while running and not stopped.is_set():
                done, _ = await asyncio.wait(
                    running | {stop_wait}, return_when=asyncio.FIRST_COMPLETED
                )
                for task in done - {stop_wait}:
                    task.result()  # re-raise a worker's unexpected exception
                running -= done
            stop_wait.cancel()
    finally:
        stopped.set()
        if unfinished := [task for task in workers if not task.done()]:
            await asyncio.wait(unfinished, timeout=STOP_GRACE_S)
        for task in workers:
            task.cancel()
        await asyncio.gather(*workers, return_exceptions=True)
        journal.close()
        bar.close()
    if stop_reason:
        raise InfrastructureError(f"stopped early: {stop_reason[0]}")
    return [results[(job.case_id, job.sample)] for job in jobs]


def compute_totals(outputs: Iterable[Output], *, wall_s: float | None = None) -> Totals:
    """Returns call counts, tokens, cost (spent now: cache hits cost nothing) and latency."""
    rows = list(outputs)
    latencies = np.array([o.latency_s for o in rows if o.ok], dtype=float)

    def pct(q: float) -> float | None:
        return float(np.percentile(latencies, q)) if latencies.size else None

    return Totals(
        calls=len(rows),
        cached=sum(o.cached for o in rows),
        errors=sum(not o.ok for o in rows),
        prompt_tokens=sum(o.prompt_tokens for o in rows),
        completion_tokens=sum(o.completion_tokens for o in rows),
        cost_usd=float(sum(o.cost_usd for o in rows if not o.cached)),
        latency_p50_s=pct(50),
        latency_p95_s=pct(95),
        latency_p99_s=pct(99),
        latency_mean_s=float(latencies.mean()) if latencies.size else None,
        wall_s=wall_s,
    )


def describe_errors(outputs: Iterable[Output]) -> dict[str, Any]:
    """Returns the most common error reasons and their counts."""
    counts: dict[str, int] = {}
    for output in outputs:
        if not output.ok:
            key = _signature(output.error or "no text")
            counts[key] = counts.get(key, 0) + 1
    return dict(sorted(counts.items(), key=lambda item: -item[1])[:5])
