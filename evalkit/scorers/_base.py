"""The scorer protocol, the shared batching/unscored helper, and the scorer registry.

A scorer turns (case, output) pairs into :class:`Score` values. It declares once what it
is — name, kind, range, direction and what it needs from the case — and scores a batch
asynchronously. Deterministic scorers are a pure per-case function wrapped by
:func:`case_scorer`; model-based scorers implement :meth:`BaseScorer.score_ready`.

The one rule every scorer keeps: a case that cannot be scored (no ``expected``, a judge
reply that cannot be parsed, a library that returned NaN) is an *unscored* :class:`Score`
with the reason, never 0 and never NaN.

Suites refer to scorers by name with parameters; third-party packages add scorers
through the entry-point group ``evalkit.scorers`` (the entry point names a factory)::

    [project.entry-points."evalkit.scorers"]
    my_scorer = "my_package.scorers:my_scorer"
"""

from __future__ import annotations

import asyncio
import inspect
import json
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import import_module
from importlib.metadata import entry_points
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from evalkit.data._records import MetricKind
from evalkit.errors import ConfigError, InfrastructureError, NotFoundError, Problem
from evalkit.util._progress import tick

if TYPE_CHECKING:
    from evalkit.config._suite import ProjectConfig, SuiteConfig
    from evalkit.data._golden import GoldenCase
    from evalkit.models._llm import ModelClient

ENTRY_POINT_GROUP = "evalkit.scorers"

# Modules whose import registers evalkit's own scorers (light: heavy libraries are
# imported inside the factories that need them).
_BUILTIN_MODULES = (
    "evalkit.scorers._exact",
    "evalkit.scorers._lexical",
    "evalkit.scorers._embedding",
    "evalkit.scorers._judge",
    "evalkit.scorers._ragas_metrics",
    "evalkit.scorers._deepeval_metrics",
)


@dataclass(frozen=True, slots=True)
class Needs:
    """What a scorer needs from a case besides the output."""

    expected: bool = False
    contexts: bool = False


@dataclass(frozen=True, slots=True)
class ScoreInput:
    """One (case, sample) to score: the question as text, the output, and the case's data."""

    case_id: str
    sample: int
    input: str
    output: str
    expected: Any = None
    contexts: tuple[str, ...] = ()
    metadata: Mapping[str, Any] = field(default_factory=dict)

    @property
    def answers(self) -> list[str]:
        """Returns the acceptable answers: ``expected`` as a list of strings."""
        return expected_answers(self.expected)


@dataclass(frozen=True, slots=True)
class Score:
    """A value, or None with ``error`` saying why the case could not be scored.

    ``extras`` carries companion values for the metrics a scorer declares in
    ``extra_metrics`` (e.g. a pairwise judge's position flip); ``soft_score`` a judge's
    score behind its verdict (P(pass), a probability-weighted score, a cosine).
    """

    value: float | None
    error: str | None = None
    rationale: str | None = None
    raw: str | None = None
    extras: Mapping[str, float | None] = field(default_factory=dict)
    soft_score: float | None = None

    @classmethod
    def unscored(cls, reason: str, *, raw: str | None = None) -> Score:
        """Returns an unscored result with its reason (and the raw reply, if any)."""
        return cls(value=None, error=reason or "could not score", raw=raw)


@dataclass(frozen=True, slots=True)
class MetricShape:
    """Kind, range and direction of a metric."""

    kind: MetricKind
    low: float | None = 0.0
    high: float | None = 1.0
    higher_is_better: bool = True


@runtime_checkable
class Scorer(Protocol):
    """What evalkit needs from a scorer; subclass :class:`BaseScorer` to get the helpers."""

    name: str
    shape: MetricShape
    needs: Needs
    extra_metrics: Mapping[str, MetricShape]

    async def score(self, items: Sequence[ScoreInput]) -> list[Score]:
        """Returns one Score per item, in order."""
        ...

    def fingerprint(self) -> str | None:
        """Returns a hash of what determines a model-based scorer's verdicts, else None."""
        ...


class BaseScorer:
    """Shared behaviour: needs checks, exception and NaN handling, bounded concurrency.

    Subclasses implement :meth:`score_ready` (items whose needs are met) or, more
    simply, :meth:`score_one`.
    """

    def __init__(
        self,
        name: str,
        shape: MetricShape,
        *,
        needs: Needs = Needs(),
        concurrency: int = 8,
        extra_metrics: Mapping[str, MetricShape] | None = None,
    ) -> None:
        self.name = name
        self.shape = shape
        self.needs = needs
        self.concurrency = max(1, concurrency)
        self.extra_metrics: Mapping[str, MetricShape] = dict(extra_metrics or {})

    def fingerprint(self) -> str | None:
        """Returns None: deterministic scorers have no judge fingerprint."""
        return None

    def missing_need(self, item: ScoreInput) -> str | None:
        """Returns why ``item`` cannot be scored for lack of data, or None."""
        if self.needs.expected and (item.expected is None or item.expected == []):
            return f"{self.name} needs an 'expected' answer and case {item.case_id} has none"
        if self.needs.contexts and not item.contexts:
            return f"{self.name} needs 'contexts' and case {item.case_id} has none"
        return None

    async def score(self, items: Sequence[ScoreInput]) -> list[Score]:
        """Returns one Score per item; missing data and failures become unscored."""
        results: list[Score | None] = [None] * len(items)
        ready: list[int] = []
        for index, item in enumerate(items):
            reason = self.missing_need(item)
            if reason:
                results[index] = Score.unscored(reason)
            else:
                ready.append(index)
        for _ in range(len(items) - len(ready)):
            tick(ok=False)
        if ready:
            try:
                scored = await self.score_ready([items[i] for i in ready])
            except InfrastructureError:
                raise  # the judge's endpoint is gone: stop, do not mark every case unscored
            except Exception as err:  # a scorer bug or library failure: unscored, not 0
                scored = [Score.unscored(f"{self.name} failed: {describe_error(err)}")] * len(ready)
            for index, result in zip(ready, scored, strict=True):
                results[index] = checked(result, self.name)
        return [r if r is not None else Score.unscored("not scored") for r in results]

    async def score_ready(self, items: Sequence[ScoreInput]) -> list[Score]:
        """Returns Scores for items whose needs are met (default: score_one, concurrently)."""
        gate = asyncio.Semaphore(self.concurrency)

        async def one(item: ScoreInput) -> Score:
            async with gate:
                try:
                    result = await self.score_one(item)
                except InfrastructureError:
                    raise
                except Exception as err:
                    result = Score.unscored(f"{self.name} failed: {describe_error(err)}")
                tick(ok=result.value is not None)
                return result

        return list(await asyncio.gather(*(one(item) for item in items)))

    async def score_one(self, item: ScoreInput) -> Score:
        """Returns the Score of one item (override this or score_ready)."""
        raise NotImplementedError


CaseResult = Score | float | bool | tuple[float, str]
CaseFunction = Callable[[ScoreInput], CaseResult]


class CaseScorer(BaseScorer):
    """A scorer made from a pure per-case function (see :func:`case_scorer`)."""

    def __init__(
        self, name: str, shape: MetricShape, function: CaseFunction, *, needs: Needs
    ) -> None:
        super().__init__(name, shape, needs=needs)
        self.function = function

    async def score_ready(self, items: Sequence[ScoreInput]) -> list[Score]:
        """Returns the function's result for each item (pure functions: no concurrency)."""
        results = []
        for item in items:
            try:
                results.append(as_score(self.function(item)))
            except Exception as err:
                results.append(Score.unscored(f"{self.name} failed: {describe_error(err)}"))
        return results


def case_scorer(
    name: str,
    function: CaseFunction,
    *,
    kind: MetricKind = "binary",
    low: float | None = 0.0,
    high: float | None = 1.0,
    higher_is_better: bool = True,
    needs: Needs = Needs(expected=True),
) -> CaseScorer:
    """Returns a scorer that applies ``function`` to each case.

    ``function`` returns a float, a bool (1.0/0.0), ``(value, rationale)`` or a Score
    (e.g. ``Score.unscored(reason)``); raising makes the case unscored with the error.
    """
    shape = MetricShape(kind=kind, low=low, high=high, higher_is_better=higher_is_better)
    return CaseScorer(name, shape, function, needs=needs)


def as_score(result: CaseResult) -> Score:
    """Returns ``result`` (float, bool, (value, rationale) or Score) as a Score."""
    if isinstance(result, Score):
        return result
    if isinstance(result, tuple):
        value, rationale = result
        return Score(float(value), rationale=rationale)
    return Score(float(result))


def checked(result: Score, name: str) -> Score:
    """Returns ``result``, or an unscored Score if its value is NaN or infinite."""
    if result.value is not None and (math.isnan(result.value) or math.isinf(result.value)):
        return Score(
            None,
            error=f"{name} returned {result.value}; recorded as unscored",
            rationale=result.rationale,
            raw=result.raw,
        )
    if result.value is None and not result.error:
        return Score(None, error=f"{name} returned no value", rationale=result.rationale)
    return result


def describe_error(err: BaseException) -> str:
    """Returns ``err`` as one short line: type and message."""
    text = str(err).strip().splitlines()[0] if str(err).strip() else ""
    return f"{type(err).__name__}: {text}"[:500] if text else type(err).__name__


def expected_answers(expected: Any) -> list[str]:
    """Returns ``expected`` as acceptable answers: a list stays a list, a scalar is one."""
    if expected is None:
        return []
    if isinstance(expected, list):
        return [answer_text(item) for item in expected if item is not None]
    return [answer_text(expected)]


def answer_text(value: Any) -> str:
    """Returns a reference value as text (JSON for objects, str() for scalars)."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return str(value)


def input_text(case: GoldenCase, prompt: str | None = None) -> str:
    """Returns a case's input as the question text a judge sees.

    A string input is itself; a dict uses its ``question``/``query``/``input``/``prompt``
    key when there is one (else the rendered prompt, else the dict as JSON); chat messages
    give the last user message.
    """
    value = case.input
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        for key in ("question", "query", "input", "prompt", "text"):
            if isinstance(value.get(key), str):
                return str(value[key])
        return prompt or json.dumps(value, ensure_ascii=False, sort_keys=True)
    for message in reversed(value):
        if message.role == "user":
            return message.content
    return value[-1].content


# ---------------------------------------------------------------- registry


@dataclass(frozen=True)
class ScorerContext:
    """What model-based scorers may need: the model client and where things live."""

    client: ModelClient | None = None
    project: ProjectConfig | None = None
    suite: SuiteConfig | None = None

    @property
    def cache_dir(self) -> Path | None:
        """Returns the project's cache folder, if there is a project."""
        return self.project.path(self.project.cache_dir) if self.project else None

    @property
    def judges_dir(self) -> Path:
        """Returns where judges/NAME.toml files live."""
        return self.project.path(self.project.judges_dir) if self.project else Path("judges")

    @property
    def source(self) -> str:
        """Returns the config file's name, for error messages."""
        return self.project.source if self.project and self.project.source else "(config)"


ScorerFactory = Callable[..., Scorer]
_REGISTRY: dict[str, ScorerFactory] = {}
_loaded = False


def register_scorer(name: str) -> Callable[[ScorerFactory], ScorerFactory]:
    """Returns a decorator that registers a scorer factory under ``name``.

    The factory takes keyword-only options (the suite's ``params``) and, if it declares
    a ``context`` keyword, the :class:`ScorerContext`.
    """

    def decorate(factory: ScorerFactory) -> ScorerFactory:
        _REGISTRY[name] = factory
        return factory

    return decorate


def _load_scorers() -> None:
    global _loaded
    if _loaded:
        return
    _loaded = True
    for module in _BUILTIN_MODULES:
        import_module(module)
    for entry in entry_points(group=ENTRY_POINT_GROUP):
        if entry.name in _REGISTRY:
            continue  # evalkit's own names win; a plugin cannot shadow them silently
        try:
            _REGISTRY[entry.name] = entry.load()
        except Exception as err:  # a broken plugin must not break every suite
            _REGISTRY[entry.name] = _broken_factory(entry.name, err)


def _broken_factory(name: str, error: Exception) -> ScorerFactory:
    def factory(**_: Any) -> Scorer:
        raise NotFoundError(
            f"scorer {name!r} (entry point {ENTRY_POINT_GROUP}) failed to load: "
            f"{describe_error(error)}"
        )

    return factory


def scorer_names() -> list[str]:
    """Returns every registered scorer name (built-in and entry points), sorted."""
    _load_scorers()
    return sorted(_REGISTRY)


def scorer_factory(name: str) -> ScorerFactory:
    """Returns the factory registered as ``name``; raises NotFoundError listing known ones."""
    _load_scorers()
    if name not in _REGISTRY:
        raise NotFoundError(f"no scorer named {name!r}; known scorers: {', '.join(scorer_names())}")
    return _REGISTRY[name]


def factory_options(factory: ScorerFactory) -> list[str]:
    """Returns the keyword options a factory accepts (without ``context``)."""
    parameters = inspect.signature(factory).parameters.values()
    return [p.name for p in parameters if p.name != "context" and p.kind is not p.VAR_KEYWORD]


def create_scorer(
    name: str,
    params: Mapping[str, Any] | None = None,
    context: ScorerContext | None = None,
    *,
    metric: str | None = None,
) -> Scorer:
    """Returns the scorer ``name`` built with ``params``.

    Raises:
        NotFoundError: no scorer has that name (the message lists the known ones).
        ConfigError: ``params`` has an unknown option or a bad value.
    """
    factory = scorer_factory(name)
    context = context or ScorerContext()
    options = dict(params or {})
    signature = inspect.signature(factory)
    label = f"metric {metric!r} (scorer {name!r})" if metric else f"scorer {name!r}"
    accepted = factory_options(factory)
    if "context" in signature.parameters:
        options["context"] = context
    try:
        signature.bind(**options)
    except TypeError as err:
        raise ConfigError(
            [
                Problem(
                    context.source,
                    None,
                    f"{label}: bad params ({err}); it accepts: {', '.join(accepted) or 'none'}",
                )
            ]
        ) from err
    try:
        built = factory(**options)
    except (ValueError, TypeError, re.error) as err:  # re.error: e.g. a bad regex pattern
        raise ConfigError([Problem(context.source, None, f"{label}: {err}")]) from err
    if metric and built.name != metric:
        built.name = metric
    return built
