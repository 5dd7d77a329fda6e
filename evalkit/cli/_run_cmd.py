"""``evalkit run``: run one suite (configured, or ad hoc from flags), score it, store it.

Resumable: running the same command again after a crash finishes the run without
calling the SUT again for the cases already answered.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Adds the ``run`` verb."""
    parser = sub.add_parser(
        "run",
        help="run a suite through the SUT, score and store it (resumable)",
        description="Run one configured suite, or an ad-hoc suite from --golden and --model. "
        "Every (case, sample) goes to the system under test through LiteLLM, is scored and "
        "stored as a run. Run the same command again after a crash to resume.",
    )
    parser.add_argument("suite", nargs="?", metavar="SUITE", help="a suite in [tool.evalkit]")
    parser.add_argument("--golden", metavar="PATH", help="ad hoc: the golden set (.jsonl)")
    parser.add_argument(
        "--model",
        metavar="M",
        help='a LiteLLM model name, or "embedded" (the bundled Gemma 3 270M)',
    )
    parser.add_argument("--api-base", metavar="URL", help="an OpenAI-compatible server URL")
    parser.add_argument("--prompt", metavar="FILE", help="a Jinja2 prompt template")
    parser.add_argument(
        "--callable", metavar="PKG.MOD:FN", help="a Python function as the SUT (sync or async)"
    )
    parser.add_argument(
        "--mode", choices=["chat", "text"], help="chat messages or text completion (base models)"
    )
    parser.add_argument(
        "--metric", action="append", default=[], metavar="NAME", help="a scorer (repeatable)"
    )
    parser.add_argument("--samples", type=int, metavar="N", help="samples per case")
    parser.add_argument("--concurrency", type=int, metavar="N", help="calls in flight at most")
    parser.add_argument("--store", metavar="DIR", help="run store folder or fsspec URL")
    parser.add_argument("--shard", metavar="I/N", help="run only shard I of N (1-based)")
    parser.add_argument("--no-cache", action="store_true", help="do not read or write the cache")
    parser.add_argument("--no-progress", action="store_true", help="no progress output")
    parser.add_argument(
        "--json", action="store_true", help="print the run manifest as JSON on the last line"
    )
    parser.set_defaults(handler=run)


def _suite_from_args(args: argparse.Namespace) -> tuple[Any, Any]:
    """Returns (project, suite) for a configured suite or an ad-hoc one from flags."""
    from evalkit.config._suite import ProjectConfig, SuiteConfig, load_config
    from evalkit.errors import UserInputError

    if args.suite and args.golden:
        raise UserInputError("give a SUITE or --golden PATH, not both")
    if not args.suite and not args.golden:
        raise UserInputError("give a SUITE name, or --golden PATH --model M for an ad-hoc run")
    overrides: dict[str, Any] = {}
    for flag, key in (("model", "model"), ("api_base", "api_base"), ("mode", "mode")):
        if getattr(args, flag):
            overrides[key] = getattr(args, flag)
    if args.prompt:
        overrides["prompt"] = str(Path(args.prompt).resolve())
    if args.callable:
        overrides["callable"] = args.callable
    # Flags are validated like the config file: --samples 0, --concurrency -5, a --callable
    # without a colon or a repeated --metric are errors (exit 2), never silently coerced.
    changes: dict[str, Any] = {
        k: v
        for k, v in (("samples", args.samples), ("concurrency", args.concurrency))
        if v is not None
    }
    if args.metric:
        changes["metrics"] = [{"name": m} for m in args.metric]
    if args.suite:
        project = load_config(args.config)
        suite = project.suite(args.suite).with_changes(sut=overrides, **changes)
        return project, suite
    try:
        project = load_config(args.config)
    except UserInputError:
        project = ProjectConfig(source="(flags)", root=str(Path.cwd()))
    golden = Path(args.golden).resolve()
    suite = SuiteConfig(name=golden.stem.removesuffix(".jsonl"), golden=str(golden))
    return project, suite.with_changes(sut=overrides, **changes)


def run(args: argparse.Namespace) -> int:
    """Runs the suite and prints where the run is stored; returns the exit status."""
    from evalkit.execution._pipeline import parse_shard, run_suite

    project, suite = _suite_from_args(args)
    shard = parse_shard(args.shard) if args.shard else None
    store = (
        str(Path(args.store).resolve()) if args.store and "://" not in args.store else args.store
    )
    result = run_suite(
        project,
        suite,
        samples=args.samples,
        concurrency=args.concurrency,
        use_cache=not args.no_cache,
        shard=shard,
        progress=False if args.no_progress else None,
        store_root=store,
    )
    manifest = result.manifest
    totals = manifest.totals
    if args.json:
        payload = json.loads(manifest.model_dump_json())
        payload["run_dir"] = result.location
        print(json.dumps(payload, sort_keys=True))
        return 0
    print(f"run {manifest.run_id} ({manifest.status}): suite {manifest.suite}")
    print(
        f"  {manifest.n_cases} case(s) x {manifest.samples} sample(s): {totals.calls} output(s), "
        f"{totals.errors} error(s), {totals.cached} from cache"
    )
    if totals.latency_p50_s is not None:
        print(
            f"  latency p50 {totals.latency_p50_s:.3f}s p95 {totals.latency_p95_s or 0:.3f}s, "
            f"tokens {totals.prompt_tokens}+{totals.completion_tokens}, "
            f"cost ${totals.cost_usd:.4f}"
        )
    means = result.metric_means()
    for metric in manifest.metrics:
        mean, scored = means.get(metric.name, (None, 0))
        shown = f"{mean:.3f}" if mean is not None else "-"
        print(f"  {metric.name}: mean {shown} over {scored} scored")
    print(f"  stored in {result.location}")
    sys.stdout.flush()
    return 0
