"""``evalkit nightly SUITE...``: tonight's runs, recorded in the history, compared, checked
for drift, summarised for alerts, with the trend report.

Exit status: 0 every night ok; 1 a regression against the baseline or the previous
night, or a drift alarm; 3 a night could not run (recorded as failed with its reason).
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from pathlib import Path


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Adds the ``nightly`` verb."""
    parser = sub.add_parser(
        "nightly",
        help="nightly runs: history, comparisons, drift, alerts and a trend report",
        description="Run each SUITE (call cache off), record the night in the history in "
        "the store, compare it with the pinned baseline and with the previous successful "
        "night, test for slow drift over recent nights, and write summary.md / "
        "summary.json (for a chat webhook or $GITHUB_STEP_SUMMARY), each night's "
        "regression report and trend.html. Exit 0: all ok; 1: a regression or a drift "
        "alarm; 3: a night could not run (it is recorded as failed, with its reason).",
    )
    parser.add_argument("suites", metavar="SUITE", nargs="+", help="suites to run")
    parser.add_argument(
        "--store",
        metavar="URL",
        help="run store and history: a folder or an fsspec URL such as s3://bucket/evalkit "
        "(default: the config's store)",
    )
    parser.add_argument(
        "--report-dir",
        metavar="DIR",
        help="where reports and summaries go (default: <report_dir>/nightly)",
    )
    parser.add_argument(
        "--drift-alpha",
        type=_probability,
        metavar="Q",
        help="false-discovery rate of drift alarms per night "
        "(Benjamini-Hochberg across metrics; default 0.01)",
    )
    parser.add_argument(
        "--drift-window",
        type=_window,
        metavar="N",
        help="nights in the trend test, tonight included (default 10; the trend needs 5)",
    )
    parser.add_argument("--json", action="store_true", help="print the job summary as JSON")
    parser.set_defaults(handler=run)


def _probability(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"{text} must be between 0 and 1 (exclusive)")
    return value


def _window(text: str) -> int:
    from evalkit.nightly._drift import MIN_TREND_NIGHTS

    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < MIN_TREND_NIGHTS:
        raise argparse.ArgumentTypeError(
            f"{value} nights are too few: the trend test needs at least {MIN_TREND_NIGHTS}"
        )
    return value


def run(args: argparse.Namespace) -> int:
    """Runs tonight's nights; prints the summary; returns the exit status."""
    from evalkit.config._suite import ProjectConfig, load_config
    from evalkit.errors import UserInputError
    from evalkit.nightly._night import NightlyOptions, run_nightly

    project: ProjectConfig | None = None
    config_error = None
    try:
        project = load_config(args.config)
    except UserInputError as err:
        config_error = str(err)
    if args.store:
        store = args.store
    elif project is not None:
        store = project.store if "://" in project.store else str(project.path(project.store))
    else:
        store = ".evalkit/runs"
    if args.report_dir:
        report_dir = Path(args.report_dir)
    elif project is not None:
        report_dir = project.path(project.report_dir) / "nightly"
    else:
        report_dir = Path("reports") / "nightly"
    options = NightlyOptions()
    if args.drift_alpha is not None:
        options = replace(options, drift_alpha=args.drift_alpha)
    if args.drift_window is not None:
        options = replace(options, drift_window=args.drift_window)
    result = run_nightly(
        project,
        args.suites,
        store=store,
        report_dir=report_dir,
        options=options,
        config_error=config_error,
    )
    if args.json:
        assert result.summary_json is not None
        data = json.loads(result.summary_json.read_text(encoding="utf-8"))
        json.dump(data, sys.stdout, indent=2, ensure_ascii=False)
        sys.stdout.write("\n")
    else:
        for outcome in result.nights:
            record = outcome.record
            print(record.headline())
            for line in record.alerts:
                print(f"  - {line}")
            for line in record.warnings:
                print(f"  warning: {line}")
        if result.summary_md is not None:
            print(f"summary: {result.summary_md}")
        if result.trend_html is not None:
            print(f"trend report: {result.trend_html}")
    return result.exit_status
