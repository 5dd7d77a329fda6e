"""The release gate of one suite: run it, compare with its baseline, decide each case and the suite.

:func:`evaluate_suite` is what the pytest plugin calls once per selected suite (the plugin
only turns the result into items, JUnit properties and a terminal summary), and what any
other caller can use from Python::

    outcome = evaluate_suite(project, project.suite("qa"), GateOptions())
    outcome.gate.status          # "passed" | "failed" | "error" | "no-baseline" | "skipped"
    outcome.cases["geo-1"].message

A case passes when every gating metric with a threshold meets it (the value is the mean
over the case's samples; binary metrics pass at 0.5 unless the metric sets a threshold;
an unscored value misses). A failing case that failed in the baseline too is a known
failure, tagged ``critical`` or not: a critical case fails the case and the gate only when
it is newly failing (it passed in the baseline, or the baseline has no record of it); a
critical known failure is a warning in the summary and the report. The statistics
behind the suite's gate are :func:`evalkit.comparison._compare.compare_runs`; nothing here
computes one.

The outcome is plain data (:meth:`SuiteOutcome.to_json`), so one process computes it and
the others (pytest-xdist workers) read it.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from evalkit._policy import CRITICAL_TAG, MetricPolicy, gate_failure, metric_policy
from evalkit.comparison._model import interval_text, mde_text
from evalkit.errors import EvalkitError
from evalkit.util._format import finite_or_none, terminal_number, terminal_p_value

if TYPE_CHECKING:
    from evalkit.comparison._model import CaseDiff, Comparison, MetricComparison
    from evalkit.config._suite import ProjectConfig, SuiteConfig
    from evalkit.data._records import Run

CaseStatus = Literal["passed", "failed", "known-failure"]
GateStatus = Literal["passed", "failed", "error", "no-baseline", "skipped"]
KNOWN_FAILURE = "known failure (also failed in baseline)"
NO_BASELINE = "no baseline: run with --evalkit-update-baseline to create one"


@dataclass(frozen=True)
class GateOptions:
    """How to run and gate a suite (the plugin's ``--evalkit-*`` options)."""

    samples: int | None = None
    concurrency: int | None = None
    use_cache: bool = True
    shard: tuple[int, int] | None = None
    baseline: str | None = None  # a baseline file, run id or run dir; default: the suite's
    update_baseline: bool = False
    report: str | None = None  # HTML file or folder; None: <report_dir>/<suite>-<run>/
    write_report: bool = True
    progress: bool | None = False  # None: a live bar on a terminal, plain lines otherwise


@dataclass(frozen=True)
class CaseOutcome:
    """One case's verdict: status, a one-line message and its scores as properties."""

    case_id: str
    status: CaseStatus
    message: str
    properties: list[tuple[str, str]] = field(default_factory=list)
    flaky: str | None = None  # e.g. "exact sd 0.58" when samples disagree


@dataclass(frozen=True)
class GateOutcome:
    """The suite gate's verdict: status, the message a reader acts on, summary properties."""

    status: GateStatus
    message: str
    properties: list[tuple[str, str]] = field(default_factory=list)


@dataclass(frozen=True)
class SummaryRow:
    """One metric of the terminal summary (over all cases)."""

    metric: str
    baseline: float | None
    candidate: float | None
    delta: float | None
    ci_low: float | None
    ci_high: float | None
    p_value: float | None
    q_value: float | None
    mde: float | None
    verdict: str
    gating: bool


@dataclass(frozen=True)
class SuiteOutcome:
    """Everything the plugin reports about one suite; ``error`` set: nothing was decided."""

    suite: str
    error: str | None = None
    error_kind: str | None = None
    run_id: str | None = None
    run_location: str | None = None
    baseline: str | None = None
    baseline_written: str | None = None
    report: str | None = None
    cases: dict[str, CaseOutcome] = field(default_factory=dict)
    gate: GateOutcome | None = None
    rows: list[SummaryRow] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def to_json(self) -> str:
        """Returns the outcome as JSON (read back with :meth:`from_json`)."""
        return json.dumps(asdict(self), allow_nan=False, default=_none_for_nan)

    @classmethod
    def from_json(cls, text: str) -> SuiteOutcome:
        """Returns the outcome stored by :meth:`to_json`."""
        data = json.loads(text)
        cases = {
            key: CaseOutcome(**{**value, "properties": _pairs(value["properties"])})
            for key, value in data.pop("cases").items()
        }
        gate_data = data.pop("gate")
        gate = (
            GateOutcome(**{**gate_data, "properties": _pairs(gate_data["properties"])})
            if gate_data
            else None
        )
        rows = [SummaryRow(**row) for row in data.pop("rows")]
        return cls(**data, cases=cases, gate=gate, rows=rows)


def _pairs(items: list[list[str]]) -> list[tuple[str, str]]:
    return [(str(k), str(v)) for k, v in items]


def _none_for_nan(value: Any) -> Any:
    raise TypeError(f"not JSON serializable: {value!r}")


# ---------------------------------------------------------------- per case


def metric_policies(
    comparison: Comparison, suite: SuiteConfig, candidate: Run, judge_status: dict[str, str]
) -> dict[str, MetricPolicy]:
    """Returns each compared metric's policy (threshold, direction, gating) as compare uses it."""
    specs = {spec.name: spec for spec in suite.metrics}
    infos = {m.name: m for m in candidate.manifest.metrics}
    names = [row.metric for row in comparison.overall()]
    kinds = {row.metric: row.kind for row in comparison.overall()}
    return {
        name: metric_policy(
            name,
            spec=specs.get(name),
            info=infos.get(name),
            observed_kind=kinds.get(name),
            gate=suite.gate,
            judge_status=judge_status,
        )
        for name in names
    }


def case_outcome(
    diff: CaseDiff, policies: dict[str, MetricPolicy], *, in_baseline: bool
) -> CaseOutcome:
    """Returns the verdict of one case (module docstring), with its scores as properties."""
    misses: list[str] = []
    advisory: list[str] = []
    properties: list[tuple[str, str]] = []
    for name, policy in policies.items():
        value = diff.candidate.get(name)
        base = diff.baseline.get(name) if in_baseline else None
        properties.append(
            (f"evalkit.{name}", terminal_number(value) if value is not None else "unscored")
        )
        if base is not None:
            properties.append((f"evalkit.{name}.baseline", terminal_number(base)))
        miss_text = policy.miss(value)
        if miss_text is None:
            continue
        if in_baseline:
            miss_text += f"; baseline {terminal_number(base) if base is not None else 'unscored'}"
        (misses if policy.gating else advisory).append(miss_text)
    flaky = ", ".join(f"{m} sd {sd:.2g}" for m, sd in sorted(diff.flaky.items())) or None
    if flaky:
        properties.append(("evalkit.flaky", flaky))
    notes = f" (advisory: {'; '.join(advisory)})" if advisory else ""
    if not misses:
        status: CaseStatus = "passed"
        message = "meets its thresholds" + notes
    elif in_baseline and diff.known_failure:
        status = "known-failure"
        prefix = "critical case, " if "critical" in diff.tags else ""
        message = f"{prefix}{KNOWN_FAILURE}: {'; '.join(misses)}"
    else:
        status = "failed"
        prefix = "critical case: " if CRITICAL_TAG in diff.tags else ""
        message = prefix + "; ".join(misses) + notes
    if flaky:
        message += f" [flaky: {flaky}]"
    properties.append(("evalkit.outcome", status))
    return CaseOutcome(diff.case_id, status, message, properties, flaky)


# ---------------------------------------------------------------- suite gate


def _regressed(row: MetricComparison, policy: str) -> str | None:
    """Returns why the row fails the gate (:func:`evalkit._policy.gate_failure`), else None."""
    failure = gate_failure(row, policy)
    if failure == "not non-inferior":
        return f"not shown non-inferior (margin {row.margin:g})"
    return failure


def describe_row(row: MetricComparison, why: str) -> str:
    """Returns 'exact 0.62 -> 0.48, delta -0.14 [-0.21, -0.07], p=0.001, q=0.004, MDE 0.05: why'.

    The MDE is the design-time figure (docs/sizing.md); an interval or MDE that cannot be
    estimated reads 'n/a'.
    """
    where = f" [{row.slice}]" if row.slice else ""
    return (
        f"{row.metric}{where} {terminal_number(row.baseline_mean)} -> "
        f"{terminal_number(row.candidate_mean)}, delta {terminal_number(row.delta, signed=True)} "
        f"{interval_text(row.ci_low, row.ci_high)}, p={terminal_p_value(row.p_value)}, "
        f"q={terminal_p_value(row.q_value)}, MDE {mde_text(row.mde)}: {why}"
    )


def gate_outcome(comparison: Comparison) -> GateOutcome:
    """Returns the gate's verdict with one line per regressed metric and failing critical case."""
    gate = comparison.gate
    properties: list[tuple[str, str]] = [
        ("evalkit.gate.policy", gate.policy),
        ("evalkit.gate.alpha", f"{gate.alpha:g}"),
    ]
    for row in comparison.overall():
        key = f"evalkit.{row.metric}"
        properties += [
            (f"{key}.baseline", terminal_number(row.baseline_mean)),
            (f"{key}.candidate", terminal_number(row.candidate_mean)),
            (f"{key}.delta", terminal_number(row.delta, signed=True)),
            (f"{key}.ci", interval_text(row.ci_low, row.ci_high)),
            (f"{key}.p", terminal_p_value(row.p_value)),
            (f"{key}.q", terminal_p_value(row.q_value)),
            (f"{key}.mde", mde_text(row.mde)),
            (f"{key}.mde_observed", mde_text(row.mde_observed)),
            (f"{key}.verdict", row.verdict if row.gating else f"{row.verdict} (advisory)"),
        ]
    lines = [
        describe_row(row, why)
        for row in comparison.metrics
        if (why := _regressed(row, gate.policy)) is not None
    ]
    lines += [reason for reason in gate.reasons if reason.startswith("critical case")]
    if gate.error:
        status: GateStatus = "error"
        message = f"the gate cannot decide: {gate.error}"
    elif gate.passed:
        status = "passed"
        message = f"gate passed ({gate.policy}, alpha {gate.alpha:g})"
    else:
        status = "failed"
        lines = lines or list(gate.reasons)
        message = f"gate failed ({gate.policy}, alpha {gate.alpha:g}):\n" + "\n".join(
            f"  {line}" for line in lines
        )
    properties.insert(0, ("evalkit.gate", status))
    if lines:
        properties.append(("evalkit.gate.reasons", " | ".join(lines)))
    if gate.known_failures:
        properties.append(("evalkit.gate.known_failures", " | ".join(gate.known_failures)))
    return GateOutcome(status, message, properties)


def summary_rows(comparison: Comparison, *, has_baseline: bool) -> list[SummaryRow]:
    """Returns the terminal summary's rows: one per metric over all cases."""
    rows = []
    for row in comparison.overall():
        if has_baseline:
            verdict = row.verdict if row.gating else f"{row.verdict} (advisory)"
            rows.append(
                SummaryRow(
                    row.metric,
                    finite_or_none(row.baseline_mean),
                    finite_or_none(row.candidate_mean),
                    finite_or_none(row.delta),
                    finite_or_none(row.ci_low),
                    finite_or_none(row.ci_high),
                    finite_or_none(row.p_value),
                    finite_or_none(row.q_value),
                    finite_or_none(row.mde),
                    verdict,
                    row.gating,
                )
            )
        else:
            rows.append(
                SummaryRow(
                    row.metric,
                    None,
                    finite_or_none(row.candidate_mean),
                    *(None,) * 6,
                    "no baseline",
                    row.gating,
                )
            )
    return rows


# ---------------------------------------------------------------- the whole suite


def _load_baseline(
    project: ProjectConfig, suite: SuiteConfig, ref: str | None
) -> tuple[Run | None, str | None]:
    """Returns (baseline run, where it came from); (None, None) when the suite has none yet."""
    from evalkit.store._baselines import load_baseline
    from evalkit.store._runref import load_run_ref as load_side

    if ref:
        return load_side(ref, project), ref
    path = project.path(suite.baseline_path)
    if not path.is_file():
        return None, None
    return load_baseline(path), str(path)


def suite_calibration(project: ProjectConfig, suite: SuiteConfig, run: Run) -> dict[str, Any]:
    """Returns the per-judge calibration view of the run's judge metrics (empty if none)."""
    from evalkit.judging._calibration_run import calibration_report, judge_names_for

    if not any(info.judge_fingerprint for info in run.manifest.metrics):
        return {}
    return calibration_report(
        run,
        project.path(project.judges_dir),
        min_n=suite.gate.judge_min_n,
        min_kappa=suite.gate.judge_min_kappa,
        judge_names=judge_names_for(suite),
        alpha=suite.gate.alpha,
    )


def report_path(project: ProjectConfig, run: Run, requested: str | None, n_suites: int) -> Path:
    """Returns where the suite's report goes: ``requested`` (a folder holds one per suite)."""
    from evalkit.report import default_report_path

    if requested is None:
        return default_report_path(project.path(project.report_dir), run)
    target = Path(requested)
    if target.suffix == ".html" and n_suites == 1:
        return target
    folder = target.with_suffix("") if target.suffix == ".html" else target
    return folder / run.manifest.suite / "report.html"


def evaluate_suite(
    project: ProjectConfig,
    suite: SuiteConfig,
    options: GateOptions,
    *,
    n_suites: int = 1,
) -> SuiteOutcome:
    """Returns the suite's outcome: run (resumable), compare with the baseline, decide, report.

    evalkit errors (unreachable SUT, bad golden set or template, an unreadable baseline)
    come back as ``SuiteOutcome.error``: the plugin reports them as errors, never a pass.
    """
    from evalkit.comparison._compare import compare_runs
    from evalkit.data._golden import load_golden_set
    from evalkit.execution._pipeline import run_suite
    from evalkit.report import render_report
    from evalkit.store._baselines import write_baseline
    from evalkit.store._runref import judge_statuses

    try:
        run = run_suite(
            project,
            suite,
            samples=options.samples,
            concurrency=options.concurrency,
            use_cache=options.use_cache,
            shard=options.shard,
            progress=options.progress,
        )
        baseline, baseline_ref = _load_baseline(project, suite, options.baseline)
    except EvalkitError as err:
        return SuiteOutcome(suite=suite.name, error=str(err), error_kind=type(err).__name__)
    statuses = judge_statuses(run, project, suite.gate, suite)
    metrics = suite.metrics or None
    comparison = compare_runs(
        baseline if baseline is not None else run,
        run,
        gate=suite.gate,
        metrics=metrics,
        judge_status=statuses,
    )
    policies = metric_policies(comparison, suite, run, statuses)
    added = set(comparison.added_cases)
    run_cases = set(run.outputs["case_id"].astype(str)) | set(run.scores["case_id"].astype(str))
    cases = {
        diff.case_id: case_outcome(
            diff, policies, in_baseline=baseline is not None and diff.case_id not in added
        )
        for diff in comparison.cases
        if diff.case_id in run_cases
    }
    warnings = (
        [*comparison.warnings, *comparison.gate.known_failures] if baseline is not None else []
    )
    if baseline is None:
        gate = GateOutcome("no-baseline", NO_BASELINE, [("evalkit.gate", "no-baseline")])
    else:
        gate = gate_outcome(comparison)
    written = None
    if options.shard is not None:
        index, count = options.shard
        gate = GateOutcome(
            "skipped",
            f"shard {index}/{count}: the gate is decided on the merged run "
            "(`evalkit merge` the shard runs, then `evalkit compare BASELINE MERGED --suite "
            f"{suite.name}`); per-shard verdict: {gate.status}",
            [*gate.properties, ("evalkit.shard", f"{index}/{count}")],
        )
    elif options.update_baseline:
        target = project.path(suite.baseline_path)
        write_baseline(run, target)
        written = str(target)
        was = f"; against the previous baseline: {gate.message}" if baseline is not None else ""
        gate = GateOutcome(
            "skipped",
            f"baseline written to {target} from run {run.manifest.run_id}; not gated{was}",
            [*gate.properties, ("evalkit.baseline.written", str(target))],
        )
    report = None
    if options.write_report:
        golden = load_golden_set(project.path(suite.golden))
        paths = render_report(
            run,
            baseline=baseline,
            comparison=comparison if baseline is not None else None,
            golden=golden,
            output=report_path(project, run, options.report, n_suites),
            calibration=suite_calibration(project, suite, run) or None,
        )
        report = str(paths.html)
    properties = [("evalkit.run", run.manifest.run_id)]
    properties += [(f"evalkit.judge.{metric}", status) for metric, status in statuses.items()]
    if baseline_ref:
        properties.append(("evalkit.baseline", baseline_ref))
    if report:
        properties.append(("evalkit.report", report))
    gate = GateOutcome(gate.status, gate.message, [*gate.properties, *properties])
    return SuiteOutcome(
        suite=suite.name,
        run_id=run.manifest.run_id,
        run_location=run.location,
        baseline=baseline_ref,
        baseline_written=written,
        report=report,
        cases=cases,
        gate=gate,
        rows=summary_rows(comparison, has_baseline=baseline is not None),
        warnings=warnings,
    )


# ---------------------------------------------------------------- terminal summary


def _cell(value: float | None, *, sign: bool = False, p: bool = False) -> str:
    return terminal_p_value(value) if p else terminal_number(value, signed=sign)


def summary_lines(outcome: SuiteOutcome) -> list[str]:
    """Returns the suite's terminal summary: a metric table, the gate and the report path."""
    if outcome.error:
        return [f"suite {outcome.suite}: ERROR ({outcome.error_kind}): {outcome.error}"]
    header = ["metric", "baseline", "candidate", "delta [CI]", "p", "q", "verdict"]
    table = [header]
    for row in outcome.rows:
        ci = interval_text(row.ci_low, row.ci_high)
        table.append(
            [
                row.metric,
                _cell(row.baseline),
                _cell(row.candidate),
                f"{_cell(row.delta, sign=True)} {ci}" if row.delta is not None else "-",
                _cell(row.p_value, p=True),
                _cell(row.q_value, p=True),
                row.verdict,
            ]
        )
    widths = [max(len(line[i]) for line in table) for i in range(len(header))]
    lines = [f"suite {outcome.suite}: run {outcome.run_id}, baseline {outcome.baseline or '-'}"]
    lines += ["  " + "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True))
              for line in table]  # fmt: skip
    statuses = [case.status for case in outcome.cases.values()]
    lines.append(
        f"  cases: {statuses.count('passed')} passed, {statuses.count('failed')} failed, "
        f"{statuses.count('known-failure')} known failures"
    )
    flaky = [case for case in outcome.cases.values() if case.flaky]
    if flaky:
        shown = ", ".join(f"{case.case_id} ({case.flaky})" for case in flaky[:10])
        more = f" and {len(flaky) - 10} more" if len(flaky) > 10 else ""
        lines.append(f"  flaky cases ({len(flaky)}): {shown}{more}")
    for warning in outcome.warnings:
        lines.append(f"  warning: {warning}")
    if outcome.gate is not None:
        lines.append(f"  gate: {outcome.gate.status}: {outcome.gate.message.splitlines()[0]}")
        lines += [f"  {line}" for line in outcome.gate.message.splitlines()[1:]]
    if outcome.baseline_written:
        lines.append(f"  baseline written: {outcome.baseline_written}")
    if outcome.report:
        lines.append(f"  report: {outcome.report}")
    return lines
