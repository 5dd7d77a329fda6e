"""Label sheets: people label a random subset of a run's outputs for a judge metric.

``evalkit label RUN --n 50`` draws ``n`` scored outputs of one judge metric at random
(seeded) and writes a sheet folder:

* ``sheet.csv`` — one row per output (input, reference, output) with empty ``label``,
  ``rater`` and ``note`` columns, for a spreadsheet;
* ``sheet.html`` — the same items as an offline form (no network: a strict
  Content-Security-Policy, no external files) that keeps answers in the browser's
  local storage and exports them as CSV or JSON;
* ``sheet.json`` — what was drawn (run, metric, seed, scale, items).

The judge's verdicts are not shown, so they cannot anchor the people's labels.
``evalkit label --import FILE`` validates the answers (file:line errors) and stores them
with the run as ``human_labels.jsonl``; :func:`ppi_for_metric` then gives the run's
prediction-powered mean (:func:`evalkit.judging._calibration.ppi_mean`).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict

from evalkit.data._jsonl import checked_utf8
from evalkit.data._records import MetricInfo, Run
from evalkit.errors import (
    InvalidInputError,
    LabelImportError,
    NotFoundError,
    Problem,
    UserInputError,
)
from evalkit.judging._calibration import PPIMean, ppi_mean
from evalkit.judging._labelled_sets import LabelValue, Scale

HUMAN_LABELS = "human_labels.jsonl"
SHEET_FORMAT = "evalkit-label-sheet/1"
ANSWERS_FORMAT = "evalkit-labels/1"
CSV_COLUMNS = [
    "item",
    "run_id",
    "metric",
    "case_id",
    "sample",
    "input",
    "expected",
    "output",
    "label",
    "rater",
    "note",
]


@dataclass(frozen=True)
class SheetItem:
    """One output to label: where it comes from and what the person sees."""

    item: int
    case_id: str
    sample: int
    input: str
    expected: str
    output: str


@dataclass(frozen=True)
class Sheet:
    """A drawn labelling sheet: the run, the metric, its scale and the items."""

    run_id: str
    metric: str
    scale: Scale
    labels: list[LabelValue]
    seed: int
    n_population: int
    items: list[SheetItem]


class HumanLabel(BaseModel):
    """One person's label of one run output, as stored in ``human_labels.jsonl``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    case_id: str
    sample: int
    metric: str
    rater: str
    label: LabelValue
    value: float
    note: str = ""
    imported_at: str = ""


# ---------------------------------------------------------------- scale of a metric


def metric_scale(info: MetricInfo) -> tuple[Scale, list[LabelValue]]:
    """Returns the scale people label ``info`` on, and its labels in order.

    Binary metrics take pass/fail, ordinal ones the integers LOW..HIGH, and a pairwise
    judge metric (continuous, the output's preference over the reference) a/tie/b where
    "a" is the run's output and "b" the reference answer.
    """
    if info.kind == "binary":
        return "binary", ["pass", "fail"]
    if info.kind == "ordinal" and info.low is not None and info.high is not None:
        return "ordinal", list(range(int(info.low), int(info.high) + 1))
    if info.kind == "continuous" and info.judge_fingerprint:
        return "pairwise", ["a", "tie", "b"]
    raise UserInputError(
        f"metric {info.name!r} is {info.kind}; people label pass/fail, 1..N or pairwise "
        "judge metrics"
    )


def label_value(label: LabelValue, scale: Scale) -> float:
    """Returns a label on the metric's own scale (pass=1, fail=0; a=1, tie=0.5, b=0)."""
    if scale == "binary":
        return 1.0 if label == "pass" else 0.0
    if scale == "pairwise":
        return {"a": 1.0, "tie": 0.5, "b": 0.0}[str(label)]
    return float(label)


def _metric_info(run: Run, metric: str | None) -> MetricInfo:
    infos = {info.name: info for info in run.manifest.metrics}
    if metric is None:
        judged = [info for info in run.manifest.metrics if info.judge_fingerprint]
        if len(judged) != 1:
            names = ", ".join(info.name for info in judged) or "none"
            raise UserInputError(
                f"run {run.manifest.run_id} has judge metrics: {names}; choose one with --metric"
            )
        return judged[0]
    if metric not in infos:
        raise NotFoundError(
            f"run {run.manifest.run_id} has no metric {metric!r}; it has {', '.join(infos)}"
        )
    return infos[metric]


# ---------------------------------------------------------------- drawing a sheet


def _expected_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return " OR ".join(value)
    return json.dumps(value, ensure_ascii=False)


def draw_sheet(
    run: Run,
    *,
    n: int,
    metric: str | None = None,
    seed: int = 0,
    golden_path: str | Path | None = None,
) -> Sheet:
    """Returns a sheet of ``n`` of the run's scored outputs for ``metric``, drawn at random.

    Every scored output of the metric has the same chance (a simple random sample without
    replacement, seeded), which is what prediction-powered inference assumes.

    Args:
        run: the stored run.
        n: how many outputs to draw (all of them if the run has fewer).
        metric: the judge metric (default: the run's only judge metric).
        seed: the draw's seed (the same seed draws the same outputs).
        golden_path: the run's golden set, to show inputs and references (default: the
            prompt the SUT saw, and no reference).
    """
    if n < 1:
        raise UserInputError("--n must be at least 1")
    info = _metric_info(run, metric)
    scale, labels = metric_scale(info)
    scores = run.scores
    scored = scores[(scores["metric"] == info.name) & scores["value"].notna()]
    if scored.empty:
        raise UserInputError(f"run {run.manifest.run_id} has no scored outputs for {info.name!r}")
    keys = sorted(zip(scored["case_id"].astype(str), scored["sample"].astype(int), strict=True))
    rng = np.random.default_rng(seed)
    chosen = sorted(rng.choice(len(keys), size=min(n, len(keys)), replace=False).tolist())
    frame = run.outputs
    outputs = {
        (str(case_id), int(sample)): (text, prompt)
        for case_id, sample, text, prompt in zip(
            frame["case_id"].tolist(),
            frame["sample"].tolist(),
            frame["text"].tolist(),
            frame["prompt"].tolist(),
            strict=True,
        )
    }
    cases: dict[str, Any] = {}
    if golden_path is not None and Path(golden_path).exists():
        from evalkit.data._golden import load_golden_set

        cases = load_golden_set(golden_path).by_id()
    items = []
    for number, index in enumerate(chosen, start=1):
        case_id, sample = keys[index]
        text, prompt = outputs.get((case_id, sample), (None, None))
        case = cases.get(case_id)
        if case is not None:
            from evalkit.scorers._base import input_text

            shown_input = input_text(case, prompt if isinstance(prompt, str) else None)
            expected = _expected_text(case.expected)
        else:
            shown_input = prompt if isinstance(prompt, str) else ""
            expected = ""
        items.append(
            SheetItem(
                item=number,
                case_id=case_id,
                sample=sample,
                input=shown_input,
                expected=expected,
                output=text if isinstance(text, str) else "",
            )
        )
    return Sheet(
        run_id=run.manifest.run_id,
        metric=info.name,
        scale=scale,
        labels=labels,
        seed=seed,
        n_population=len(keys),
        items=items,
    )


def sheet_csv(sheet: Sheet) -> str:
    """Returns the sheet as CSV text (empty label, rater and note columns)."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for item in sheet.items:
        writer.writerow(
            {
                **asdict(item),
                "run_id": sheet.run_id,
                "metric": sheet.metric,
                "label": "",
                "rater": "",
                "note": "",
            }
        )
    return buffer.getvalue()


def sheet_html(sheet: Sheet) -> str:
    """Returns the sheet as a self-contained offline HTML form (all text escaped).

    The page is ``evalkit/report/templates/labelling_sheet.html.j2``, rendered with the
    reports' Jinja environment (autoescape on).
    """
    from evalkit.report._base import environment

    template = environment().get_template("labelling_sheet.html.j2")
    return template.render(sheet=sheet, answers_format=ANSWERS_FORMAT)


def write_sheet(sheet: Sheet, folder: str | Path) -> list[Path]:
    """Writes sheet.csv, sheet.html and sheet.json into ``folder``; returns their paths."""
    from evalkit.util._atomic import atomic_write_text

    target = Path(folder)
    manifest = {
        "format": SHEET_FORMAT,
        "run_id": sheet.run_id,
        "metric": sheet.metric,
        "scale": sheet.scale,
        "labels": sheet.labels,
        "seed": sheet.seed,
        "n_population": sheet.n_population,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "items": [asdict(item) for item in sheet.items],
    }
    files = {
        "sheet.csv": sheet_csv(sheet),
        "sheet.html": sheet_html(sheet),
        "sheet.json": json.dumps(manifest, indent=1, ensure_ascii=False) + "\n",
    }
    paths = []
    for name, text in files.items():
        path = target / name
        atomic_write_text(path, text)
        paths.append(path)
    return paths


# ---------------------------------------------------------------- reading answers back


@dataclass(frozen=True)
class Answer:
    """One answer read from an answers file, with the line it came from."""

    line: int | None
    run_id: str | None
    metric: str | None
    case_id: str
    sample: int
    label: str
    rater: str
    note: str


def _csv_answers(text: str, path: str) -> tuple[list[Answer], list[Problem]]:
    reader = csv.DictReader(io.StringIO(text))
    columns = set(reader.fieldnames or [])
    missing = {"case_id", "label"} - columns
    if missing:
        return [], [
            Problem(
                path,
                1,
                f"the header lacks {', '.join(sorted(missing))}; use the sheet.csv that "
                "`evalkit label` wrote (or the form's CSV export)",
            )
        ]
    answers, problems = [], []
    for row in reader:
        line = reader.line_num
        sample_text = (row.get("sample") or "0").strip() or "0"
        try:
            sample = int(sample_text)
        except ValueError:
            problems.append(Problem(path, line, f"sample must be an integer, got {sample_text!r}"))
            continue
        answers.append(
            Answer(
                line=line,
                run_id=(row.get("run_id") or "").strip() or None,
                metric=(row.get("metric") or "").strip() or None,
                case_id=(row.get("case_id") or "").strip(),
                sample=sample,
                label=(row.get("label") or "").strip(),
                rater=(row.get("rater") or "").strip(),
                note=(row.get("note") or "").strip(),
            )
        )
    return answers, problems


def _json_answers(text: str, path: str) -> tuple[list[Answer], list[Problem]]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        return [], [Problem(path, err.lineno, f"not valid JSON ({err.msg})")]
    if not isinstance(data, dict) or not isinstance(data.get("answers"), list):
        return [], [Problem(path, None, 'expected {"run_id", "metric", "rater", "answers": [...]}')]
    answers, problems = [], []
    rater = str(data.get("rater") or "").strip()
    for index, raw in enumerate(data["answers"]):
        if not isinstance(raw, dict) or not isinstance(raw.get("case_id"), str):
            problems.append(Problem(path, None, f"answers[{index}] needs a string case_id"))
            continue
        sample = raw.get("sample", 0)
        if not isinstance(sample, int) or isinstance(sample, bool):
            problems.append(Problem(path, None, f"answers[{index}].sample must be an integer"))
            continue
        label = raw.get("label", "")
        answers.append(
            Answer(
                line=None,
                run_id=data.get("run_id"),
                metric=data.get("metric"),
                case_id=raw["case_id"],
                sample=sample,
                label=str(label).strip() if label is not None else "",
                rater=str(raw.get("rater") or rater).strip(),
                note=str(raw.get("note") or "").strip(),
            )
        )
    return answers, problems


def read_answers(path: str | Path) -> list[Answer]:
    """Returns the answers in a CSV or JSON answers file (labels may be blank).

    Raises:
        LabelImportError: the file is malformed (every problem as ``file:line``).
        NotFoundError: the file does not exist.
    """
    source = Path(path)
    if not source.is_file():
        raise NotFoundError(f"{source}: no such answers file")
    try:  # a byte-order mark is fine; bytes that are not UTF-8 are named by line
        text = checked_utf8(source.read_bytes(), str(source)).decode("utf-8")
    except InvalidInputError as err:
        raise LabelImportError(err.problems) from None
    reader = _json_answers if source.suffix.lower() == ".json" else _csv_answers
    answers, problems = reader(text, str(source))
    if problems:
        raise LabelImportError(problems)
    return answers


def _parse_label(text: str, scale: Scale, labels: Sequence[LabelValue]) -> LabelValue | None:
    lowered = text.lower()
    if scale == "ordinal":
        try:
            number = int(lowered)
        except ValueError:
            return None
        return number if number in labels else None
    return lowered if lowered in labels else None


def validate_answers(
    answers: Sequence[Answer],
    run: Run,
    path: str,
    *,
    metric: str | None = None,
    rater: str | None = None,
) -> tuple[str, list[HumanLabel], int]:
    """Returns (metric, labels, unanswered) for answers that match ``run``.

    Raises:
        LabelImportError: an answer names another run or metric, an output the run does
            not have, a label off the scale, no rater, or an output twice.
    """
    named = {a.metric for a in answers if a.metric}
    if metric is None and len(named) > 1:
        raise LabelImportError(
            [Problem(path, None, f"answers for several metrics ({sorted(named)}); give --metric")]
        )
    info = _metric_info(run, metric or (named.pop() if named else None))
    scale, labels = metric_scale(info)
    scores = run.scores
    scored = scores[(scores["metric"] == info.name) & scores["value"].notna()]
    known = set(zip(scored["case_id"].astype(str), scored["sample"].astype(int), strict=True))
    run_id = run.manifest.run_id
    shown = ", ".join(str(label) for label in labels)
    problems: list[Problem] = []
    found: list[HumanLabel] = []
    seen: dict[tuple[str, int, str], int | None] = {}
    unanswered = 0
    now = datetime.now(UTC).isoformat(timespec="seconds")
    for answer in answers:
        where = answer.line
        if answer.run_id and answer.run_id != run_id:
            problems.append(
                Problem(
                    path,
                    where,
                    f"run_id {answer.run_id!r} is not run {run_id!r}; import "
                    "the answers into the run their sheet was drawn from",
                )
            )
            continue
        if answer.metric and answer.metric != info.name:
            problems.append(Problem(path, where, f"metric {answer.metric!r} is not {info.name!r}"))
            continue
        if not answer.label:
            unanswered += 1
            continue
        value = _parse_label(answer.label, scale, labels)
        if value is None:
            problems.append(Problem(path, where, f"label {answer.label!r} is not one of {shown}"))
            continue
        who = answer.rater or rater or ""
        if not who:
            problems.append(
                Problem(path, where, "no rater: fill the rater column or pass --rater NAME")
            )
            continue
        key = (answer.case_id, answer.sample)
        if key not in known:
            problems.append(
                Problem(
                    path,
                    where,
                    f"run {run_id} has no scored {info.name!r} output for case "
                    f"{answer.case_id!r} sample {answer.sample}",
                )
            )
            continue
        duplicate = (answer.case_id, answer.sample, who)
        if duplicate in seen:
            first = seen[duplicate]
            problems.append(
                Problem(
                    path,
                    where,
                    f"rater {who!r} labels case {answer.case_id!r} sample {answer.sample} "
                    f"twice (first on line {first}); keep one",
                )
            )
            continue
        seen[duplicate] = where
        found.append(
            HumanLabel(
                case_id=answer.case_id,
                sample=answer.sample,
                metric=info.name,
                rater=who,
                label=value,
                value=label_value(value, scale),
                note=answer.note,
                imported_at=now,
            )
        )
    if problems:
        raise LabelImportError(problems)
    return info.name, found, unanswered


def _local_dir(run: Run) -> Path:
    if "://" in run.location and not run.location.startswith("file://"):
        raise UserInputError(
            f"run {run.manifest.run_id} is in remote storage ({run.location}); copy it to a "
            "local store to import labels"
        )
    return Path(run.location.removeprefix("file://"))


def load_human_labels(run: Run) -> list[HumanLabel]:
    """Returns the people's labels stored with ``run`` (none when there are none)."""
    path = _local_dir(run) / HUMAN_LABELS if run.location else None
    if path is None or not path.is_file():
        return []
    labels = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            labels.append(HumanLabel.model_validate_json(line))
        except ValueError as err:
            raise LabelImportError(
                [Problem(str(path), number, f"not a stored label ({err.errors()[0]['msg']})")]  # type: ignore[attr-defined]
            ) from err
    return labels


def store_human_labels(run: Run, labels: Sequence[HumanLabel]) -> Path:
    """Merges ``labels`` into the run's ``human_labels.jsonl`` (atomically); returns it.

    A new label replaces an older one by the same rater of the same output and metric.
    """
    from evalkit.util._atomic import atomic_write_text

    merged: dict[tuple[str, int, str, str], HumanLabel] = {}
    for label in [*load_human_labels(run), *labels]:
        merged[(label.case_id, label.sample, label.metric, label.rater)] = label
    path = _local_dir(run) / HUMAN_LABELS
    text = "".join(label.model_dump_json() + "\n" for label in merged.values())
    atomic_write_text(path, text)
    return path


def ppi_for_metric(run: Run, metric: str, *, alpha: float = 0.05) -> PPIMean | None:
    """Returns the run's prediction-powered mean of ``metric``, or None without labels.

    The judge's scored outputs are ``judge_all``; the outputs people labelled (a random
    sheet) give ``judge_labelled`` and ``human_labelled``, each output's people's value
    averaged over its raters. None when fewer than 2 outputs are labelled.
    """
    scores = run.scores
    scored = scores[(scores["metric"] == metric) & scores["value"].notna()]
    judge = {
        (str(case_id), int(sample)): float(value)
        for case_id, sample, value in zip(
            scored["case_id"].tolist(),
            scored["sample"].tolist(),
            scored["value"].tolist(),
            strict=True,
        )
    }
    people: dict[tuple[str, int], list[float]] = {}
    for label in load_human_labels(run):
        key = (label.case_id, label.sample)
        if label.metric == metric and key in judge:
            people.setdefault(key, []).append(label.value)
    if len(people) < 2 or len(people) >= len(judge):
        return None
    keys = sorted(people)
    return ppi_mean(
        np.array(list(judge.values())),
        np.array([judge[key] for key in keys]),
        np.array([float(np.mean(people[key])) for key in keys]),
        alpha=alpha,
    )
