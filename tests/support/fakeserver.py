"""A real OpenAI-compatible HTTP server on 127.0.0.1 for tests and benchmarks.

The server runs in a subprocess (aiohttp), so it answers over a real socket, does not
share the GIL with the code under test, and survives a ``kill -9`` of the client. It is
deterministic: answers come from rules (substring or ``re:REGEX`` on the last user message
or the prompt; a rule's ``replies`` list is cycled per request of the same prompt, for
flaky answers; ``"truncate": true`` cuts its reply at the request's ``max_tokens`` with
finish_reason "length"), else a default reply, else ``"echo: <last 40 chars>"``. A rule may give
``tokens`` instead of ``reply``: ``[[token, logprob, {alternative: logprob, ...}], ...]``;
the reply is the tokens joined, and a request that asks for log-probabilities (chat
``logprobs: true``, text ``logprobs: N``) gets them in OpenAI's format. A text completion
continues its prompt as a model would: tokens the prompt already ends with are not
repeated (a prompt ending in ``{"verdict": "`` gets ``fail"}``), and a ``tokens`` reply
stops after the request's ``max_tokens`` tokens (finish_reason "length"). Faults (HTTP
status codes with ``Retry-After``, hangs, malformed bodies, empty choices) are injected
for a number of requests.

Use from Python::

    with FakeOpenAIServer() as server:
        server.configure(latency=0.05, rules=[{"match": "France", "reply": "Paris"}],
                         faults=[{"status": 429, "times": 2, "retry_after": 0.1}])
        ... call server.url ("http://127.0.0.1:PORT/v1") ...
        server.stats()["requests"]

or from a shell (prints the port on the first line of stdout)::

    python tests/support/fakeserver.py --port 0 --latency 0.2

Control endpoints: ``POST /_control`` (configure), ``GET /_stats``, ``POST /_reset``.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import math
import os
import re
import subprocess
import sys
import threading
import time
import urllib.request
from collections import Counter, deque
from pathlib import Path
from types import TracebackType
from typing import Any

HANG_SECONDS = 3600.0


# ---------------------------------------------------------------- client side (test process)


class FakeOpenAIServer:
    """Starts the fake server in a subprocess and talks to its control endpoints."""

    def __init__(self, *, latency: float = 0.0, port: int = 0) -> None:
        self._latency = latency
        self._requested_port = port
        self._process: subprocess.Popen[str] | None = None
        self.port = 0

    @property
    def url(self) -> str:
        """Returns the OpenAI base URL, ``http://127.0.0.1:PORT/v1``."""
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def pid(self) -> int | None:
        """Returns the server process id (None when not running)."""
        return self._process.pid if self._process else None

    def start(self, timeout: float = 30.0) -> FakeOpenAIServer:
        """Starts the subprocess and waits until it listens; returns self."""
        if self._process is not None:
            return self
        command = [
            sys.executable,
            "-u",
            str(Path(__file__).resolve()),
            "--port",
            str(self._requested_port),
            "--latency",
            str(self._latency),
            "--exit-on-stdin-eof",
        ]
        # stdin is a pipe held by this process: when this process dies (even by kill -9)
        # the pipe closes and the server exits, so no server outlives its test run.
        self._process = subprocess.Popen(
            command,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        assert self._process.stdout is not None
        deadline = time.monotonic() + timeout
        line = ""
        while time.monotonic() < deadline:
            line = self._process.stdout.readline()
            if line.strip().isdigit() or self._process.poll() is not None:
                break
        if not line.strip().isdigit():
            self.stop()
            raise RuntimeError(f"fake OpenAI server did not start (got {line!r})")
        self.port = int(line.strip())
        return self

    def stop(self) -> None:
        """Stops the subprocess (terminate, then kill)."""
        process, self._process = self._process, None
        if process is None:
            return
        if process.stdin:
            process.stdin.close()
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
        if process.stdout:
            process.stdout.close()

    def __enter__(self) -> FakeOpenAIServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _request(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.port}{path}",
            data=data,
            method=method,
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read())

    def configure(
        self,
        *,
        latency: float = 0.0,
        rules: list[dict[str, Any]] | None = None,
        faults: list[dict[str, Any]] | None = None,
        default_reply: str | None = None,
        embedding_dim: int = 8,
    ) -> None:
        """Replaces the server's behaviour (latency, reply rules, faults, defaults)."""
        self._request(
            "POST",
            "/_control",
            {
                "latency": latency,
                "rules": rules or [],
                "faults": faults or [],
                "default_reply": default_reply,
                "embedding_dim": embedding_dim,
            },
        )

    def stats(self) -> dict[str, Any]:
        """Returns request counters, fault counters and the last 1000 prompts seen."""
        result: dict[str, Any] = self._request("GET", "/_stats")
        return result

    def reset(self) -> None:
        """Clears counters, rules and faults (latency back to the start value)."""
        self._request("POST", "/_reset")


# ---------------------------------------------------------------- server side (subprocess)


class _State:
    """The server's mutable behaviour and counters."""

    def __init__(self, latency: float) -> None:
        self.start_latency = latency
        self.reset()

    def reset(self) -> None:
        self.latency = self.start_latency
        self.rules: list[dict[str, Any]] = []
        self.faults: list[dict[str, Any]] = []
        self.default_reply: str | None = None
        self.embedding_dim = 8
        self.counts: Counter[str] = Counter()
        self.by_fault: Counter[str] = Counter()
        self.prompts: deque[str] = deque(maxlen=1000)
        self.max_tokens: deque[Any] = deque(maxlen=1000)
        self.prompt_counts: Counter[str] = Counter()
        self.ok_prompt_counts: Counter[str] = Counter()
        self.in_flight = 0
        self.max_in_flight = 0

    def configure(self, body: dict[str, Any]) -> None:
        self.latency = float(body.get("latency") or 0.0)
        self.rules = list(body.get("rules") or [])
        # Each fault keeps its own countdown; "times" omitted means forever.
        self.faults = [dict(fault) for fault in body.get("faults") or []]
        self.default_reply = body.get("default_reply")
        self.embedding_dim = int(body.get("embedding_dim") or 8)

    def stats(self) -> dict[str, Any]:
        return {
            "requests": self.counts["requests"],
            "chat": self.counts["chat"],
            "completions": self.counts["completions"],
            "embeddings": self.counts["embeddings"],
            "models": self.counts["models"],
            "ok": self.counts["ok"],
            "by_fault": dict(self.by_fault),
            "prompts": list(self.prompts),
            "max_tokens": list(self.max_tokens),
            "prompt_counts": dict(self.prompt_counts),
            "ok_prompt_counts": dict(self.ok_prompt_counts),
            "in_flight": self.in_flight,
            "max_in_flight": self.max_in_flight,
        }


def _matches(pattern: str | None, text: str) -> bool:
    if pattern is None:
        return True
    if pattern.startswith("re:"):
        return re.search(pattern[3:], text) is not None
    return pattern in text


def _rule_for(state: _State, text: str) -> dict[str, Any] | None:
    for rule in state.rules:
        if _matches(rule.get("match"), text):
            return rule
    return None


def _logprobs(tokens: list[Any], endpoint: str) -> dict[str, Any]:
    """Returns a rule's ``tokens`` as OpenAI chat or text-completion log-probabilities."""
    if endpoint == "chat":
        return {
            "content": [
                {
                    "token": token,
                    "logprob": value,
                    "bytes": None,
                    "top_logprobs": [
                        {"token": alt, "logprob": alt_value, "bytes": None}
                        for alt, alt_value in (top or {}).items()
                    ],
                }
                for token, value, top in tokens
            ]
        }
    offsets, position = [], 0
    for token, _, _ in tokens:
        offsets.append(position)
        position += len(token)
    return {
        "tokens": [token for token, _, _ in tokens],
        "token_logprobs": [value for _, value, _ in tokens],
        "top_logprobs": [dict(top or {}) for _, _, top in tokens],
        "text_offset": offsets,
    }


def _reply_for(state: _State, text: str) -> str:
    for rule in state.rules:
        if _matches(rule.get("match"), text):
            if "tokens" in rule:
                return "".join(str(token) for token, _, _ in rule["tokens"])
            if "replies" in rule:  # cycles through the replies, one per request of this prompt
                replies = rule["replies"]
                return str(replies[(state.prompt_counts[text] - 1) % len(replies)])
            return str(rule["reply"])
    if state.default_reply is not None:
        return state.default_reply
    return f"echo: {text[-40:]}"


def _limited(reply: str, rule: dict[str, Any] | None, max_tokens: Any) -> tuple[str, str]:
    """Returns (reply, finish_reason): a rule with ``"truncate": true`` is cut to the
    request's ``max_tokens`` (whitespace tokens) with finish_reason "length", as a real
    server does when the budget runs out."""
    words = reply.split(" ")
    if rule and rule.get("truncate") and isinstance(max_tokens, int) and len(words) > max_tokens:
        return " ".join(words[:max_tokens]), "length"
    return reply, "stop"


def _continuation(tokens: list[Any], prompt: str, max_tokens: Any) -> tuple[list[Any], str]:
    """Returns the tokens a model adds to ``prompt`` and its finish_reason: the leading
    tokens the prompt already ends with are skipped, and at most ``max_tokens`` follow."""
    skip = 0
    for count in range(len(tokens), 0, -1):
        if prompt.endswith("".join(str(token) for token, _, _ in tokens[:count])):
            skip = count
            break
    rest = tokens[skip:]
    if isinstance(max_tokens, int) and len(rest) > max_tokens:
        return rest[:max_tokens], "length"
    return rest, "stop"


def _take_fault(state: _State, text: str) -> dict[str, Any] | None:
    """Returns the first active fault matching ``text`` and counts it down."""
    for fault in state.faults:
        remaining = fault.get("times")
        if remaining is not None and remaining <= 0:
            continue
        if not _matches(fault.get("match"), text):
            continue
        if remaining is not None:
            fault["times"] = remaining - 1
        return fault
    return None


def _embedding(text: str, dim: int) -> list[float]:
    """Returns a unit vector: hashed bag of words, so shared words mean similar vectors."""
    vector = [0.0] * dim
    words = re.findall(r"\w+", text.lower()) or [text]
    for word in words:
        digest = hashlib.sha256(word.encode("utf-8")).digest()
        index = int.from_bytes(digest[:4], "little") % dim
        vector[index] += 1.0 if digest[4] % 2 == 0 else -1.0
    norm = math.sqrt(sum(v * v for v in vector)) or 1.0
    return [v / norm for v in vector]


def _tokens(text: str) -> int:
    return max(1, len(text.split()))


def _message_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # content parts: [{"type": "text", "text": ...}]
        return " ".join(str(part.get("text", "")) for part in content if isinstance(part, dict))
    return str(content)


def build_app(state: _State) -> Any:
    """Returns the aiohttp application serving the OpenAI-compatible endpoints."""
    from aiohttp import web

    def error(status: int, message: str, retry_after: float | None = None) -> web.Response:
        headers = {"Retry-After": f"{retry_after:g}"} if retry_after is not None else {}
        kind = {429: "rate_limit_error", 401: "authentication_error"}.get(
            status, "invalid_request_error" if status < 500 else "server_error"
        )
        body = {"error": {"message": message, "type": kind, "code": status}}
        return web.json_response(body, status=status, headers=headers)

    async def serve(request: web.Request, endpoint: str) -> web.StreamResponse:
        state.counts["requests"] += 1
        state.counts[endpoint] += 1
        state.in_flight += 1
        state.max_in_flight = max(state.max_in_flight, state.in_flight)
        try:
            return await _serve(request, endpoint)
        finally:
            state.in_flight -= 1

    async def _serve(request: web.Request, endpoint: str) -> web.StreamResponse:
        try:
            body = await request.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            return error(400, "request body is not valid JSON")
        model = str(body.get("model", "fake-model"))
        if endpoint == "chat":
            messages = body.get("messages") or []
            users = [m for m in messages if m.get("role") == "user"]
            text = _message_text((users or messages or [{"content": ""}])[-1].get("content"))
        elif endpoint == "completions":
            prompt = body.get("prompt", "")
            text = prompt[0] if isinstance(prompt, list) and prompt else str(prompt)
        else:
            raw = body.get("input", "")
            inputs = raw if isinstance(raw, list) else [raw]
            text = " | ".join(str(item) for item in inputs)
        state.prompts.append(text)
        state.prompt_counts[text] += 1

        fault = _take_fault(state, text)
        latency = state.latency
        if state.latency:
            await asyncio.sleep(latency)
        if fault is not None:
            kind = str(fault.get("kind") or fault.get("status"))
            state.by_fault[kind] += 1
            if kind == "hang":
                await asyncio.sleep(float(fault.get("seconds", HANG_SECONDS)))
                return error(504, "hung request finally answered")
            if kind == "malformed":
                return web.Response(
                    text='{"id": "x", "choices": [', content_type="application/json"
                )
            if kind != "empty_choices":
                status = int(fault["status"])
                return error(status, f"injected fault {status}", fault.get("retry_after"))

        created = int(time.time())
        request_id = hashlib.sha256(f"{text}{time.time_ns()}".encode()).hexdigest()[:12]
        if endpoint == "embeddings":
            raw = body.get("input", "")
            inputs = raw if isinstance(raw, list) else [raw]
            data = [
                {
                    "object": "embedding",
                    "index": i,
                    "embedding": _embedding(str(t), state.embedding_dim),
                }
                for i, t in enumerate(inputs)
            ]
            used = sum(_tokens(str(t)) for t in inputs)
            state.counts["ok"] += 1
            return web.json_response(
                {
                    "object": "list",
                    "data": data,
                    "model": model,
                    "usage": {"prompt_tokens": used, "total_tokens": used},
                }
            )
        rule = _rule_for(state, text)
        state.max_tokens.append(body.get("max_tokens"))
        reply, finish = _limited(_reply_for(state, text), rule, body.get("max_tokens"))
        tokens = rule.get("tokens") if rule is not None else None
        if tokens is not None and endpoint == "completions":
            tokens, finish = _continuation(tokens, text, body.get("max_tokens"))
            reply = "".join(str(token) for token, _, _ in tokens)
        usage = {
            "prompt_tokens": _tokens(text),
            "completion_tokens": _tokens(reply),
            "total_tokens": _tokens(text) + _tokens(reply),
        }
        if fault is not None:  # empty_choices
            choices: list[dict[str, Any]] = []
        elif endpoint == "chat":
            choices = [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": reply},
                    "finish_reason": finish,
                }
            ]
        else:
            choices = [{"index": 0, "text": reply, "logprobs": None, "finish_reason": finish}]
        if choices and tokens is not None and body.get("logprobs"):
            choices[0]["logprobs"] = _logprobs(tokens, endpoint)
        state.counts["ok"] += 1
        state.ok_prompt_counts[text] += 1
        return web.json_response(
            {
                "id": ("chatcmpl-" if endpoint == "chat" else "cmpl-") + request_id,
                "object": "chat.completion" if endpoint == "chat" else "text_completion",
                "created": created,
                "model": model,
                "choices": choices,
                "usage": usage,
            }
        )

    async def chat(request: web.Request) -> web.StreamResponse:
        return await serve(request, "chat")

    async def completions(request: web.Request) -> web.StreamResponse:
        return await serve(request, "completions")

    async def embeddings(request: web.Request) -> web.StreamResponse:
        return await serve(request, "embeddings")

    async def models(request: web.Request) -> web.StreamResponse:
        state.counts["models"] += 1
        return web.json_response(
            {
                "object": "list",
                "data": [{"id": "fake-model", "object": "model", "owned_by": "evalkit"}],
            }
        )

    async def control(request: web.Request) -> web.StreamResponse:
        state.configure(await request.json())
        return web.json_response({"ok": True})

    async def stats(request: web.Request) -> web.StreamResponse:
        return web.json_response(state.stats())

    async def reset(request: web.Request) -> web.StreamResponse:
        state.reset()
        return web.json_response({"ok": True})

    app = web.Application(client_max_size=64 * 1024 * 1024)
    for prefix in ("/v1", ""):
        app.router.add_post(f"{prefix}/chat/completions", chat)
        app.router.add_post(f"{prefix}/completions", completions)
        app.router.add_post(f"{prefix}/embeddings", embeddings)
        app.router.add_get(f"{prefix}/models", models)
    app.router.add_post("/_control", control)
    app.router.add_get("/_stats", stats)
    app.router.add_post("/_reset", reset)
    return app


def _exit_on_stdin_eof() -> None:
    """Exits the process at once when stdin reaches EOF (the parent process has gone)."""

    def watch() -> None:
        try:
            while sys.stdin.buffer.read(4096):
                pass
        finally:
            os._exit(0)

    threading.Thread(target=watch, daemon=True).start()


async def _main(port: int, latency: float, exit_on_stdin_eof: bool) -> None:
    import signal

    from aiohttp import web

    state = _State(latency)
    runner = web.AppRunner(build_app(state), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", port, backlog=1024)
    await site.start()
    server = site._server
    sockets = getattr(server, "sockets", None) or []
    print(sockets[0].getsockname()[1], flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    if exit_on_stdin_eof:
        _exit_on_stdin_eof()
    await stop.wait()
    await runner.cleanup()


def main(argv: list[str] | None = None) -> None:
    """Runs the server until SIGTERM/SIGINT (or stdin EOF with --exit-on-stdin-eof)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=int, default=0, help="0: pick a free port")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds per request")
    parser.add_argument("--exit-on-stdin-eof", action="store_true")
    args = parser.parse_args(argv)
    try:
        import uvloop  # optional; faster when installed

        uvloop.install()
    except ImportError:
        pass
    asyncio.run(_main(args.port, args.latency, args.exit_on_stdin_eof))
    os._exit(0)  # the stdin-watcher thread may still block on a read


if __name__ == "__main__":
    main()
