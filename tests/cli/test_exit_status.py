"""Exit 1 means the gate failed and nothing else; mistakes never destroy a committed file.

Every other failure is 2 (the user's to fix) or 3 (infrastructure, damaged state, a bug),
with one line on stderr and no traceback; a bug's traceback goes to a file the line names.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import pytest

from evalkit.cli import main
from evalkit.config._suite import load_config
from evalkit.errors import ConfigError, EvalkitError, SUTError
from tests.support.fakeserver import FakeOpenAIServer
from tests.support.qa_project import N_CASES, run_qa, stored_run, write_project

# ---------------------------------------------------------------- the mapping in main


def _failing_handler(
    monkeypatch: pytest.MonkeyPatch, error: BaseException
) -> list[argparse.Namespace]:
    """Makes `evalkit validate` raise ``error``."""
    from evalkit.cli import _validate_cmd as validate_cmd

    calls: list[argparse.Namespace] = []

    def handler(args: argparse.Namespace) -> int:
        calls.append(args)
        raise error

    monkeypatch.setattr(validate_cmd, "run", handler)
    return calls


@pytest.mark.parametrize(
    ("error", "status", "shown"),
    [
        (ConfigError([]), 2, "evalkit validate: "),
        (EvalkitError("escaped its handler"), 3, "escaped its handler"),
        (SUTError("401 Unauthorized", retryable=False), 3, "401 Unauthorized"),
        (PermissionError(13, "Permission denied", "/srv/store"), 3, "cannot use /srv/store"),
        (NotADirectoryError(20, "Not a directory", "/x/file/runs"), 3, "/x/file/runs"),
    ],
)
def test_known_failures_are_one_line_with_2_or_3_never_1(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    error: BaseException,
    status: int,
    shown: str,
) -> None:
    _failing_handler(monkeypatch, error)
    assert main(["validate", "x.jsonl"]) == status
    err = capsys.readouterr().err
    assert shown in err and "Traceback" not in err and err.count("\n") == 1


def test_an_unexpected_error_is_3_with_its_traceback_in_a_file(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.delenv("EVALKIT_DEBUG", raising=False)
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", None)
    _failing_handler(monkeypatch, KeyError("boom"))
    assert main(["validate", "x.jsonl"]) == 3
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert "internal error (a bug in evalkit" in err and "KeyError: 'boom'" in err
    assert "please report it" in err and "evalkit --debug" in err
    (report,) = tmp_path.glob("evalkit-crash-*.txt")
    assert str(report) in err
    text = report.read_text()
    assert "Traceback (most recent call last)" in text and "validate x.jsonl" in text


def test_debug_prints_the_traceback_and_still_exits_3(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _failing_handler(monkeypatch, KeyError("boom"))
    assert main(["--debug", "validate", "x.jsonl"]) == 3
    err = capsys.readouterr().err
    assert "Traceback (most recent call last)" in err and "its traceback is above" in err


def test_the_console_script_prints_no_traceback_for_a_damaged_run(tmp_path: Path) -> None:
    folder = tmp_path / "run"
    folder.mkdir()
    (folder / "manifest.json").write_text('{"run_id": "cut sh')
    result = subprocess.run(
        [sys.executable, "-m", "evalkit", "report", str(folder), "-o", str(tmp_path / "r.html")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 3
    assert f"{folder}/manifest.json: damaged" in result.stderr
    assert "Traceback" not in result.stderr


# ---------------------------------------------------------------- numbers and names


@pytest.mark.parametrize(
    ("flags", "key"),
    [
        (["--samples", "0"], "samples"),
        (["--samples", "-1"], "samples"),
        (["--samples", "1001"], "samples"),
        (["--concurrency", "0"], "concurrency"),
        (["--concurrency", "-5"], "concurrency"),
        (["--callable", "no_colon"], "sut.callable"),
        (["--metric", "exact", "--metric", "exact"], "metrics"),
    ],
)
def test_flags_are_validated_like_the_config_before_any_call(
    openai_server: FakeOpenAIServer,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    flags: list[str],
    key: str,
) -> None:
    config = write_project(tmp_path, openai_server.url)
    assert run_qa(config, *flags) == 2
    err = capsys.readouterr().err
    assert f"command line: {key}:" in err and "Traceback" not in err
    assert openai_server.stats()["requests"] == 0
    assert not (tmp_path / "runs").exists() or not list((tmp_path / "runs").glob("2*"))


def test_two_metrics_with_one_name_are_a_config_error(tmp_path: Path) -> None:
    config = tmp_path / "evalkit.toml"
    config.write_text(
        '[suites.qa]\ngolden = "qa.jsonl"\n'
        'metrics = ["exact", { name = "exact", scorer = "token_f1" }]\n'
    )
    with pytest.raises(ConfigError, match="two metrics are named 'exact'") as caught:
        load_config(config)
    assert caught.value.problems[0].line == 3


# ---------------------------------------------------------------- validate checks what run checks

BROKEN_SUITES = {
    "unknown scorer": ('metrics = ["no_such_scorer"]', "", "no scorer named 'no_such_scorer'"),
    "bad scorer params": (
        'metrics = [{ name = "e", scorer = "exact", params = { bogus = 1 } }]',
        "",
        "bad params",
    ),
    "bad regex": (
        'metrics = [{ name = "r", scorer = "regex", params = { pattern = "(" } }]',
        "",
        "unterminated subpattern",
    ),
    "unknown judge": ('judge = "nobody"\nmetrics = ["exact"]', "", "no judge 'nobody'"),
    "judge metric without a judge file": (
        'metrics = [{ name = "j", scorer = "judge", params = { name = "nobody" } }]',
        "",
        "no judge 'nobody'",
    ),
    "missing template": ('metrics = ["exact"]', 'prompt = "missing.jinja"', "missing.jinja"),
    "template syntax": ('metrics = ["exact"]', 'prompt = "syntax.jinja"', "syntax.jinja:1"),
    "template variable": ('metrics = ["exact"]', 'prompt = "var.jinja"', "'nope' is undefined"),
    "template raises": ('metrics = ["exact"]', 'prompt = "raise.jinja"', "ZeroDivisionError"),
    "callable missing": ('metrics = ["exact"]', 'callable = "no_such_mod:fn"', "no_such_mod"),
}


def _broken_project(tmp_path: Path, url: str, suite: str, sut: str) -> Path:
    write_project(tmp_path, url)
    (tmp_path / "syntax.jinja").write_text("{{ input }")
    (tmp_path / "var.jinja").write_text("{{ nope }}")
    (tmp_path / "raise.jinja").write_text("{{ input }} {{ 1 / 0 }}")
    config = tmp_path / "evalkit.toml"
    config.write_text(
        'store = "runs"\ncache_dir = "cache"\n[suites.qa]\ngolden = "qa.jsonl"\n'
        f'{suite}\n[suites.qa.sut]\nmodel = "openai/x"\napi_base = "{url}"\n{sut}\n'
    )
    return config


@pytest.mark.parametrize("case", sorted(BROKEN_SUITES))
def test_validate_reports_what_run_would_reject_before_any_call(
    openai_server: FakeOpenAIServer,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    case: str,
) -> None:
    suite, sut, expected = BROKEN_SUITES[case]
    config = _broken_project(tmp_path, openai_server.url, suite, sut)
    assert main(["validate", str(config)]) == 2
    validate_err = capsys.readouterr().err
    assert expected in validate_err and "Traceback" not in validate_err
    assert run_qa(config) == 2
    run_err = capsys.readouterr().err
    assert expected in run_err and "Traceback" not in run_err
    assert openai_server.stats()["requests"] == 0


def test_a_config_that_validates_runs(
    openai_server: FakeOpenAIServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "ok.jinja").write_text("{{ input }}")
    config = _broken_project(tmp_path, openai_server.url, 'metrics = ["exact"]', "")
    config.write_text(config.read_text() + 'prompt = "ok.jinja"\n')
    assert main(["validate", str(config)]) == 0
    assert run_qa(config) == 0


# ---------------------------------------------------------------- baseline update


def _baseline(config: Path) -> Path:
    return config.parent / "qa.baseline.jsonl"


@pytest.fixture
def pinned(openai_server: FakeOpenAIServer, tmp_path: Path) -> Path:
    """A project whose baseline is pinned from a good run; returns the config."""
    config = write_project(tmp_path, openai_server.url)
    assert run_qa(config) == 0
    assert main(["--config", str(config), "baseline", "update", "qa", "--from", "latest"]) == 0
    stored_run(config).rename(tmp_path / "first-run")  # keep the store to later runs
    return config


def _refused(config: Path, source: str, capsys: pytest.CaptureFixture[str], why: str) -> None:
    before = _baseline(config).read_bytes()
    capsys.readouterr()
    update = ["--config", str(config), "baseline", "update", "qa", "--from", source]
    assert main(update) == 2
    err = capsys.readouterr().err
    assert "refusing to pin" in err and why in err and "--force" in err
    assert _baseline(config).read_bytes() == before
    assert main([*update, "--force"]) == 0
    forced = capsys.readouterr()
    assert "pinned anyway (--force): " in forced.err and why in forced.err
    assert forced.out.startswith("pinned run ")


def test_baseline_update_refuses_a_run_with_no_cases(
    pinned: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from evalkit.store._runs import RunStore
    from tests.support.runs import make_run

    # What `evalkit run --samples -1` used to store, marked "complete".
    RunStore(pinned.parent / "runs").write_run(make_run("20990101T000000000Z-qa-empty", []))
    _refused(pinned, "latest", capsys, "has no cases")


def test_baseline_update_refuses_a_run_with_too_many_errors(
    openai_server: FakeOpenAIServer, pinned: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    openai_server.configure(faults=[{"status": 400, "times": 3}])  # 3 of 12: 25% > 10%
    # The run is stored either way; its own exit status for a partial run is issue 14's.
    assert run_qa(pinned, "--no-cache") in (0, 3)
    assert len(list((pinned.parent / "runs").glob("2*"))) == 1
    _refused(pinned, "latest", capsys, "3 of 12 cases have no answer from the SUT")


def test_baseline_update_refuses_a_run_of_another_golden_set(
    pinned: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    golden = pinned.parent / "qa.jsonl"
    golden.write_text(golden.read_text() + '{"id": "new", "input": "question new"}\n')
    _refused(pinned, str(pinned.parent / "first-run"), capsys, "another version of the golden set")


def test_baseline_update_refuses_a_shard(
    openai_server: FakeOpenAIServer, pinned: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_qa(pinned, "--shard", "1/2") == 0
    _refused(pinned, "latest", capsys, "is shard 1/2")


def test_baseline_update_accepts_errors_within_the_limit(
    openai_server: FakeOpenAIServer, tmp_path: Path
) -> None:
    config = write_project(
        tmp_path, openai_server.url, gate="[suites.qa.gate]\nmax_unscored_share = 0.5\n"
    )
    openai_server.configure(faults=[{"status": 400, "times": 3}])
    assert run_qa(config, "--no-cache") == 0
    assert main(["--config", str(config), "baseline", "update", "qa", "--from", "latest"]) == 0
    lines = _baseline(config).read_text().splitlines()
    assert len(lines) == 1 + N_CASES and json.loads(lines[0])["manifest"]["status"] == "partial"
