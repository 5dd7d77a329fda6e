"""Shared fixtures for evalkit's tests (helpers append their fixtures below)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.fakeserver import FakeOpenAIServer

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

    from evalkit.models import _embedded as embedded

    os.environ.pop(embedded.URL_ENV, None)
    url = embedded.ensure_server()
    try:
        yield url
    finally:
        embedded.stop_server()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Headless Chromium shared by a test module (fails, never skips, if it is missing)."""
    from tests.support.browser import chromium, require_chromium

    require_chromium()
    with chromium() as driver:
        yield driver


# ---------------------------------------------------------------- evalkit installed from its wheel


@pytest.fixture(scope="session")
def evalkit_wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """evalkit's wheel, built from this tree once per session."""
    from tests.support.installed import build_wheel

    return build_wheel(tmp_path_factory.mktemp("wheel"))


@pytest.fixture(scope="session")
def shared_deps(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Links to the test environment's packages (evalkit left out), for new venvs."""
    from tests.support.installed import shared_dependencies

    return shared_dependencies(tmp_path_factory.mktemp("deps") / "site")


@pytest.fixture(scope="session")
def installed_bin(
    tmp_path_factory: pytest.TempPathFactory, evalkit_wheel: Path, shared_deps: Path
) -> Path:
    """bin/ of a fresh venv with evalkit installed from the wheel (not editable)."""
    from tests.support.installed import clean_env, make_venv, run

    bin_dir = make_venv(tmp_path_factory.mktemp("venv") / "env", shared_deps)
    result = run(
        [str(bin_dir / "python"), "-m", "pip", "install", "--no-deps", str(evalkit_wheel)],
        cwd=evalkit_wheel.parent,
        env=clean_env(bin_dir),
    )
    assert result.returncode == 0, result.stderr
    return bin_dir
