"""RAGAS metrics (ragas 0.4.3) computed by the ragas library with evalkit's judge and embeddings.

evalkit calls each metric's async ``ascore`` per case under its own bounded concurrency,
never ``ragas.evaluate()``, and gives ragas:

* an LLM (:class:`EvalkitRagasLLM`, a ragas ``InstructorBaseRagasLLM``) whose
  ``agenerate`` goes through :class:`evalkit.models._llm.ModelClient` — cache, retries,
  accounting under ``judge:ragas`` — with the reply constrained to the metric's pydantic
  schema where the server supports it, a completion budget sized for that schema (not
  the judge's verdict budget), and re-asked once if it does not parse;
* for a text-completion judge (a base model such as the embedded Gemma), few-shot
  renderings of ragas' prompts (:mod:`evalkit.scorers._completion_prompts`) in place of
  ragas' chat instructions; ragas' own metric code still splits, judges and aggregates;
* embeddings (:class:`EvalkitRagasEmbeddings`) from :mod:`evalkit.models._embeddings`, computed in
  a worker thread and cached by text hash.

That sidesteps the traps measured in ragas 0.4.3: ``evaluate()``'s default synchronous
client serialises every call; passing the ``litellm`` module as the client makes every
score NaN; ``HuggingfaceEmbeddings`` cannot be instantiated; the embedding step runs
synchronously on the event loop; and response relevancy's ``strictness`` questions come
back identical (one question, really) when the calls share a cache key — here each
repeated prompt gets its own sample index, and the scorer checks that ``strictness``
questions were generated. A parse failure, a failed call or a NaN is an unscored row.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from evalkit.errors import JudgeReplyError
from evalkit.judging._definitions import JudgeModel
from evalkit.models._embeddings import BUNDLED_MODEL, Embedder, get_embedder
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
    judge_concurrency,
    prompts_fingerprint,
    use_ragas_completion_prompts,
)
from evalkit.scorers._judge import (
    CaseJudge,
    JudgeOption,
    StructuredJudge,
    resolve_judge_model,
)

if TYPE_CHECKING:
    from pydantic import BaseModel

    from evalkit.models._llm import ModelClient

M = TypeVar("M", bound="BaseModel")


@functools.cache
def _ragas_llm_class() -> type[Any]:
    from ragas.llms.base import InstructorBaseRagasLLM

    class EvalkitRagasLLM(InstructorBaseRagasLLM):  # type: ignore[misc]
        """ragas LLM that calls evalkit's judge model through ModelClient (async only)."""

        def __init__(self, judge: StructuredJudge, sample: int) -> None:
            self.case = CaseJudge(judge, sample)
            self.replies: list[Any] = []

        async def agenerate(self, prompt: str, response_model: type[M]) -> M:
            reply = await self.case.ask(prompt, response_model)
            self.replies.append(reply)
            return reply

        def generate(self, prompt: str, response_model: type[M]) -> M:
            raise NotImplementedError("evalkit runs ragas metrics asynchronously (agenerate)")

    return EvalkitRagasLLM


@functools.cache
def _ragas_embeddings_class() -> type[Any]:
    from ragas.embeddings.base import BaseRagasEmbedding

    class EvalkitRagasEmbeddings(BaseRagasEmbedding):  # type: ignore[misc]
        """ragas embeddings backed by evalkit's cached, batched, off-loop embedder."""

        def __init__(self, embedder: Embedder) -> None:
            super().__init__(cache=None)
            self.embedder = embedder

        def embed_text(self, text: str, **kwargs: Any) -> list[float]:
            raise NotImplementedError("evalkit runs ragas metrics asynchronously (aembed_text)")

        async def aembed_text(self, text: str, **kwargs: Any) -> list[float]:
            vectors = await self.embedder.embed([text])
            return [float(x) for x in vectors[0]]

        async def aembed_texts(self, texts: list[str], **kwargs: Any) -> list[list[float]]:
            vectors = await self.embedder.embed(list(texts))
            return [[float(x) for x in row] for row in vectors]

    return EvalkitRagasEmbeddings


class RagasScorer(BaseScorer):
    """One ragas collections metric, scored case by case with evalkit's judge."""

    def __init__(
        self,
        name: str,
        *,
        needs: Needs,
        judge: JudgeModel,
        client: ModelClient | None,
        concurrency: int,
        embedder: Embedder | None = None,
        options: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(name, MetricShape(kind="continuous"), needs=needs, concurrency=concurrency)
        self.metric_name = name
        self.judge_model = judge
        self.judge = StructuredJudge(judge, client, tag="judge:ragas")
        self.embedder = embedder
        self.options = dict(options or {})
        prepare_import("ragas")  # no usage tracking, set before ragas' first import
        self._llm_class = _ragas_llm_class()
        self._embeddings_class = _ragas_embeddings_class() if embedder is not None else None

    @property
    def completion_prompts(self) -> bool:
        """True when the judge is a text-completion (base) model: evalkit's few-shot prompts."""
        return self.judge_model.mode == "text"

    def fingerprint(self) -> str | None:
        """Returns the judge model's fingerprint, with evalkit's prompts' for a text judge
        (the ragas prompts are pinned by version)."""
        if not self.completion_prompts:
            return self.judge_model.fingerprint()
        from evalkit.util._fingerprint import fingerprint_json

        return fingerprint_json(
            {"judge": self.judge_model.fingerprint(), "prompts": prompts_fingerprint()}
        )

    def _metric(self, llm: Any) -> Any:
        from ragas.metrics import collections as rc

        embeddings = self._embeddings_class(self.embedder) if self._embeddings_class else None
        if self.metric_name == "faithfulness":
            metric = rc.Faithfulness(llm=llm)
        elif self.metric_name == "answer_relevancy":
            metric = rc.AnswerRelevancy(llm=llm, embeddings=embeddings, **self.options)
        elif self.metric_name == "context_precision":
            metric = rc.ContextPrecisionWithReference(llm=llm)
        elif self.metric_name == "context_recall":
            metric = rc.ContextRecall(llm=llm)
        else:
            raise ValueError(f"unknown ragas metric {self.metric_name}")
        if self.completion_prompts:
            use_ragas_completion_prompts(metric, self.metric_name)
        return metric

    def _arguments(self, item: ScoreInput) -> dict[str, Any]:
        reference = " OR ".join(item.answers)
        arguments: dict[str, Any] = {"user_input": item.input}
        if self.metric_name in ("faithfulness", "answer_relevancy"):
            arguments["response"] = item.output
        if self.metric_name in ("faithfulness", "context_precision", "context_recall"):
            arguments["retrieved_contexts"] = list(item.contexts)
        if self.metric_name in ("context_precision", "context_recall"):
            arguments["reference"] = reference
        return arguments

    async def score_one(self, item: ScoreInput) -> Score:
        """Returns ragas' score for one case; failures and NaN become unscored."""
        llm = self._llm_class(self.judge, item.sample)
        arguments = self._arguments(item)
        if "response" in arguments and not item.output.strip():
            return Score.unscored(f"{self.metric_name}: the output is empty")
        try:
            result = await self._metric(llm).ascore(**arguments)
        except JudgeReplyError as err:
            return Score.unscored(f"ragas {self.metric_name}: {err}", raw=err.raw)
        except Exception as err:
            return Score.unscored(f"ragas {self.metric_name} failed: {describe_error(err)}")
        value = float(result.value) if result.value is not None else float("nan")
        raw = _replies_json(llm.replies)
        problem = self._suspicious(llm.replies)
        if problem:
            return Score.unscored(f"ragas {self.metric_name}: {problem}", raw=raw)
        if value != value:  # NaN: ragas could not compute it (e.g. no statements)
            return Score.unscored(
                f"ragas {self.metric_name} returned NaN ({_nan_hint(self.metric_name)})", raw=raw
            )
        return Score(value, rationale=f"ragas {self.metric_name} {value:.3f}", raw=raw)

    def _suspicious(self, replies: Sequence[Any]) -> str | None:
        """Returns why a numeric result cannot be trusted, or None."""
        if self.metric_name != "answer_relevancy":
            return None
        strictness = int(self.options.get("strictness", 3))
        questions = [r for r in replies if getattr(r, "question", "")]
        if not questions:
            # ragas returns 0.0 here; no question generated is a failure to score.
            return "the judge generated no question from the response"
        if len(replies) != strictness:
            return f"expected {strictness} generated questions, got {len(replies)}"
        return None


def _nan_hint(metric: str) -> str:
    return {
        "faithfulness": "no statements were extracted from the response",
        "context_recall": "no statements were classified",
    }.get(metric, "the judge's replies gave nothing to score")


def _replies_json(replies: Sequence[Any]) -> str | None:
    if not replies:
        return None
    text = json.dumps([r.model_dump(mode="json") for r in replies], ensure_ascii=False)
    return text if len(text) <= 8000 else text[:7997] + "..."


def _ragas_scorer(
    name: str,
    needs: Needs,
    context: ScorerContext | None,
    *,
    judge: JudgeOption,
    concurrency: int | None,
    embedding_model: str | None = None,
    options: dict[str, Any] | None = None,
) -> RagasScorer:
    context = context or ScorerContext()
    judge_model = resolve_judge_model(context, judge)
    embedder = None
    if embedding_model is not None:
        folder = context.cache_dir / "embeddings" if context.cache_dir else None
        embedder = get_embedder(embedding_model, cache_dir=folder)
    suite_limit = context.suite.concurrency if context.suite else None
    limit = judge_concurrency(judge_model.model, concurrency, suite_limit)
    return RagasScorer(
        name,
        needs=needs,
        judge=judge_model,
        client=context.client,
        concurrency=limit,
        embedder=embedder,
        options=options,
    )


# Shared documentation of the judge options, appended to each factory's docstring.
_JUDGE_OPTIONS = """
    Judge options (all metrics):
        judge: a judge in judges/ whose model, mode, api_base and params to use, or a
            table {model, mode, api_base, params, structured, timeout, name}
            (default: the suite's judge, else the embedded Gemma in text mode).
        concurrency: cases scored at once (default: 1 for the embedded model, whose
            server answers one request at a time; else the suite's concurrency).
"""


def _llm_only_metric(name: str, needs: Needs, doc: str) -> Any:
    """Returns a registered factory for a ragas metric that needs only the judge LLM."""

    def factory(
        *,
        judge: JudgeOption = None,
        concurrency: int | None = None,
        context: ScorerContext | None = None,
    ) -> Any:
        return _ragas_scorer(
            name,
            needs,
            context,
            judge=judge,
            concurrency=concurrency,
        )

    factory.__name__ = name
    factory.__doc__ = doc + _JUDGE_OPTIONS
    return register_scorer(name)(factory)


faithfulness = _llm_only_metric(
    "faithfulness",
    Needs(contexts=True),
    """Scores ragas faithfulness (0..1): supported statements / statements in the output.

    Needs contexts. The judge splits the output into statements, then marks each as
    inferable (1) or not (0) from the contexts. No statement extracted -> unscored.
""",
)

context_precision = _llm_only_metric(
    "context_precision",
    Needs(expected=True, contexts=True),
    """Scores ragas context precision with reference (0..1): average precision of the
    contexts the judge finds useful for the expected answer, in retrieval order.

    Needs expected and contexts; one judge call per context.
""",
)

context_recall = _llm_only_metric(
    "context_recall",
    Needs(expected=True, contexts=True),
    """Scores ragas context recall (0..1): share of the expected answer's statements the
    judge attributes to the contexts. Needs expected and contexts.
""",
)


@register_scorer("answer_relevancy")
def answer_relevancy(
    *,
    strictness: int | None = None,
    embedding_model: str = BUNDLED_MODEL,
    judge: JudgeOption = None,
    concurrency: int | None = None,
    context: ScorerContext | None = None,
) -> Any:
    """Scores ragas response relevancy (0..1): mean cosine of the question with questions
    the judge generates from the output; 0 when every generated question is noncommittal.

    Args:
        strictness: questions generated per case (each a separate judge call). Default:
            ragas' 3 for a judge that samples (temperature above 0), else 1 — at
            temperature 0 the repeats are the same question (on the embedded model, the
            same reply), so they would triple the cost and change nothing.
        embedding_model: "minilm" (bundled) or a LiteLLM embedding model.
    """
    if strictness is not None and strictness < 1:
        raise ValueError("strictness must be >= 1")
    scorer = _ragas_scorer(
        "answer_relevancy",
        Needs(),
        context,
        judge=judge,
        concurrency=concurrency,
        embedding_model=embedding_model,
        options={"strictness": strictness},
    )
    if strictness is None:
        samples = float(scorer.judge_model.request_params(None).get("temperature") or 0) > 0
        scorer.options["strictness"] = 3 if samples else 1
    return scorer


answer_relevancy.__doc__ = (answer_relevancy.__doc__ or "") + _JUDGE_OPTIONS
