"""deepeval metrics (deepeval 4.3) as evalkit scorers: G-Eval and answer relevancy.

The judge is evalkit's: a ``DeepEvalBaseLLM`` adapter whose ``a_generate`` calls
:class:`evalkit.models._llm.ModelClient` (cache, retries, accounting under ``judge:deepeval``),
returning deepeval's pydantic schema objects, with the JSON constrained to that schema
where the server supports it and a completion budget sized for it. A text-completion
judge (a base model such as the embedded Gemma) gets few-shot renderings of deepeval's
prompts through each metric's ``evaluation_template`` hook
(:mod:`evalkit.scorers._completion_prompts`); deepeval's metric code is unchanged.
evalkit calls each metric's async ``a_measure`` directly under its own bounded
concurrency — never ``deepeval.evaluate()``, which rewrites its whole cache and test-run
file after every case (quadratic time) — on a fresh metric object per case (deepeval
metrics keep per-case state on ``self``). G-Eval's evaluation
steps are generated once per scorer (so once per suite) and passed to every case's
metric; deepeval alone would ask for them once per case. Telemetry is off: the scorer
sets deepeval's opt-out before deepeval is first imported (:mod:`evalkit.models._offline`).
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from evalkit.errors import JudgeReplyError
from evalkit.judging._definitions import JudgeModel
from evalkit.models._offline import prepare_import
from evalkit.scorers._base import (
    BaseScorer,
    MetricShape,
    Needs,
    Score,
    ScoreInput,
    ScorerContext,
    describe_error,
    register_scorer,
)
from evalkit.scorers._completion_prompts import (
    answer_relevancy_template,
    geval_template,
    judge_concurrency,
    prompts_fingerprint,
)
from evalkit.scorers._judge import (
    CaseJudge,
    JudgeOption,
    StructuredJudge,
    resolve_judge_model,
)

if TYPE_CHECKING:
    from evalkit.models._llm import ModelClient

_PARAMS = {
    "input": "INPUT",
    "actual_output": "ACTUAL_OUTPUT",
    "expected_output": "EXPECTED_OUTPUT",
    "retrieval_context": "RETRIEVAL_CONTEXT",
    "context": "CONTEXT",
}


@functools.cache
def _adapter_class() -> type[Any]:
    from deepeval.models import DeepEvalBaseLLM

    class EvalkitDeepEvalLLM(DeepEvalBaseLLM):  # type: ignore[misc]
        """deepeval judge model that calls evalkit's ModelClient (async only)."""

        def __init__(self, judge: StructuredJudge, sample: int) -> None:
            self.judge = judge
            self.case = CaseJudge(judge, sample)
            super().__init__(model=judge.model.model)

        def load_model(self, *args: Any, **kwargs: Any) -> Any:
            return self

        def get_model_name(self, *args: Any, **kwargs: Any) -> str:
            return f"evalkit:{self.judge.model.model}"

        def generate(self, *args: Any, **kwargs: Any) -> str:
            raise NotImplementedError("evalkit runs deepeval metrics asynchronously")

        async def a_generate(self, prompt: str, schema: Any = None, **kwargs: Any) -> Any:
            if schema is None:
                raise JudgeReplyError("deepeval asked for an unstructured reply", None)
            return await self.case.ask(prompt, schema)

    return EvalkitDeepEvalLLM


def _test_case(item: ScoreInput) -> Any:
    from deepeval.test_case import LLMTestCase

    expected = " OR ".join(item.answers) or None
    return LLMTestCase(
        input=item.input,
        actual_output=item.output,
        expected_output=expected,
        retrieval_context=list(item.contexts) or None,
        context=list(item.contexts) or None,
    )


class DeepEvalScorer(BaseScorer):
    """A deepeval metric, measured per case with evalkit's judge."""

    def __init__(
        self,
        name: str,
        *,
        needs: Needs,
        judge: JudgeModel,
        client: ModelClient | None,
        concurrency: int,
    ) -> None:
        super().__init__(name, MetricShape(kind="continuous"), needs=needs, concurrency=concurrency)
        prepare_import("deepeval")  # telemetry off before deepeval's first import
        self.judge_model = judge
        self.judge = StructuredJudge(judge, client, tag="judge:deepeval")

    @property
    def completion_prompts(self) -> bool:
        """True when the judge is a text-completion (base) model: evalkit's few-shot prompts."""
        return self.judge_model.mode == "text"

    def judge_fingerprint(self) -> str:
        """Returns the judge model's fingerprint, with evalkit's prompts' for a text judge."""
        if not self.completion_prompts:
            return self.judge_model.fingerprint()
        from evalkit.util._fingerprint import fingerprint_json

        return fingerprint_json(
            {"judge": self.judge_model.fingerprint(), "prompts": prompts_fingerprint()}
        )

    def fingerprint(self) -> str | None:
        """Returns the judge's fingerprint (model, and prompts for a text judge)."""
        return self.judge_fingerprint()

    def template_options(self) -> dict[str, Any]:
        """Returns ``evaluation_template=...`` for a text judge (few-shot prompts), else {}."""
        return {}

    def adapter(self, sample: int) -> Any:
        """Returns a deepeval judge model bound to ``sample`` (distinct cache entries)."""
        return _adapter_class()(self.judge, sample)

    def build_metric(self, model: Any) -> Any:
        """Returns a fresh deepeval metric object for one case."""
        raise NotImplementedError

    def check(self, metric: Any) -> str | None:
        """Returns why the measured value cannot be trusted, or None."""
        return None

    async def score_one(self, item: ScoreInput) -> Score:
        """Returns the metric's score for one case; failures become unscored."""
        metric = self.build_metric(self.adapter(item.sample))
        try:
            value = await metric.a_measure(_test_case(item), _show_indicator=False)
        except JudgeReplyError as err:
            return Score.unscored(f"deepeval {self.name}: {err}", raw=err.raw)
        except Exception as err:
            return Score.unscored(f"deepeval {self.name} failed: {describe_error(err)}")
        problem = self.check(metric)
        if problem:
            return Score.unscored(f"deepeval {self.name}: {problem}")
        if value is None:
            return Score.unscored(f"deepeval {self.name} returned no score")
        reason = getattr(metric, "reason", None)
        return Score(float(value), rationale=str(reason) if reason else None)


class GEvalScorer(DeepEvalScorer):
    """deepeval G-Eval with its evaluation steps generated once for the whole suite."""

    def __init__(
        self,
        *,
        criteria: str | None,
        evaluation_steps: list[str] | None,
        evaluation_params: list[str],
        rubric: list[dict[str, Any]] | None,
        **kwargs: Any,
    ) -> None:
        super().__init__("geval", **kwargs)
        self.criteria = criteria
        self.steps = list(evaluation_steps) if evaluation_steps else None
        self.evaluation_params = evaluation_params
        self.rubric = rubric
        self.steps_generated = 0
        self._steps_lock: asyncio.Lock | None = None

    def fingerprint(self) -> str | None:
        """Returns a hash of the judge model, criteria, rubric and params."""
        from evalkit.util._fingerprint import fingerprint_json

        return fingerprint_json(
            {
                "judge": self.judge_fingerprint(),
                "criteria": self.criteria,
                "steps": self.steps if self.steps_generated == 0 else None,
                "params": self.evaluation_params,
                "rubric": self.rubric,
            }
        )

    def _geval(self, model: Any, steps: list[str] | None) -> Any:
        from deepeval.metrics import GEval
        from deepeval.metrics.g_eval import Rubric
        from deepeval.test_case import SingleTurnParams

        return GEval(
            name=self.name,
            criteria=None if steps else self.criteria,
            evaluation_steps=steps,
            evaluation_params=[
                getattr(SingleTurnParams, _PARAMS[p]) for p in self.evaluation_params
            ],
            rubric=[Rubric(**r) for r in self.rubric] if self.rubric else None,
            model=model,
            async_mode=True,
            verbose_mode=False,
            **self.template_options(),
        )

    def template_options(self) -> dict[str, Any]:
        """Returns G-Eval's few-shot template for a text judge, else {}."""
        return {"evaluation_template": geval_template()} if self.completion_prompts else {}

    async def evaluation_steps(self) -> list[str]:
        """Returns G-Eval's evaluation steps, asking the judge once per scorer."""
        if self._steps_lock is None:
            self._steps_lock = asyncio.Lock()
        async with self._steps_lock:
            if self.steps is None:
                metric = self._geval(self.adapter(0), None)
                steps = await metric._a_generate_evaluation_steps(False)
                if not steps:
                    raise JudgeReplyError("the judge generated no evaluation steps", None)
                self.steps = [str(s) for s in steps]
                self.steps_generated += 1
            return self.steps

    async def score_ready(self, items: Sequence[ScoreInput]) -> list[Score]:
        """Returns G-Eval scores; if the steps cannot be generated, every case is unscored."""
        try:
            await self.evaluation_steps()
        except JudgeReplyError as err:
            reason = f"deepeval geval: evaluation steps: {err}"
            return [Score.unscored(reason, raw=err.raw) for _ in items]
        return await super().score_ready(items)

    def build_metric(self, model: Any) -> Any:
        """Returns a G-Eval metric with the suite's steps already in place."""
        return self._geval(model, self.steps)


class AnswerRelevancyScorer(DeepEvalScorer):
    """deepeval AnswerRelevancyMetric: share of output statements relevant to the input."""

    def __init__(self, *, include_reason: bool, **kwargs: Any) -> None:
        super().__init__("deepeval_answer_relevancy", **kwargs)
        self.include_reason = include_reason

    def build_metric(self, model: Any) -> Any:
        """Returns a fresh AnswerRelevancyMetric judged by ``model``."""
        from deepeval.metrics import AnswerRelevancyMetric

        return AnswerRelevancyMetric(
            model=model,
            eval_mode="llm",
            include_reason=self.include_reason,
            async_mode=True,
            verbose_mode=False,
            **self.template_options(),
        )

    def template_options(self) -> dict[str, Any]:
        """Returns answer relevancy's few-shot template for a text judge, else {}."""
        if not self.completion_prompts:
            return {}
        return {"evaluation_template": answer_relevancy_template()}

    def check(self, metric: Any) -> str | None:
        """Returns a reason when no statement was extracted (deepeval would score 1)."""
        if not getattr(metric, "statements", None):
            return "the judge extracted no statements from the output"
        return None


def _judge_options(
    context: ScorerContext | None,
    *,
    judge: JudgeOption,
    concurrency: int | None,
) -> dict[str, Any]:
    context = context or ScorerContext()
    model = resolve_judge_model(context, judge)
    suite_limit = context.suite.concurrency if context.suite else None
    return {
        "judge": model,
        "client": context.client,
        "concurrency": judge_concurrency(model.model, concurrency, suite_limit),
    }


@register_scorer("geval")
def geval(
    *,
    criteria: str | None = None,
    evaluation_steps: list[str] | None = None,
    evaluation_params: list[str] | None = None,
    rubric: list[dict[str, Any]] | None = None,
    judge: JudgeOption = None,
    concurrency: int | None = None,
    context: ScorerContext | None = None,
) -> Any:
    """Scores deepeval G-Eval (0..1, the judge's rubric score rescaled).

    Args:
        criteria: what "good" means, in words; the judge turns it into evaluation steps
            once for the suite. Give ``evaluation_steps`` instead to skip that call.
        evaluation_steps: explicit steps (a list of sentences).
        evaluation_params: which case fields the judge sees, from "input",
            "actual_output" (the output), "expected_output", "retrieval_context",
            "context"; default ["input", "actual_output"].
        rubric: optional score bands, e.g. [{score_range = [0, 3], expected_outcome =
            "wrong"}, {score_range = [4, 10], expected_outcome = "right"}].
        judge, concurrency: the judge model and parallelism, as for the ragas scorers.
    """
    if not criteria and not evaluation_steps:
        raise ValueError("geval needs 'criteria' or 'evaluation_steps'")
    chosen = list(evaluation_params or ["input", "actual_output"])
    unknown = [p for p in chosen if p not in _PARAMS]
    if unknown:
        raise ValueError(f"unknown evaluation_params {unknown}; use any of {sorted(_PARAMS)}")
    needs = Needs(
        expected="expected_output" in chosen,
        contexts=bool({"retrieval_context", "context"} & set(chosen)),
    )
    return GEvalScorer(
        criteria=criteria,
        evaluation_steps=evaluation_steps,
        evaluation_params=chosen,
        rubric=rubric,
        needs=needs,
        **_judge_options(context, judge=judge, concurrency=concurrency),
    )


@register_scorer("deepeval_answer_relevancy")
def deepeval_answer_relevancy(
    *,
    include_reason: bool = False,
    judge: JudgeOption = None,
    concurrency: int | None = None,
    context: ScorerContext | None = None,
) -> Any:
    """Scores deepeval answer relevancy (0..1): relevant statements / statements.

    Args:
        include_reason: one more judge call per case for a written reason (off by default).
        judge, concurrency: the judge model and parallelism, as for the ragas scorers.

    An output from which the judge extracts no statement is unscored (deepeval says 1).
    """
    return AnswerRelevancyScorer(
        include_reason=include_reason,
        needs=Needs(),
        **_judge_options(context, judge=judge, concurrency=concurrency),
    )
