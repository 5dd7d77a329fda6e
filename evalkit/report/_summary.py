"""summary.json and summary.md: the report's verdict in a form CI and pull requests show.

The Markdown fits a pull-request comment or ``$GITHUB_STEP_SUMMARY``: the verdict line,
the metric table, the cases that got worst, and a link to the full report. Every value
that came from a dataset or model (case ids, tags, metric names, reasons) is escaped, so
it renders as text.
"""

from __future__ import annotations

from typing import Any

from evalkit.comparison._model import Comparison, interval_text, mde_text
from evalkit.report._data import ReportModel, num
from evalkit.util._format import page_number, page_p_value, page_percent

SCHEMA_VERSION = 1
_MD_SPECIAL = "\\`*_[]|~"
_ICONS = {"pass": "✅", "fail": "❌", "error": "⚠️", "single": "📋"}
MAX_MD_SLICES = 15


def md_escape(text: Any, limit: int = 160) -> str:
    """Returns ``text`` as inert Markdown: one line, special characters escaped, HTML as text."""
    value = " ".join(str(text).split())
    if len(value) > limit:
        value = value[: limit - 1] + "…"
    value = value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return "".join("\\" + c if c in _MD_SPECIAL else c for c in value)


def md_code(text: Any, limit: int = 80) -> str:
    """Returns ``text`` as a Markdown code span (literal inside a table cell)."""
    value = " ".join(str(text).split())
    if len(value) > limit:
        value = value[: limit - 1] + "…"
    return "`" + value.replace("`", "'").replace("|", "\\|") + "`"


def summary_dict(
    model: ReportModel, comparison: Comparison | None, *, report: str
) -> dict[str, Any]:
    """Returns the JSON summary: verdict, gate, metric rows, top regressed cases, costs."""
    verdict = {"pass": "pass", "fail": "fail", "error": "error"}.get(
        model.banner.status, "single-run"
    )
    data: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "suite": model.suite,
        "candidate_id": model.candidate_id,
        "baseline_id": model.baseline_id,
        "verdict": verdict,
        "headline": model.banner.headline,
        "reasons": list(model.banner.reasons),
        "advisory": list(model.banner.advisory),
        "warnings": list(model.banner.warnings),
        "report": report,
        "cases": dict(model.counts),
    }
    if comparison is not None:
        gate = comparison.gate
        data["gate"] = {
            "passed": gate.passed,
            "policy": gate.policy,
            "alpha": gate.alpha,
            "error": gate.error,
        }
        data["metrics"] = [_metric_row(row) for row in comparison.overall()]
        data["slices"] = [
            _metric_row(row)
            for row in comparison.metrics
            if row.slice is not None and row.verdict != "no-change"
        ]
    else:
        data["gate"] = None
        data["metrics"] = [
            {
                "metric": row.metric,
                "kind": row.kind,
                "n": row.n,
                "n_unscored": row.n_unscored,
                "mean": num(row.mean),
                "ci_low": num(row.ci_low),
                "ci_high": num(row.ci_high),
                "threshold": row.threshold,
                "pass_rate": num(row.pass_rate),
            }
            for row in model.single_rows
        ]
        data["slices"] = []
    data["top_regressed"] = [
        {
            "case_id": case.case_id,
            "metric": case.metric,
            "baseline": num(case.baseline),
            "candidate": num(case.candidate),
            "delta": num(case.delta),
            "flipped": case.flipped,
            "critical": case.critical,
        }
        for case in model.top_regressed
    ]
    data["costs"] = {
        row.label: {"baseline": row.baseline or None, "candidate": row.candidate}
        for row in model.costs
    }
    return data


def _metric_row(row: Any) -> dict[str, Any]:
    return {
        "metric": row.metric,
        "slice": row.slice,
        "kind": row.kind,
        "n_paired": row.n_paired,
        "baseline": num(row.baseline_mean),
        "candidate": num(row.candidate_mean),
        "delta": num(row.delta),
        "ci_low": num(row.ci_low),
        "ci_high": num(row.ci_high),
        "p_value": num(row.p_value, 6),
        "q_value": num(row.q_value, 6),
        "mde": num(row.mde),
        "mde_observed": num(row.mde_observed),
        "verdict": row.verdict,
        "gating": row.gating,
        "judge_status": row.judge_status,
    }


def summary_markdown(summary: dict[str, Any]) -> str:
    """Returns the Markdown summary (for a PR comment or ``$GITHUB_STEP_SUMMARY``)."""
    verdict = summary["verdict"]
    icon = _ICONS.get(verdict if verdict != "single-run" else "single", "")
    suite = md_escape(summary["suite"])
    lines = [f"### {icon} evalkit · {suite}: {md_escape(summary['headline'])}", ""]
    cases = summary["cases"]
    if summary["baseline_id"]:
        gate = summary["gate"] or {}
        lines.append(
            f"Candidate {md_code(summary['candidate_id'])} vs baseline "
            f"{md_code(summary['baseline_id'])} · {cases.get('cases', 0):,} cases · "
            f"gate: {md_escape(gate.get('policy', ''))}, alpha {gate.get('alpha', '')}"
        )
    else:
        lines.append(f"Run {md_code(summary['candidate_id'])} · {cases.get('cases', 0):,} cases")
    lines.append("")
    if summary["reasons"]:
        lines.append("**Why it failed**")
        lines.extend(f"- {md_escape(reason, 300)}" for reason in summary["reasons"])
        lines.append("")
    if summary["baseline_id"]:
        lines.append(
            "| metric | baseline | candidate | Δ | CI | p | q | MDE (at observed noise) | verdict |"
        )
        lines.append("| --- | ---: | ---: | ---: | --- | ---: | ---: | ---: | --- |")
        for row in summary["metrics"]:
            name = md_escape(row["metric"]) + ("" if row["gating"] else " (advisory)")
            verdict_text = row["verdict"]
            if verdict_text == "regression":
                verdict_text = "**regression**"
            lines.append(
                f"| {name} | {page_number(row['baseline'])} | {page_number(row['candidate'])} | "
                f"{page_number(row['delta'], signed=True)} | "
                f"{interval_text(row['ci_low'], row['ci_high'])} | "
                f"{page_p_value(row['p_value'])} | {page_p_value(row['q_value'])} | "
                f"{mde_text(row['mde'])} ({mde_text(row['mde_observed'])}) | {verdict_text} |"
            )
        slices = [
            row for row in summary["slices"] if row["verdict"] in ("regression", "improvement")
        ][:MAX_MD_SLICES]
        if slices:
            lines.append("")
            lines.append("Slices that changed:")
            lines.extend(
                f"- {md_escape(row['metric'])} on {md_code(row['slice'])}: "
                f"{page_number(row['baseline'])} → {page_number(row['candidate'])} "
                f"({page_number(row['delta'], signed=True)}, "
                f"q={page_p_value(row['q_value'])}): {row['verdict']}"
                for row in slices
            )
    else:
        lines.append("| metric | n | mean | 95% CI | pass rate |")
        lines.append("| --- | ---: | ---: | --- | ---: |")
        for row in summary["metrics"]:
            rate = page_percent(row["pass_rate"])
            lines.append(
                f"| {md_escape(row['metric'])} | {row['n']:,} | {page_number(row['mean'])} | "
                f"[{page_number(row['ci_low'])}, {page_number(row['ci_high'])}] | {rate} |"
            )
    top = summary["top_regressed"]
    if top:
        lines.extend(["", f"<details><summary>Top {len(top)} regressed cases</summary>", ""])
        lines.append("| case | metric | baseline | candidate | Δ | |")
        lines.append("| --- | --- | ---: | ---: | ---: | --- |")
        for case in top:
            marks = []
            if case["critical"]:
                marks.append("critical")
            if case["flipped"]:
                marks.append(case["flipped"])
            lines.append(
                f"| {md_code(case['case_id'])} | {md_escape(case['metric'])} | "
                f"{page_number(case['baseline'])} | {page_number(case['candidate'])} | "
                f"{page_number(case['delta'], signed=True)} | {', '.join(marks)} |"
            )
        lines.extend(["", "</details>"])
    for title, key in (("Advisory (not gating)", "advisory"), ("Warnings", "warnings")):
        if summary[key]:
            lines.extend(["", f"**{title}**"])
            lines.extend(f"- {md_escape(item, 300)}" for item in summary[key])
    lines.extend(["", f"[Full report]({_link(summary['report'])})", ""])
    return "\n".join(lines)


def _link(target: str) -> str:
    """Returns ``target`` safe inside a Markdown link's parentheses."""
    return "".join(c if c not in " ()<>\n" else f"%{ord(c):02X}" for c in target)
