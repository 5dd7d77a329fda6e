"""Nightly regression runs: run each suite, record the night, compare, check drift, alert.

For each suite, one night is:

1. a ``running`` record in the history (so a night that dies half-way is still listed);
2. the suite run through :func:`evalkit.execution._pipeline.run_suite` with the call cache off (a
   nightly run must reach the deployed model); a night that cannot run (SUT down, bad
   config, unknown suite) is recorded as ``failed`` with its reason, never skipped;
3. the paired comparison with the pinned baseline and with the previous successful
   night, both with the suite's gate;
4. drift over the successful nights since the last golden-set change
   (:mod:`evalkit.nightly._drift`), and the cases that keep flipping (flaky) versus the cases that
   changed once and stayed changed;
5. the final record (``ok``, or ``alert`` with one line per reason), the regression
   report, and ``summary.md`` / ``summary.json`` for a chat webhook or a CI job summary.

After all suites, the trend report (``trend.html``) is rendered over the whole history.
Exit status: 3 when any night could not run, else 1 when any night raised an alert, else 0.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from evalkit._policy import pass_threshold
from evalkit.comparison._model import Comparison
from evalkit.config._suite import ProjectConfig, SuiteConfig
from evalkit.data._records import Run
from evalkit.errors import EvalkitError
from evalkit.nightly import _drift as drift_mod
from evalkit.store._history import (
    CaseChange,
    ComparisonBrief,
    ComparisonRow,
    DriftBrief,
    DriftRow,
    History,
    NightMetric,
    NightRecord,
)
from evalkit.util._atomic import atomic_write_text
from evalkit.util._fingerprint import fingerprint_bytes
from evalkit.util._format import PAGE_MISSING, finite_or_none, page_number

Clock = Callable[[], datetime]
Runner = Callable[..., Run]
EXIT_OK, EXIT_ALERT, EXIT_FAILED = 0, 1, 3


@dataclass(frozen=True)
class NightlyOptions:
    """Knobs of a nightly job (defaults suit a daily cron)."""

    drift_alpha: float = drift_mod.DEFAULT_ALPHA
    drift_window: int = drift_mod.DEFAULT_WINDOW
    pooled_nights: int = drift_mod.DEFAULT_POOLED
    render_reports: bool = True


@dataclass(frozen=True)
class NightOutcome:
    """One suite's night: its final record and the files written for it."""

    record: NightRecord
    summary_md: Path | None = None
    summary_json: Path | None = None
    report_html: Path | None = None


@dataclass(frozen=True)
class NightlyResult:
    """All suites of one nightly job, the trend report and the job's exit status."""

    nights: tuple[NightOutcome, ...]
    exit_status: int
    trend_html: Path | None = None
    summary_md: Path | None = None
    summary_json: Path | None = None
    warnings: tuple[str, ...] = field(default_factory=tuple)


def _utc_now() -> datetime:
    return datetime.now(UTC)


# ---------------------------------------------------------------- per-case tables


def case_means(run: Run) -> pd.DataFrame:
    """Returns the run's per-case means (samples averaged; NaN: unscored), case x metric."""
    scores = run.scores
    if scores.empty:
        return pd.DataFrame()
    frame = scores.assign(case_id=scores["case_id"].astype(str), metric=scores["metric"])
    table = frame.groupby(["case_id", "metric"], sort=True)["value"].mean().unstack("metric")
    return table.astype("float64")


def night_metrics(run: Run, means: pd.DataFrame) -> list[NightMetric]:
    """Returns each metric's mean over cases with a 95% t interval (clustered by group).

    The interval is the comparison's own statistics
    (:func:`evalkit.comparison._stats.paired_mean_difference` against zero): the
    cluster-robust standard error with the G/(G-1) small-sample factor, and Student's t
    with G - 1 degrees of freedom (G clusters; a case without a group is its own).
    """
    from evalkit.comparison._stats import MIN_UNITS, paired_mean_difference

    infos = {m.name: m for m in run.manifest.metrics}
    out = []
    for metric in means.columns:
        values = means[metric].dropna()
        info = infos.get(str(metric))
        n = len(values)
        mean = float(values.mean()) if n else None
        low = high = None
        if n >= 2 and mean is not None:
            groups = [run.groups.get(str(case)) for case in values.index]
            scores = values.to_numpy(dtype=np.float64)
            estimate = paired_mean_difference(np.zeros(n), scores, groups=groups)
            if estimate.n_clusters >= MIN_UNITS:
                low, high = estimate.confidence_interval(0.95)
        out.append(
            NightMetric(
                name=str(metric),
                kind=info.kind if info else "continuous",
                higher_is_better=info.higher_is_better if info else True,
                n=n,
                mean=mean,
                ci_low=low,
                ci_high=high,
            )
        )
    return out


def classify_cases(
    nights: Sequence[tuple[str, pd.DataFrame]],
    *,
    thresholds: Mapping[str, tuple[float, bool]],
) -> tuple[list[CaseChange], list[CaseChange]]:
    """Returns (flaky, changed): cases whose pass/fail outcome moved across ``nights``.

    ``nights`` are (night id, case means) oldest first; ``thresholds`` maps a metric to
    (pass threshold, higher is better). Per case and metric the outcomes form a pattern
    such as ``PPPFFF``; unscored or absent nights are skipped. Two or more flips: flaky
    (keeps flipping). Exactly one flip: changed (once, and it stayed changed), with the
    night the new outcome started.
    """
    flaky: list[CaseChange] = []
    changed: list[CaseChange] = []
    if len(nights) < 2:
        return flaky, changed
    case_ids = sorted(set().union(*(set(frame.index) for _, frame in nights)))
    for metric, (threshold, higher) in sorted(thresholds.items()):
        columns = []
        for _, frame in nights:
            if metric in frame.columns:
                columns.append(frame[metric].reindex(case_ids).to_numpy(dtype=np.float64))
            else:
                columns.append(np.full(len(case_ids), np.nan))
        values = np.column_stack(columns)  # cases x nights
        scored = ~np.isnan(values)
        passing = values >= threshold if higher else values <= threshold
        for i, case_id in enumerate(case_ids):
            seen = np.flatnonzero(scored[i])
            if len(seen) < 2:
                continue
            outcome = passing[i, seen]
            flips = int(np.sum(outcome[1:] != outcome[:-1]))
            if flips == 0:
                continue
            pattern = "".join(
                "." if not scored[i, j] else ("P" if passing[i, j] else "F")
                for j in range(len(nights))
            )
            now_failing = not bool(outcome[-1])
            if flips >= 2:
                flaky.append(CaseChange(case_id=case_id, metric=metric, pattern=pattern,
                                        flips=flips, now_failing=now_failing))  # fmt: skip
            else:
                start = int(seen[1:][outcome[1:] != outcome[:-1]][0])
                changed.append(
                    CaseChange(
                        case_id=case_id,
                        metric=metric,
                        pattern=pattern,
                        flips=1,
                        now_failing=now_failing,
                        since_night_id=nights[start][0],
                    )
                )
    changed.sort(key=lambda c: (not c.now_failing, c.metric, c.case_id))
    flaky.sort(key=lambda c: (-c.flips, c.metric, c.case_id))
    return flaky, changed


# ---------------------------------------------------------------- comparisons


def _brief(comparison: Comparison, against: str, other_id: str) -> ComparisonBrief:
    rows = [
        ComparisonRow(
            metric=row.metric,
            baseline_mean=finite_or_none(row.baseline_mean),
            candidate_mean=finite_or_none(row.candidate_mean),
            delta=finite_or_none(row.delta),
            ci_low=finite_or_none(row.ci_low),
            ci_high=finite_or_none(row.ci_high),
            p_value=finite_or_none(row.p_value),
            q_value=finite_or_none(row.q_value),
            verdict=row.verdict,
            gating=row.gating,
            mde=finite_or_none(row.mde),
            mde_observed=finite_or_none(row.mde_observed),
        )
        for row in comparison.overall()
    ]
    return ComparisonBrief(
        against=against,  # type: ignore[arg-type]
        other_id=other_id,
        passed=comparison.gate.passed,
        error=comparison.gate.error,
        reasons=list(comparison.gate.reasons),
        warnings=list(comparison.warnings),
        rows=rows,
    )


def _compare(
    baseline: Run, candidate: Run, suite: SuiteConfig, project: ProjectConfig
) -> Comparison:
    from evalkit.comparison._compare import compare_runs
    from evalkit.store._runref import judge_statuses

    return compare_runs(
        baseline,
        candidate,
        gate=suite.gate,
        metrics=suite.metrics or None,
        judge_status=judge_statuses(candidate, project, suite.gate, suite),
    )


def _digest(path: Path) -> str:
    return fingerprint_bytes(path.read_bytes())


# ---------------------------------------------------------------- one night


@dataclass
class _Night:
    """Mutable working state of one night while it runs."""

    record: NightRecord
    run: Run | None = None
    baseline: Run | None = None
    vs_baseline: Comparison | None = None


class NightlyJob:
    """Runs suites as nights against one store and one report folder."""

    def __init__(
        self,
        project: ProjectConfig | None,
        *,
        store: str,
        report_dir: Path,
        now: Clock | None = None,
        options: NightlyOptions | None = None,
        runner: Runner | None = None,
    ):
        self.project = project
        self.store = store
        self.report_dir = Path(report_dir)
        self.now = now or _utc_now
        self.options = options or NightlyOptions()
        self.history = History(store)
        self._runner = runner

    # ------------------------------------------------------------ public

    def run(self, suites: Sequence[str], *, config_error: str | None = None) -> NightlyResult:
        """Returns the result of running each suite as tonight's night (module docstring)."""
        outcomes = [self.night(name, config_error=config_error) for name in suites]
        warnings: list[str] = []
        trend = None
        if self.options.render_reports:
            from evalkit.report import render_trend_report

            try:
                trend = render_trend_report(
                    self.history.list(), output=self.report_dir / "trend.html"
                )
            except Exception as err:  # a report bug must not hide tonight's verdicts
                warnings.append(f"trend report not written: {type(err).__name__}: {err}")
        status = exit_status([o.record for o in outcomes])
        summary = job_summary(
            [o.record for o in outcomes], status, trend="trend.html" if trend else None
        )
        summary["warnings"] = warnings
        md_path = self.report_dir / "summary.md"
        json_path = self.report_dir / "summary.json"
        atomic_write_text(json_path, json.dumps(summary, indent=2, ensure_ascii=False) + "\n")
        atomic_write_text(md_path, summary_markdown(summary))
        return NightlyResult(tuple(outcomes), status, trend, md_path, json_path, tuple(warnings))

    def night(self, name: str, *, config_error: str | None = None) -> NightOutcome:
        """Returns one suite's night, recorded in the history whatever happens."""
        at = self.now()
        record = NightRecord(
            night_id=self.history.new_night_id(name, at),
            suite=name,
            night_at=at.astimezone(UTC).isoformat(),
        )
        self.history.write(record)
        night = _Night(record)
        try:
            if config_error is not None or self.project is None:
                raise _NightFailed(f"configuration error: {config_error or 'no config'}")
            self._run_suite(night)
            self._analyse(night)
        except _NightFailed as err:
            night.record = night.record.model_copy(update={"status": "failed", "reason": str(err)})
        except EvalkitError as err:
            reason = f"{type(err).__name__}: {err}"
            night.record = night.record.model_copy(update={"status": "failed", "reason": reason})
        except Exception as err:  # one suite's crash must not lose the other suites' nights
            reason = f"unexpected {type(err).__name__}: {err}"
            night.record = night.record.model_copy(update={"status": "failed", "reason": reason})
        outcome = self._finish(night)
        return outcome

    # ------------------------------------------------------------ steps

    def _suite(self, name: str) -> SuiteConfig:
        assert self.project is not None
        return self.project.suite(name)

    def _run_suite(self, night: _Night) -> None:
        assert self.project is not None
        suite = self._suite(night.record.suite)
        if self._runner is not None:
            runner = self._runner
        else:
            from evalkit.execution._pipeline import run_suite

            runner = run_suite
        run = runner(self.project, suite, use_cache=False, progress=False, store_root=self.store)
        manifest = run.manifest
        night.run = run
        night.record = night.record.model_copy(
            update={
                "run_id": manifest.run_id,
                "run_status": manifest.status,
                "golden_path": manifest.golden_path,
                "golden_fingerprint": manifest.golden_fingerprint,
                "n_cases": manifest.n_cases,
                "sut_model": str(manifest.sut.get("model", "")) or None,
                "sut_fingerprint": manifest.sut_fingerprint,
                "totals": manifest.totals,
            }
        )

    def _analyse(self, night: _Night) -> None:
        assert self.project is not None and night.run is not None
        suite = self._suite(night.record.suite)
        run = night.run
        record = night.record
        warnings: list[str] = []
        alerts: list[str] = []
        if run.manifest.status != "complete":
            errors = run.manifest.totals.errors
            warnings.append(f"run is {run.manifest.status}: {errors} call(s) failed")
        means = case_means(run)
        update: dict[str, Any] = {"metrics": night_metrics(run, means)}

        # the pinned baseline
        baseline_path = self.project.path(suite.baseline_path)
        if baseline_path.is_file():
            from evalkit.store._baselines import load_baseline

            night.baseline = load_baseline(baseline_path)
            update["baseline_run_id"] = night.baseline.manifest.run_id
            update["baseline_digest"] = _digest(baseline_path)
            night.vs_baseline = _compare(night.baseline, run, suite, self.project)
            brief = _brief(night.vs_baseline, "baseline", night.baseline.manifest.run_id)
            update["vs_baseline"] = brief
            if brief.error:  # keep what the night measured, then fail it
                night.record = record.model_copy(update=update)
                raise _NightFailed(f"the comparison with the baseline could not decide: "
                                   f"{brief.error}")  # fmt: skip
            alerts += [f"vs baseline: {reason}" for reason in brief.reasons]
        else:
            warnings.append(
                f"no pinned baseline at {suite.baseline_path}: pin one with "
                f"`evalkit baseline update {suite.name} --from {run.manifest.run_id}`"
            )

        # the previous successful night
        records = self.history.list(suite.name)
        previous = self.history.latest_successful(
            suite.name, exclude=record.night_id, records=records
        )
        previous_run = None
        if previous is not None and previous.run_id is not None:
            update["previous_night_id"] = previous.night_id
            try:
                previous_run = self.history.store.load_run(previous.run_id)
            except EvalkitError as err:
                warnings.append(f"previous night {previous.night_id}: run not loadable: {err}")
        if previous_run is not None and previous is not None:
            comparison = _compare(previous_run, run, suite, self.project)
            brief = _brief(comparison, "previous", previous.night_id)
            update["vs_previous"] = brief
            if brief.error:
                warnings.append(f"vs previous night: could not decide: {brief.error}")
            alerts += [f"vs previous night: {reason}" for reason in brief.reasons]

        # drift and case histories over the window of comparable nights
        window = [
            r
            for r in records
            if r.successful
            and r.night_id != record.night_id
            and r.golden_fingerprint == run.manifest.golden_fingerprint
            and r.when <= record.when
        ]
        window = self._since_golden_change(records, record, window)
        window = window[-(self.options.drift_window - 1) :] if self.options.drift_window > 1 else []
        tonight = {m.name: m for m in update["metrics"]}
        frames: list[tuple[str, pd.DataFrame]] = []
        for past in window:
            frame = self._means_of(past, warnings)
            if frame is not None:
                frames.append((past.night_id, frame))
        frames.append((record.night_id, means))
        drift = self._drift(window, tonight, frames, night.baseline)
        update["drift"] = drift
        alerts += drift.reasons

        specs = {spec.name: spec for spec in suite.metrics}
        infos = {m.name: m for m in run.manifest.metrics}
        thresholds = {}
        for metric in means.columns:
            info = infos.get(str(metric))
            kind = info.kind if info is not None else "continuous"
            threshold = pass_threshold(kind, specs.get(str(metric)), info)
            if threshold is not None:
                thresholds[str(metric)] = (threshold, info.higher_is_better if info else True)
        flaky, changed = classify_cases(frames, thresholds=thresholds)
        update["flaky"] = flaky
        update["changed"] = changed
        update["alerts"] = alerts
        update["warnings"] = [*record.warnings, *warnings]
        update["status"] = "alert" if alerts else "ok"
        night.record = record.model_copy(update=update)

    @staticmethod
    def _since_golden_change(
        records: Sequence[NightRecord], tonight: NightRecord, window: list[NightRecord]
    ) -> list[NightRecord]:
        # Only nights after the last successful night on another golden set count.
        other = [
            r.when
            for r in records
            if r.successful
            and r.night_id != tonight.night_id
            and r.golden_fingerprint != window[-1].golden_fingerprint
        ] if window else []  # fmt: skip
        if not other:
            return window
        last_other = max(other)
        return [r for r in window if r.when > last_other]

    def _means_of(self, record: NightRecord, warnings: list[str]) -> pd.DataFrame | None:
        assert record.run_id is not None
        try:
            return case_means(self.history.store.load_run(record.run_id))
        except (EvalkitError, OSError) as err:
            warnings.append(f"night {record.night_id}: run {record.run_id} not loadable: {err}")
            return None

    def _drift(
        self,
        window: Sequence[NightRecord],
        tonight: Mapping[str, NightMetric],
        frames: Sequence[tuple[str, pd.DataFrame]],
        baseline: Run | None,
    ) -> DriftBrief:
        options = self.options
        base_means = case_means(baseline) if baseline is not None else None
        series = []
        for name, metric in tonight.items():
            estimates = [
                _estimate(r, name) for r in window
            ] + [metric.mean if metric.mean is not None else math.nan]  # fmt: skip
            base_cases = recent = None
            if base_means is not None and name in base_means.columns:
                case_ids = base_means.index
                base_cases = base_means[name].to_numpy(dtype=np.float64)
                recent_frames = [f for _, f in frames][-options.pooled_nights :]
                recent = np.vstack(
                    [
                        f[name].reindex(case_ids).to_numpy(dtype=np.float64)
                        if name in f.columns
                        else np.full(len(case_ids), np.nan)
                        for f in recent_frames
                    ]
                )
            series.append(
                drift_mod.MetricSeries(
                    metric=name,
                    higher_is_better=metric.higher_is_better,
                    estimates=estimates,
                    baseline_cases=base_cases,
                    recent_cases=recent,
                )
            )
        result = drift_mod.detect_drift(
            series,
            alpha=options.drift_alpha,
            window=options.drift_window,
            pooled_nights=options.pooled_nights,
        )
        return drift_brief(result)

    def _finish(self, night: _Night) -> NightOutcome:
        record = night.record
        folder = self.report_dir / "nights" / record.night_id
        report_html = None
        warnings = list(record.warnings)
        if self.options.render_reports and night.run is not None:
            try:
                report_html = self._regression_report(night, folder / "regression")
            except Exception as err:  # keep the night's verdict even if a report breaks
                warnings.append(f"regression report not written: {type(err).__name__}: {err}")
        relative = report_html.relative_to(self.report_dir).as_posix() if report_html else None
        record = record.model_copy(
            update={
                "finished_at": self.now().astimezone(UTC).isoformat(),
                "report": relative,
                "summary": f"nights/{record.night_id}/summary.md",
                "warnings": warnings,
            }
        )
        self.history.write(record)
        summary = night_summary(record)
        json_path, md_path = folder / "summary.json", folder / "summary.md"
        atomic_write_text(json_path, json.dumps(summary, indent=2, ensure_ascii=False) + "\n")
        atomic_write_text(md_path, summary_markdown(job_summary([record], exit_status([record]))))
        return NightOutcome(record, md_path, json_path, report_html)

    def _regression_report(self, night: _Night, output: Path) -> Path:
        from evalkit.report import render_report

        assert night.run is not None
        golden = None
        if self.project is not None:
            from evalkit.data._golden import load_golden_set

            path = self.project.path(night.run.manifest.golden_path)
            if path.is_file():
                loaded = load_golden_set(path)
                if loaded.fingerprint == night.run.manifest.golden_fingerprint:
                    golden = loaded
        paths = render_report(
            night.run,
            baseline=night.baseline,
            comparison=night.vs_baseline,
            golden=golden,
            output=output / "report.html",
        )
        return paths.html


class _NightFailed(Exception):
    """The night could not produce a usable result; the message is the reason."""


def _estimate(record: NightRecord, metric: str) -> float:
    for item in record.metrics:
        if item.name == metric and item.mean is not None:
            return item.mean
    return math.nan


def drift_brief(result: drift_mod.DriftResult) -> DriftBrief:
    """Returns the history's compact form of a drift result."""
    rows = []
    for m in result.metrics:
        rows.append(
            DriftRow(
                metric=m.metric,
                n_nights=m.trend.n_nights if m.trend else 0,
                slope=m.trend.slope if m.trend else None,
                slope_se=m.trend.slope_se if m.trend else None,
                trend_p=m.trend.p_value if m.trend else None,
                trend_q=finite_or_none(m.trend_q),
                pooled_nights=m.pooled.n_nights if m.pooled else 0,
                pooled_delta=m.pooled.delta if m.pooled else None,
                pooled_p=m.pooled.p_value if m.pooled else None,
                pooled_q=finite_or_none(m.pooled_q),
                alarm=m.alarm,
            )
        )
    return DriftBrief(
        alarm=result.alarm,
        alpha=result.alpha,
        window=result.window,
        reasons=result.reasons(),
        rows=rows,
    )


# ---------------------------------------------------------------- status and summaries


def exit_status(records: Sequence[NightRecord]) -> int:
    """Returns 3 if any night failed, else 1 if any raised an alert, else 0."""
    if any(r.status in ("failed", "running") for r in records):
        return EXIT_FAILED
    if any(r.status == "alert" for r in records):
        return EXIT_ALERT
    return EXIT_OK


def night_summary(record: NightRecord) -> dict[str, Any]:
    """Returns one night as alert-ready JSON data (see docs/nightly.md)."""
    data = record.model_dump(mode="json")
    data["headline"] = record.headline()
    return data


def job_summary(
    records: Sequence[NightRecord], status: int, *, trend: str | None = None
) -> dict[str, Any]:
    """Returns the summary of one nightly job (all its suites) as JSON-ready data."""
    word = {EXIT_OK: "ok", EXIT_ALERT: "alert", EXIT_FAILED: "failed"}[status]
    return {
        "schema_version": 1,
        "status": word,
        "exit_status": status,
        "headline": f"evalkit nightly: {word}: " + "; ".join(r.headline() for r in records),
        "trend_report": trend,
        "nights": [night_summary(r) for r in records],
    }


def _md(text: Any, limit: int = 300) -> str:
    from evalkit.report._summary import md_escape

    return md_escape(text, limit)


def _mde(value: float | None) -> str:
    from evalkit.comparison._model import mde_text

    return mde_text(value)


def summary_markdown(summary: Mapping[str, Any]) -> str:
    """Returns the job summary as Markdown (for $GITHUB_STEP_SUMMARY or a chat webhook)."""
    icon = {"ok": "✅", "alert": "🚨", "failed": "⛔"}.get(str(summary["status"]), "")
    lines = [f"## {icon} evalkit nightly: {summary['status']}", ""]
    if summary.get("trend_report"):
        lines += [f"[Trend report]({summary['trend_report']})", ""]
    for night in summary["nights"]:
        lines.append(f"### {_md(night['suite'])}: {night['status']}")
        lines.append("")
        lines.append(f"night `{_md(night['night_id'])}` at {_md(night['night_at'])}")
        if night.get("run_id"):
            lines.append(f"run `{_md(night['run_id'])}`")
        if night.get("report"):
            lines.append(f"[regression report]({night['report']})")
        lines.append("")
        if night["status"] == "failed":
            lines += [f"**Could not run:** {_md(night.get('reason'))}", ""]
        for alert in night.get("alerts", []):
            lines.append(f"- 🚨 {_md(alert)}")
        for warning in night.get("warnings", []):
            lines.append(f"- ⚠️ {_md(warning)}")
        if night.get("alerts") or night.get("warnings"):
            lines.append("")
        if night.get("metrics"):
            lines.append(
                "| metric | tonight [95% CI] | vs baseline (MDE, at observed noise) | "
                "vs previous | drift q |"
            )
            lines.append("| --- | --- | --- | --- | --- |")
            base = {r["metric"]: r for r in (night.get("vs_baseline") or {}).get("rows", [])}
            prev = {r["metric"]: r for r in (night.get("vs_previous") or {}).get("rows", [])}
            drift = {r["metric"]: r for r in (night.get("drift") or {}).get("rows", [])}
            for metric in night["metrics"]:
                name = metric["name"]
                tonight = f"{page_number(metric['mean'])} [{page_number(metric['ci_low'])}, " \
                          f"{page_number(metric['ci_high'])}]"  # fmt: skip
                cells = []
                for row in (base.get(name), prev.get(name)):
                    cells.append(
                        f"{page_number(row['delta'], signed=True)} {row['verdict']}"
                        if row
                        else PAGE_MISSING
                    )
                if base.get(name):
                    row = base[name]
                    cells[0] += f" (MDE {_mde(row.get('mde'))}, {_mde(row.get('mde_observed'))})"
                d = drift.get(name) or {}
                qs = [q for q in (d.get("trend_q"), d.get("pooled_q")) if q is not None]
                q_text = f"{min(qs):.3g}" if qs else PAGE_MISSING
                if d.get("alarm"):
                    q_text += " 🚨"
                lines.append(f"| {_md(name)} | {tonight} | {cells[0]} | {cells[1]} | {q_text} |")
            lines.append("")
        for title, key in (("Changed and stayed changed", "changed"), ("Flaky", "flaky")):
            items = night.get(key) or []
            if not items:
                continue
            lines.append(f"**{title}** ({len(items)}):")
            for item in items[:10]:
                state = "now failing" if item["now_failing"] else "now passing"
                lines.append(
                    f"- `{_md(item['case_id'], 80)}` {_md(item['metric'])}: "
                    f"`{item['pattern']}` ({state})"
                )
            if len(items) > 10:
                lines.append(f"- … and {len(items) - 10} more")
            lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def run_nightly(
    project: ProjectConfig | None,
    suites: Sequence[str],
    *,
    store: str,
    report_dir: Path,
    now: Clock | None = None,
    options: NightlyOptions | None = None,
    config_error: str | None = None,
) -> NightlyResult:
    """Returns the result of tonight's nightly job over ``suites`` (module docstring).

    Args:
        project: the project config, or None when it could not be read (then every
            suite's night is recorded as failed with ``config_error``).
        suites: suite names to run, in order.
        store: the run store root (a folder or an fsspec URL); the history lives in it.
        report_dir: where the nights' reports, the summaries and trend.html go.
        now: the clock (tests pass a fake one to simulate a month of nights).
        options: drift settings and whether to render reports.
        config_error: why the config could not be read.
    """
    job = NightlyJob(project, store=store, report_dir=report_dir, now=now, options=options)
    return job.run(suites, config_error=config_error)
