"""``evalkit plan BASELINE``: what the suite can detect, and how many cases a drop needs.

Sizing a golden set from a baseline run (docs/sizing.md): per metric (and with
``--slices`` per tag slice) the design-time MDE at the current size, the figure
``evalkit compare`` reports, and with ``--drop D`` the number of cases (and clusters)
at which the gate detects a drop of D with the given power. Exit 0, or 2 on bad input.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from evalkit.errors import UserInputError

if TYPE_CHECKING:
    from evalkit.comparison._planning import Plan
    from evalkit.config._suite import GateConfig, ProjectConfig


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Adds the ``plan`` verb."""
    parser = sub.add_parser(
        "plan",
        help="size a golden set: the drop the suite detects, and the cases a drop needs",
        description="From a baseline run: per metric, the smallest drop the gate detects "
        "with 80% power at the suite's current size (the design-time MDE that compare "
        "reports: from the baseline's spread, its cases and clusters, the gate's alpha "
        "after its multiple-comparison correction, and an assumed correlation between "
        "baseline and candidate scores), and with --drop the number of cases needed to "
        "detect that drop. BASELINE is a committed baseline file, a run id, a run "
        "directory or a score file. See docs/sizing.md. Exit 0; 2: bad input.",
    )
    parser.add_argument("baseline", metavar="BASELINE", help="baseline file, run id or run dir")
    parser.add_argument(
        "--suite", metavar="NAME", help="take the gate (alpha, correction, mde_correlation) "
        "and metric settings from this suite",
    )  # fmt: skip
    parser.add_argument(
        "--drop",
        type=float,
        metavar="D",
        help="a drop to size for, in the metric's units (0.02: two points of a pass rate)",
    )
    parser.add_argument(
        "--metric",
        action="append",
        metavar="NAME",
        help="show only this metric (repeatable); the correction still counts every row",
    )
    parser.add_argument(
        "--power", type=float, default=0.8, metavar="P", help="power to plan for (0.8)"
    )
    parser.add_argument(
        "--rho",
        type=float,
        metavar="R",
        help="assumed correlation of a case's baseline and candidate scores, 0 <= R < 1 "
        "(default: the suite's gate.mde_correlation, else 0.5)",
    )
    parser.add_argument("--alpha", type=float, metavar="A", help="significance level (0.05)")
    parser.add_argument(
        "--family-size",
        type=int,
        metavar="N",
        help="rows the correction adjusts together (default: every metric and tag slice "
        "a comparison of this baseline tests)",
    )
    parser.add_argument("--slices", action="store_true", help="also show every tag slice")
    parser.add_argument("--json", action="store_true", help="print the plan as JSON")
    parser.set_defaults(handler=run)


def _gate(args: argparse.Namespace, config: ProjectConfig | None) -> GateConfig:
    from pydantic import ValidationError

    from evalkit.config._suite import GateConfig

    gate = GateConfig()
    if args.suite and config is not None:
        gate = config.suite(args.suite).gate
    overrides = {
        key: value
        for key, value in (("alpha", args.alpha), ("mde_correlation", args.rho))
        if value is not None
    }
    try:
        return GateConfig.model_validate({**gate.model_dump(), **overrides})
    except ValidationError as err:
        first = err.errors()[0]
        flag = {"mde_correlation": "rho"}.get(str(first["loc"][0]), str(first["loc"][0]))
        raise UserInputError(f"--{flag}: {first['msg']}") from err


def _check(args: argparse.Namespace) -> None:
    if not 0 < args.power < 1:
        raise UserInputError(f"--power: must be between 0 and 1 (got {args.power:g})")
    if args.drop is not None and not (args.drop > 0 and math.isfinite(args.drop)):
        raise UserInputError(f"--drop: must be a positive number (got {args.drop:g})")
    if args.family_size is not None and args.family_size < 1:
        raise UserInputError(f"--family-size: must be at least 1 (got {args.family_size})")


def _cell(value: float | None, digits: int = 3) -> str:
    from evalkit.comparison._model import mde_text

    return mde_text(value, digits=digits)


def _count(value: float | None) -> str:
    if value is None or math.isnan(value):
        return "n/a"
    return "inf" if math.isinf(value) else f"{int(value):,}"


def print_plan(plan: Plan, *, metrics: list[str] | None, slices: bool) -> None:
    """Prints the plan as a table with a line saying what it assumes."""
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    console = Console(highlight=False)
    if not console.is_terminal:
        console = Console(highlight=False, width=160)
    rows = [
        row
        for row in plan.rows
        if (slices or row.slice is None) and (not metrics or row.metric in metrics)
    ]
    drop = rows[0].drop if rows else None
    table = Table(title=escape(f"{plan.suite}: baseline {plan.baseline_id}"), title_justify="left")
    headers = ["metric", "slice", "kind", "n", "clusters", "mean", "sd", "ICC", "deff", "MDE"]
    if drop is not None:
        headers += [f"cases for {drop:g}", "clusters"]
    for header in headers:
        table.add_column(
            header, justify="left" if header in ("metric", "slice", "kind") else "right"
        )
    for row in rows:
        cells = [
            escape(row.metric),
            escape(row.slice or "all"),
            row.kind,
            f"{row.n_cases:,}",
            "-" if row.n_clusters is None else f"{row.n_clusters:,}",
            _cell(row.mean),
            _cell(row.sd),
            _cell(row.icc, 2),
            _cell(row.design_effect, 3),
            _cell(row.mde),
        ]
        if drop is not None:
            clusters = "-" if row.n_clusters is None else _count(row.clusters_needed)
            cells += [_count(row.cases_needed), clusters]
        table.add_row(*cells)
    console.print(table)
    console.print(
        f"MDE: the smallest drop the gate detects with {plan.power:.0%} power; one-sided "
        f"alpha {plan.alpha:g} / {plan.family_size} rows ({plan.correction}) = "
        f"{plan.mde_alpha:.2g} per row; assumed baseline-candidate correlation "
        f"{plan.correlation:g}; deff: design effect of clustering; n/a: cannot be "
        "estimated (no spread in the baseline, or too few cases); inf: not detectable. "
        "See docs/sizing.md.",
        style="dim",
        markup=False,
    )


def run(args: argparse.Namespace) -> int:
    """Loads the baseline, plans and prints; returns the exit status."""
    from evalkit.comparison._planning import plan_from_baseline
    from evalkit.config._suite import find_config_file, load_config
    from evalkit.store._runref import load_run_ref

    _check(args)
    config = None
    if args.config or args.suite or find_config_file(Path.cwd()) is not None:
        config = load_config(args.config)
    gate = _gate(args, config)
    suite = config.suite(args.suite) if (args.suite and config is not None) else None
    baseline = load_run_ref(args.baseline, config)
    known = {str(m) for m in baseline.scores["metric"].dropna().unique()}
    unknown = sorted(set(args.metric or ()) - known)
    if unknown:
        raise UserInputError(
            f"--metric {', '.join(unknown)}: not in the baseline; it has "
            f"{', '.join(sorted(known)) or 'no metrics'}"
        )
    plan = plan_from_baseline(
        baseline,
        gate=gate,
        metrics=(suite.metrics or None) if suite is not None else None,
        drop=args.drop,
        power=args.power,
        family_size=args.family_size,
    )
    if args.json:
        indent = 2 if sys.stdout.isatty() else None
        sys.stdout.write(json.dumps(plan.to_dict(), indent=indent, allow_nan=False) + "\n")
    else:
        print_plan(plan, metrics=args.metric, slices=args.slices)
    return 0
