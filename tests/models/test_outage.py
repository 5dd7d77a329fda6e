"""A run whose model goes away: start-up check, mid-run death, outages, partial runs, progress.

Every server here is real: the fake OpenAI server (killed or faulted mid-run), a server that
dies on its first completion like a llama.cpp built for another CPU, and the embedded Gemma
(killed with SIGSEGV mid-run).
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from evalkit.config._suite import GateConfig, MetricSpec, ProjectConfig, SuiteConfig, SUTConfig
from evalkit.data._golden import GoldenSet, parse_jsonl
from evalkit.data._records import Output
from evalkit.errors import EndpointDownError, PartialRunError, ServerStartError
from evalkit.execution._pipeline import run_suite
from evalkit.execution._runner import Journal, generate_outputs
from evalkit.models import _embedded as embedded
from evalkit.models._llm import ModelClient
from tests.support.fakeserver import FakeOpenAIServer

CRASHING_SERVER = Path(__file__).parents[1] / "support" / "crashing_server.py"


def _golden(n: int) -> GoldenSet:
    lines = [json.dumps({"id": f"c{i:03d}", "input": f"question {i}"}) for i in range(n)]
    return parse_jsonl(("\n".join(lines) + "\n").encode(), "mem.jsonl")


def _run(
    suite: SuiteConfig, golden: GoldenSet, journal: Path, concurrency: int = 4
) -> list[Output]:
    async def go() -> list[Output]:
        client = ModelClient(cache=None, concurrency=concurrency, backoff_base=0.05)
        return await generate_outputs(
            suite,
            golden,
            project=ProjectConfig(),
            client=client,
            journal_path=journal,
            samples=1,
            concurrency=concurrency,
            progress=False,
        )

    return asyncio.run(go())


def _when(condition: Callable[[], bool], action: Callable[[], None]) -> threading.Thread:
    """Runs ``action`` in a thread as soon as ``condition`` holds (polled every 20 ms)."""

    def watch() -> None:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if condition():
                action()
                return
            time.sleep(0.02)

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    return thread


def _ok_rows(journal: Path) -> int:
    return sum(output.ok for output in Journal(journal).read().values())


# ---------------------------------------------------------------- start-up check


def test_a_server_that_dies_on_its_first_completion_fails_start_up_clearly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(embedded, "cache_dir", lambda: tmp_path)
    server = embedded.EmbeddedServer(
        command=lambda port: [sys.executable, str(CRASHING_SERVER), str(port)]
    )
    started = time.monotonic()
    with pytest.raises(ServerStartError) as raised:
        server.start(timeout=60)
    elapsed = time.monotonic() - started
    message = str(raised.value)
    assert "one-token completion" in message
    assert "signal SIGSEGV" in message  # how it died
    assert str(tmp_path / "logs") in message  # where its log is
    assert "first completion: crashing now" in message  # the log's last lines
    assert "evalkit.models.llama_wheel" in message  # what to do about it
    assert elapsed < 15, elapsed
    assert server.process is None


def test_a_run_on_an_embedded_server_that_cannot_generate_sends_no_case(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(embedded.URL_ENV, raising=False)
    # This process may already run the real server (another test's): start our own.
    monkeypatch.setattr(embedded, "_server", None)
    monkeypatch.setattr(embedded, "cache_dir", lambda: tmp_path)
    monkeypatch.setattr(
        embedded.EmbeddedServer,
        "_llama_command",
        lambda self, port: [sys.executable, str(CRASHING_SERVER), str(port)],
    )
    suite = SuiteConfig(name="t", golden="mem.jsonl", sut=SUTConfig(model="embedded"))
    journal = tmp_path / "j.jsonl"
    with pytest.raises(ServerStartError, match="SIGSEGV"):
        _run(suite, _golden(30), journal)
    assert Journal(journal).read() == {}  # no case was recorded as failed
    assert embedded.server_pid() is None


# ---------------------------------------------------------------- a remote endpoint goes away


def test_a_remote_server_killed_mid_run_stops_the_run_and_the_same_command_resumes(
    tmp_path: Path,
) -> None:
    server = FakeOpenAIServer(latency=0.05).start()
    port = server.port
    suite = SuiteConfig(
        name="t",
        golden="mem.jsonl",
        sut=SUTConfig(model="openai/x", api_base=server.url, outage_timeout=2.0),
    )
    journal = tmp_path / "j.jsonl"
    killed_at: list[float] = []

    def kill() -> None:
        server.stop()
        killed_at.append(time.monotonic())

    _when(lambda: journal.exists() and _ok_rows(journal) >= 15, kill)
    try:
        with pytest.raises(EndpointDownError) as raised:
            _run(suite, _golden(200), journal)
        stopped_after = time.monotonic() - killed_at[0]
    finally:
        server.stop()
    message = str(raised.value)
    assert "stopped answering" in message and "run the same command again" in message
    # Probed for outage_timeout (2 s) plus the failing attempts that opened the outage,
    # instead of retrying each of ~180 remaining cases.
    assert stopped_after < 8, stopped_after
    finished = _ok_rows(journal)
    assert 15 <= finished < 200

    with FakeOpenAIServer(port=port) as again:
        outputs = _run(suite, _golden(200), journal)
        assert all(o.ok for o in outputs)
        assert again.stats()["requests"] == 200 - finished  # finished cases not paid again


def test_an_endpoint_that_comes_back_while_probed_lets_the_run_finish(
    openai_server: FakeOpenAIServer, tmp_path: Path
) -> None:
    openai_server.configure(latency=0.02)
    suite = SuiteConfig(
        name="t",
        golden="mem.jsonl",
        sut=SUTConfig(model="openai/x", api_base=openai_server.url, outage_timeout=30.0),
    )

    def outage() -> None:
        openai_server.configure(latency=0.02, faults=[{"status": 503}])
        time.sleep(2.0)
        openai_server.configure(latency=0.02)

    _when(lambda: openai_server.stats()["ok"] >= 10, outage)
    started = time.monotonic()
    outputs = _run(suite, _golden(60), tmp_path / "j.jsonl")
    assert all(o.ok for o in outputs), [o.error for o in outputs if not o.ok][:3]
    assert time.monotonic() - started < 25
    # While probed, one caller re-sends; the others wait: far fewer than 4 retries x 4 workers
    # for two seconds of 503s.
    assert openai_server.stats()["by_fault"].get("503", 0) < 20


# ---------------------------------------------------------------- partial runs


def _project(tmp_path: Path, url: str) -> tuple[ProjectConfig, SuiteConfig]:
    golden = tmp_path / "qa.jsonl"
    golden.write_text(
        "".join(json.dumps({"id": f"c{i:02d}", "input": f"question {i}"}) + "\n" for i in range(20))
    )
    project = ProjectConfig(source=str(tmp_path / "evalkit.toml"), root=str(tmp_path))
    suite = SuiteConfig(
        name="qa",
        golden="qa.jsonl",
        sut=SUTConfig(model="openai/x", api_base=url, max_retries=0),
        metrics=[MetricSpec(name="exact")],
        gate=GateConfig(max_unscored_share=0.1),
    )
    return project, suite


def test_a_run_with_more_failed_calls_than_the_suite_allows_is_exit_3_and_resumable(
    openai_server: FakeOpenAIServer, tmp_path: Path
) -> None:
    # 4 of 20 cases fail with a 400 (never retried): 20% > max_unscored_share 10%.
    openai_server.configure(faults=[{"status": 400, "match": "re:question 1[0-3]$", "times": 4}])
    project, suite = _project(tmp_path, openai_server.url)
    with pytest.raises(PartialRunError) as raised:
        run_suite(project, suite, use_cache=False, progress=False)
    assert "4 of 20 calls" in str(raised.value)
    assert "run the same command again" in str(raised.value).lower()
    assert raised.value.exit_code == 3
    run = run_suite(project, suite, use_cache=False, progress=False)  # the faults are used up
    assert run.manifest.status == "complete"
    assert openai_server.stats()["requests"] == 24  # only the 4 failed cases were called again


def test_a_run_below_the_limit_is_stored_and_exit_0_with_the_count(
    openai_server: FakeOpenAIServer, tmp_path: Path
) -> None:
    openai_server.configure(faults=[{"status": 400, "match": "question 7"}])
    _project(tmp_path, openai_server.url)  # writes the golden set
    config = tmp_path / "evalkit.toml"
    config.write_text(
        'store = "runs"\ncache_dir = "cache"\n[suites.qa]\ngolden = "qa.jsonl"\n'
        'metrics = ["exact"]\n'
        f'[suites.qa.sut]\nmodel = "openai/x"\napi_base = "{openai_server.url}"\n'
        "max_retries = 0\n"
    )
    command = [sys.executable, "-m", "evalkit", "--config", str(config), "run", "qa"]
    result = subprocess.run([*command, "--no-progress"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "20 output(s), 1 error(s)" in result.stdout  # 5% <= 10%

    openai_server.configure(faults=[{"status": 400, "match": "re:question 1[0-9]$"}])
    result = subprocess.run(
        [*command, "--no-progress", "--no-cache"], capture_output=True, text=True
    )
    assert result.returncode == 3, result.stdout + result.stderr
    assert "10 of 20 calls" in result.stderr and "Traceback" not in result.stderr


# ---------------------------------------------------------------- progress of a judge stage


def test_a_judge_stage_prints_progress_lines(
    openai_server: FakeOpenAIServer, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-dummy")
    openai_server.configure(latency=0.2, rules=[{"match": "Grade", "reply": '{"verdict": "pass"}'}])
    judges = tmp_path / "judges"
    judges.mkdir()
    (judges / "grader.toml").write_text(
        'model = "openai/judge"\nmode = "chat"\n'
        f'api_base = "{openai_server.url}"\n'
        'scale = "pass/fail"\nstructured = "json_object"\nmax_retries = 0\n'
        'rubric = "Grade the answer."\n'
        'template = "Grade: {{ input }} -> {{ output }}"\n'
    )
    project, suite = _project(tmp_path, openai_server.url)
    project = project.model_copy(update={"judges_dir": "judges"})
    suite = suite.model_copy(
        update={
            "metrics": [MetricSpec(name="graded", scorer="judge", params={"name": "grader"})],
            "concurrency": 2,
        }
    )
    capsys.readouterr()
    run_suite(project, suite, use_cache=False, progress=None)
    err = capsys.readouterr().err
    judge_lines = [line for line in err.splitlines() if line.startswith("[qa: graded]")]
    assert judge_lines, err
    assert "20/20 (100%)" in judge_lines[-1] and "errors 0" in judge_lines[-1]
    assert any("eta" in line for line in judge_lines)


def test_a_stage_that_finishes_within_a_second_prints_nothing(
    openai_server: FakeOpenAIServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project, suite = _project(tmp_path, openai_server.url)
    capsys.readouterr()
    run_suite(project, suite, use_cache=False, progress=None)
    err = capsys.readouterr().err
    assert "[qa: exact]" not in err
    assert "[qa]" in err  # the runner's own lines


# ---------------------------------------------------------------- the embedded Gemma dies


@pytest.mark.gemma
def test_the_embedded_server_killed_mid_run_stops_the_run_at_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(embedded.URL_ENV, raising=False)
    # Kill a server of this test's own, not one that other tests in this process share.
    monkeypatch.setattr(embedded, "_server", None)
    suite = SuiteConfig(
        name="t",
        golden="mem.jsonl",
        sut=SUTConfig(
            model="embedded",
            mode="text",
            params={"temperature": 0.0, "max_tokens": 8},
            outage_timeout=60.0,
        ),
    )
    journal = tmp_path / "j.jsonl"
    killed_at: list[float] = []

    def kill() -> None:
        pid = embedded.server_pid()
        assert pid is not None
        os.kill(pid, signal.SIGSEGV)
        killed_at.append(time.monotonic())

    _when(lambda: journal.exists() and _ok_rows(journal) >= 10, kill)
    with pytest.raises(EndpointDownError) as raised:
        _run(suite, _golden(60), journal, concurrency=2)
    stopped_after = time.monotonic() - killed_at[0]
    message = str(raised.value)
    assert "signal SIGSEGV" in message and "log:" in message and "log tail:" in message
    assert stopped_after < 5, stopped_after  # at once: no probing of a dead process
    assert _ok_rows(journal) >= 10
    embedded.stop_server()
