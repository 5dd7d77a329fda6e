"""Shared fixtures for evalkit's tests (helpers append their fixtures below)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fakeserver import FakeOpenAIServer

# ---------------------------------------------------------------- fake OpenAI server (runner)


@pytest.fixture(scope="session")
def fake_server() -> Iterator[FakeOpenAIServer]:
    """A real OpenAI-compatible server on 127.0.0.1, started once per test session."""
    server = FakeOpenAIServer().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def openai_server(fake_server: FakeOpenAIServer) -> Iterator[FakeOpenAIServer]:
    """The session's fake server, reset (no rules, faults or counts) for this test."""
    fake_server.reset()
    yield fake_server
    fake_server.reset()


# ---------------------------------------------------------------- embedded Gemma (runner)


@pytest.fixture(scope="session")
def embedded_url() -> Iterator[str]:
    """The real embedded llama.cpp server (Gemma 3 270M), started once per session."""
    import os

    from evalkit import embedded

    os.environ.pop(embedded.URL_ENV, None)
    url = embedded.ensure_server()
    try:
        yield url
    finally:
        embedded.stop_server()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Headless Chromium shared by a test module (fails, never skips, if it is missing)."""
    from browser import chromium, require_chromium

    require_chromium()
    with chromium() as driver:
        yield driver
