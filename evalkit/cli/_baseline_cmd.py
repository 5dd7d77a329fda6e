"""``evalkit baseline update SUITE --from RUN`` and ``evalkit baseline show SUITE``."""

from __future__ import annotations

import argparse
import math
import sys
from typing import TYPE_CHECKING

from evalkit.errors import UserInputError

if TYPE_CHECKING:
    from evalkit.config._suite import ProjectConfig, SuiteConfig


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Adds the ``baseline`` verb with its ``update`` and ``show`` actions."""
    parser = sub.add_parser(
        "baseline",
        help="pin a run as a suite's committed baseline, or show the baseline",
        description="A baseline is a pinned run, committed next to the suite's golden set "
        "as a diff-friendly JSONL file sorted by case id (default "
        "<golden>.baseline.jsonl, or the suite's `baseline` key).",
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    update = actions.add_parser(
        "update",
        help="pin RUN as SUITE's baseline",
        description="Write RUN (a stored run id, 'latest', 'latest:<suite>', a run "
        "directory, or a JSONL/CSV score file) as SUITE's baseline file, atomically. "
        "A run that would make a bad baseline is refused (exit 2, the committed file "
        "unchanged) unless --force: no cases, one shard, another version of the golden "
        "set, or more unscored cases than the suite's gate.max_unscored_share.",
    )
    update.add_argument("suite", metavar="SUITE")
    update.add_argument("--from", dest="source", metavar="RUN", required=True)
    update.add_argument(
        "--force",
        action="store_true",
        help="pin RUN even if it would be refused (no cases, a shard, another version of "
        "the golden set, more unscored cases than the gate's max_unscored_share); the "
        "reasons are still printed",
    )
    update.set_defaults(handler=run)
    show = actions.add_parser("show", help="summarise SUITE's baseline")
    show.add_argument("suite", metavar="SUITE")
    show.set_defaults(handler=run)


def _update(args: argparse.Namespace) -> int:
    from evalkit.config._suite import load_config
    from evalkit.store._baselines import pin_refusals, write_baseline
    from evalkit.store._runref import load_run_ref as load_side

    config = load_config(args.config)
    suite = config.suite(args.suite)
    path = config.path(suite.baseline_path)
    run = load_side(args.source, config)
    if run.manifest.suite != suite.name and run.manifest.extra.get("source") != "score-file":
        raise UserInputError(
            f"run {run.manifest.run_id} belongs to suite {run.manifest.suite!r}, not "
            f"{suite.name!r}; pin a run of this suite"
        )
    reasons = pin_refusals(run, suite, _golden_fingerprint(config, suite))
    if reasons and not args.force:
        raise UserInputError(
            f"refusing to pin run {run.manifest.run_id} as the baseline of {suite.name} "
            f"({path} is unchanged): " + "; ".join(reasons) + " (--force pins it anyway)"
        )
    for reason in reasons:
        print(f"evalkit baseline: warning: pinned anyway (--force): {reason}", file=sys.stderr)
    if run.manifest.status != "complete":
        print(
            f"evalkit baseline: warning: run {run.manifest.run_id} is {run.manifest.status}, "
            "not complete",
            file=sys.stderr,
        )
    write_baseline(run, path)
    n_cases = run.scores["case_id"].nunique()
    n_metrics = run.scores["metric"].nunique()
    print(
        f"pinned run {run.manifest.run_id} as the baseline of {suite.name}: {path} "
        f"({n_cases} cases, {n_metrics} metrics); commit it with the golden set"
    )
    return 0


def _golden_fingerprint(config: ProjectConfig, suite: SuiteConfig) -> str:
    """Returns the fingerprint of the suite's golden set as it is now."""
    from evalkit.data._golden import load_golden_set

    return load_golden_set(config.path(suite.golden)).fingerprint


def _show(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from evalkit.config._suite import load_config
    from evalkit.store._baselines import load_baseline

    config = load_config(args.config)
    suite = config.suite(args.suite)
    path = config.path(suite.baseline_path)
    run = load_baseline(path)
    manifest = run.manifest
    print(f"baseline of {suite.name}: {path}")
    print(
        f"run {manifest.run_id} ({manifest.status}), started {manifest.started_at}, "
        f"git {manifest.git_sha or '-'}, evalkit {manifest.evalkit_version}"
    )
    print(
        f"golden {manifest.golden_path} {manifest.golden_fingerprint}; "
        f"SUT {manifest.sut.get('model', '-')} {manifest.sut_fingerprint}; "
        f"{manifest.n_cases} cases x {manifest.samples} sample(s)"
    )
    table = Table()
    for header in ("metric", "kind", "scored cases", "unscored cases", "mean"):
        table.add_column(header, justify="left" if header in ("metric", "kind") else "right")
    per_case = run.scores.groupby(["metric", "case_id"], sort=True)["value"].mean()
    kinds = {m.name: m.kind for m in manifest.metrics}
    for metric, values in per_case.groupby(level=0, sort=True):
        mean = float(values.mean())
        table.add_row(
            str(metric),
            kinds.get(str(metric), "-"),
            str(int(values.notna().sum())),
            str(int(values.isna().sum())),
            "-" if math.isnan(mean) else f"{mean:.4g}",
        )
    Console(highlight=False).print(table)
    return 0


def run(args: argparse.Namespace) -> int:
    """Runs ``baseline update`` or ``baseline show``; returns the exit status."""
    return _update(args) if args.action == "update" else _show(args)
