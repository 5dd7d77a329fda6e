"""Assert-style checks of single cases in ordinary tests (the ``evalkit`` pytest fixture).

Like deepeval's ``assert_test``: score one case, and fail the test with a verdict-like
message when a metric misses its threshold::

    def test_refund_answer(evalkit):
        evalkit.check(
            {"input": "How do I get a refund?", "expected": "Use the refund form"},
            metrics=[{"name": "f1", "scorer": "token_f1", "threshold": 0.5}],
            model="openai/gpt-4o-mini",
        )

Without ``output`` the SUT answers the case (through LiteLLM, cached); with it, only the
scorers run. Thresholds and pass rules are those of the suite gate (evalkit._policy).
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evalkit.config._suite import MetricSpec, ProjectConfig, SuiteConfig, SUTConfig, load_config
from evalkit.data._golden import GoldenCase, GoldenSet
from evalkit.data._records import MetricInfo, Output, ScoreRow
from evalkit.errors import NotFoundError, SUTError
from evalkit.util._event_loop import run as run_event_loop

MetricLike = str | Mapping[str, Any] | MetricSpec


@dataclass(frozen=True)
class CheckResult:
    """One checked case: the answer, each metric's score and the misses (empty: passed)."""

    case_id: str
    output: str | None
    scores: dict[str, float | None]
    misses: tuple[str, ...]

    @property
    def passed(self) -> bool:
        """True when every gating metric met its threshold."""
        return not self.misses


def _spec(metric: MetricLike) -> MetricSpec:
    if isinstance(metric, MetricSpec):
        return metric
    if isinstance(metric, str):
        return MetricSpec(name=metric)
    return MetricSpec.model_validate(dict(metric))


class Evaluator:
    """Runs and scores single cases; :meth:`check` raises AssertionError on a miss."""

    def __init__(
        self,
        project: ProjectConfig | None = None,
        *,
        config_file: str | Path | None = None,
        root: str | Path | None = None,
        use_cache: bool = True,
    ) -> None:
        if project is None:
            try:
                project = load_config(config_file)
            except NotFoundError:
                project = ProjectConfig(source="(none)", root=str(root or Path.cwd()))
        self.project = project
        self.use_cache = use_cache

    def _suite(
        self,
        suite: str | None,
        metrics: Sequence[MetricLike] | None,
        sut: Mapping[str, Any],
    ) -> SuiteConfig:
        if suite is not None:
            base = self.project.suite(suite)
        elif len(self.project.suites) == 1:
            base = next(iter(self.project.suites.values()))
        else:
            base = SuiteConfig(name="check", golden="(inline)")
        updates: dict[str, Any] = {}
        if metrics is not None:
            updates["metrics"] = [_spec(m) for m in metrics]
        if sut:
            updates["sut"] = SUTConfig.model_validate({**base.sut.model_dump(), **sut})
        return base.model_copy(update=updates)

    def score(
        self,
        case: GoldenCase | Mapping[str, Any],
        output: str | None = None,
        *,
        metrics: Sequence[MetricLike] | None = None,
        suite: str | None = None,
        **sut: Any,
    ) -> CheckResult:
        """Returns the case's scores and misses (no assertion); ``sut``: SUTConfig overrides.

        Raises:
            SUTError: the SUT gave no answer for the case (after its retries).
        """
        golden_case = (
            case
            if isinstance(case, GoldenCase)
            else GoldenCase.model_validate({"id": "case", **dict(case)})
        )
        config = self._suite(suite, metrics, {k: v for k, v in sut.items() if v is not None})
        if not config.metrics:
            raise NotFoundError("evalkit.check needs metrics=[...] or a suite with metrics")
        text, rows, infos = run_event_loop(self._run(config, golden_case, output))
        return self._result(config, golden_case.id, text, rows, infos)

    def check(
        self,
        case: GoldenCase | Mapping[str, Any],
        output: str | None = None,
        *,
        metrics: Sequence[MetricLike] | None = None,
        suite: str | None = None,
        **sut: Any,
    ) -> CheckResult:
        """Returns the result when every metric meets its threshold; else raises AssertionError.

        Raises:
            AssertionError: a gating metric missed its threshold (the message names each).
            SUTError: the SUT gave no answer for the case (after its retries).
        """
        result = self.score(case, output, metrics=metrics, suite=suite, **sut)
        if result.misses:
            shown = (result.output or "")[:200]
            raise AssertionError(
                f"case {result.case_id}: {'; '.join(result.misses)} (output: {shown!r})"
            )
        return result

    async def _run(
        self, suite: SuiteConfig, case: GoldenCase, output: str | None
    ) -> tuple[str | None, list[ScoreRow], list[MetricInfo]]:
        from evalkit.execution._runner import generate_outputs
        from evalkit.execution._scoring import score_outputs
        from evalkit.models._cache import Cache
        from evalkit.models._llm import ModelClient

        golden = GoldenSet("(inline)", (case,), "inline")
        cache = Cache(self.project.path(self.project.cache_dir)) if self.use_cache else None
        client = ModelClient(cache=cache, rpm=suite.sut.rpm, concurrency=1)
        try:
            if output is not None:
                outputs = [Output(case_id=case.id, sample=0, text=output)]
            else:
                with tempfile.TemporaryDirectory(prefix="evalkit-check-") as folder:
                    outputs = await generate_outputs(
                        suite,
                        golden,
                        project=self.project,
                        client=client,
                        journal_path=Path(folder) / "journal.jsonl",
                        samples=1,
                        concurrency=1,
                        progress=False,
                    )
            rows, infos = await score_outputs(suite, self.project, golden, outputs, client=client)
        finally:
            await client.aclose()
            if cache is not None:
                cache.close()
        first = outputs[0]
        if not first.ok:  # no answer to check: an error of the SUT, not a missed threshold
            raise SUTError(f"case {case.id}: the SUT failed: {first.error}", retryable=False)
        return first.text, list(rows), list(infos)

    def _result(
        self,
        suite: SuiteConfig,
        case_id: str,
        text: str | None,
        rows: list[ScoreRow],
        infos: list[MetricInfo],
    ) -> CheckResult:
        from evalkit._policy import metric_policy

        specs = {spec.name: spec for spec in suite.metrics}
        by_info = {info.name: info for info in infos}
        scores: dict[str, float | None] = {row.metric: row.value for row in rows}
        misses = []
        for name, value in scores.items():
            policy = metric_policy(
                name,
                spec=specs.get(name),
                info=by_info.get(name),
                observed_kind=None,
                gate=suite.gate,
                judge_status=None,
            )
            text_miss = policy.miss(value)
            if text_miss is not None and policy.gating:
                reason = next((r.error for r in rows if r.metric == name and r.error), None)
                misses.append(f"{text_miss} ({reason})" if reason else text_miss)
        return CheckResult(case_id, text, scores, tuple(misses))
