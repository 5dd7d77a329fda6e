"""The one place evalkit calls a model: LiteLLM with cache, retries, timeouts and accounting.

The runner (for the SUT) and the scorers (for judges) both go through :class:`ModelClient`:

* chat requests go to ``litellm.acompletion``, text completion to ``litellm.atext_completion``;
* ``model="embedded"`` is the bundled Gemma 3 270M served by llama.cpp (started lazily,
  once per process, see :mod:`evalkit.models._embedded`);
* an ``api_base`` (any OpenAI-compatible server) uses LiteLLM's ``openai/<name>`` route
  (chat) or ``text-completion-openai/<name>`` route (text);
* a Python callable SUT (model ``evalkit-callable/<pkg.mod:fn>``) is called directly, not
  through LiteLLM (:mod:`evalkit.models._callable_sut`), with the same cache, retries, timeout and
  accounting; no tokens, no cost.

Retries are evalkit's alone (LiteLLM's and the OpenAI SDK's are switched off), so a call
makes at most ``1 + max_retries`` attempts: exponential backoff with full jitter, at least
the server's ``Retry-After``, on 429, 5xx, connection errors and timeouts. 400/401/403/404
fail at once with a reason. :meth:`ModelClient.call` never raises for a model or HTTP
error: it returns a :class:`CallResult` with ``error`` set. API keys come from the
environment only, and never enter a cache key, a result or a log line.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import random
import re
import time
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from evalkit.config._suite import EMBEDDED_MODEL
from evalkit.errors import EndpointDownError, InfrastructureError
from evalkit.models._endpoint_health import EndpointHealth, probe_delays
from evalkit.models._offline import prepare_import

if TYPE_CHECKING:
    from evalkit.models._cache import Cache

CALLABLE_PROVIDER = "evalkit-callable"
NON_RETRYABLE = {400, 401, 403, 404, 405, 413, 422}
#: Parameter names that may carry credentials: never sent from params, hashed or stored.
SECRET_PARAMS = frozenset({"api_key", "api_token", "aws_secret_access_key", "azure_ad_token"})


@dataclass(frozen=True)
class ModelRequest:
    """One model call: which model, the prompt or messages, and generation parameters."""

    model: str
    mode: Literal["chat", "text"]
    messages: tuple[dict[str, str], ...] | None = None
    prompt: str | None = None
    params: Mapping[str, Any] = field(default_factory=dict)
    api_base: str | None = None
    sample: int = 0
    timeout: float = 60.0
    max_retries: int = 4
    tag: str = "sut"
    #: How long to probe an endpoint that worked and then failed every call before the
    #: run stops (see :mod:`evalkit.models._endpoint_health`).
    outage_timeout: float = 60.0

    def cache_identity(self) -> dict[str, Any]:
        """Returns everything that determines the answer (never credentials).

        A JSON reply from the embedded model also depends on how evalkit turns its schema
        into a grammar (:data:`GRAMMAR_RECIPE`): a reply cached under an older grammar is
        not served.
        """
        identity = {
            "model": self.model,
            "api_base": self.api_base,
            "mode": self.mode,
            "messages": list(self.messages) if self.messages is not None else None,
            "prompt": self.prompt,
            "params": {k: v for k, v in self.params.items() if k not in SECRET_PARAMS},
            "sample": self.sample,
        }
        if self.model == EMBEDDED_MODEL and self.mode == "text" and _response_format(self.params):
            identity["grammar"] = GRAMMAR_RECIPE
        return identity


@dataclass(frozen=True)
class TokenLogprob:
    """One generated token with its log-probability and the most likely alternatives."""

    token: str
    logprob: float
    #: (token, logprob) of the top alternatives at this position, most likely first.
    top: tuple[tuple[str, float], ...] = ()


@dataclass(frozen=True)
class CallResult:
    """What one model call produced: text or an error, with latency, tokens and cost."""

    text: str | None
    error: str | None
    latency_s: float
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float
    cached: bool
    attempts: int
    finish_reason: str | None
    retryable_error: bool = False
    contexts: tuple[str, ...] | None = None
    #: Per generated token, when the request asked for log-probabilities and the
    #: provider returned them (chat ``logprobs``/``top_logprobs``, text ``logprobs``).
    logprobs: tuple[TokenLogprob, ...] | None = None

    @property
    def ok(self) -> bool:
        """True when the call produced text."""
        return self.error is None and self.text is not None


@dataclass
class _TagTotals:
    calls: int = 0
    cached: int = 0
    errors: int = 0
    attempts: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    latency_s: float = 0.0


class _RateLimiter:
    """Spaces call starts at least ``60 / rpm`` seconds apart (a leaky bucket of one)."""

    def __init__(self, rpm: int) -> None:
        self._interval = 60.0 / rpm
        self._next = 0.0
        self._lock = asyncio.Lock()

    async def wait(self) -> None:
        async with self._lock:
            now = time.monotonic()
            delay = self._next - now
            self._next = max(now, self._next) + self._interval
        if delay > 0:
            await asyncio.sleep(delay)


@dataclass(frozen=True)
class _Failure:
    """A classified failed attempt."""

    message: str
    retryable: bool
    retry_after: float | None = None
    #: The endpoint looks gone (connection refused/reset, timeout, 5xx), not just this call.
    outage: bool = False


class ModelClient:
    """Calls models through LiteLLM with a shared cache, concurrency cap and rate limit."""

    def __init__(
        self,
        *,
        cache: Cache | None,
        rpm: int | None = None,
        concurrency: int = 8,
        backoff_base: float = 0.5,
        backoff_max: float = 20.0,
    ) -> None:
        self._cache = cache
        self._semaphore = asyncio.Semaphore(concurrency) if concurrency > 0 else None
        self._limiter = _RateLimiter(rpm) if rpm else None
        self._backoff_base = backoff_base
        self._backoff_max = backoff_max
        self._totals: dict[str, _TagTotals] = defaultdict(_TagTotals)
        self._embedded_lock: asyncio.Lock | None = None
        self._embedded_url: str | None = None
        self._health: dict[tuple[str, str | None], EndpointHealth] = {}
        self._call_ids = itertools.count()

    # ------------------------------------------------------------ public

    async def call(self, request: ModelRequest) -> CallResult:
        """Returns the model's answer (from cache when possible); errors become results."""
        key = None
        if self._cache is not None:
            key = self._cache.key(request.cache_identity())
            hit = self._cache.get(key)
            if hit is not None:
                result = _from_cache(request, hit)
                self._account(request.tag, result)
                return result
        if self._semaphore is not None:
            async with self._semaphore:
                result = await self._call_with_retries(request)
        else:
            result = await self._call_with_retries(request)
        if self._cache is not None and key is not None and result.ok:
            self._cache.put(key, _to_cache(result))
        self._account(request.tag, result)
        return result

    def raise_if_down(self) -> None:
        """Raises EndpointDownError if an endpoint of this client was declared down."""
        for health in self._health.values():
            if health.down is not None:
                raise EndpointDownError(health.down)

    def stats(self) -> dict[str, dict[str, float]]:
        """Returns per-tag totals: calls, cached, errors, attempts, tokens, cost, latency."""
        return {tag: dict(vars(totals)) for tag, totals in self._totals.items()}

    async def aclose(self) -> None:
        """Releases resources (flushes the cache); the embedded server stays for reuse."""
        if self._cache is not None:
            self._cache.flush()

    # ------------------------------------------------------------ internals

    def _account(self, tag: str, result: CallResult) -> None:
        totals = self._totals[tag]
        totals.calls += 1
        totals.cached += int(result.cached)
        totals.errors += int(not result.ok)
        totals.attempts += result.attempts
        totals.prompt_tokens += result.prompt_tokens
        totals.completion_tokens += result.completion_tokens
        totals.cost_usd += 0.0 if result.cached else result.cost_usd
        totals.latency_s += result.latency_s

    async def _resolve_route(self, request: ModelRequest) -> tuple[str, str | None]:
        """Returns the LiteLLM model name and api_base for ``request``."""
        if _is_callable(request):
            return request.model, None  # called directly (_call_function)
        api_base = request.api_base
        name = request.model
        if request.model == EMBEDDED_MODEL:
            api_base = await self._embedded_base()
            name = "gemma-3-270m"
        if api_base is None:
            return name, None
        bare = name.split("/", 1)[1] if name.startswith(_OPENAI_PREFIXES) else name
        prefix = "openai/" if request.mode == "chat" else "text-completion-openai/"
        return prefix + bare, api_base

    async def _embedded_base(self) -> str:
        if self._embedded_url is None:
            if self._embedded_lock is None:
                self._embedded_lock = asyncio.Lock()
            async with self._embedded_lock:
                if self._embedded_url is None:
                    from evalkit.models._embedded import ensure_server

                    self._embedded_url = await asyncio.to_thread(ensure_server)
        return self._embedded_url

    async def _call_with_retries(self, request: ModelRequest) -> CallResult:
        started = time.perf_counter()
        attempts = 0
        failure = _Failure("no attempt made", retryable=False)
        try:
            model, api_base = await self._resolve_route(request)
        except InfrastructureError:
            raise  # e.g. the embedded server cannot start: stop, do not record an error
        except Exception as err:
            return _error_result(f"{type(err).__name__}: {err}", started, 0, retryable=False)
        direct = _is_callable(request)
        if not direct:
            # Import before timing: the first import of LiteLLM takes seconds and must not
            # count against the first call's timeout or latency.
            _import_litellm()
        health = self._health_of(model, api_base, request)
        call_id = next(self._call_ids)
        started = time.perf_counter()
        while attempts <= request.max_retries:
            await health.wait_while_probing()
            attempts += 1
            outcome = await self._attempt(request, model, api_base, started, attempts)
            if not isinstance(outcome, _Failure):
                health.record_success()
                return _as_result(request, outcome, started, attempts)
            failure = outcome
            if failure.outage:
                self._stop_if_embedded_died(request, health)
                if health.record_failure(call_id, failure.message):
                    return await self._probe(request, model, api_base, health, started, attempts)
            else:
                health.record_other()
            if not failure.retryable or attempts > request.max_retries:
                break
            await asyncio.sleep(self._backoff(attempts, failure.retry_after))
        return _error_result(failure.message, started, attempts, retryable=failure.retryable)

    async def _attempt(
        self,
        request: ModelRequest,
        model: str,
        api_base: str | None,
        started: float,
        attempts: int,
    ) -> Any:
        """Returns one attempt's LiteLLM response or CallResult (a callable SUT, called
        directly), or its classified _Failure."""
        if self._limiter is not None:
            await self._limiter.wait()
        direct = _is_callable(request)
        try:
            if direct:
                return await _call_function(request, started, attempts)
            return await asyncio.wait_for(
                _litellm_call(request, model, api_base),
                # LiteLLM gets the timeout too; this is the backstop if it ignores it.
                timeout=request.timeout + 5.0,
            )
        except asyncio.CancelledError:
            raise
        except TimeoutError:
            return _Failure(
                f"timed out after {request.timeout:g}s calling {_where(request, api_base)}",
                retryable=True,
                outage=not direct,  # a slow function is not an endpoint gone away
            )
        except Exception as err:
            return _callable_failure(err, request) if direct else _classify(err, request, api_base)

    async def _probe(
        self,
        request: ModelRequest,
        model: str,
        api_base: str | None,
        health: EndpointHealth,
        started: float,
        attempts: int,
    ) -> CallResult:
        """Re-sends ``request`` with backoff until the endpoint answers or is declared down."""
        settled = False
        try:
            for delay in probe_delays(request.outage_timeout):
                await asyncio.sleep(delay)
                self._stop_if_embedded_died(request, health)
                attempts += 1
                outcome = await self._attempt(request, model, api_base, started, attempts)
                if not isinstance(outcome, _Failure):
                    health.record_success()
                    settled = True
                    return _as_result(request, outcome, started, attempts)
                if not outcome.outage:  # the endpoint answers again, with an error
                    return _error_result(outcome.message, started, attempts, outcome.retryable)
                health.last_error = outcome.message
            settled = True
            raise health.declare_down(health.outage_message(request.outage_timeout))
        finally:
            if not settled:
                health.end_probe()  # never leave the other callers waiting

    def _health_of(self, model: str, api_base: str | None, request: ModelRequest) -> EndpointHealth:
        key = (model, api_base)
        if key not in self._health:
            self._health[key] = EndpointHealth(_where(request, api_base))
        return self._health[key]

    def _stop_if_embedded_died(self, request: ModelRequest, health: EndpointHealth) -> None:
        """Raises at once when the embedded server this process started has exited."""
        if request.model != EMBEDDED_MODEL:
            return
        from evalkit.models._embedded import death_report

        report = death_report()
        if report is not None:
            self._embedded_url = None  # a later run in this process starts a new server
            raise health.declare_down(
                f"{report}\nFinished cases are kept: run the same command again to resume."
            )

    def _backoff(self, attempt: int, retry_after: float | None) -> float:
        """Returns seconds to wait: full jitter over an exponential cap, >= Retry-After."""
        cap = min(self._backoff_max, self._backoff_base * 2 ** (attempt - 1))
        jittered = random.uniform(0, cap)
        if retry_after is not None:
            return max(min(retry_after, 120.0), jittered)
        return jittered


_OPENAI_PREFIXES = ("openai/", "text-completion-openai/")


def _as_result(request: ModelRequest, outcome: Any, started: float, attempts: int) -> CallResult:
    """Returns the CallResult of a successful attempt (a callable's, or LiteLLM's parsed)."""
    if isinstance(outcome, CallResult):
        return outcome
    return _parse_response(request, outcome, started, attempts)


def _is_callable(request: ModelRequest) -> bool:
    return request.model.startswith(CALLABLE_PROVIDER + "/")


async def _call_function(request: ModelRequest, started: float, attempts: int) -> CallResult:
    """Returns one attempt at a callable SUT, called in this process (no LiteLLM, no HTTP).

    Raises what :func:`evalkit.models._callable_sut.invoke` raises, and TimeoutError after the
    request's timeout.
    """
    from evalkit.models._callable_sut import invoke

    target = request.model[len(CALLABLE_PROVIDER) + 1 :]
    async with asyncio.timeout(request.timeout):
        text, contexts = await invoke(target, request.messages or ())
    return CallResult(
        text=text,
        error=None,
        latency_s=time.perf_counter() - started,
        prompt_tokens=0,
        completion_tokens=0,
        cost_usd=0.0,
        cached=False,
        attempts=attempts,
        finish_reason="stop",
        contexts=contexts,
    )


def _callable_failure(err: Exception, request: ModelRequest) -> _Failure:
    """Returns how a callable SUT failed, and whether retrying may help.

    A function that cannot be imported or returns the wrong type (TypeError) fails at once;
    anything else it raised is retried (a RAG backend may be flaky), as before.
    """
    from evalkit.errors import NotFoundError

    if isinstance(err, NotFoundError):
        return _Failure(_short(str(err)), retryable=False)
    detail = _short(f"{type(err).__name__}: {err}")
    return _Failure(f"{request.model} failed: {detail}", retryable=not isinstance(err, TypeError))


async def close_litellm_clients() -> None:
    """Closes LiteLLM's pooled HTTP sessions of this event loop (call once, at the end)."""
    import sys

    if "litellm" not in sys.modules:
        return  # nothing was called (e.g. a fully cached run)
    litellm = sys.modules["litellm"]
    with contextlib.suppress(Exception):  # cleanup must never fail a finished run
        await litellm.close_litellm_async_clients()
    # LiteLLM keeps its HTTP clients in a process-wide cache; a client made on this event
    # loop fails with "Connection error" on the next one (a second run in one process).
    with contextlib.suppress(Exception):
        litellm.in_memory_llm_clients_cache.flush_cache()


def _import_litellm() -> Any:
    """Returns the litellm module, imported on the first real call (cached runs skip it)."""
    prepare_import("litellm")
    import litellm

    litellm.suppress_debug_info = True  # no "Give Feedback" banners on every error
    return litellm


def _choose_transport(litellm: Any, mode: str) -> None:
    """Picks LiteLLM's HTTP transport before a call of ``mode``.

    Chat calls reuse one pooled client per model; its aiohttp transport costs about 9 ms
    of CPU per call here against 13 ms for httpx (bench/bench_runner.py's setting). The
    text-completion route builds a new client per call and never closes it: over aiohttp
    that prints "Unclosed client session" once per call, so from the first text call on,
    the process uses httpx. The switch is one-way and made before the call starts, so no
    text call ever gets an aiohttp client (chat clients made earlier stay pooled).
    """
    if mode == "text" and not litellm.disable_aiohttp_transport:
        litellm.disable_aiohttp_transport = True


async def _litellm_call(request: ModelRequest, model: str, api_base: str | None) -> Any:
    litellm = _import_litellm()
    _choose_transport(litellm, request.mode)

    params = {k: v for k, v in request.params.items() if k not in SECRET_PARAMS}
    if request.model == EMBEDDED_MODEL and request.mode == "text":
        params = grammar_for_text_completion(params)
    options: dict[str, Any] = {
        "model": model,
        "timeout": request.timeout,
        # Retries are evalkit's alone: bounded, jittered, Retry-After aware.
        "num_retries": 0,
        "max_retries": 0,
        **params,
    }
    if api_base is not None:
        options["api_base"] = api_base
        # OpenAI-compatible servers: the key comes from the environment; local servers
        # (llama.cpp, vLLM) need none, but the OpenAI SDK insists on some value.
        options["api_key"] = os.environ.get("OPENAI_API_KEY") or "no-key"
    if request.mode == "chat":
        messages = list(request.messages or ())
        if not messages and request.prompt is not None:
            messages = [{"role": "user", "content": request.prompt}]
        return await litellm.acompletion(messages=messages, **options)
    return await litellm.atext_completion(prompt=request.prompt or "", **options)


def grammar_for_text_completion(params: Mapping[str, Any]) -> dict[str, Any]:
    """Returns ``params`` with a JSON ``response_format`` turned into a llama.cpp grammar.

    llama-cpp-python's server honours ``response_format`` (with a ``schema``) on chat
    completions only; on text completion it takes a GBNF ``grammar``. So a JSON schema
    passed as ``extra_body={"response_format": {"type": "json_object", "schema": ...}}``
    (what evalkit's scorers send) is converted here with llama.cpp's own converter.
    """
    extra = dict(params.get("extra_body") or {})
    response_format = _response_format(params)
    if response_format is None or "grammar" in extra:
        return dict(params)
    if response_format.get("type") not in ("json_object", "json_schema"):
        return dict(params)
    from llama_cpp import llama_grammar

    schema = response_format.get("schema") or (response_format.get("json_schema") or {}).get(
        "schema"
    )
    extra.pop("response_format", None)
    if schema:
        extra["grammar"] = _strict_json_strings(
            llama_grammar.json_schema_to_gbnf(json.dumps(schema))
        )
    else:
        extra["grammar"] = llama_grammar.JSON_GBNF
    converted = {k: v for k, v in params.items() if k != "response_format"}
    converted["extra_body"] = extra
    return converted


def _response_format(params: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """Returns the request's ``response_format`` (in ``extra_body`` or not), if any."""
    extra = params.get("extra_body")
    found = (extra.get("response_format") if isinstance(extra, Mapping) else None) or params.get(
        "response_format"
    )
    return found if isinstance(found, Mapping) else None


#: What a JSON string character may be: no control character (so no raw newline), as in
#: llama.cpp's own converter; llama-cpp-python's allows anything but ``"`` and ``\\``.
_JSON_CHAR_RULE = (
    r'char ::= [^"\\\x7F\x00-\x1F] | "\\" (["\\/bfnrt] | "u" [0-9a-fA-F] [0-9a-fA-F] '
    r"[0-9a-fA-F] [0-9a-fA-F])"
)
_CHAR_RULE = re.compile(r"^char ::= .*$", re.MULTILINE)
#: Part of an embedded JSON request's cache identity: bump when the grammar changes.
GRAMMAR_RECIPE = "json-strings-without-control-characters"


def _strict_json_strings(grammar: str) -> str:
    """Returns a schema grammar whose strings cannot hold a raw control character.

    With llama-cpp-python's converter a string could hold a raw newline, which the
    ``"\\n"`` stop sequence of evalkit's one-line replies then cut off mid-string
    (measured: a ragas statement split ended ``"... is 25 MB. The file can be``).
    """
    return _CHAR_RULE.sub(lambda _: _JSON_CHAR_RULE, grammar, count=1)


def _where(request: ModelRequest, api_base: str | None) -> str:
    return f"{request.model} at {api_base}" if api_base else request.model


def _status_of(err: Exception) -> int | None:
    status = getattr(err, "status_code", None)
    if isinstance(status, int):
        return status
    response = getattr(err, "response", None)
    status = getattr(response, "status_code", None)
    return status if isinstance(status, int) else None


def _retry_after_of(err: Exception) -> float | None:
    headers: Any = getattr(err, "litellm_response_headers", None)
    if headers is None:
        response = getattr(err, "response", None)
        headers = getattr(response, "headers", None)
    if headers is None:
        return None
    try:
        value = headers.get("retry-after") or headers.get("Retry-After")
    except AttributeError:
        return None
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


_HINTS = {
    401: "check the API key in the environment (e.g. OPENAI_API_KEY)",
    403: "the key is not allowed to use this model",
    404: "check the model name and api_base",
    400: "the request was rejected; check the prompt and params",
}


def _short(text: str, limit: int = 300) -> str:
    text = re.sub(r"\s+", " ", text).strip()
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _classify(err: Exception, request: ModelRequest, api_base: str | None) -> _Failure:
    """Returns what went wrong, whether retrying may help and any Retry-After."""
    name = type(err).__name__
    status = _status_of(err)
    where = _where(request, api_base)
    detail = _short(str(err))
    if name in ("Timeout", "APITimeoutError", "ReadTimeout", "ConnectTimeout"):
        if status == 504:  # LiteLLM raises Timeout for a server's 504 too: not our time limit
            return _Failure(f"504 gateway timeout from {where}: {detail}", True, outage=True)
        return _Failure(f"timed out after {request.timeout:g}s calling {where}", True, outage=True)
    # LiteLLM reports a refused connection as APIConnectionError, or as a 500
    # InternalServerError saying "Connection error."
    connection_error = name in ("APIConnectionError", "ConnectError") or (
        name in ("ServiceUnavailableError", "InternalServerError")
        and "connection error" in detail.lower()
    )
    if connection_error and status in (None, 500, 503):
        return _Failure(f"cannot connect to {where} ({name}): {detail}", True, outage=True)
    if status is not None:
        if status in NON_RETRYABLE:
            hint = _HINTS.get(status, "not retried")
            return _Failure(f"{status} {name} from {where}: {hint} ({detail})", False)
        if status == 429 or status >= 500:
            return _Failure(
                f"{status} {name} from {where}: {detail}",
                True,
                _retry_after_of(err),
                outage=status >= 500,
            )
        return _Failure(f"{status} {name} from {where}: {detail}", False)
    if name in (
        "BadRequestError",
        "AuthenticationError",
        "NotFoundError",
        "UnsupportedParamsError",
    ):
        return _Failure(f"{name} from {where}: {detail}", False)
    if name == "JSONDecodeError" or ("json" in detail.lower() and "decode" in detail.lower()):
        return _Failure(f"malformed response from {where}: {detail}", True)
    return _Failure(f"{name} from {where}: {detail}", True)


def _parse_response(
    request: ModelRequest, response: Any, started: float, attempts: int
) -> CallResult:
    # Latency is the whole call as the caller saw it, retries and waits included.
    latency = time.perf_counter() - started
    choices = getattr(response, "choices", None) or []
    if not choices:
        return _error_result(
            f"empty response from {request.model}: no choices", started, attempts, True
        )
    choice = choices[0]
    if request.mode == "chat":
        message = getattr(choice, "message", None)
        text = getattr(message, "content", None)
    else:
        text = getattr(choice, "text", None)
    finish = getattr(choice, "finish_reason", None)
    usage = getattr(response, "usage", None)
    prompt_tokens = int(getattr(usage, "prompt_tokens", 0) or 0)
    completion_tokens = int(getattr(usage, "completion_tokens", 0) or 0)
    if text is None:
        return _error_result(
            f"response from {request.model} has no text (finish_reason={finish})",
            started,
            attempts,
            False,
        )
    return CallResult(
        text=text,
        error=None,
        latency_s=latency,
        prompt_tokens=prompt_tokens,
        completion_tokens=completion_tokens,
        cost_usd=_cost(response),
        cached=False,
        attempts=attempts,
        finish_reason=str(finish) if finish is not None else None,
        logprobs=_token_logprobs(choice, request.mode),
    )


def _field(value: Any, name: str) -> Any:
    """Returns ``value[name]`` or ``value.name`` (LiteLLM returns objects or dicts)."""
    if isinstance(value, Mapping):
        return value.get(name)
    return getattr(value, name, None)


def _token_logprobs(choice: Any, mode: str) -> tuple[TokenLogprob, ...] | None:
    """Returns the choice's token log-probabilities, or None when it carries none.

    Chat (OpenAI format): ``logprobs.content[i]`` = ``{token, logprob, top_logprobs:
    [{token, logprob}]}``. Text completion: ``logprobs.tokens``, ``token_logprobs`` and
    ``top_logprobs`` (one ``{token: logprob}`` dict per position), as llama.cpp's server
    and OpenAI's legacy completions return them. Anything malformed gives None.
    """
    logprobs = _field(choice, "logprobs")
    if logprobs is None:
        return None
    tokens: list[TokenLogprob] = []
    try:
        if mode == "chat":
            for entry in _field(logprobs, "content") or []:
                top = tuple(
                    (str(_field(alt, "token")), float(_field(alt, "logprob")))
                    for alt in _field(entry, "top_logprobs") or []
                )
                tokens.append(
                    TokenLogprob(str(_field(entry, "token")), float(_field(entry, "logprob")), top)
                )
        else:
            texts = _field(logprobs, "tokens") or []
            values = _field(logprobs, "token_logprobs") or [None] * len(texts)
            tops = _field(logprobs, "top_logprobs") or [None] * len(texts)
            for token, value, top_map in zip(texts, values, tops, strict=False):
                top = tuple(
                    sorted(
                        ((str(k), float(v)) for k, v in dict(top_map or {}).items()),
                        key=lambda pair: -pair[1],
                    )
                )
                tokens.append(
                    TokenLogprob(str(token), float(value) if value is not None else 0.0, top)
                )
    except (TypeError, ValueError):
        return None
    return tuple(tokens) if tokens else None


_UNPRICED_MODELS: set[str] = set()


def _cost(response: Any) -> float:
    """Returns the call's cost in USD; 0 for local or unknown models (never raises)."""
    hidden = getattr(response, "_hidden_params", None) or {}
    known = hidden.get("response_cost") if isinstance(hidden, dict) else None
    if isinstance(known, int | float) and known > 0:
        return float(known)  # LiteLLM already priced it while logging the call
    model = str(getattr(response, "model", ""))
    if model in _UNPRICED_MODELS:
        # completion_cost raises for a model missing from the price map, which costs
        # ~2 ms a call; remember the answer instead of asking again.
        return 0.0
    try:
        import litellm

        cost = litellm.completion_cost(completion_response=response)
        return float(cost) if cost else 0.0
    except Exception:
        _UNPRICED_MODELS.add(model)
        return 0.0


def _error_result(message: str, started: float, attempts: int, retryable: bool) -> CallResult:
    return CallResult(
        text=None,
        error=message,
        latency_s=time.perf_counter() - started,
        prompt_tokens=0,
        completion_tokens=0,
        cost_usd=0.0,
        cached=False,
        attempts=attempts,
        finish_reason=None,
        retryable_error=retryable,
    )


def _to_cache(result: CallResult) -> dict[str, Any]:
    return {
        "text": result.text,
        "latency_s": result.latency_s,
        "prompt_tokens": result.prompt_tokens,
        "completion_tokens": result.completion_tokens,
        "cost_usd": result.cost_usd,
        "finish_reason": result.finish_reason,
        "contexts": list(result.contexts) if result.contexts is not None else None,
        "logprobs": (
            [[t.token, t.logprob, [list(pair) for pair in t.top]] for t in result.logprobs]
            if result.logprobs is not None
            else None
        ),
    }


def _from_cache(request: ModelRequest, entry: Mapping[str, Any]) -> CallResult:
    contexts = entry.get("contexts")
    logprobs = entry.get("logprobs")
    return CallResult(
        text=entry["text"],
        error=None,
        latency_s=float(entry.get("latency_s", 0.0)),
        prompt_tokens=int(entry.get("prompt_tokens", 0)),
        completion_tokens=int(entry.get("completion_tokens", 0)),
        cost_usd=float(entry.get("cost_usd", 0.0)),
        cached=True,
        attempts=0,
        finish_reason=entry.get("finish_reason"),
        contexts=tuple(contexts) if contexts is not None else None,
        logprobs=(
            tuple(
                TokenLogprob(str(token), float(value), tuple((str(a), float(b)) for a, b in top))
                for token, value, top in logprobs
            )
            if logprobs is not None
            else None
        ),
    )


def request_summary(request: ModelRequest) -> str:
    """Returns the prompt (text mode) or the messages as JSON, for storing with an output."""
    if request.mode == "text" or request.messages is None:
        return request.prompt or ""
    return json.dumps(list(request.messages), ensure_ascii=False)
