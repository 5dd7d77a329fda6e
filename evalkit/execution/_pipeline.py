"""One suite end to end: golden set -> outputs -> scores -> stored run.

:func:`run_suite` is what ``evalkit run`` and the pytest plugin call. It is resumable:
the resume journal lives in the store under a key made of the suite name, the golden
fingerprint, the SUT fingerprint, the sample count, the shard and the metrics, so running
the same command again after a crash finds it and calls the SUT only for what is missing.

Sharding is deterministic: case ``c`` belongs to shard ``I`` of ``N`` (1-based) when
``int(sha256(c.id)[:16], 16) % N == I - 1``. Every machine agrees without coordination,
and adding a case never moves the others between shards.
"""

from __future__ import annotations

import hashlib
import importlib.util
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import evalkit
from evalkit.config._check import check_suite
from evalkit.config._suite import ProjectConfig, SuiteConfig
from evalkit.data._golden import GoldenSet, load_golden_set
from evalkit.data._records import MetricInfo, Output, Run, RunManifest, ScoreRow
from evalkit.errors import InfrastructureError, PartialRunError, UserInputError
from evalkit.execution._runner import compute_totals, describe_errors, generate_outputs
from evalkit.models._cache import Cache
from evalkit.models._llm import SECRET_PARAMS, ModelClient, close_litellm_clients
from evalkit.store._runs import RunStore, run_key
from evalkit.util._event_loop import run as run_event_loop


def parse_shard(text: str) -> tuple[int, int]:
    """Returns ``(I, N)`` from ``"I/N"`` (1 <= I <= N); raises UserInputError otherwise."""
    try:
        index_text, count_text = text.split("/")
        index, count = int(index_text), int(count_text)
    except ValueError:
        raise UserInputError(f"--shard {text!r}: expected I/N, e.g. 1/4") from None
    if count < 1 or not 1 <= index <= count:
        raise UserInputError(f"--shard {text!r}: need 1 <= I <= N")
    return index, count


def shard_cases(golden: GoldenSet, shard: tuple[int, int] | None) -> GoldenSet:
    """Returns the cases of shard ``(I, N)`` (1-based), by a hash of the case id."""
    if shard is None or shard[1] == 1:
        return golden
    index, count = shard
    kept = [
        case.id
        for case in golden.cases
        if int(hashlib.sha256(case.id.encode("utf-8")).hexdigest()[:16], 16) % count == index - 1
    ]
    return golden.select(kept)


def git_sha(folder: str | Path) -> str | None:
    """Returns ``git rev-parse HEAD`` in ``folder``, or None outside a repository."""
    try:
        result = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=folder,
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    sha = result.stdout.strip()
    return sha if result.returncode == 0 and sha else None


def _sut_summary(suite: SuiteConfig) -> dict[str, Any]:
    summary = suite.sut.model_dump(mode="json")
    summary["params"] = {k: v for k, v in suite.sut.params.items() if k not in SECRET_PARAMS}
    return summary


async def _score(
    suite: SuiteConfig,
    project: ProjectConfig,
    golden: GoldenSet,
    outputs: list[Output],
    client: ModelClient,
    progress: bool | None,
) -> tuple[list[ScoreRow], list[MetricInfo]]:
    if importlib.util.find_spec("evalkit.execution._scoring") is None:
        return [], []
    from evalkit.execution import _scoring as scoring

    rows, infos = await scoring.score_outputs(
        suite, project, golden, outputs, client=client, progress=progress
    )
    return list(rows), list(infos)


async def arun_suite(
    project: ProjectConfig,
    suite: SuiteConfig,
    *,
    samples: int | None = None,
    concurrency: int | None = None,
    use_cache: bool = True,
    shard: tuple[int, int] | None = None,
    progress: bool | None = None,
    store_root: str | None = None,
) -> Run:
    """Returns the stored Run of ``suite`` (async; see :func:`run_suite`)."""
    started = time.monotonic()
    # Flags and arguments are validated like the config file (samples 0 is an error).
    suite = suite.with_changes(
        **{k: v for k, v in (("samples", samples), ("concurrency", concurrency)) if v is not None}
    )
    golden = shard_cases(load_golden_set(project.path(suite.golden)), shard)
    check_suite(project, suite, golden)  # the checks `evalkit validate` makes, before any call
    shard_text = f"{shard[0]}/{shard[1]}" if shard else None
    store = RunStore(store_root or str(project.path(project.store)))
    key = run_key(
        suite=suite.name,
        golden_fingerprint=golden.fingerprint,
        sut_fingerprint=suite.sut.fingerprint(),
        samples=suite.samples,
        shard=shard_text,
        metrics=[m.name for m in suite.metrics],
    )
    # An identical run in another process: wait for it, then reuse its answers.
    with store.run_lock(key):
        return await _run_locked(
            project,
            suite,
            golden,
            store,
            key,
            started=started,
            use_cache=use_cache,
            shard_text=shard_text,
            progress=progress,
        )


async def _run_locked(
    project: ProjectConfig,
    suite: SuiteConfig,
    golden: GoldenSet,
    store: RunStore,
    key: str,
    *,
    started: float,
    use_cache: bool,
    shard_text: str | None,
    progress: bool | None,
) -> Run:
    """Returns the stored Run: generate (resumable), score, store; under the run's lock."""
    started_at = datetime.now(UTC).isoformat()
    n_samples = suite.samples
    n_concurrency = suite.concurrency
    cache = Cache(project.path(project.cache_dir)) if use_cache else None
    client = ModelClient(cache=cache, rpm=suite.sut.rpm, concurrency=n_concurrency)
    try:
        outputs = await generate_outputs(
            suite,
            golden,
            project=project,
            client=client,
            journal_path=store.journal_path(key),
            samples=n_samples,
            concurrency=n_concurrency,
            progress=progress,
        )
        if outputs and not any(o.ok for o in outputs):
            common = next(iter(describe_errors(outputs)))
            raise InfrastructureError(
                f"every call to the SUT failed ({len(outputs)} calls); most common error: {common}"
            )
        score_rows, metric_infos = await _score(suite, project, golden, outputs, client, progress)
    finally:
        await client.aclose()
        await close_litellm_clients()
        if cache is not None:
            cache.close()
    totals = compute_totals(outputs, wall_s=time.monotonic() - started)
    manifest = RunManifest(
        run_id=store.new_run_id(suite.name),
        suite=suite.name,
        status="complete" if totals.errors == 0 else "partial",
        golden_path=str(suite.golden),
        golden_fingerprint=golden.fingerprint,
        n_cases=len(golden),
        samples=n_samples,
        sut=_sut_summary(suite),
        sut_fingerprint=suite.sut.fingerprint(),
        judges={m.name: m.judge_fingerprint for m in metric_infos if m.judge_fingerprint},
        metrics=metric_infos,
        git_sha=git_sha(project.root),
        started_at=started_at,
        finished_at=datetime.now(UTC).isoformat(),
        evalkit_version=evalkit.__version__,
        totals=totals,
        shard=shard_text,
        extra={"errors": describe_errors(outputs), "calls": client.stats()},
    )
    run = Run.from_rows(
        manifest,
        outputs,
        score_rows,
        groups={c.id: c.group for c in golden.cases if c.group is not None},
        tags={c.id: list(c.tags) for c in golden.cases},
    )
    location = store.write_run(run)
    problem = too_many_failures(manifest, suite)
    if problem is not None:
        # The journal stays: the same command resumes, calling only the failed cases.
        raise PartialRunError(
            f"{problem}; stored as {location}. Run the same command again to retry the "
            f"failed calls (finished ones are not called again)."
        )
    store.clear_journal(key)
    return run.at(location)


def too_many_failures(manifest: RunManifest, suite: SuiteConfig) -> str | None:
    """Returns why a run failed too many calls to be used, or None.

    The limit is the suite's ``gate.max_unscored_share``: a failed SUT call leaves its
    case unscored, so a run above that share could never be decided by the gate.
    """
    totals = manifest.totals
    if not totals.calls or not totals.errors:
        return None
    share = totals.errors / totals.calls
    limit = suite.gate.max_unscored_share
    if share <= limit:
        return None
    common = next(iter(manifest.extra.get("errors") or {"unknown": 0}))
    return (
        f"run {manifest.run_id} is partial: {totals.errors} of {totals.calls} calls to the "
        f"SUT failed ({share:.0%}, above the suite's max_unscored_share {limit:.0%}); "
        f"most common error: {common}"
    )


def run_suite(
    project: ProjectConfig,
    suite: SuiteConfig,
    *,
    samples: int | None = None,
    concurrency: int | None = None,
    use_cache: bool = True,
    shard: tuple[int, int] | None = None,
    progress: bool | None = None,
    store_root: str | None = None,
) -> Run:
    """Returns the stored Run of ``suite``: generate (resumable), score, store.

    Args:
        project: the project config (paths, store, cache folder).
        suite: the suite to run.
        samples: samples per case (default: the suite's).
        concurrency: calls in flight (default: the suite's).
        use_cache: False skips the call cache (``--no-cache``).
        shard: ``(I, N)``, 1-based: run only shard I of N (see the module docstring).
        progress: None/True: progress on stderr; False: quiet.
        store_root: the store (default: the project's ``store``).

    An identical run (same suite, golden set, SUT, samples, shard and metrics) going on
    in another process is waited for, then its answers are reused, not paid for again.

    Raises:
        InfrastructureError: the SUT failed on every call, or the first calls all failed
            the same way, or its endpoint went away mid-run (the journal keeps what was
            finished).
        PartialRunError: the run was stored, but more of its calls failed than the
            suite's ``gate.max_unscored_share`` allows (the journal is kept for a resume).
        TemplateError, GoldenSetError, NotFoundError: input the user must fix.
        ConfigError: ``samples`` or ``concurrency`` out of range, or a check of
            :mod:`evalkit.config._check` failed (before any call).
    """
    return run_event_loop(
        arun_suite(
            project,
            suite,
            samples=samples,
            concurrency=concurrency,
            use_cache=use_cache,
            shard=shard,
            progress=progress,
            store_root=store_root,
        )
    )
