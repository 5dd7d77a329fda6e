"""What the trend report shows, computed from the history's night records."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from evalkit.report._trend_plots import Marker, SeriesChart, SeriesPoint, series_chart
from evalkit.store._history import NightRecord

_SAFE_LINK = re.compile(r"^(?!/)(?!.*\.\.)[A-Za-z0-9_./-]+$")


def safe_link(path: str | None) -> str | None:
    """Returns ``path`` when it is a plain relative path (no scheme, no ``..``), else None."""
    return path if path and _SAFE_LINK.match(path) else None


@dataclass(frozen=True)
class MetricChart:
    """One metric over the nights, with its latest value."""

    name: str
    higher_is_better: bool
    chart: SeriesChart
    latest: str
    drift_alarm: bool


@dataclass(frozen=True)
class SuiteTrend:
    """One suite's section of the trend report."""

    name: str
    anchor: str
    n_nights: int
    n_failed: int
    n_alert: int
    latest_status: str
    latest_headline: str
    markers: tuple[Marker, ...]
    metrics: tuple[MetricChart, ...]
    cost: SeriesChart
    tokens: SeriesChart
    latency: SeriesChart


@dataclass(frozen=True)
class TrendModel:
    """Everything the trend page renders: per-suite sections and the JSON payload."""

    suites: tuple[SuiteTrend, ...]
    n_nights: int
    payload: dict[str, Any]


def _day(record: NightRecord) -> str:
    return record.when.strftime("%m-%d")


def _markers(records: Sequence[NightRecord]) -> list[Marker]:
    markers = []
    last_golden = last_baseline = None
    for index, record in enumerate(records):
        if not record.successful:
            continue
        if last_golden is not None and record.golden_fingerprint != last_golden:
            change = f"golden set changed: {last_golden} -> {record.golden_fingerprint}"
            markers.append(Marker(index, "golden", change))
        if last_baseline is not None and record.baseline_digest != last_baseline:
            markers.append(
                Marker(index, "baseline", f"baseline updated: now run {record.baseline_run_id}")
            )
        last_golden = record.golden_fingerprint
        last_baseline = record.baseline_digest
    return markers


def _title(record: NightRecord, text: str) -> str:
    status = record.status.upper()
    extra = f" · {record.reason}" if record.reason else ""
    return f"{record.night_at[:16]} · {status}{extra} · {text}"


def _metric_points(records: Sequence[NightRecord], metric: str) -> list[SeriesPoint]:
    points = []
    for record in records:
        found = next((m for m in record.metrics if m.name == metric), None)
        value = found.mean if found else None
        text = "no value"
        if found and found.mean is not None:
            text = f"{metric} {found.mean:.3f}"
            if found.ci_low is not None and found.ci_high is not None:
                text += f" [{found.ci_low:.3f}, {found.ci_high:.3f}] n={found.n}"
        points.append(
            SeriesPoint(
                label=_day(record),
                value=value,
                low=found.ci_low if found else None,
                high=found.ci_high if found else None,
                title=_title(record, text),
                href=safe_link(record.report),
                status=record.status,
            )
        )
    return points


def _totals_points(records: Sequence[NightRecord], what: str) -> list[SeriesPoint]:
    points = []
    for record in records:
        totals = record.totals
        value: float | None
        second: float | None = None
        if not record.successful:
            value, text = None, "no run"
        elif what == "cost":
            value, text = totals.cost_usd, f"cost ${totals.cost_usd:.4f}"
        elif what == "tokens":
            value = float(totals.prompt_tokens + totals.completion_tokens)
            text = f"tokens {int(value)} ({totals.prompt_tokens} in, "
            text += f"{totals.completion_tokens} out)"
        else:
            value, second = totals.latency_p50_s, totals.latency_p95_s
            text = f"latency p50 {value or 0:.3f}s, p95 {second or 0:.3f}s"
        points.append(
            SeriesPoint(
                label=_day(record),
                value=value,
                title=_title(record, text),
                href=safe_link(record.report),
                status=record.status,
                second=second,
            )
        )
    return points


def _suite(name: str, records: Sequence[NightRecord], index: int) -> SuiteTrend:
    markers = _markers(records)
    latest = records[-1]
    metric_names: dict[str, bool] = {}
    for record in records:
        for item in record.metrics:
            metric_names.setdefault(item.name, item.higher_is_better)
    alarms = {r.metric for r in (latest.drift.rows if latest.drift else []) if r.alarm}
    charts = []
    for metric, higher in metric_names.items():
        points = _metric_points(records, metric)
        found = next((m for m in latest.metrics if m.name == metric), None)
        latest_text = f"{found.mean:.3f}" if found and found.mean is not None else "–"
        charts.append(
            MetricChart(
                name=metric,
                higher_is_better=higher,
                chart=series_chart(points, markers),
                latest=latest_text,
                drift_alarm=metric in alarms,
            )
        )
    return SuiteTrend(
        name=name,
        anchor=f"suite-{index}",
        n_nights=len(records),
        n_failed=sum(r.status == "failed" for r in records),
        n_alert=sum(r.status == "alert" for r in records),
        latest_status=latest.status,
        latest_headline=latest.headline(),
        markers=tuple(markers),
        metrics=tuple(charts),
        cost=series_chart(_totals_points(records, "cost"), markers, height=160, low=0.0),
        tokens=series_chart(_totals_points(records, "tokens"), markers, height=160, low=0.0),
        latency=series_chart(_totals_points(records, "latency"), markers, height=160, low=0.0),
    )


def _night_payload(record: NightRecord) -> dict[str, Any]:
    totals = record.totals
    return {
        "id": record.night_id,
        "at": record.night_at,
        "status": record.status,
        "reason": record.reason,
        "alerts": record.alerts,
        "warnings": record.warnings,
        "run_id": record.run_id,
        "report": safe_link(record.report),
        "metrics": {m.name: m.mean for m in record.metrics},
        "cost_usd": totals.cost_usd,
        "tokens": totals.prompt_tokens + totals.completion_tokens,
        "latency_p50_s": totals.latency_p50_s,
        "latency_p95_s": totals.latency_p95_s,
        "errors": totals.errors,
    }


def build_trend(records: Sequence[NightRecord], *, last: int | None = None) -> TrendModel:
    """Returns the trend model of ``records`` (all suites; the last ``last`` nights each)."""
    by_suite: dict[str, list[NightRecord]] = {}
    for record in sorted(records, key=lambda r: (r.when, r.night_id)):
        by_suite.setdefault(record.suite, []).append(record)
    suites = []
    payload_suites = []
    for index, (name, suite_records) in enumerate(sorted(by_suite.items())):
        shown = suite_records[-last:] if last else suite_records
        suites.append(_suite(name, shown, index))
        latest = shown[-1]
        payload_suites.append(
            {
                "name": name,
                "anchor": f"suite-{index}",
                "metrics": [m.name for m in suites[-1].metrics],
                "nights": [_night_payload(r) for r in reversed(shown)],
                "flaky": [c.model_dump(mode="json") for c in latest.flaky],
                "changed": [c.model_dump(mode="json") for c in latest.changed],
            }
        )
    return TrendModel(
        suites=tuple(suites),
        n_nights=sum(len(v) for v in by_suite.values()),
        payload={"schema_version": 1, "suites": payload_suites},
    )
