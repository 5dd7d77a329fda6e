"""Scoring stage: outputs + golden cases -> score rows and metric descriptions.

:func:`score_outputs` is what the pipeline calls. Each metric of the suite resolves its
registered scorer by name with its params (unknown names and bad params fail before any
scoring), scores every output, and contributes one :class:`~evalkit.data._records.ScoreRow`
per output. An output that is an SUT error becomes an unscored row carrying the SUT's
error, never 0.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from evalkit.data._records import MetricInfo, Output, ScoreRow
from evalkit.scorers._base import (
    MetricShape,
    Score,
    ScoreInput,
    Scorer,
    ScorerContext,
    checked,
    create_scorer,
    input_text,
)
from evalkit.util._progress import stage

if TYPE_CHECKING:
    from evalkit.config._suite import MetricSpec, ProjectConfig, SuiteConfig
    from evalkit.data._golden import GoldenCase, GoldenSet
    from evalkit.models._llm import ModelClient


def build_scorers(
    suite: SuiteConfig, project: ProjectConfig | None, client: ModelClient | None
) -> list[tuple[MetricSpec, Scorer]]:
    """Returns each metric of ``suite`` with its scorer; raises on an unknown or bad one."""
    context = ScorerContext(client=client, project=project, suite=suite)
    return [
        (spec, create_scorer(spec.scorer_name, spec.params, context, metric=spec.name))
        for spec in suite.metrics
    ]


def score_input(case: GoldenCase, output: Output) -> ScoreInput:
    """Returns what a scorer sees for one (case, output) pair."""
    return ScoreInput(
        case_id=case.id,
        sample=output.sample,
        input=input_text(case, output.prompt),
        output=output.text or "",
        expected=case.expected,
        # A callable SUT (e.g. a RAG pipeline) may return the passages it retrieved; score
        # against those when present, else the golden set's contexts.
        contexts=tuple(output.contexts) if output.contexts else tuple(case.contexts),
        metadata=case.metadata,
    )


def metric_info(spec: MetricSpec, scorer: Scorer) -> list[MetricInfo]:
    """Returns the MetricInfo of ``spec`` (and of its scorer's companion metrics)."""
    infos = [_info(spec.name, spec, scorer, scorer.shape, gate=spec.gate)]
    for suffix, shape in scorer.extra_metrics.items():
        # Companion metrics (e.g. a judge's position-flip rate) are reported, never gated.
        infos.append(_info(f"{spec.name}.{suffix}", spec, scorer, shape, gate=False))
    return infos


def _info(
    name: str, spec: MetricSpec, scorer: Scorer, shape: MetricShape, *, gate: bool
) -> MetricInfo:
    return MetricInfo(
        name=name,
        scorer=spec.scorer_name,
        kind=shape.kind,
        higher_is_better=shape.higher_is_better,
        low=shape.low,
        high=shape.high,
        threshold=spec.threshold if name == spec.name else None,
        gate=gate,
        margin=spec.margin,
        judge_fingerprint=scorer.fingerprint(),
    )


async def score_outputs(
    suite: SuiteConfig,
    project: ProjectConfig,
    golden: GoldenSet,
    outputs: Sequence[Output],
    *,
    client: ModelClient,
    progress: bool | None = None,
) -> tuple[list[ScoreRow], list[MetricInfo]]:
    """Returns one score row per (output, metric) and the MetricInfo of every metric.

    Each metric is a stage with its own progress (shown once it has run a second: judges,
    ragas and deepeval wait on a model; exact-match metrics finish before that).

    Raises:
        NotFoundError: a metric names no registered scorer.
        ConfigError: a metric's params are wrong for its scorer.
        InfrastructureError: a judge's endpoint went away (see evalkit.models._endpoint_health).
    """
    scorers = build_scorers(suite, project, client)
    cases = golden.by_id()
    scorable = [o for o in outputs if o.ok and o.case_id in cases]
    items = [score_input(cases[o.case_id], o) for o in scorable]
    position = {(o.case_id, o.sample): index for index, o in enumerate(scorable)}

    rows: list[ScoreRow] = []
    infos: list[MetricInfo] = []
    for spec, scorer in scorers:
        infos.extend(metric_info(spec, scorer))
        with stage(len(items), label=f"{suite.name}: {spec.name}", enabled=progress) as bar:
            results = await scorer.score(items) if items else []
            bar.settle([result.value is not None for result in results])
        client.raise_if_down()
        if len(results) != len(items):
            reason = f"scorer {spec.scorer_name} returned {len(results)} scores for {len(items)}"
            results = [Score.unscored(reason)] * len(items)
        for output in outputs:
            index = position.get((output.case_id, output.sample))
            result = (
                checked(results[index], spec.name)
                if index is not None
                else Score.unscored(_why_unscorable(output, cases))
            )
            rows.extend(_rows(spec.name, output, result, scorer))
    return rows, infos


def _why_unscorable(output: Output, cases: dict[str, GoldenCase]) -> str:
    if output.case_id not in cases:
        return f"case {output.case_id!r} is not in the golden set"
    return f"SUT error: {output.error or 'no output text'}"


def _rows(metric: str, output: Output, result: Score, scorer: Scorer) -> list[ScoreRow]:
    rows = [
        ScoreRow(
            case_id=output.case_id,
            sample=output.sample,
            metric=metric,
            value=result.value,
            kind=scorer.shape.kind,
            error=result.error if result.value is None else None,
            rationale=result.rationale,
            raw=result.raw,
            soft_score=result.soft_score,
        )
    ]
    for suffix, shape in scorer.extra_metrics.items():
        value = result.extras.get(suffix)
        rows.append(
            ScoreRow(
                case_id=output.case_id,
                sample=output.sample,
                metric=f"{metric}.{suffix}",
                value=value,
                kind=shape.kind,
                error=None if value is not None else (result.error or "not scored"),
            )
        )
    return rows
