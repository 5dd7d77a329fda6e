"""evalkit's own LLM judge as a scorer: pointwise or pairwise, parsed strictly.

Judge calls go through :class:`evalkit.models._llm.ModelClient` (cache, retries, accounting under
the tag ``judge:<name>``). A reply that is not a verdict is asked again once, as a new
call (sample offset, so the cache cannot hand back the same reply); if that is not a
verdict either the case is unscored with the raw reply kept — never counted as a fail.
Pairwise judging asks in both orders and reports the position flip as a companion metric
``<metric>.position_flip`` (1 when the verdict changed with the order).

A pointwise judge that reads log-probabilities stores its soft score with the row
(``soft_score``: P(pass), or the probability-weighted 1..N score). When the judge's
calibration record (``judges/NAME.calibration.json``, made by ``evalkit calibrate`` with
this judge's fingerprint) holds a fitted mapping, a pass/fail verdict is the mapping
applied to the soft score (the sampled verdict where there is none), and the judge's
fingerprint covers the mapping.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from pydantic import BaseModel, ValidationError

from evalkit.errors import JudgeReplyError
from evalkit.judging._definitions import (
    JudgeDefinition,
    JudgeModel,
    Verdict,
    load_judge,
    parse_verdict,
    parse_verdict_token,
    template_variables,
    verdict_soft_score,
)
from evalkit.scorers._base import (
    BaseScorer,
    MetricShape,
    Needs,
    Score,
    ScoreInput,
    ScorerContext,
    register_scorer,
)

if TYPE_CHECKING:
    from evalkit.judging._calibration import ScoreMapping
    from evalkit.models._embeddings import Embedder
    from evalkit.models._llm import ModelClient, TokenLogprob

#: Added to the sample index of a re-asked call so it is a new cache entry.
RETRY_SAMPLE_OFFSET = 1_000_000
POSITION_FLIP = "position_flip"


M = TypeVar("M", bound="BaseModel")
T = TypeVar("T")


@dataclass(frozen=True)
class JudgeReply(Generic[T]):
    """A parsed reply, or the reason there is none; ``raw`` is the last reply text."""

    value: T | None
    error: str | None
    raw: str | None
    retried: bool = False
    logprobs: tuple[TokenLogprob, ...] | None = None


async def ask_judge_model(
    client: ModelClient,
    model: JudgeModel,
    *,
    prompt: str | None,
    messages: tuple[dict[str, str], ...] | None,
    schema: Mapping[str, Any] | None,
    parse: Callable[[str], T],
    sample: int,
    tag: str,
    retry: tuple[str, Callable[[str], T]] | None = None,
) -> JudgeReply[T]:
    """Returns the parsed reply of a judge model, asking once more if it cannot be parsed.

    The second call uses ``sample + RETRY_SAMPLE_OFFSET``, so a cached unparseable reply is
    not served again. A failed call (after ModelClient's own retries) is not re-asked, nor
    is an unparseable reply that stopped at the token limit ("reply truncated at N tokens").
    ``parse`` raises ValueError for a reply it cannot use. ``retry`` (a text prompt and its
    parser) is what the second call asks instead of ``prompt``: the same task worded
    otherwise, for a judge at temperature 0 that would give the same reply again.
    """
    from evalkit.models._llm import ModelRequest

    raw: str | None = None
    problem = ""
    for attempt in range(2):
        if attempt and retry is not None:
            prompt, parse = retry
        request = ModelRequest(
            model=model.model,
            mode=model.mode,
            messages=messages,
            prompt=prompt,
            params=model.request_params(schema),
            api_base=model.api_base,
            sample=sample + attempt * RETRY_SAMPLE_OFFSET,
            timeout=model.timeout,
            max_retries=model.max_retries,
            tag=tag,
        )
        result = await client.call(request)
        if not result.ok:
            return JudgeReply(None, f"judge call failed: {result.error}", raw, attempt > 0)
        raw = result.text
        try:
            return JudgeReply(parse(raw or ""), None, raw, attempt > 0, result.logprobs)
        except ValueError as err:
            problem = str(err).splitlines()[0] if str(err) else type(err).__name__
        if result.finish_reason == "length":
            # Cut off by the budget: asking again would be cut off at the same place.
            tokens = result.completion_tokens or request.params.get("max_tokens", "?")
            return JudgeReply(None, f"reply truncated at {tokens} tokens", raw, attempt > 0)
    return JudgeReply(None, f"unparseable judge reply after one retry: {problem}", raw, True)


async def ask_verdict_token(
    client: ModelClient, judge: JudgeDefinition, prompt: str, sample: int
) -> JudgeReply[Verdict]:
    """Returns the verdict the judge's one token after ``prompt`` + its verdict prefix begins.

    ``raw`` is the prefix and the token (``{"verdict": "fail``), ``logprobs`` the token's
    top alternatives (P(pass) is read from them). A token that begins no label is
    unparseable: the item is unscored with the reply kept, never counted as a fail; it is
    asked again once only when the judge samples (temperature above 0), since a greedy
    judge would give the same token.
    """
    from evalkit.models._llm import ModelRequest

    prefix = judge.verdict_prefix or ""
    model = judge.verdict_token_model
    params = model.request_params(None)
    attempts = 2 if float(params.get("temperature") or 0.0) > 0 else 1
    raw: str | None = None
    problem = ""
    for attempt in range(attempts):
        request = ModelRequest(
            model=model.model,
            mode="text",
            prompt=f"{prompt} {prefix}",
            params=params,
            api_base=model.api_base,
            sample=sample + attempt * RETRY_SAMPLE_OFFSET,
            timeout=model.timeout,
            max_retries=model.max_retries,
            tag=f"judge:{judge.name}",
        )
        result = await client.call(request)
        if not result.ok:
            return JudgeReply(None, f"judge call failed: {result.error}", raw, attempt > 0)
        raw = prefix + (result.text or "")
        try:
            verdict = parse_verdict_token(result.text or "", judge)
        except ValueError as err:
            problem = str(err)
            continue
        return JudgeReply(verdict, None, raw, attempt > 0, result.logprobs)
    retried = " after one retry" if attempts > 1 else ""
    return JudgeReply(None, f"unparseable judge reply{retried}: {problem}", raw, attempts > 1)


def default_client(client: ModelClient | None) -> ModelClient:
    """Returns ``client``, or a new cache-less ModelClient."""
    if client is not None:
        return client
    from evalkit.models._llm import ModelClient

    return ModelClient(cache=None)


class StructuredJudge:
    """Asks a judge model for JSON that fits a pydantic model (the ragas/deepeval bridge)."""

    def __init__(self, model: JudgeModel, client: ModelClient | None, tag: str) -> None:
        self.model = model
        self._client = client
        self.tag = tag
        self.calls = 0

    @property
    def client(self) -> ModelClient:
        """Returns the model client (created on first use if none was given)."""
        self._client = default_client(self._client)
        return self._client

    async def generate(self, prompt: str, response_model: type[M], sample: int) -> M:
        """Returns the reply to a library's ``prompt`` parsed into ``response_model``;
        raises JudgeReplyError.

        A library prompt is sent as it is, constrained to ``response_model``'s schema with
        a budget sized for it. An evalkit few-shot rendering
        (:class:`~evalkit.scorers._completion_prompts.CompletionPrompt`) brings its own
        tight schema, budget and reply expansion, and its ``retry`` rendering (the same
        task with other worked examples) is what a second call asks when the first reply
        cannot be used: at temperature 0 the same prompt would give the same reply.
        """
        from evalkit.scorers._completion_prompts import call_options, reply_model
        from evalkit.scorers._exact import extract_json

        def parser(text_prompt: str) -> Callable[[str], M]:
            parsed_as = reply_model(text_prompt, response_model)

            def parse(text: str) -> M:
                try:
                    return parsed_as.model_validate(extract_json(text))
                except ValidationError as err:
                    raise ValueError(
                        f"reply does not fit {response_model.__name__}: {err.errors()[0]['msg']}"
                    ) from err

            return parse

        schema, params = call_options(prompt, response_model)
        model = replace(self.model, params={**self.model.params, **params})
        chat = model.mode == "chat"
        render_retry = getattr(prompt, "retry", None)
        retry = None
        if render_retry is not None and not chat:
            second = render_retry()
            retry = (str(second), parser(second))
        self.calls += 1
        reply = await ask_judge_model(
            self.client,
            model,
            prompt=None if chat else str(prompt),
            messages=({"role": "user", "content": str(prompt)},) if chat else None,
            schema=schema,
            parse=parser(prompt),
            sample=sample,
            tag=self.tag,
            retry=retry,
        )
        if reply.value is None:
            raise JudgeReplyError(reply.error or "no reply", reply.raw)
        return reply.value


#: Sample indices of repeated identical prompts within one case are spaced by this.
REPEAT_SAMPLE_STRIDE = 1000


class CaseJudge:
    """One case's calls to a :class:`StructuredJudge`, for a library metric's adapter.

    The libraries repeat identical prompts on purpose (ragas' response relevancy asks
    ``strictness`` times): each repeat within the case gets its own sample index, so its
    own cache entry, instead of the first reply served again.
    """

    def __init__(self, judge: StructuredJudge, sample: int) -> None:
        self.judge = judge
        self.sample = sample
        self._seen: Counter[str] = Counter()

    async def ask(self, prompt: str, response_model: type[M]) -> M:
        """Returns the judge's reply to ``prompt`` (see :meth:`StructuredJudge.generate`)."""
        repeat = self._seen[prompt]
        self._seen[prompt] += 1
        sample = self.sample + repeat * REPEAT_SAMPLE_STRIDE
        return await self.judge.generate(prompt, response_model, sample)


JudgeOption = str | Mapping[str, Any] | None
_JUDGE_MODEL_KEYS = ("name", "model", "mode", "api_base", "params", "structured", "timeout")


def resolve_judge_model(context: ScorerContext, judge: JudgeOption = None) -> JudgeModel:
    """Returns the judge model for a library metric (ragas, deepeval).

    ``judge`` is the name of a judge in judges/ (its model, mode, api_base and params are
    used), or a table ``{model, mode, api_base, params, structured, timeout}`` optionally
    with ``name`` (a judge to start from). Without it: the suite's judge, else the
    embedded Gemma in text mode.

    Raises:
        ValueError: the table has an unknown key or a bad value.
    """
    options: dict[str, Any] = {}
    if isinstance(judge, str):
        options = {"name": judge}
    elif judge is not None:
        options = dict(judge)
        unknown = sorted(set(options) - set(_JUDGE_MODEL_KEYS))
        if unknown:
            raise ValueError(f"unknown judge keys {unknown}; use any of {list(_JUDGE_MODEL_KEYS)}")
    base = JudgeModel()
    name = options.pop("name", None)
    if name is None and "model" not in options and context.suite and context.suite.judge:
        name = context.suite.judge
    if name:
        base = load_judge(name, context.judges_dir).judge_model
    if options.get("mode", "text") not in ("chat", "text"):
        raise ValueError('judge mode must be "chat" or "text"')
    if options.get("structured", "auto") not in ("auto", "schema", "json_object", "none"):
        raise ValueError('judge structured must be "auto", "schema", "json_object" or "none"')
    return replace(base, **options)


def _needs(definition: JudgeDefinition) -> Needs:
    names = definition.variables()
    return Needs(
        expected=definition.type == "pairwise" or bool({"expected", "answers"} & names),
        contexts="contexts" in names,
    )


def _shape(definition: JudgeDefinition) -> MetricShape:
    if definition.type == "pairwise":
        return MetricShape(kind="continuous", low=0.0, high=1.0)
    if definition.pass_fail:
        return MetricShape(kind="binary", low=0.0, high=1.0)
    low, high = definition.bounds
    return MetricShape(kind="ordinal", low=float(low), high=float(high))


class JudgeScorer(BaseScorer):
    """Scores outputs with a judge definition (see :mod:`evalkit.judging._definitions`).

    ``mapping`` (pass/fail judges): the fitted mapping from the judge's score to its
    verdict, from the judge's calibration record; None scores with the sampled verdict.
    """

    def __init__(
        self,
        definition: JudgeDefinition,
        *,
        client: ModelClient | None = None,
        concurrency: int = 8,
        mapping: ScoreMapping | None = None,
    ) -> None:
        extra = {}
        if definition.type == "pairwise":
            extra[POSITION_FLIP] = MetricShape(kind="binary", higher_is_better=False)
        super().__init__(
            "judge",
            _shape(definition),
            needs=_needs(definition),
            concurrency=concurrency,
            extra_metrics=extra,
        )
        self.definition = definition
        self._client = client
        if mapping is not None and not definition.pass_fail:
            raise ValueError(f"judge {definition.name!r}: only pass/fail judges take a mapping")
        self.mapping = mapping

    def fingerprint(self) -> str | None:
        """Returns the judge's fingerprint: its definition's, combined with its mapping's."""
        from evalkit.judging._calibration import calibrated_fingerprint

        return calibrated_fingerprint(self.definition.fingerprint(), self.mapping)

    async def ask(self, variables: dict[str, Any], sample: int) -> JudgeReply[Verdict]:
        """Returns the judge's verdict for one rendered item, re-asking once if unparseable.

        A judge with a :attr:`~evalkit.judges.JudgeDefinition.verdict_prefix` is asked for
        one token after it instead (:func:`ask_verdict_token`).
        """
        judge = self.definition
        prompt, messages = judge.build_prompt(variables)
        self._client = default_client(self._client)
        if judge.verdict_prefix is not None and prompt is not None:
            return await ask_verdict_token(self._client, judge, prompt, sample)
        return await ask_judge_model(
            self._client,
            judge.judge_model,
            prompt=prompt,
            messages=messages,
            schema=judge.verdict_schema(),
            parse=lambda text: parse_verdict(text, judge),
            sample=sample,
            tag=f"judge:{judge.name}",
        )

    async def score_one(self, item: ScoreInput) -> Score:
        """Returns the judge's score for one item (pairwise: both orders)."""
        base = template_variables(
            input=item.input,
            expected=item.expected,
            contexts=item.contexts,
            metadata=item.metadata,
        )
        if self.definition.type == "pointwise":
            reply = await self.ask({**base, "output": item.output}, item.sample)
            if reply.value is None:
                return Score.unscored(reply.error or "no verdict", raw=reply.raw)
            soft = verdict_soft_score(reply.raw or "", reply.logprobs, self.definition)
            rationale = reply.value.reason or f"verdict {reply.value.label}"
            value = reply.value.value
            if soft is not None:
                name = "P(pass)" if self.definition.pass_fail else "weighted score"
                rationale += f"; {name} {soft:.3f}"
            if self.mapping is not None:
                value = self.mapping.verdict(soft if soft is not None else value)
                label = "pass" if value == 1.0 else "fail"
                rationale += f"; fitted {self.mapping.describe()}: {label}"
            return Score(value, rationale=rationale, raw=reply.raw, soft_score=soft)
        return await self._pairwise(item, base)

    async def _pairwise(self, item: ScoreInput, base: dict[str, Any]) -> Score:
        reference = base["expected"] or ""
        first, second = await asyncio.gather(
            self.ask({**base, "output_a": item.output, "output_b": reference}, item.sample),
            self.ask({**base, "output_a": reference, "output_b": item.output}, item.sample),
        )
        raw = f"output as A: {first.raw}\noutput as B: {second.raw}"
        if first.value is None or second.value is None:
            reason = first.error if first.value is None else second.error
            return Score.unscored(reason or "no verdict", raw=raw)
        # The output's preference in each order: as A, A wins = 1; as B, B wins = 1.
        as_a = first.value.value
        as_b = 1.0 - second.value.value
        flipped = as_a != as_b
        rationale = f"output as A: {first.value.label}; output as B: {second.value.label}" + (
            "; the verdict flips with the order" if flipped else ""
        )
        return Score(
            (as_a + as_b) / 2,
            rationale=rationale,
            raw=raw,
            extras={POSITION_FLIP: 1.0 if flipped else 0.0},
        )


class SimilarityJudgeScorer(BaseScorer):
    """A pass/fail judge without an LLM: the embedding cosine of answer and reference.

    The soft score is the best cosine over the acceptable answers; the verdict is a pass
    from the definition's ``threshold`` on, or by the fitted ``mapping`` when given.
    """

    def __init__(
        self,
        definition: JudgeDefinition,
        embedder: Embedder,
        *,
        mapping: ScoreMapping | None = None,
    ) -> None:
        super().__init__("judge", MetricShape(kind="binary"), needs=Needs(expected=True))
        self.definition = definition
        self.embedder = embedder
        self.mapping = mapping

    def fingerprint(self) -> str | None:
        """Returns the judge's fingerprint: its definition's, combined with its mapping's."""
        from evalkit.judging._calibration import calibrated_fingerprint

        return calibrated_fingerprint(self.definition.fingerprint(), self.mapping)

    async def score_ready(self, items: Sequence[ScoreInput]) -> list[Score]:
        """Returns each item's verdict and cosine (one batched embedding call)."""
        from evalkit.scorers._embedding import best_cosines

        cosines = await best_cosines(self.embedder, items)
        threshold = self.definition.threshold
        assert threshold is not None  # the definition's validator requires it
        results = []
        for cosine in cosines:
            if self.mapping is not None:
                value = self.mapping.verdict(cosine)
                how = f"fitted {self.mapping.describe()}"
            else:
                value = 1.0 if cosine >= threshold else 0.0
                how = f"cosine >= {threshold:g} (not fitted)"
            label = "pass" if value == 1.0 else "fail"
            results.append(
                Score(value, rationale=f"cosine {cosine:.3f}; {how}: {label}", soft_score=cosine)
            )
        return results


def fitted_mapping(definition: JudgeDefinition, folder: str | Path) -> ScoreMapping | None:
    """Returns the mapping in the judge's calibration record, if made with this definition.

    A record made with another definition (a changed rubric, model or examples) is
    stale: its mapping is not applied, and the gate says so.
    """
    from evalkit.judging._calibration import load_record, record_path

    record = load_record(record_path(folder, definition.name))
    if record is None or record.mapping is None:
        return None
    if record.definition_fingerprint != definition.fingerprint():
        return None
    return record.mapping


def build_judge_scorer(
    definition: JudgeDefinition,
    *,
    client: ModelClient | None = None,
    concurrency: int = 8,
    mapping: ScoreMapping | None = None,
    cache_dir: str | Path | None = None,
) -> JudgeScorer | SimilarityJudgeScorer:
    """Returns the scorer of a judge definition: an LLM judge or a similarity judge."""
    if definition.type == "similarity":
        from evalkit.models._embeddings import get_embedder

        embedder = get_embedder(definition.model, cache_dir=cache_dir, api_base=definition.api_base)
        return SimilarityJudgeScorer(definition, embedder, mapping=mapping)
    return JudgeScorer(definition, client=client, concurrency=concurrency, mapping=mapping)


@register_scorer("judge")
def judge(
    *,
    name: str | None = None,
    concurrency: int | None = None,
    calibrated: bool = True,
    context: ScorerContext | None = None,
) -> Any:
    """Scores with the judge defined in ``judges/NAME.toml`` (an LLM or a similarity judge).

    Args:
        name: the judge (file stem in the project's judges folder, or a .toml path);
            default: the suite's ``judge``.
        concurrency: judge calls in flight (default: the suite's concurrency).
        calibrated: apply the mapping fitted by ``evalkit calibrate`` (stored in
            ``judges/NAME.calibration.json`` for this judge's fingerprint) to pass/fail
            verdicts; False scores with the judge's own verdicts.

    Pass/fail judges are binary (1 pass), 1..N judges ordinal, pairwise judges the
    output's preference over the reference (1 better, 0.5 tie, 0 worse; mean of both
    orders) plus ``<metric>.position_flip``.
    """
    context = context or ScorerContext()
    chosen = name or (context.suite.judge if context.suite else None)
    if not chosen:
        raise ValueError('name the judge: params = { name = "correctness" } or suite.judge')
    definition = load_judge(chosen, context.judges_dir)
    limit = concurrency or (context.suite.concurrency if context.suite else 8)
    folder = Path(chosen).parent if str(chosen).endswith(".toml") else context.judges_dir
    mapping = fitted_mapping(definition, folder) if calibrated else None
    cache_dir = context.cache_dir / "embeddings" if context.cache_dir is not None else None
    return build_judge_scorer(
        definition, client=context.client, concurrency=limit, mapping=mapping, cache_dir=cache_dir
    )
