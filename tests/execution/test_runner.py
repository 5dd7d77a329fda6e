"""The runner against the fake server: outputs, journal, early stop, callable SUTs, progress."""

from __future__ import annotations

import asyncio
import io
import json
import socket
import textwrap
import time
from pathlib import Path

import pytest

import evalkit  # noqa: F401
from evalkit.config._suite import ProjectConfig, SuiteConfig, SUTConfig
from evalkit.data._golden import GoldenSet, parse_jsonl
from evalkit.data._records import Output
from evalkit.errors import EvalkitWarning, InfrastructureError, TemplateError
from evalkit.execution import _runner as runner_module
from evalkit.execution._runner import Journal, compute_totals, generate_outputs
from evalkit.models._llm import ModelClient
from evalkit.util._progress import PlainProgress, make_progress
from tests.support.fakeserver import FakeOpenAIServer


def _golden(n: int, *, input_of: object = None) -> GoldenSet:
    lines = []
    for i in range(n):
        value = input_of if input_of is not None else f"question {i}"
        lines.append(json.dumps({"id": f"c{i:03d}", "input": value, "expected": "x"}))
    return parse_jsonl(("\n".join(lines) + "\n").encode(), "mem.jsonl")


def _suite(**sut: object) -> SuiteConfig:
    return SuiteConfig(name="t", golden="mem.jsonl", sut=SUTConfig.model_validate(sut))


def _run(
    suite: SuiteConfig,
    golden: GoldenSet,
    journal: Path,
    *,
    samples: int = 1,
    concurrency: int = 4,
    project: ProjectConfig | None = None,
) -> list[Output]:
    async def go() -> list[Output]:
        client = ModelClient(cache=None, concurrency=concurrency, backoff_base=0.01)
        return await generate_outputs(
            suite,
            golden,
            project=project or ProjectConfig(),
            client=client,
            journal_path=journal,
            samples=samples,
            concurrency=concurrency,
            progress=False,
        )

    return asyncio.run(go())


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_every_case_and_sample_gets_an_output_in_order(
    openai_server: FakeOpenAIServer, tmp_path: Path
) -> None:
    openai_server.configure(default_reply="ok")
    suite = _suite(model="openai/x", api_base=openai_server.url)
    outputs = _run(suite, _golden(5), tmp_path / "j.jsonl", samples=2)
    assert [(o.case_id, o.sample) for o in outputs] == [
        (f"c{i:03d}", s) for i in range(5) for s in range(2)
    ]
    assert all(o.text == "ok" for o in outputs)
    assert openai_server.stats()["chat"] == 10


def test_results_are_journaled_and_not_called_again(
    openai_server: FakeOpenAIServer, tmp_path: Path
) -> None:
    suite = _suite(model="openai/x", api_base=openai_server.url)
    journal = tmp_path / "j.jsonl"
    first = _run(suite, _golden(6), journal)
    assert len(Journal(journal).read()) == 6
    second = _run(suite, _golden(6), journal)
    assert openai_server.stats()["requests"] == 6
    assert [o.text for o in first] == [o.text for o in second]


def test_a_torn_last_journal_line_is_ignored(tmp_path: Path) -> None:
    journal = tmp_path / "j.jsonl"
    good = Output(case_id="a", sample=0, text="t")
    Journal(journal).append(good)
    with journal.open("a") as handle:
        handle.write('{"case_id": "b", "sam')
    with pytest.warns(EvalkitWarning, match=r"j\.jsonl: skipped 1 unreadable line.*run again"):
        assert Journal(journal).read() == {("a", 0): good}


def test_failed_cases_are_kept_as_error_rows(
    openai_server: FakeOpenAIServer, tmp_path: Path
) -> None:
    openai_server.configure(faults=[{"status": 400, "match": "question 3"}])
    suite = _suite(model="openai/x", api_base=openai_server.url, max_retries=0)
    outputs = _run(suite, _golden(5), tmp_path / "j.jsonl")
    errors = [o for o in outputs if not o.ok]
    assert [o.case_id for o in errors] == ["c003"]
    assert "400" in (errors[0].error or "")
    assert compute_totals(outputs).errors == 1


def test_failed_cases_are_retried_on_resume(
    openai_server: FakeOpenAIServer, tmp_path: Path
) -> None:
    openai_server.configure(faults=[{"status": 400, "match": "question 3", "times": 1}])
    suite = _suite(model="openai/x", api_base=openai_server.url, max_retries=0)
    journal = tmp_path / "j.jsonl"
    _run(suite, _golden(5), journal)
    again = _run(suite, _golden(5), journal)
    assert all(o.ok for o in again)
    assert openai_server.stats()["requests"] == 6


def test_run_stops_early_when_the_server_is_down(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{_closed_port()}/v1"
    suite = _suite(model="openai/x", api_base=url, max_retries=0)
    with pytest.raises(InfrastructureError, match=r"stopped early.*connect") as raised:
        _run(suite, _golden(200), tmp_path / "j.jsonl", concurrency=4)
    assert "20 calls" in str(raised.value)
    # Stopped after the first calls, not after trying all 200 cases.
    assert len(Journal(tmp_path / "j.jsonl").read()) < 40


def test_calls_in_flight_when_the_run_stops_end_by_themselves_and_are_journaled(
    openai_server: FakeOpenAIServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Cases 0-19 fail at once (the stop); cases 20+ answer after 2 s. The calls in flight
    at the stop are not cancelled (cancelling one inside litellm leaves an un-awaited
    coroutine behind): they end within the grace and their answers are kept. (A grace of
    10 s and a 2-s answer leave room on a loaded machine on both sides: the fast failures
    all come before any slow answer, and the slow answers come before the grace ends.)"""
    monkeypatch.setattr(runner_module, "STOP_GRACE_S", 10.0)
    openai_server.configure(
        faults=[
            {"kind": "hang", "seconds": 2.0, "match": "re:question ([2-9][0-9])$"},
            {"status": 503},
        ]
    )
    suite = _suite(model="openai/x", api_base=openai_server.url, max_retries=0)
    journal = tmp_path / "j.jsonl"
    with pytest.raises(InfrastructureError, match="stopped early"):
        _run(suite, _golden(60), journal, concurrency=4)
    late = {case: out for (case, _), out in Journal(journal).read().items() if case >= "c020"}
    assert sorted(late) == ["c020", "c021", "c022"]
    assert all("504 gateway timeout" in (out.error or "") for out in late.values()), late


def test_calls_that_outlast_the_grace_are_cancelled(
    openai_server: FakeOpenAIServer, tmp_path: Path
) -> None:
    openai_server.configure(
        faults=[
            {"kind": "hang", "seconds": 60, "match": "re:question ([2-9][0-9])$"},
            {"status": 503},
        ]
    )
    suite = _suite(model="openai/x", api_base=openai_server.url, max_retries=0, timeout=120)
    journal = tmp_path / "j.jsonl"
    started = time.monotonic()
    with pytest.raises(InfrastructureError, match="stopped early"):
        _run(suite, _golden(60), journal, concurrency=4)
    # STOP_GRACE_S (2 s) plus start-up, not the 60 s the hung calls would take.
    assert time.monotonic() - started < 30
    assert max(case for case, _ in Journal(journal).read()) < "c020"


def test_different_errors_do_not_stop_the_run(
    openai_server: FakeOpenAIServer, tmp_path: Path
) -> None:
    openai_server.configure(
        faults=[{"status": 400, "match": "re:question [0-9]*[02468]$"}, {"status": 404}]
    )
    suite = _suite(model="openai/x", api_base=openai_server.url, max_retries=0)
    outputs = _run(suite, _golden(30), tmp_path / "j.jsonl")
    assert len(outputs) == 30 and not any(o.ok for o in outputs)


def test_template_error_stops_before_any_call(
    openai_server: FakeOpenAIServer, tmp_path: Path
) -> None:
    template = tmp_path / "p.jinja"
    template.write_text("{{ question }} {{ missing }}")
    suite = _suite(model="openai/x", api_base=openai_server.url, prompt=str(template))
    with pytest.raises(TemplateError, match="missing"):
        _run(suite, _golden(3, input_of={"question": "q"}), tmp_path / "j.jsonl")
    assert openai_server.stats()["requests"] == 0


def test_totals_have_latency_percentiles_and_tokens(
    openai_server: FakeOpenAIServer, tmp_path: Path
) -> None:
    openai_server.configure(latency=0.05, default_reply="two words")
    suite = _suite(model="openai/x", api_base=openai_server.url)
    totals = compute_totals(_run(suite, _golden(8), tmp_path / "j.jsonl"))
    assert totals.calls == 8 and totals.errors == 0
    assert totals.completion_tokens == 16
    assert totals.latency_p50_s is not None and totals.latency_p50_s >= 0.05
    assert totals.latency_p99_s is not None and totals.latency_p99_s >= totals.latency_p50_s


SUT_MODULE = textwrap.dedent(
    """
    import asyncio

    def answer(case_input):
        return "sync:" + case_input["question"]

    async def answer_async(case_input):
        await asyncio.sleep(0)
        return {"output": "async:" + case_input["question"], "contexts": ["doc one"]}

    def broken(case_input):
        raise RuntimeError("index offline")
    """
)


@pytest.fixture
def sut_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    name = f"evalkit_test_sut_{tmp_path.name.replace('-', '_')}"
    (tmp_path / f"{name}.py").write_text(SUT_MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    return name


@pytest.mark.parametrize(
    ("function", "expected"), [("answer", "sync:q"), ("answer_async", "async:q")]
)
def test_callable_sut_sync_and_async(
    sut_module: str, tmp_path: Path, function: str, expected: str
) -> None:
    suite = _suite(callable=f"{sut_module}:{function}")
    golden = _golden(3, input_of={"question": "q"})
    outputs = _run(suite, golden, tmp_path / "j.jsonl")
    assert [o.text for o in outputs] == [expected] * 3
    assert [o.contexts for o in outputs] == [("doc one",) if "async" in expected else None] * 3


def test_callable_sut_failure_is_an_error_row(sut_module: str, tmp_path: Path) -> None:
    suite = _suite(callable=f"{sut_module}:broken", max_retries=0)
    outputs = _run(suite, _golden(2, input_of={"question": "q"}), tmp_path / "j.jsonl")
    assert all("index offline" in (o.error or "") for o in outputs)


def test_plain_progress_lines_when_not_a_terminal() -> None:
    stream = io.StringIO()
    progress = make_progress(20, enabled=None, stream=stream, label="qa")
    assert isinstance(progress, PlainProgress)
    for i in range(20):
        progress.advance(ok=i != 3, cached=False)
    progress.close()
    lines = stream.getvalue().splitlines()
    # One line at each 10% step plus the final summary.
    assert len(lines) == 11
    assert lines[0].startswith("[qa] 2/20 (10%)")
    assert "errors 1" in lines[-1] and lines[-1].startswith("[qa] done 20/20")


def test_progress_disabled_prints_nothing() -> None:
    stream = io.StringIO()
    progress = make_progress(5, enabled=False, stream=stream)
    progress.advance(ok=True, cached=False)
    progress.close()
    assert stream.getvalue() == ""
