"""``evalkit demo``: the example suites end to end on the embedded model.

The demo is a list of steps (:data:`STEPS`), each a function taking and returning the
shared :class:`DemoState`; later steps (compare, report) are appended to the list.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass
class DemoState:
    """What the demo steps share: the config, the runs made and where they are."""

    args: argparse.Namespace
    project: Any = None
    runs: dict[str, Any] = field(default_factory=dict)
    messages: list[str] = field(default_factory=list)


def load_project(state: DemoState) -> DemoState:
    """Reads the project config (the repo's [tool.evalkit])."""
    from evalkit.config import load_config
    from evalkit.errors import NotFoundError

    state.project = load_config(state.args.config)
    if not state.project.suites:
        raise NotFoundError(f"{state.project.source}: no suites configured under [tool.evalkit]")
    return state


def run_suites(state: DemoState) -> DemoState:
    """Runs every configured suite (resumable, cached)."""
    from evalkit.pipeline import run_suite

    wanted = state.args.suites or sorted(state.project.suites)
    for name in wanted:
        suite = state.project.suite(name)
        print(f"demo: running suite {name} ({suite.sut.model}, {suite.sut.mode})", flush=True)
        run = run_suite(state.project, suite, use_cache=not state.args.no_cache)
        state.runs[name] = run
        totals = run.manifest.totals
        print(
            f"demo: {name}: {totals.calls} output(s), {totals.errors} error(s) -> {run.location}",
            flush=True,
        )
    return state


def summarize(state: DemoState) -> DemoState:
    """Prints where every run is stored."""
    for name, run in state.runs.items():
        print(f"{name}: run {run.manifest.run_id} in {run.location}")
    return state


Step = Callable[[DemoState], DemoState]
STEPS: list[Step] = [load_project, run_suites, summarize]


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Adds the ``demo`` verb."""
    parser = sub.add_parser(
        "demo",
        help="run the example suites end to end on the embedded model",
        description="Runs every suite configured in [tool.evalkit] (the examples use the "
        "bundled Gemma 3 270M through llama.cpp; no API key needed) and prints where the "
        "runs are stored.",
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
