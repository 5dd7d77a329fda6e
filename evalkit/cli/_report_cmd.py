"""``evalkit report``: render a run (or a comparison with a baseline) as one HTML file."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from evalkit.errors import NotFoundError

if TYPE_CHECKING:
    from evalkit.config._suite import ProjectConfig
    from evalkit.data._golden import GoldenSet
    from evalkit.data._records import Run


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Adds the ``report`` verb."""
    parser = sub.add_parser(
        "report",
        help="write a single-file HTML report (+ summary.json, summary.md)",
        description="Render a stored run, alone or compared with a baseline, as one "
        "self-contained HTML file that opens offline, with summary.json and summary.md "
        "(for a pull request or $GITHUB_STEP_SUMMARY) beside it. Prints the HTML path.",
    )
    parser.add_argument("run_ref", metavar="RUN", help="run id, run directory, or baseline file")
    parser.add_argument(
        "--baseline",
        metavar="RUN",
        help="run id, run directory or committed baseline file to compare with",
    )
    parser.add_argument(
        "-o",
        "--output",
        metavar="PATH",
        help="HTML file to write (default: <report_dir>/<suite>-<run id>/report.html)",
    )
    parser.add_argument("--store", metavar="DIR", help="run store (default: from config)")
    parser.set_defaults(handler=run)


def load_run_ref(ref: str, project: ProjectConfig, store_dir: str | None) -> Run:
    """Returns the run ``ref`` names: a baseline file, a run directory or a stored run id."""
    path = Path(ref)
    if path.is_file():
        from evalkit.store._baselines import load_baseline

        return load_baseline(path)
    from evalkit.store._runs import RunStore

    store = RunStore(store_dir or str(project.path(project.store)))
    return store.load_run(ref)


def _golden_for(run: Run, project: ProjectConfig) -> GoldenSet | None:
    """Returns the run's golden set when its file is still there (else None)."""
    from evalkit.data._golden import load_golden_set
    from evalkit.errors import UserInputError

    golden_path = run.manifest.golden_path
    if not golden_path:
        return None
    path = project.path(golden_path)
    if not path.exists():
        path = Path(golden_path)
    if not path.exists():
        return None
    try:
        golden = load_golden_set(path)
    except UserInputError:
        return None
    if golden.fingerprint != run.manifest.golden_fingerprint:
        print(
            f"evalkit report: {path} changed since the run (fingerprint differs); "
            "the report shows the run's prompts instead of the golden cases",
            file=sys.stderr,
        )
        return None
    return golden


def run(args: argparse.Namespace) -> int:
    """Renders the report; prints the HTML path (and the summaries' folder)."""
    from evalkit.config._suite import load_config
    from evalkit.report import default_report_path, render_report

    project = load_config(args.config)
    candidate = load_run_ref(args.run_ref, project, args.store)
    baseline = load_run_ref(args.baseline, project, args.store) if args.baseline else None
    golden = _golden_for(candidate, project)
    if args.output:
        output = Path(args.output)
    else:
        output = default_report_path(project.path(project.report_dir), candidate)
    if output.exists() and output.is_dir() and not os.access(output, os.W_OK):
        raise NotFoundError(f"{output}: cannot write there; choose another -o PATH")
    paths = render_report(
        candidate,
        baseline=baseline,
        golden=golden,
        output=output,
        report_url=os.environ.get("EVALKIT_REPORT_URL") or None,
    )
    print(paths.html)
    return 0
