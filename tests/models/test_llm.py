"""ModelClient against the fake OpenAI server over a real socket: retries, faults, cache."""

from __future__ import annotations

import asyncio
import socket
import time
from pathlib import Path

import pytest

from evalkit.models._cache import Cache
from evalkit.models._llm import CallResult, ModelClient, ModelRequest
from tests.support.fakeserver import FakeOpenAIServer


def _chat(server: FakeOpenAIServer, text: str, **overrides: object) -> ModelRequest:
    options: dict[str, object] = {
        "model": "openai/fake",
        "mode": "chat",
        "messages": ({"role": "user", "content": text},),
        "api_base": server.url,
        "timeout": 5.0,
        "max_retries": 3,
    }
    options.update(overrides)
    return ModelRequest(**options)  # type: ignore[arg-type]


def _call(
    request: ModelRequest, cache: Cache | None = None, **client_options: object
) -> CallResult:
    async def go() -> CallResult:
        client = ModelClient(cache=cache, backoff_base=0.01, **client_options)  # type: ignore[arg-type]
        try:
            return await client.call(request)
        finally:
            await client.aclose()

    return asyncio.run(go())


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_chat_call_returns_rule_reply_with_token_usage(openai_server: FakeOpenAIServer) -> None:
    openai_server.configure(rules=[{"match": "France", "reply": "Paris"}])
    result = _call(_chat(openai_server, "Capital of France?"))
    assert result.ok and result.text == "Paris"
    assert result.prompt_tokens == 3 and result.completion_tokens == 1
    assert result.attempts == 1 and not result.cached
    assert result.cost_usd == 0.0  # unknown local model: zero, not an exception
    assert openai_server.stats()["chat"] == 1


def test_text_mode_uses_the_completions_endpoint(openai_server: FakeOpenAIServer) -> None:
    openai_server.configure(rules=[{"match": "re:^Q: 2\\+2", "reply": " 4"}])
    request = ModelRequest(
        model="fake",
        mode="text",
        prompt="Q: 2+2\nA:",
        api_base=openai_server.url,
        params={"max_tokens": 4, "stop": ["\n"]},
    )
    result = _call(request)
    assert result.text == " 4"
    stats = openai_server.stats()
    assert stats["completions"] == 1 and stats["chat"] == 0


def test_429_is_retried_and_retry_after_honoured(openai_server: FakeOpenAIServer) -> None:
    openai_server.configure(faults=[{"status": 429, "times": 2, "retry_after": 0.3}])
    result = _call(_chat(openai_server, "hello"))
    assert result.ok
    assert result.attempts == 3
    assert openai_server.stats()["by_fault"] == {"429": 2}
    # Two waits of at least Retry-After (0.3 s) each, although the backoff base is 0.01 s.
    assert result.latency_s >= 0.6


def test_500_is_retried_until_it_succeeds(openai_server: FakeOpenAIServer) -> None:
    openai_server.configure(faults=[{"status": 500, "times": 2}])
    result = _call(_chat(openai_server, "hello"))
    assert result.ok and result.attempts == 3
    assert openai_server.stats()["requests"] == 3


def test_retries_are_bounded(openai_server: FakeOpenAIServer) -> None:
    openai_server.configure(faults=[{"status": 503}])
    result = _call(_chat(openai_server, "hello", max_retries=2))
    assert not result.ok and result.retryable_error
    assert result.attempts == 3
    assert openai_server.stats()["requests"] == 3
    assert "503" in (result.error or "")


@pytest.mark.parametrize("status", [400, 401, 404])
def test_client_errors_are_not_retried(openai_server: FakeOpenAIServer, status: int) -> None:
    openai_server.configure(faults=[{"status": status}])
    result = _call(_chat(openai_server, "hello"))
    assert not result.ok and not result.retryable_error
    assert result.attempts == 1
    assert openai_server.stats()["requests"] == 1
    assert str(status) in (result.error or "")


def test_401_error_says_to_check_the_api_key(openai_server: FakeOpenAIServer) -> None:
    openai_server.configure(faults=[{"status": 401}])
    result = _call(_chat(openai_server, "hello"))
    assert "API key" in (result.error or "")
    assert openai_server.url in (result.error or "")


def test_a_hung_request_times_out_and_is_retried(openai_server: FakeOpenAIServer) -> None:
    openai_server.configure(faults=[{"kind": "hang", "times": 1}])
    result = _call(_chat(openai_server, "hello", timeout=0.5))
    assert result.ok and result.attempts == 2
    assert openai_server.stats()["by_fault"] == {"hang": 1}


def test_a_server_that_always_hangs_gives_a_timeout_error(openai_server: FakeOpenAIServer) -> None:
    openai_server.configure(faults=[{"kind": "hang"}])
    result = _call(_chat(openai_server, "hello", timeout=0.3, max_retries=1))
    assert not result.ok and result.attempts == 2
    assert "timed out" in (result.error or "")


def test_a_504_from_the_server_is_not_reported_as_evalkits_timeout(
    openai_server: FakeOpenAIServer,
) -> None:
    openai_server.configure(faults=[{"status": 504}])
    result = _call(_chat(openai_server, "hello", timeout=30, max_retries=1))
    assert not result.ok and result.retryable_error and result.attempts == 2
    assert (result.error or "").startswith("504 gateway timeout from openai/")
    assert "timed out after 30s" not in (result.error or "")


def test_malformed_body_becomes_an_error_result(openai_server: FakeOpenAIServer) -> None:
    openai_server.configure(faults=[{"kind": "malformed"}])
    result = _call(_chat(openai_server, "hello", max_retries=1))
    assert not result.ok and result.text is None
    assert result.error


def test_empty_choices_becomes_an_error_result(openai_server: FakeOpenAIServer) -> None:
    openai_server.configure(faults=[{"kind": "empty_choices"}])
    result = _call(_chat(openai_server, "hello", max_retries=0))
    assert not result.ok and "no choices" in (result.error or "")


def test_connection_refused_is_an_error_not_an_exception() -> None:
    request = ModelRequest(
        model="openai/x",
        mode="chat",
        messages=({"role": "user", "content": "hi"},),
        api_base=f"http://127.0.0.1:{_closed_port()}/v1",
        max_retries=1,
        timeout=2,
    )
    result = _call(request)
    assert not result.ok and result.retryable_error and result.attempts == 2
    assert "connect" in (result.error or "").lower()


def test_concurrency_cap_bounds_calls_in_flight(openai_server: FakeOpenAIServer) -> None:
    openai_server.configure(latency=0.1)

    async def go() -> list[CallResult]:
        client = ModelClient(cache=None, concurrency=3)
        return await asyncio.gather(
            *(client.call(_chat(openai_server, f"q{i}")) for i in range(12))
        )

    results = asyncio.run(go())
    assert all(r.ok for r in results)
    assert openai_server.stats()["max_in_flight"] == 3


def test_cache_hit_makes_no_call(openai_server: FakeOpenAIServer, tmp_path: Path) -> None:
    cache = Cache(tmp_path)
    first = _call(_chat(openai_server, "hello"), cache)
    second = _call(_chat(openai_server, "hello"), cache)
    assert first.text == second.text and second.cached and not first.cached
    assert openai_server.stats()["requests"] == 1


def test_repeated_samples_have_distinct_cache_keys(
    openai_server: FakeOpenAIServer, tmp_path: Path
) -> None:
    cache = Cache(tmp_path)
    for sample in range(3):
        _call(_chat(openai_server, "hello", sample=sample, params={"temperature": 1.0}), cache)
    assert openai_server.stats()["requests"] == 3
    assert cache.info()["entries"] == 3


def test_any_param_change_misses_the_cache(openai_server: FakeOpenAIServer, tmp_path: Path) -> None:
    cache = Cache(tmp_path)
    _call(_chat(openai_server, "hello", params={"max_tokens": 5}), cache)
    _call(_chat(openai_server, "hello", params={"max_tokens": 6}), cache)
    assert openai_server.stats()["requests"] == 2


def test_errors_are_never_cached(openai_server: FakeOpenAIServer, tmp_path: Path) -> None:
    cache = Cache(tmp_path)
    openai_server.configure(faults=[{"status": 500, "times": 1}])
    failed = _call(_chat(openai_server, "hello", max_retries=0), cache)
    assert not failed.ok and cache.info()["entries"] == 0
    again = _call(_chat(openai_server, "hello", max_retries=0), cache)
    assert again.ok and not again.cached


def test_api_key_never_reaches_the_cache(
    openai_server: FakeOpenAIServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = "sk-test-secret-0123456789"
    monkeypatch.setenv("OPENAI_API_KEY", secret)
    cache = Cache(tmp_path)
    result = _call(_chat(openai_server, "hello", params={"api_key": secret}), cache)
    assert result.ok
    cache.close()
    for file in tmp_path.iterdir():
        assert secret.encode() not in file.read_bytes()


def test_stats_are_kept_per_tag(openai_server: FakeOpenAIServer) -> None:
    async def go() -> dict[str, dict[str, float]]:
        client = ModelClient(cache=None)
        await client.call(_chat(openai_server, "a"))
        await client.call(_chat(openai_server, "b", tag="judge:helpful"))
        return client.stats()

    stats = asyncio.run(go())
    assert stats["sut"]["calls"] == 1 and stats["judge:helpful"]["calls"] == 1
    assert stats["sut"]["prompt_tokens"] == 1


def test_rpm_limit_spaces_call_starts(openai_server: FakeOpenAIServer) -> None:
    async def go() -> float:
        client = ModelClient(cache=None, rpm=600, concurrency=8)  # one call per 0.1 s
        started = time.perf_counter()
        await asyncio.gather(*(client.call(_chat(openai_server, f"q{i}")) for i in range(5)))
        return time.perf_counter() - started

    # Five starts spaced 0.1 s apart take at least 0.4 s although 8 could run at once.
    assert asyncio.run(go()) >= 0.4
    assert openai_server.stats()["ok"] == 5


def test_chat_keeps_the_aiohttp_transport_and_text_calls_leak_no_session(
    openai_server: FakeOpenAIServer,
) -> None:
    """Chat calls keep LiteLLM's faster aiohttp transport; from the first text-completion
    call on, the process uses httpx, so no call leaves an unclosed aiohttp session."""
    import subprocess
    import sys
    import textwrap

    script = textwrap.dedent(
        f"""
        import asyncio, gc, sys
        import evalkit
        from evalkit.models._llm import (
            ModelClient,
            ModelRequest,
            _import_litellm,
            close_litellm_clients,
        )

        def request(mode, i):
            text = f"question {{i}}"
            if mode == "chat":
                return ModelRequest(model="openai/x", mode="chat", api_base={openai_server.url!r},
                    messages=({{"role": "user", "content": text}},))
            return ModelRequest(model="text-completion-openai/x", mode="text",
                api_base={openai_server.url!r}, prompt=text)

        async def main():
            litellm = _import_litellm()  # with evalkit's offline default, as a run does
            client = ModelClient(cache=None, concurrency=8)
            chat = await asyncio.gather(*(client.call(request("chat", i)) for i in range(20)))
            print("after chat:", litellm.disable_aiohttp_transport)
            text = await asyncio.gather(*(client.call(request("text", i)) for i in range(20)))
            print("after text:", litellm.disable_aiohttp_transport)
            await client.aclose()
            await close_litellm_clients()
            assert all(r.ok for r in chat + text)

        asyncio.run(main())
        gc.collect()
        """
    )
    result = subprocess.run(
        [sys.executable, "-W", "always", "-c", script], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.splitlines() == ["after chat: False", "after text: True"]
    assert "Unclosed client session" not in result.stderr
