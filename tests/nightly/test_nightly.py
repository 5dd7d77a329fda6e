"""Nightly runs against the fake server: simulated nights with a fake clock.

Each test writes a small project (a golden set of questions, the ``exact`` metric, the
SUT pointed at the fake server), scripts which questions the server answers wrongly on
each night, and runs nights through the library or the CLI.
"""

from __future__ import annotations

import json
import socket
from pathlib import Path

# ---------------------------------------------------------------- tests
from evalkit.config._suite import load_config
from evalkit.nightly._night import NightlyJob, NightlyOptions, classify_cases
from evalkit.store._baselines import write_baseline
from evalkit.store._runs import RunStore
from tests.support.fakeserver import FakeOpenAIServer
from tests.support.nightly_project import FakeClock, N, script_answers, write_project


def make_job(tmp_path: Path, url: str, clock: FakeClock, *, reports: bool = False) -> NightlyJob:
    project = load_config(write_project(tmp_path, url, N))
    return NightlyJob(
        project,
        store=str(tmp_path / "runs"),
        report_dir=tmp_path / "reports",
        now=clock,
        options=NightlyOptions(render_reports=reports),
    )


def pin_first_night(job: NightlyJob, tmp_path: Path) -> None:
    record = job.history.list("qa")[0]
    assert record.run_id is not None
    write_baseline(
        RunStore(tmp_path / "runs").load_run(record.run_id), tmp_path / "qa.baseline.jsonl"
    )


def test_slow_decline_raises_a_drift_alarm_that_no_night_to_night_comparison_raises(
    openai_server: FakeOpenAIServer, tmp_path: Path
) -> None:
    clock = FakeClock()
    job = make_job(tmp_path, openai_server.url, clock)
    script_answers(openai_server, N, wrong=[0, 1])
    job.night("qa")
    pin_first_night(job, tmp_path)
    records = []
    for night in range(1, 6):  # one more question goes wrong each night: 5 points a night
        clock.day = night
        script_answers(openai_server, N, wrong=range(2 + night))
        records.append(job.night("qa").record)
    assert all(r.vs_previous is not None and r.vs_previous.passed for r in records)
    last = records[-1]
    assert last.drift is not None and last.drift.alarm, last.drift
    assert last.status == "alert"
    assert any(a.startswith("exact: drift: trend") for a in last.alerts), last.alerts
    assert not records[0].drift or not records[0].drift.alarm
    # the cases that went wrong changed once and stayed changed; none is flaky
    assert {c.case_id for c in last.changed} == {f"q{i:03d}" for i in range(2, 7)}
    assert all(c.now_failing and c.flips == 1 for c in last.changed)
    assert last.flaky == []


def test_steady_suite_stays_quiet_and_flip_flopping_cases_are_listed_as_flaky(
    openai_server: FakeOpenAIServer, tmp_path: Path
) -> None:
    clock = FakeClock()
    job = make_job(tmp_path, openai_server.url, clock)
    script_answers(openai_server, N, wrong=[5])
    job.night("qa")
    pin_first_night(job, tmp_path)
    for night in range(1, 5):
        clock.day = night
        # q010 flips every night; q015 goes wrong on night 3 and stays wrong
        wrong = [5] + ([10] if night % 2 else []) + ([15] if night >= 3 else [])
        script_answers(openai_server, N, wrong=wrong)
        record = job.night("qa").record
        assert record.status == "ok", record.alerts
    assert [c.case_id for c in record.flaky] == ["q010"]
    assert record.flaky[0].pattern == "PFPFP"
    assert [c.case_id for c in record.changed] == ["q015"]
    changed = record.changed[0]
    assert changed.pattern == "PPPFF" and changed.now_failing
    nights = job.history.list("qa")
    assert changed.since_night_id == nights[3].night_id


def test_regression_against_the_baseline_alerts_and_compares_with_the_previous_night(
    openai_server: FakeOpenAIServer, tmp_path: Path
) -> None:
    clock = FakeClock()
    job = make_job(tmp_path, openai_server.url, clock)
    script_answers(openai_server, N, wrong=[])
    first = job.night("qa").record
    pin_first_night(job, tmp_path)
    clock.day = 1
    script_answers(openai_server, N, wrong=range(8))
    record = job.night("qa").record
    assert record.status == "alert"
    assert record.vs_baseline is not None and not record.vs_baseline.passed
    assert record.vs_previous is not None and record.vs_previous.other_id == first.night_id
    assert any(a.startswith("vs baseline: exact") for a in record.alerts)
    assert any(a.startswith("vs previous night: exact") for a in record.alerts)
    assert job.history.list("qa")[-1].night_id == record.night_id


def test_night_with_the_sut_down_is_recorded_as_failed_and_skipped_as_previous(
    openai_server: FakeOpenAIServer, tmp_path: Path
) -> None:
    clock = FakeClock()
    job = make_job(tmp_path, openai_server.url, clock)
    script_answers(openai_server, N, wrong=[])
    good = job.night("qa").record
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    down = make_job(tmp_path, f"http://127.0.0.1:{port}/v1", clock)
    clock.day = 1
    failed = down.night("qa").record
    assert failed.status == "failed" and failed.run_id is None
    assert failed.reason and "InfrastructureError" in failed.reason
    clock.day = 2
    job = make_job(tmp_path, openai_server.url, clock)
    after = job.night("qa").record
    assert after.vs_previous is not None and after.vs_previous.other_id == good.night_id
    statuses = [r.status for r in job.history.list("qa")]
    assert statuses == ["ok", "failed", "ok"]


def test_unknown_suite_and_bad_config_are_failed_nights_with_their_reason(
    openai_server: FakeOpenAIServer, tmp_path: Path
) -> None:
    from evalkit.nightly._night import run_nightly

    clock = FakeClock()
    job = make_job(tmp_path, openai_server.url, clock)
    assert job.night("nope").record.reason.startswith("NotFoundError: no suite named 'nope'")
    result = run_nightly(
        None,
        ["qa"],
        store=str(tmp_path / "runs"),
        report_dir=tmp_path / "reports",
        now=clock,
        config_error="evalkit.toml: unknown key 'sutt'",
        options=NightlyOptions(render_reports=False),
    )
    assert result.exit_status == 3
    (outcome,) = result.nights
    assert outcome.record.status == "failed"
    assert "unknown key 'sutt'" in (outcome.record.reason or "")
    summary = json.loads((tmp_path / "reports" / "summary.json").read_text())
    assert summary["status"] == "failed" and summary["exit_status"] == 3


def test_history_points_to_each_night_and_golden_change_restarts_the_drift_window(
    openai_server: FakeOpenAIServer, tmp_path: Path
) -> None:
    clock = FakeClock()
    job = make_job(tmp_path, openai_server.url, clock)
    script_answers(openai_server, N, wrong=[])
    for night in range(2):
        clock.day = night
        job.night("qa")
    # add a case: a new golden fingerprint
    golden = tmp_path / "qa.jsonl"
    extra = {"id": "zz", "input": "question zz?", "expected": "a"}
    golden.write_text(golden.read_text() + json.dumps(extra) + "\n")
    clock.day = 2
    record = job.night("qa").record
    nights = job.history.list("qa")
    assert len({r.golden_fingerprint for r in nights}) == 2
    assert record.drift is not None
    assert all(row.n_nights == 0 for row in record.drift.rows)  # too few nights since the change


def test_classify_cases_separates_flaky_from_changed_and_ignores_gaps() -> None:
    import numpy as np
    import pandas as pd

    def night(values: dict[str, float]) -> pd.DataFrame:
        return pd.DataFrame({"m": pd.Series(values, dtype="float64")})

    nights = [
        ("n1", night({"a": 1, "b": 1, "c": 1, "d": 1})),
        ("n2", night({"a": 0, "b": 1, "c": np.nan, "d": 1})),
        ("n3", night({"a": 1, "b": 0, "c": 1, "d": 1})),
        ("n4", night({"a": 0, "b": 0, "c": 1})),
    ]
    flaky, changed = classify_cases(nights, thresholds={"m": (0.5, True)})
    assert [(c.case_id, c.pattern, c.flips) for c in flaky] == [("a", "PFPF", 3)]
    assert [(c.case_id, c.pattern, c.since_night_id) for c in changed] == [("b", "PPFF", "n3")]
