"""The pytest plugin: a failure that is not a verdict exits 3 (never 1) with one line.

These run pytest in a subprocess (pytester), as CI would.
"""

from __future__ import annotations

import pytest

from tests.support.fakeserver import FakeOpenAIServer
from tests.support.plugin_project import configure, write_project

pytest_plugins = ["pytester"]

RUN = ("--evalkit-suite", "qa", "--evalkit-report", "none", "-p", "no:cacheprovider")


@pytest.fixture(autouse=True)
def _api_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-dummy")


def _break_golden_loading(pytester: pytest.Pytester, raise_line: str) -> None:
    pytester.makeconftest(
        "import evalkit.data._golden\n\n"
        "def _broken(path):\n"
        f"    {raise_line}\n\n"
        "evalkit.data._golden.load_golden_set = _broken\n"
    )


def test_an_unreadable_file_while_loading_suites_stops_the_session_with_3(
    pytester: pytest.Pytester, openai_server: FakeOpenAIServer
) -> None:
    golden = write_project(pytester, openai_server.url, n=4)
    _break_golden_loading(pytester, 'raise OSError(5, "Input/output error", str(path))')
    result = pytester.runpytest_subprocess(*RUN)
    assert result.ret == 3
    output = result.stdout.str() + result.stderr.str()
    assert f"evalkit: cannot use {golden}: Input/output error" in output
    assert "INTERNALERROR" not in output and "Traceback" not in output


def test_a_bug_while_loading_suites_is_3_with_its_traceback_in_a_file(
    pytester: pytest.Pytester,
    openai_server: FakeOpenAIServer,
    tmp_path_factory: pytest.TempPathFactory,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    write_project(pytester, openai_server.url, n=4)
    _break_golden_loading(pytester, 'raise RuntimeError("planted bug")')
    crash_dir = tmp_path_factory.mktemp("crash")
    monkeypatch.setenv("TMPDIR", str(crash_dir))
    result = pytester.runpytest_subprocess(*RUN, "--basetemp", str(pytester.path / "bt"))
    output = result.stdout.str() + result.stderr.str()
    assert result.ret == 3, output
    assert "internal error (a bug in evalkit" in output and "RuntimeError: planted bug" in output
    assert "INTERNALERROR" not in output and "Traceback" not in output
    (report,) = crash_dir.glob("evalkit-crash-*.txt")
    assert f"the full traceback is in {report}" in output
    assert 'RuntimeError("planted bug")' in report.read_text()


def test_a_damaged_cache_during_the_run_errors_the_suite_with_3_not_1(
    pytester: pytest.Pytester, openai_server: FakeOpenAIServer
) -> None:
    write_project(pytester, openai_server.url, n=4)
    configure(openai_server, n=4)
    cache_file = pytester.path / ".evalkit" / "cache" / "calls.sqlite3"
    cache_file.mkdir(parents=True)  # a folder where the database should be
    result = pytester.runpytest_subprocess(*RUN)
    output = result.stdout.str()
    assert result.ret == 3, output
    assert f"cannot use the call cache {cache_file}" in output and "--no-cache" in output
    assert "Traceback" not in output
    assert openai_server.stats()["requests"] == 0
