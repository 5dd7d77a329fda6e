"""Baselines: a pinned run committed next to its golden set as a diff-friendly text file.

The file is JSONL. Line 1 is a header with the run's manifest; then one line per case,
sorted by case id, keys in a fixed order, floats rounded to 6 significant digits::

    {"evalkit_baseline": 1, "manifest": {"run_id": "...", "suite": "qa", ...}}
    {"case_id": "capital-fr", "group": "g1", "tags": ["geo"], "scores": {"exact": [1.0]}}
    {"case_id": "capital-xx", "scores": {"exact": [null]}, "errors": {"exact": {"0": "timeout"}}}

``scores`` maps each metric to its values by sample index (null: unscored, with the
reason under ``errors``). ``outputs`` holds the answer text by sample (null when the call
failed, with the reason under ``output_errors``). Latency, tokens and cost per call are
not kept (the manifest keeps the totals), so a re-pinned baseline only changes the lines
of cases whose scores or answers changed.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from pydantic import ValidationError

from evalkit.data._records import SCORE_COLUMNS, Output, Run, RunManifest, outputs_frame
from evalkit.errors import InvalidInputError, NotFoundError, Problem
from evalkit.util._atomic import atomic_write_text

if TYPE_CHECKING:
    from evalkit.config._suite import SuiteConfig

FORMAT_VERSION = 1
HEADER_KEY = "evalkit_baseline"
SIGNIFICANT_DIGITS = 6


def _round(value: float) -> float:
    """Returns ``value`` rounded to SIGNIFICANT_DIGITS significant digits."""
    return float(f"{value:.{SIGNIFICANT_DIGITS}g}")


def _by_sample(pairs: list[tuple[int, Any]]) -> list[Any]:
    """Returns values placed at their sample index (gaps are None)."""
    out: list[Any] = [None] * (max(s for s, _ in pairs) + 1)
    for sample, value in pairs:
        out[sample] = value
    return out


def _case_lines(run: Run) -> list[str]:
    scores = run.scores.sort_values(["case_id", "metric", "sample"], kind="mergesort")
    per_case: dict[str, dict[str, Any]] = {}
    for case_id, metric, sample, value, error in zip(
        scores["case_id"].astype(str),
        scores["metric"].astype(str),
        scores["sample"].astype(int),
        scores["value"].to_numpy(dtype=np.float64),
        scores["error"],
        strict=True,
    ):
        entry = per_case.setdefault(case_id, {"scores": {}, "errors": {}})
        scored = not math.isnan(value)
        entry["scores"].setdefault(metric, []).append((sample, _round(value) if scored else None))
        if not scored:
            entry["errors"].setdefault(metric, {})[str(sample)] = str(error or "unscored")
    for case_id, sample, text, error in zip(
        run.outputs["case_id"].astype(str),
        run.outputs["sample"].astype(int),
        run.outputs["text"],
        run.outputs["error"],
        strict=True,
    ):
        entry = per_case.setdefault(case_id, {"scores": {}, "errors": {}})
        entry.setdefault("outputs", []).append((sample, text if isinstance(text, str) else None))
        if isinstance(error, str) and error:
            entry.setdefault("output_errors", {})[str(sample)] = error

    lines = []
    for case_id in sorted(per_case):
        entry = per_case[case_id]
        line: dict[str, Any] = {"case_id": case_id}
        if run.groups.get(case_id) is not None:
            line["group"] = run.groups[case_id]
        if run.tags.get(case_id):
            line["tags"] = list(run.tags[case_id])
        line["scores"] = {m: _by_sample(v) for m, v in sorted(entry["scores"].items())}
        if entry["errors"]:
            line["errors"] = {m: entry["errors"][m] for m in sorted(entry["errors"])}
        if "outputs" in entry:
            line["outputs"] = _by_sample(sorted(entry["outputs"]))
        if entry.get("output_errors"):
            line["output_errors"] = entry["output_errors"]
        lines.append(json.dumps(line, ensure_ascii=False))
    return lines


def baseline_text(run: Run) -> str:
    """Returns the baseline file's text for ``run`` (header line, then one line per case)."""
    header = {HEADER_KEY: FORMAT_VERSION, "manifest": run.manifest.model_dump(mode="json")}
    return "\n".join([json.dumps(header, ensure_ascii=False), *_case_lines(run)]) + "\n"


def pin_refusals(run: Run, suite: SuiteConfig, golden_fingerprint: str | None) -> list[str]:
    """Returns why ``run`` must not replace ``suite``'s committed baseline (empty: pin it).

    A baseline is what every later run is judged against, so a run is refused when it
    has no cases, is one shard of a suite, was made from another version of the golden
    set (``golden_fingerprint`` is the current one; None: unknown, not checked), or has
    more cases without an answer, or unscored on a gating metric, than the suite's
    ``gate.max_unscored_share`` (the limit the gate itself applies).
    """
    from evalkit.data._scorefile import UNKNOWN_FINGERPRINT

    manifest = run.manifest
    output_cases = set(run.outputs["case_id"].astype(str)) if len(run.outputs) else set()
    score_cases = set(run.scores["case_id"].astype(str)) if len(run.scores) else set()
    if not output_cases | score_cases:
        return [f"run {manifest.run_id} has no cases"]
    reasons = []
    if manifest.shard:
        reasons.append(
            f"run {manifest.run_id} is shard {manifest.shard}, not the whole suite; "
            "`evalkit merge` the shard runs and pin the merged run"
        )
    known = golden_fingerprint is not None and manifest.golden_fingerprint != UNKNOWN_FINGERPRINT
    if known and manifest.golden_fingerprint != golden_fingerprint:
        reasons.append(
            f"run {manifest.run_id} was made from another version of the golden set "
            f"({manifest.golden_fingerprint}; {suite.golden} is now {golden_fingerprint}); "
            "run the suite again"
        )
    limit = suite.gate.max_unscored_share
    if output_cases:
        answered = run.outputs["text"].notna() & run.outputs["error"].isna()
        failed = output_cases - set(run.outputs.loc[answered, "case_id"].astype(str))
        if len(failed) / len(output_cases) > limit:
            reasons.append(
                f"{len(failed)} of {len(output_cases)} cases have no answer from the SUT "
                f"(more than max_unscored_share {limit:.0%})"
            )
    gating = {m.name for m in manifest.metrics if m.gate} if manifest.metrics else None
    if score_cases:
        case_means = run.scores.groupby(["metric", "case_id"], sort=True)["value"].mean()
        for metric, values in case_means.groupby(level=0, sort=True):
            if gating is not None and metric not in gating:
                continue
            unscored = int(values.isna().sum())
            if unscored / len(values) > limit:
                reasons.append(
                    f"{metric}: {unscored} of {len(values)} cases unscored (more than "
                    f"max_unscored_share {limit:.0%})"
                )
    return reasons


def write_baseline(run: Run, path: str | Path) -> Path:
    """Writes ``run`` as a baseline file at ``path`` atomically; returns the path."""
    target = Path(path)
    atomic_write_text(target, baseline_text(run))
    return target


def is_baseline_file(path: str | Path) -> bool:
    """Returns True when the file's first line is an evalkit baseline header."""
    file = Path(path)
    if not file.is_file():
        return False
    try:
        with file.open(encoding="utf-8") as handle:
            first = handle.readline()
        header = json.loads(first)
    except (UnicodeDecodeError, json.JSONDecodeError):
        return False
    return isinstance(header, dict) and HEADER_KEY in header


def _parse_header(line: str, name: str) -> RunManifest:
    try:
        header = json.loads(line)
    except json.JSONDecodeError as err:
        raise InvalidInputError([Problem(name, 1, f"not valid JSON: {err.msg}")]) from err
    if not isinstance(header, dict) or HEADER_KEY not in header:
        raise InvalidInputError(
            [Problem(name, 1, f'not an evalkit baseline: line 1 must be the "{HEADER_KEY}" header')]
        )
    if header[HEADER_KEY] != FORMAT_VERSION:
        raise InvalidInputError(
            [
                Problem(
                    name,
                    1,
                    f"baseline format {header[HEADER_KEY]!r} is not supported (this evalkit "
                    f"reads format {FORMAT_VERSION}); re-pin with `evalkit baseline update`",
                )
            ]
        )
    try:
        return RunManifest.model_validate(header.get("manifest"))
    except ValidationError as err:
        first = err.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise InvalidInputError(
            [Problem(name, 1, f"invalid manifest: {where}: {first['msg']}")]
        ) from err


def load_baseline(path: str | Path) -> Run:
    """Returns the Run stored in a baseline file; InvalidInputError names file:line."""
    file = Path(path)
    if not file.is_file():
        raise NotFoundError(
            f"{file}: no such baseline file; pin one with `evalkit baseline update`"
        )
    name = str(file)
    try:
        lines = file.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError as err:
        raise InvalidInputError(
            [Problem(name, None, f"not an evalkit baseline: not UTF-8 text (byte {err.start})")]
        ) from err
    if not lines:
        raise InvalidInputError([Problem(name, 1, "empty file: not an evalkit baseline")])
    manifest = _parse_header(lines[0], name)
    kinds = {m.name: m.kind for m in manifest.metrics}
    rows: dict[str, list[Any]] = {c: [] for c in SCORE_COLUMNS}
    outputs: list[Output] = []
    groups: dict[str, str] = {}
    tags: dict[str, list[str]] = {}
    problems: list[Problem] = []
    for number, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        try:
            case = json.loads(line)
            case_id = str(case["case_id"])
            for metric, values in case.get("scores", {}).items():
                errors = case.get("errors", {}).get(metric, {})
                for sample, value in enumerate(values):
                    if value is None and str(sample) not in errors:
                        continue  # a gap in the sample numbers
                    rows["case_id"].append(case_id)
                    rows["sample"].append(sample)
                    rows["metric"].append(metric)
                    rows["value"].append(None if value is None else float(value))
                    rows["kind"].append(kinds.get(metric, "continuous"))
                    rows["error"].append(errors.get(str(sample)) if value is None else None)
                    rows["rationale"].append(None)
                    rows["raw"].append(None)
                    rows["soft_score"].append(None)
            output_errors = case.get("output_errors", {})
            for sample, text in enumerate(case.get("outputs", [])):
                error = output_errors.get(str(sample))
                if text is not None or error is not None:
                    outputs.append(Output(case_id=case_id, sample=sample, text=text, error=error))
            if case.get("group") is not None:
                groups[case_id] = str(case["group"])
            if case.get("tags"):
                tags[case_id] = [str(t) for t in case["tags"]]
        except (json.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError) as err:
            problems.append(Problem(name, number, f"bad baseline case line: {err}"))
    if problems:
        raise InvalidInputError(problems)
    scores = pd.DataFrame(rows, columns=SCORE_COLUMNS)
    scores["value"] = scores["value"].astype("float64")
    return Run(
        manifest=manifest,
        outputs=outputs_frame(outputs),
        scores=scores,
        location=name,
        groups=groups,
        tags=tags,
    )
