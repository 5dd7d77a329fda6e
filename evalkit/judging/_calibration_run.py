"""Run a judge over its labelled set and build (and store) its calibration record.

:func:`calibrate_judge` is what ``evalkit calibrate JUDGE`` calls: it loads
``judges/NAME.toml`` and ``judges/NAME.labels.jsonl``, asks the judge about every item
through :class:`evalkit.models._llm.ModelClient` (the project's call cache, retries and
accounting under the tag ``judge:NAME``), compares its verdicts with people's consensus
labels (:func:`evalkit.judging._calibration.agreement`) and writes
``judges/NAME.calibration.json`` atomically, tied to the judge's fingerprint.

A pointwise item the judge cannot score (call failed, reply unparseable twice) is left
out of the figures and counted in ``n_unscored``; it is never counted as a disagreement.
A pairwise item is judged in both orders; the pair's verdict follows the judge scorer's
convention (mean of both orders: "a", "b", or "tie" when the orders disagree) and the
item counts as a position flip when the verdict changed with the order.

A pass/fail judge (an LLM judge or a similarity judge) is also *fitted*: the mapping from
its score (P(pass) from log-probabilities, the cosine, or the sampled verdict) to a
verdict is fitted on the labelled items (:func:`evalkit.judging._calibration.fit_mapping`), and
the record's figures are those of out-of-fold verdicts
(:func:`evalkit.judging._calibration.cross_fitted_verdicts`), next to the judge's own verdicts'
figures (``raw_figures``). The record stores the mapping; scoring applies it.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

import evalkit
from evalkit._policy import JUDGE_MIN_ITEMS, JUDGE_MIN_KAPPA
from evalkit.data._records import Run, RunManifest
from evalkit.judging._calibration import (
    Agreement,
    CalibratedItem,
    CalibrationRecord,
    Estimate,
    Figure,
    FitMethod,
    FitSummary,
    JudgeGateStatus,
    ScoreMapping,
    agreement,
    calibrated_fingerprint,
    cross_fitted_verdicts,
    encode,
    fit_mapping,
    judge_gate_status,
    load_record,
    record_path,
    save_record,
)
from evalkit.judging._labelled_sets import LabelledItem, LabelledSet, LabelValue, Scale, load_labels
from evalkit.util._event_loop import run as run_event_loop

if TYPE_CHECKING:
    from evalkit.config._suite import ProjectConfig, SuiteConfig
    from evalkit.judging._definitions import JudgeDefinition, Verdict
    from evalkit.models._llm import ModelClient
    from evalkit.scorers._judge import JudgeReply, JudgeScorer, SimilarityJudgeScorer


@dataclass(frozen=True)
class Judged:
    """The judge on one labelled item: its label (None: unscored), score, error, flip."""

    label: LabelValue | None
    error: str | None = None
    flipped: bool | None = None
    score: float | None = None
    soft: bool = False


def judge_scale(definition: JudgeDefinition) -> tuple[Scale, list[LabelValue]]:
    """Returns the judge's scale kind and its labels in order (the confusion matrix's)."""
    if definition.type == "pairwise":
        return "pairwise", ["a", "tie", "b"]
    if definition.pass_fail:
        return "binary", ["fail", "pass"]
    low, high = definition.bounds
    return "ordinal", list(range(low, high + 1))


def _input_text(item: LabelledItem) -> str:
    """Returns the item's input as the question text a judge sees (as for golden cases)."""
    from evalkit.data._golden import GoldenCase
    from evalkit.scorers._base import input_text

    return input_text(GoldenCase(id=item.id, input=item.input))


def _pair_label(first: JudgeReply[Verdict], second: JudgeReply[Verdict]) -> tuple[LabelValue, bool]:
    """Returns the pair's verdict ("a", "b", "tie") and whether it flipped with the order."""
    assert first.value is not None and second.value is not None
    # verdict values: A=1, tie=0.5, B=0; in the swapped order the first answer is B.
    as_first = first.value.value
    as_second = 1.0 - second.value.value
    mean = (as_first + as_second) / 2
    label: LabelValue = "a" if mean > 0.5 else "b" if mean < 0.5 else "tie"
    return label, as_first != as_second


async def _judge_items(
    scorer: JudgeScorer | SimilarityJudgeScorer, labels: LabelledSet
) -> list[Judged]:
    """Returns the judge's verdict (and score) on every item, in order."""
    from evalkit.judging._definitions import template_variables
    from evalkit.scorers._base import ScoreInput

    definition = scorer.definition
    scale, _ = judge_scale(definition)
    if scale != "pairwise":
        inputs = [
            ScoreInput(
                case_id=item.id,
                sample=0,
                input=_input_text(item),
                output=item.output or "",
                expected=item.expected,
                contexts=tuple(item.contexts),
                metadata=item.metadata,
            )
            for item in labels
        ]
        scores = await scorer.score(inputs)
        results: list[Judged] = []
        for score in scores:
            if score.value is None:
                results.append(Judged(None, score.error or "unscored"))
            elif scale == "binary":
                soft = score.soft_score is not None
                results.append(
                    Judged(
                        "pass" if score.value >= 0.5 else "fail",
                        score=score.soft_score if soft else score.value,
                        soft=soft,
                    )
                )
            else:
                results.append(Judged(round(score.value), score=score.soft_score))
        return results

    from evalkit.scorers._judge import JudgeScorer

    assert isinstance(scorer, JudgeScorer)
    gate = asyncio.Semaphore(scorer.concurrency)

    async def pair(item: LabelledItem) -> Judged:
        base = template_variables(
            input=_input_text(item),
            expected=item.expected,
            contexts=item.contexts,
            metadata=item.metadata,
        )
        async with gate:
            try:
                first = await scorer.ask({**base, "output_a": item.a, "output_b": item.b}, 0)
                second = await scorer.ask({**base, "output_a": item.b, "output_b": item.a}, 0)
            except Exception as err:  # a template error: unscored, never a disagreement
                return Judged(None, f"judge failed: {err}")
        if first.value is None or second.value is None:
            return Judged(None, first.error or second.error or "no verdict")
        label, flipped = _pair_label(first, second)
        return Judged(label, flipped=flipped)

    return list(await asyncio.gather(*(pair(item) for item in labels)))


def _score_name(definition: JudgeDefinition, soft: bool) -> str:
    if definition.type == "similarity":
        return "cosine"
    return "P(pass)" if soft else "sampled verdict"


def build_record(
    definition: JudgeDefinition,
    labels: LabelledSet,
    judged: list[Judged],
    *,
    fit: FitMethod | Literal["auto"] | None = None,
    folds: int = 5,
    n_boot: int = 2000,
    seed: int = 0,
    alpha: float = 0.05,
    totals: dict[str, float] | None = None,
    subset: dict[str, Any] | None = None,
    seconds_per_item: float | None = None,
) -> CalibrationRecord:
    """Returns the calibration record of ``definition`` from its verdicts on ``labels``.

    ``fit="auto"`` fits a threshold when the judge is pass/fail and gave a soft score
    (P(pass), a cosine) on some item, and nothing otherwise: over 0/1 verdicts alone a
    threshold can only keep them or make them constant.

    With ``fit`` (pass/fail judges only), the mapping from the judge's scores to
    verdicts is fitted on every scored item and stored; the record's figures are those
    of the out-of-fold verdicts (``folds``-fold cross-fitting, folds grouped by the
    items' ``metadata.group`` when every item has one), and ``raw_figures`` those of the
    judge's own verdicts.
    """
    scale, categories = judge_scale(definition)
    labels.check_scale(categories, definition.name)
    if fit == "auto":
        any_soft = any(result.soft for result in judged if result.label is not None)
        fit = "threshold" if scale == "binary" and any_soft else None
    if fit is not None and scale != "binary":
        from evalkit.errors import UserInputError

        raise UserInputError(
            f"judge {definition.name!r} is {scale}: only pass/fail judges take a fitted "
            "mapping; calibrate it with --fit auto or none"
        )
    scored_pairs = [
        (item, result) for item, result in zip(labels, judged, strict=True) if result.label
    ]
    if not scored_pairs:
        first_error = next((result.error for result in judged if result.error), "no verdicts")
        from evalkit.errors import InfrastructureError

        raise InfrastructureError(
            f"judge {definition.name!r} scored none of the {len(judged)} labelled items; "
            f"first error: {first_error}"
        )
    mapping: ScoreMapping | None = None
    summary: FitSummary | None = None
    fitted: dict[str, LabelValue] = {}
    if fit is not None:
        scores = np.array([result.score for _, result in scored_pairs], dtype=np.float64)
        people = encode([item.consensus() for item, _ in scored_pairs], "binary")
        group_of = [item.metadata.get("group") for item, _ in scored_pairs]
        groups = [str(g) for g in group_of] if all(g is not None for g in group_of) else None
        n_soft = sum(1 for _, result in scored_pairs if result.soft)
        name = _score_name(definition, n_soft > 0)
        try:
            mapping = fit_mapping(scores, people, method=fit, score=name)
            out_of_fold = cross_fitted_verdicts(
                scores, people, method=fit, folds=folds, seed=seed, groups=groups
            )
        except ValueError as err:
            from evalkit.errors import UserInputError

            raise UserInputError(
                f"cannot fit judge {definition.name!r} on {labels.path}: {err}; label more "
                "items, use fewer --folds, or calibrate with --fit none"
            ) from err
        fitted = {
            item.id: "pass" if verdict == 1 else "fail"
            for (item, _), verdict in zip(scored_pairs, out_of_fold, strict=True)
        }
        in_sample = agreement(
            ["pass" if v == 1 else "fail" for v in mapping.verdicts(scores)],
            [item.consensus() for item, _ in scored_pairs],
            scale="binary",
            categories=categories,
            n_boot=100,
            seed=seed,
        )
        summary = FitSummary(
            method=fit,
            folds=folds,
            seed=seed,
            grouped=groups is not None,
            n_soft=n_soft,
            in_sample_kappa=in_sample.figures["kappa"].value,
        )
    items = [
        CalibratedItem(
            id=item.id,
            judge=fitted.get(item.id, result.label) if result.label is not None else None,
            people=item.consensus(),
            ratings={label.rater: label.value for label in item.labels},
            error=result.error,
            flipped=result.flipped,
            raw=result.label if mapping is not None else None,
            score=result.score,
        )
        for item, result in zip(labels, judged, strict=True)
    ]
    scored = [item for item in items if item.judge is not None]

    def measure(verdicts: list[LabelValue]) -> Agreement:
        return agreement(
            verdicts,
            [item.people for item in scored],
            scale=scale,
            categories=categories,
            ratings=[item.ratings for item in scored],
            flips=[bool(item.flipped) for item in scored] if scale == "pairwise" else None,
            n_boot=n_boot,
            alpha=alpha,
            seed=seed,
        )

    result = measure([item.judge for item in scored if item.judge is not None])
    raw = (
        measure([item.raw for item in scored if item.raw is not None])
        if mapping is not None
        else None
    )
    return CalibrationRecord(
        judge=definition.name,
        fingerprint=calibrated_fingerprint(definition.fingerprint(), mapping),
        judge_fingerprint=definition.fingerprint(),
        model=definition.model,
        scale=scale,
        categories=categories,
        labels_path=labels.path,
        labels_fingerprint=labels.fingerprint,
        created_at=datetime.now(UTC).isoformat(timespec="seconds"),
        evalkit_version=evalkit.__version__,
        n_items=len(items),
        n=result.n,
        n_unscored=len(items) - len(scored),
        raters=labels.raters,
        n_multi_rated=sum(1 for item in labels if len(item.labels) >= 2),
        kappa_weights=result.kappa_weights,
        figures=result.figures,
        confusion=result.confusion,
        mapping=mapping,
        fit=summary,
        raw_figures=raw.figures if raw is not None else {},
        raw_confusion=raw.confusion if raw is not None else None,
        subset=subset,
        seconds_per_item=seconds_per_item,
        bootstrap={"n_boot": n_boot, "seed": seed, "alpha": alpha},
        totals=dict(totals or {}),
        items=items,
    )


async def acalibrate(
    definition: JudgeDefinition,
    labels: LabelledSet,
    *,
    client: ModelClient,
    concurrency: int = 4,
    fit: FitMethod | Literal["auto"] | None = None,
    folds: int = 5,
    n_boot: int = 2000,
    seed: int = 0,
    alpha: float = 0.05,
    cache_dir: str | Path | None = None,
    subset: dict[str, Any] | None = None,
) -> CalibrationRecord:
    """Returns the calibration record of ``definition`` on ``labels`` (calls via ``client``).

    The judge scores with its own verdicts (no stored mapping applies while it is
    calibrated). ``seconds_per_item`` is the wall time per item the judge worked on
    (items answered from the call cache are not counted; None when all were).
    """
    from evalkit.scorers._judge import build_judge_scorer

    scale, categories = judge_scale(definition)
    labels.check_scale(categories, definition.name)
    if (scale == "pairwise") != (labels.kind == "pairwise"):
        from evalkit.errors import UserInputError

        raise UserInputError(
            f"{labels.path} holds {labels.kind} items but judge {definition.name!r} is "
            f"{definition.type}; give it a labelled set of its own kind"
        )
    scorer = build_judge_scorer(
        definition, client=client, concurrency=concurrency, cache_dir=cache_dir
    )
    embedder = getattr(scorer, "embedder", None)
    embedded_before = embedder.embedded if embedder is not None else 0
    started = time.perf_counter()
    judged = await _judge_items(scorer, labels)
    elapsed = time.perf_counter() - started
    totals = client.stats().get(f"judge:{definition.name}", {})
    # Time per item the judge really worked on: cached judge calls take no time, so they
    # are left out of the count; a fully cached run times nothing (None).
    if embedder is not None:
        worked = len(labels) if embedder.embedded > embedded_before else 0
    else:
        calls = totals.get("calls", 0)
        worked = round(len(labels) * (calls - totals.get("cached", 0)) / calls) if calls else 0
    return build_record(
        definition,
        labels,
        judged,
        fit=fit,
        folds=folds,
        n_boot=n_boot,
        seed=seed,
        alpha=alpha,
        totals=totals,
        subset=subset,
        seconds_per_item=elapsed / worked if worked else None,
    )


def deterministic_subset(labels: LabelledSet, n: int, seed: int = 0) -> LabelledSet:
    """Returns the ``n`` items whose ``sha256(f"{seed}:{id}")`` is smallest, in file order.

    The same labelled set, ``n`` and seed always give the same items, whatever machine
    runs it; the subset keeps the full set's fingerprint (the record names the subset).
    """
    if n >= len(labels):
        return labels
    ranked = sorted(
        labels.items, key=lambda item: hashlib.sha256(f"{seed}:{item.id}".encode()).hexdigest()
    )
    chosen = {item.id for item in ranked[:n]}
    items = tuple(item for item in labels.items if item.id in chosen)
    return replace(labels, items=items)


def labels_path_for(judges_dir: str | Path, judge: str) -> Path:
    """Returns where judge ``judge``'s labelled set lives by default."""
    return Path(judges_dir) / f"{judge}.labels.jsonl"


def calibrate_judge(
    judge: str,
    *,
    project: ProjectConfig,
    labels_path: str | Path | None = None,
    use_cache: bool = True,
    concurrency: int = 4,
    fit: FitMethod | Literal["auto", "none"] = "auto",
    folds: int = 5,
    sample: int | None = None,
    n_boot: int = 2000,
    seed: int = 0,
    alpha: float = 0.05,
    write: bool = True,
) -> tuple[CalibrationRecord, Path]:
    """Returns the judge's new calibration record and where it is (or would be) stored.

    Args:
        judge: the judge's name (``judges/NAME.toml``) or a path to its .toml.
        project: the project config (judges folder, cache folder).
        labels_path: the labelled set (default: the judge's ``labels`` key, else
            ``judges/NAME.labels.jsonl``).
        use_cache: False skips the call cache.
        concurrency: judge calls in flight.
        fit: the mapping to fit ("threshold", "isotonic", "platt"); "auto" fits a
            threshold for pass/fail judges and nothing for others; "none" fits nothing.
        folds: folds of the out-of-fold (cross-fitted) agreement.
        sample: calibrate on this many items of the set, chosen deterministically
            (:func:`deterministic_subset` with ``seed``); None: every item.
        n_boot: bootstrap resamples for the figures' CIs.
        seed: the seed of the bootstrap, the folds and the sample.
        alpha: 1 - the CIs' coverage.
        write: False computes the record without storing it.
    """
    from evalkit.judging._definitions import load_judge
    from evalkit.models._cache import Cache
    from evalkit.models._llm import ModelClient

    judges_dir = project.path(project.judges_dir)
    definition = load_judge(judge, judges_dir)
    folder = Path(judge).parent if str(judge).endswith(".toml") else judges_dir
    default_labels = (
        folder / definition.labels
        if definition.labels
        else labels_path_for(folder, definition.name)
    )
    labels = load_labels(labels_path or default_labels)
    subset = None
    if sample is not None and sample < len(labels):
        subset = {
            "n": sample,
            "of": len(labels),
            "seed": seed,
            "rule": f'the {sample} items with the smallest sha256("{seed}:" + id)',
        }
        labels = deterministic_subset(labels, sample, seed)
    chosen: FitMethod | Literal["auto"] | None = None if fit == "none" else fit
    cache = Cache(project.path(project.cache_dir)) if use_cache else None

    async def go() -> CalibrationRecord:
        client = ModelClient(cache=cache, concurrency=concurrency)
        try:
            return await acalibrate(
                definition,
                labels,
                client=client,
                concurrency=concurrency,
                fit=chosen,
                folds=folds,
                n_boot=n_boot,
                seed=seed,
                alpha=alpha,
                cache_dir=project.path(project.cache_dir) / "embeddings" if use_cache else None,
                subset=subset,
            )
        finally:
            await client.aclose()

    try:
        record = run_event_loop(go())
    finally:
        if cache is not None:
            cache.close()
    target = record_path(folder, definition.name)
    root = Path(project.root).resolve()
    labels_file = Path(labels.path).resolve()
    if labels_file.is_relative_to(root):
        # Stored relative to the project, so the committed record names no local folder.
        record = record.model_copy(update={"labels_path": str(labels_file.relative_to(root))})
    if write:
        save_record(record, target)
    return record, target


def record_summary(record: CalibrationRecord) -> dict[str, Any]:
    """Returns the record without its per-item rows (for ``--json`` output)."""
    data: dict[str, Any] = json.loads(record.model_dump_json(exclude={"items"}))
    return data


# ---------------------------------------------------------------- gate and report views


def judge_names_for(suite: SuiteConfig) -> dict[str, str]:
    """Returns metric -> judge name for the suite's ``judge`` scorer metrics."""
    names = {}
    for spec in suite.metrics:
        if spec.scorer_name == "judge":
            name = spec.params.get("name") or suite.judge
            if isinstance(name, str):
                names[spec.name] = Path(name).stem if name.endswith(".toml") else name
    return names


def _records(judges_dir: Path) -> dict[str, CalibrationRecord]:
    found = {}
    if judges_dir.is_dir():
        for path in sorted(judges_dir.glob("*.calibration.json")):
            record = load_record(path)
            if record is not None:
                found[path.name.removesuffix(".calibration.json")] = record
    return found


def judge_metric_statuses(
    manifest: RunManifest,
    judges_dir: str | Path,
    *,
    min_n: int = JUDGE_MIN_ITEMS,
    min_kappa: float = JUDGE_MIN_KAPPA,
    judge_names: Mapping[str, str] | None = None,
) -> dict[str, JudgeGateStatus]:
    """Returns metric -> gate status for every judge metric of a run.

    A metric's record is the one made with the fingerprint the run's judge had (found
    among ``judges_dir/*.calibration.json``); failing that, the record of the judge named
    in ``judge_names`` (from :func:`judge_names_for`), which is then ``stale``. With
    neither, the metric is ``uncalibrated``. Companion metrics (gate = false, such as a
    pairwise judge's position flip) are left out: they never gate.
    """
    records = _records(Path(judges_dir))
    by_fingerprint = {record.fingerprint: record for record in records.values()}
    statuses = {}
    for info in manifest.metrics:
        if not info.judge_fingerprint or not info.gate:
            continue
        record = by_fingerprint.get(info.judge_fingerprint)
        name = (judge_names or {}).get(info.name)
        if record is None and name is not None:
            record = records.get(name)
        if record is None:
            known = ", ".join(sorted(records)) or "none"
            statuses[info.name] = JudgeGateStatus(
                "uncalibrated",
                f"no calibration record for judge fingerprint {info.judge_fingerprint} "
                f"(records in {judges_dir}: {known}); run `evalkit calibrate JUDGE`",
            )
            continue
        statuses[info.name] = judge_gate_status(
            info.judge_fingerprint, record, min_n=min_n, min_kappa=min_kappa
        )
    return statuses


def _interval(estimate: Estimate | Figure | None) -> dict[str, float | None] | None:
    if estimate is None:
        return None
    if isinstance(estimate, Figure):
        return {"estimate": estimate.value, "ci_low": estimate.ci_low, "ci_high": estimate.ci_high}
    value = estimate.estimate
    return {
        "estimate": None if value != value else value,  # NaN: undefined
        "ci_low": estimate.ci_low,
        "ci_high": estimate.ci_high,
    }


def reliability(record: CalibrationRecord) -> list[dict[str, Any]]:
    """Returns, per judge label, how many items got it and people's mean on them.

    The data of a reliability plot: a judge that agrees with people has people's mean
    rising with its label (binary: people pass 0% of its fails, 100% of its passes).
    """
    scored = [item for item in record.items if item.judge is not None]
    rows = []
    for label in record.categories:
        chosen = [item for item in scored if item.judge == label]
        people = encode([item.people for item in chosen], record.scale)
        rows.append(
            {
                "judge": label,
                "n": len(chosen),
                "people_mean": float(people.mean()) if len(chosen) else None,
            }
        )
    return rows


def metric_estimates(
    run: Run, metric: str, record: CalibrationRecord, *, alpha: float = 0.05
) -> dict[str, Any]:
    """Returns the raw, corrected and (with people's labels of the run) PPI estimates."""
    from evalkit.judging._calibration import corrected_mean_ordinal, corrected_rate, naive_rate
    from evalkit.judging._labelling_sheet import ppi_for_metric

    scores = run.scores
    values = scores[(scores["metric"] == metric) & scores["value"].notna()]["value"].to_numpy()
    row: dict[str, Any] = {"metric": metric, "n": int(values.size)}
    if values.size == 0:
        return row
    judge, people = record.calibration_arrays()
    corrected: Estimate | None = None
    if record.scale == "binary":
        row["raw"] = _interval(naive_rate(values, alpha=alpha))
        try:
            corrected = corrected_rate(values, judge, people, alpha=alpha)
        except ValueError as err:
            row["note"] = str(err)
        if corrected is not None:
            row["sensitivity"] = corrected.sensitivity  # type: ignore[attr-defined]
            row["specificity"] = corrected.specificity  # type: ignore[attr-defined]
            row["method"] = corrected.method
            if corrected.note:
                row["note"] = corrected.note
    elif record.scale == "ordinal":
        row["raw"] = {"estimate": float(values.mean()), "ci_low": None, "ci_high": None}
        corrected = corrected_mean_ordinal(values, judge, people, alpha=alpha)
        row["method"] = corrected.method
    row["corrected"] = _interval(corrected)
    row["ppi"] = _interval(ppi_for_metric(run, metric, alpha=alpha))
    return row


def calibration_report(
    run: Run,
    judges_dir: str | Path,
    *,
    min_n: int = JUDGE_MIN_ITEMS,
    min_kappa: float = JUDGE_MIN_KAPPA,
    judge_names: Mapping[str, str] | None = None,
    alpha: float = 0.05,
) -> dict[str, dict[str, Any]]:
    """Returns, per judge of the run, the mapping the HTML report's calibration section shows.

    Keys per judge: ``status``, ``note`` (the gate's reason), ``fingerprint``, ``n``,
    ``scale``, ``figures`` (name -> estimate/ci_low/ci_high; out of fold when a mapping
    was fitted), ``confusion`` (labels and matrix, rows people), ``flip_rate``,
    ``reliability`` (:func:`reliability`), ``estimates`` (per metric: raw, corrected and
    PPI, see :func:`metric_estimates`), and, for a fitted judge, ``mapping`` (method,
    threshold, what the score is), ``fit`` (folds, grouping, in-sample kappa) and
    ``raw_figures`` (the judge's own verdicts' agreement); ``labels_path``,
    ``raters``, ``subset`` and ``seconds_per_item`` say what it was measured on.
    A judge metric without a record appears with its status and reason only.
    """
    statuses = judge_metric_statuses(
        run.manifest, judges_dir, min_n=min_n, min_kappa=min_kappa, judge_names=judge_names
    )
    records = _records(Path(judges_dir))
    by_fingerprint = {record.fingerprint: record for record in records.values()}
    infos = {info.name: info for info in run.manifest.metrics}
    out: dict[str, dict[str, Any]] = {}
    for metric, status in statuses.items():
        fingerprint = infos[metric].judge_fingerprint or ""
        record = by_fingerprint.get(fingerprint) or records.get((judge_names or {}).get(metric, ""))
        key = record.judge if record is not None else metric
        view = out.setdefault(
            key, {"status": status.status, "note": status.reason, "estimates": []}
        )
        if record is None:
            continue
        figures = {name: _interval(figure) for name, figure in record.figures.items()}
        view.update(
            fingerprint=record.fingerprint,
            n=record.n,
            scale=record.scale,
            figures={name: value for name, value in figures.items() if name != "flip_rate"},
            confusion={"labels": record.confusion.labels, "matrix": record.confusion.counts},
            reliability=reliability(record),
            mapping=record.mapping.model_dump(mode="json") if record.mapping else None,
            fit=record.fit.model_dump(mode="json") if record.fit else None,
            raw_figures={
                name: _interval(figure)
                for name, figure in record.raw_figures.items()
                if name != "flip_rate"
            },
            labels_path=record.labels_path,
            raters=record.raters,
            subset=record.subset,
            seconds_per_item=record.seconds_per_item,
        )
        if "flip_rate" in record.figures:
            view["flip_rate"] = _interval(record.figures["flip_rate"])
        if status.status != "stale":
            view["estimates"].append(metric_estimates(run, metric, record, alpha=alpha))
    return out
