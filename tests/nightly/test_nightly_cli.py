"""``evalkit nightly`` from the command line: files written, exit statuses, JSON summary."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest

from evalkit.cli import main
from tests.support.fakeserver import FakeOpenAIServer
from tests.support.nightly_project import N, script_answers, write_project


def test_nightly_writes_summaries_reports_and_trend_and_exits_on_regression(
    openai_server: FakeOpenAIServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_project(tmp_path, openai_server.url, N)
    reports = tmp_path / "out"
    args = ["--config", str(config), "nightly", "qa", "--report-dir", str(reports)]
    script_answers(openai_server, N, wrong=[])
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "qa: ok" in out and "no pinned baseline" in out
    run_id = json.loads((reports / "summary.json").read_text())["nights"][0]["run_id"]
    assert main(["--config", str(config), "baseline", "update", "qa", "--from", run_id]) == 0
    capsys.readouterr()

    script_answers(openai_server, N, wrong=range(8))
    assert main([*args, "--json"]) == 1
    summary = json.loads(capsys.readouterr().out)
    assert summary["status"] == "alert" and summary["exit_status"] == 1
    (night,) = summary["nights"]
    assert night["vs_baseline"]["passed"] is False and night["vs_previous"]["passed"] is False
    assert (reports / night["report"]).is_file()
    night_dir = reports / "nights" / night["night_id"]
    assert json.loads((night_dir / "summary.json").read_text())["status"] == "alert"
    markdown = (night_dir / "summary.md").read_text()
    assert "🚨 vs baseline: exact" in markdown and "| exact |" in markdown
    trend = (reports / "trend.html").read_text()
    assert night["report"] in trend and "Nightly trends" in trend
    assert (reports / "summary.md").read_text().startswith("## 🚨 evalkit nightly: alert")

    assert main(["--config", str(config), "history", "list"]) == 0
    listing = capsys.readouterr().out.splitlines()
    assert [line.split()[2] for line in listing] == ["ok", "alert"]


def test_nightly_exits_3_when_the_sut_is_down_and_records_the_failed_night(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = write_project(tmp_path, f"http://127.0.0.1:{port}/v1", 3)
    args = ["--config", str(config), "nightly", "qa", "--report-dir", str(tmp_path / "out")]
    assert main(args) == 3
    assert "night FAILED to run" in capsys.readouterr().out
    assert main(["--config", str(config), "history", "list", "--json"]) == 0
    (record,) = json.loads(capsys.readouterr().out)
    assert record["status"] == "failed" and "InfrastructureError" in record["reason"]


def test_drift_settings_come_from_the_command_line(
    openai_server: FakeOpenAIServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_project(tmp_path, openai_server.url, N)
    script_answers(openai_server, N, wrong=[])
    args = ["--config", str(config), "nightly", "qa", "--report-dir", str(tmp_path / "out")]
    assert main([*args, "--drift-alpha", "0.05", "--drift-window", "7", "--json"]) == 0
    (night,) = json.loads(capsys.readouterr().out)["nights"]
    assert (night["drift"]["alpha"], night["drift"]["window"]) == (0.05, 7)


@pytest.mark.parametrize(
    ("flag", "value", "message"),
    [
        ("--drift-alpha", "0", "between 0 and 1"),
        ("--drift-alpha", "x", "not a number"),
        ("--drift-window", "4", "at least 5"),
    ],
)
def test_bad_drift_settings_are_usage_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], flag: str, value: str, message: str
) -> None:
    with pytest.raises(SystemExit) as stop:
        main(["nightly", "qa", flag, value])
    assert stop.value.code == 2
    assert message in capsys.readouterr().err
