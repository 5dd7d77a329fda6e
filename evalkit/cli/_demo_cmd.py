"""``evalkit demo``: the example suites end to end on the embedded model.

For each configured suite: run it (resumable, cached), compare the run with the suite's
committed baseline, decide the gate and write the HTML report; then show the shipped
judge's calibration and what the gate does with it. The steps are a list
(:data:`STEPS`), each a function taking and returning the shared :class:`DemoState`.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass
class DemoState:
    """What the demo steps share: the config and each suite's outcome."""

    args: argparse.Namespace
    project: Any = None
    outcomes: dict[str, Any] = field(default_factory=dict)


def load_project(state: DemoState) -> DemoState:
    """Reads the project config (the repo's [tool.evalkit])."""
    from evalkit.config._suite import load_config
    from evalkit.errors import NotFoundError

    state.project = load_config(state.args.config)
    if not state.project.suites:
        raise NotFoundError(f"{state.project.source}: no suites configured under [tool.evalkit]")
    return state


def run_and_gate_suites(state: DemoState) -> DemoState:
    """Runs every suite, compares it with its committed baseline and writes its report."""
    from evalkit.errors import InfrastructureError
    from evalkit.gate._decision import GateOptions, evaluate_suite, summary_lines

    wanted = state.args.suites or list(state.project.suites)
    options = GateOptions(use_cache=not state.args.no_cache, progress=None)
    for name in wanted:
        suite = state.project.suite(name)
        print(f"\ndemo: suite {name}: {suite.description or suite.golden}", flush=True)
        print(f"demo: model {suite.sut.model} ({suite.sut.mode} mode)", flush=True)
        outcome = evaluate_suite(state.project, suite, options, n_suites=len(wanted))
        if outcome.error:
            raise InfrastructureError(f"suite {name}: {outcome.error}")
        state.outcomes[name] = outcome
        for line in summary_lines(outcome):
            print(line, flush=True)
    return state


def show_calibration(state: DemoState) -> DemoState:
    """Prints the shipped judges' agreement with people and whether they may gate."""
    from pathlib import Path

    from evalkit.judging._calibration import load_record

    judges_dir = state.project.path(state.project.judges_dir)
    records = sorted(Path(judges_dir).glob("*.calibration.json"))
    for path in records:
        record = load_record(path)
        if record is None:
            continue
        print(f"\ndemo: judge {record.judge}: calibration against people ({path})")
        for line in record_lines(record):
            print(f"  {line}")
    judged = [
        (name, metric, status)
        for name, outcome in state.outcomes.items()
        if outcome.gate is not None
        for metric, status in _judge_properties(outcome.gate.properties)
    ]
    for name, metric, status in judged:
        verb = "may gate" if status == "calibrated" else "is advisory (never fails or passes)"
        print(f"demo: suite {name}: judge metric {metric} is {status}: it {verb}")
    return state


def _judge_properties(properties: list[tuple[str, str]]) -> list[tuple[str, str]]:
    prefix = "evalkit.judge."
    return [(k.removeprefix(prefix), v) for k, v in properties if k.startswith(prefix)]


def record_lines(record: Any) -> list[str]:
    """Returns a calibration record's headline figures as short lines."""
    lines = [f"n = {record.n} labelled items, judge fingerprint {record.fingerprint}"]
    lines += [f"{name}: {figure.text()}" for name, figure in record.figures.items()]
    return lines


def summarize(state: DemoState) -> DemoState:
    """Prints each suite's gate decision and report path, the last line the first report."""
    print("\ndemo: done")
    for name, outcome in state.outcomes.items():
        gate = outcome.gate.status if outcome.gate is not None else "-"
        print(f"  {name}: gate {gate}; report {outcome.report}")
    first = next(iter(state.outcomes.values()), None)
    if first is not None and first.report:
        print(f"demo: open the report: {first.report}")
    return state


Step = Callable[[DemoState], DemoState]
STEPS: list[Step] = [load_project, run_and_gate_suites, show_calibration, summarize]


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Adds the ``demo`` verb."""
    parser = sub.add_parser(
        "demo",
        help="run the example suites end to end on the embedded model",
        description="Runs every suite configured in [tool.evalkit] (the examples use the "
        "bundled Gemma 3 270M through llama.cpp; no API key needed), compares each run "
        "with the suite's committed baseline, writes the HTML reports and shows the "
        "shipped judge's calibration. Exit 0 when every suite ran, whatever the gates "
        "decided (the decisions are printed); 3 when a suite could not run.",
    )
    parser.add_argument("suites", nargs="*", metavar="SUITE", help="only these suites")
    parser.add_argument("--no-cache", action="store_true", help="do not use the call cache")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Runs every demo step in order; returns 0."""
    state = DemoState(args=args)
    for step in STEPS:
        state = step(state)
    return 0
