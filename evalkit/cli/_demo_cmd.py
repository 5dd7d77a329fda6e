"""``evalkit demo``: the example suites end to end on the embedded model, as a story.

1. Each configured suite runs unchanged (resumable, cached) and is compared with its
   committed baseline, a pinned run of the same model and prompts: the gate passes. A
   suite without a baseline gets one first (the run is pinned, then run again: cached).
2. A candidate change (:data:`CANDIDATE`: a prompt edit to the support_rag suite asking
   for shorter answers) runs on the same model and is compared with the same baseline:
   the gate catches the regression (delta, CI, p, q, MDE; the slices that dropped most;
   the cases that newly fail).
3. The shipped judge's calibration against people, and what the gate does with it.
4. Which report to open and what each shows.

The steps are a list (:data:`STEPS`), each a function taking and returning the shared
:class:`DemoState`. The demo's exit status says whether the story ran as intended: 0 when
every unchanged suite passed its gate and the candidate's gate failed (the expected
outcome: the gate doing its job); 1 when a gate decided otherwise (an unchanged suite
failed, or the candidate's regression was not caught), each printed; 3 when a suite
could not run.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any


@dataclass(frozen=True)
class Candidate:
    """A change to one suite's SUT that the demo runs against the suite's baseline."""

    suite: str
    prompt: str  # the candidate's prompt template, relative to the project
    change: str  # what changed, in a reader's words


#: The demo's candidate: a prompt edit asking for shorter answers (fewer output tokens).
#: The references are full sentences, so the match metrics drop; the gate must catch it.
CANDIDATE = Candidate(
    suite="support_rag",
    prompt="golden_sets/prompts/support_rag.terse.jinja",
    change="a prompt edit asking for shorter answers (terse few-shot answers)",
)


@dataclass
class DemoState:
    """What the demo steps share: the config, each suite's outcome and the candidate's."""

    args: argparse.Namespace
    project: Any = None
    outcomes: dict[str, Any] = field(default_factory=dict)
    candidate: Any = None
    surprises: list[str] = field(default_factory=list)  # gates that decided unexpectedly


def load_project(state: DemoState) -> DemoState:
    """Reads the project config (the repo's [tool.evalkit])."""
    from evalkit.config._suite import load_config
    from evalkit.errors import NotFoundError

    state.project = load_config(state.args.config)
    if not state.project.suites:
        raise NotFoundError(f"{state.project.source}: no suites configured under [tool.evalkit]")
    return state


def _options(state: DemoState) -> Any:
    from evalkit.gate._decision import GateOptions

    return GateOptions(use_cache=not state.args.no_cache, progress=None)


def run_and_gate_suites(state: DemoState) -> DemoState:
    """Runs every suite unchanged, compares it with its committed baseline, writes its report."""
    from evalkit.errors import InfrastructureError
    from evalkit.gate._decision import evaluate_suite, summary_lines

    wanted = state.args.suites or list(state.project.suites)
    print("\ndemo: step 1: each suite unchanged against its committed baseline", flush=True)
    for name in wanted:
        suite = state.project.suite(name)
        print(f"\ndemo: suite {name}: {suite.description or suite.golden}", flush=True)
        print(
            f"demo: model {suite.sut.model} ({suite.sut.mode} mode), prompt {suite.sut.prompt}, "
            f"baseline {suite.baseline_path} (committed; pinned with `evalkit baseline update`)",
            flush=True,
        )
        if not state.project.path(suite.baseline_path).is_file():
            print(f"demo: suite {name} has no baseline yet: pinning this run as its baseline")
            pinned = evaluate_suite(
                state.project, suite, replace(_options(state), update_baseline=True)
            )
            if pinned.error:
                raise InfrastructureError(f"suite {name}: {pinned.error}")
            print(f"demo: baseline written: {pinned.baseline_written}; now the same run again")
        outcome = evaluate_suite(state.project, suite, _options(state), n_suites=len(wanted))
        if outcome.error:
            raise InfrastructureError(f"suite {name}: {outcome.error}")
        state.outcomes[name] = outcome
        for line in summary_lines(outcome):
            print(line, flush=True)
        status = outcome.gate.status if outcome.gate is not None else "-"
        if status != "passed":
            state.surprises.append(
                f"suite {name} is unchanged, yet its gate {status}: see {outcome.report}"
            )
    return state


def run_candidate(state: DemoState) -> DemoState:
    """Runs the candidate change and shows the gate catching its regression."""
    from evalkit.errors import InfrastructureError
    from evalkit.gate._decision import evaluate_suite, summary_lines

    wanted = state.args.suites or list(state.project.suites)
    if CANDIDATE.suite not in wanted or CANDIDATE.suite not in state.project.suites:
        return state
    base = state.project.suite(CANDIDATE.suite)
    suite = base.with_changes(sut={"prompt": CANDIDATE.prompt})
    print(f"\ndemo: step 2: a candidate change to {suite.name}: {CANDIDATE.change}", flush=True)
    print(f"demo: prompt {CANDIDATE.prompt} (was {base.sut.prompt})", flush=True)
    outcome = evaluate_suite(state.project, suite, _options(state))
    if outcome.error:
        raise InfrastructureError(f"candidate of suite {suite.name}: {outcome.error}")
    state.candidate = outcome
    for line in summary_lines(outcome):
        print(line, flush=True)
    for line in candidate_lines(outcome):
        print(line, flush=True)
    if outcome.gate is None or outcome.gate.status != "failed":
        state.surprises.append(
            f"the candidate change to {suite.name} was not caught: its gate "
            f"{outcome.gate.status if outcome.gate else '-'}"
        )
    return state


def candidate_lines(outcome: Any, *, limit: int = 8) -> list[str]:
    """Returns what moved in the candidate: the slices that dropped most, newly failing cases."""
    slices = dropped_slices(outcome.report)
    flipped = sorted(
        (case for case in outcome.cases.values() if case.status == "failed"),
        key=lambda case: (not case.message.startswith("critical case"), case.case_id),
    )
    lines = []
    if slices:
        lines.append(
            "demo: the slices that dropped most (tag slices; q over all metrics x slices):"
        )
        lines += [f"  {line}" for line in slices]
        if any(line.endswith(": inconclusive") for line in slices):
            lines.append(
                "  (a slice whose cases come from one source document is one cluster: its "
                "CI cannot be estimated (n/a) and it cannot be tested alone)"
            )
    if flipped:
        lines.append(f"demo: cases that newly fail ({len(flipped)}; the report lists them first):")
        lines += [f"  {case.case_id}: {case.message}" for case in flipped[:limit]]
        if len(flipped) > limit:
            lines.append(f"  ... and {len(flipped) - limit} more")
    if outcome.gate is not None and outcome.gate.status == "failed":
        lines.append(
            "demo: the gate caught the regression, as intended: this change would not ship "
            "(`pytest` on this suite would exit 1)."
        )
    return lines


def dropped_slices(report: str | None, *, limit: int = 3, min_cases: int = 3) -> list[str]:
    """Returns the tag slices of gating metrics whose mean dropped most, as short lines.

    Read from the summary.json the report step wrote beside the report. A slice whose
    cases come from one or two clusters (here: source documents) cannot be tested alone
    (CI n/a, verdict inconclusive); its line says so rather than hide it.
    """
    import json
    from pathlib import Path

    from evalkit.comparison._model import interval_text
    from evalkit.util._format import terminal_number, terminal_p_value

    if not report:
        return []
    path = Path(report).with_name("summary.json")
    if not path.is_file():
        return []
    rows = [
        row
        for row in json.loads(path.read_text(encoding="utf-8")).get("slices", [])
        if row.get("gating")
        and row.get("delta") is not None
        and row["delta"] < 0
        and (row.get("n_paired") or 0) >= min_cases
    ]
    rows.sort(key=lambda row: row["delta"])
    lines = []
    for row in rows[:limit]:
        q = row.get("q_value")
        lines.append(
            f"{row['metric']} [{row['slice']}] {terminal_number(row['baseline'])} -> "
            f"{terminal_number(row['candidate'])}, "
            f"delta {terminal_number(row['delta'], signed=True)} "
            f"{interval_text(row.get('ci_low'), row.get('ci_high'))}, "
            f"q={'n/a' if q is None else terminal_p_value(q)}, {row['n_paired']} cases: "
            f"{row['verdict']}"
        )
    return lines


def show_calibration(state: DemoState) -> DemoState:
    """Prints the shipped judges' agreement with people and whether they may gate."""
    from pathlib import Path

    from evalkit.judging._calibration import load_record

    judges_dir = state.project.path(state.project.judges_dir)
    records = sorted(Path(judges_dir).glob("*.calibration.json"))
    print("\ndemo: step 3: the judges' calibration against people", flush=True)
    for path in records:
        record = load_record(path)
        if record is None:
            continue
        print(f"\ndemo: judge {record.judge}: calibration against people ({path})")
        print(f"  made by `evalkit calibrate {record.judge}` (labels: {record.labels_path})")
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
    """Prints each gate's decision and which report to open for what."""
    print("\ndemo: done. What the gates decided:")
    for name, outcome in state.outcomes.items():
        gate = outcome.gate.status if outcome.gate is not None else "-"
        print(f"  {name} (unchanged): gate {gate}")
    if state.candidate is not None:
        gate = state.candidate.gate.status if state.candidate.gate is not None else "-"
        print(f"  {state.candidate.suite} (candidate: {CANDIDATE.change}): gate {gate}")
    print(
        "\ndemo: open these reports (single HTML files; summary.md and summary.json beside each):"
    )
    if state.candidate is not None and state.candidate.report:
        print(
            f"  {state.candidate.report}\n"
            "    the candidate change: opens on what regressed (metric, slice, the cases that "
            "flipped to fail), then per-case diffs, worst first"
        )
    for name, outcome in state.outcomes.items():
        if outcome.report:
            print(
                f"  {outcome.report}\n"
                f"    {name} unchanged: one line says nothing changed; metrics, slices and "
                "known failures below"
            )
    for surprise in state.surprises:
        print(f"demo: unexpected: {surprise}")
    return state


Step = Callable[[DemoState], DemoState]
STEPS: list[Step] = [load_project, run_and_gate_suites, run_candidate, show_calibration, summarize]


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Adds the ``demo`` verb."""
    parser = sub.add_parser(
        "demo",
        help="run the example suites end to end on the embedded model",
        description="Runs every suite configured in [tool.evalkit] (the examples use the "
        "bundled Gemma 3 270M through llama.cpp; no API key needed) and compares each run "
        "with the suite's committed baseline (the gate passes: nothing changed); then runs "
        f"a candidate change to {CANDIDATE.suite} ({CANDIDATE.change}) against the same "
        "baseline and shows the gate catching the regression; shows the shipped judge's "
        "calibration and which reports to open. Exit 0 when the story ran as intended "
        "(unchanged suites passed, the candidate's regression was caught: that failure is "
        "the expected outcome); 1 when a gate decided otherwise (printed as 'unexpected'); "
        "3 when a suite could not run.",
    )
    parser.add_argument("suites", nargs="*", metavar="SUITE", help="only these suites")
    parser.add_argument("--no-cache", action="store_true", help="do not use the call cache")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Runs every demo step in order; returns 0 when every gate decided as the story expects."""
    state = DemoState(args=args)
    for step in STEPS:
        state = step(state)
    return 1 if state.surprises else 0
