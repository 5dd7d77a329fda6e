"""``evalkit run``, ``evalkit cache`` and ``evalkit demo`` from the command line."""

from __future__ import annotations

import gc
import json
import socket
import warnings
from pathlib import Path

import pytest

from evalkit.cli import main
from tests.support.fakeserver import FakeOpenAIServer


def _golden(tmp_path: Path, n: int = 3) -> Path:
    path = tmp_path / "qa.jsonl"
    path.write_text(
        "".join(json.dumps({"id": f"c{i}", "input": f"question {i}"}) + "\n" for i in range(n))
    )
    return path


def _adhoc(tmp_path: Path, url: str, *extra: str) -> list[str]:
    return [
        "run", "--golden", str(_golden(tmp_path)), "--model", "openai/x", "--api-base", url,
        "--store", str(tmp_path / "runs"), "--no-progress", *extra,
    ]  # fmt: skip


def _config(tmp_path: Path, api_base: str, **sut: object) -> Path:
    golden = _golden(tmp_path, 30)
    extra = "".join(f"{k} = {json.dumps(v)}\n" for k, v in sut.items())
    path = tmp_path / "evalkit.toml"
    path.write_text(
        f'store = "runs"\ncache_dir = "cache"\n[suites.qa]\ngolden = "{golden.name}"\n'
        f'[suites.qa.sut]\nmodel = "openai/x"\napi_base = "{api_base}"\n{extra}'
    )
    return path


def test_json_prints_the_manifest_on_the_last_line(
    openai_server: FakeOpenAIServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(_adhoc(tmp_path, openai_server.url, "--json")) == 0
    last = capsys.readouterr().out.strip().splitlines()[-1]
    manifest = json.loads(last)
    assert manifest["suite"] == "qa" and manifest["totals"]["calls"] == 3
    assert (Path(manifest["run_dir"]) / "manifest.json").is_file()
    assert manifest["run_id"] in manifest["run_dir"]


def test_same_command_again_is_served_from_cache(
    openai_server: FakeOpenAIServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(_adhoc(tmp_path, openai_server.url)) == 0
    assert main(_adhoc(tmp_path, openai_server.url)) == 0
    assert openai_server.stats()["requests"] == 3
    assert main(_adhoc(tmp_path, openai_server.url, "--no-cache")) == 0
    assert openai_server.stats()["requests"] == 6


def test_a_cached_re_run_from_a_new_process_makes_no_call_and_imports_no_pandas(
    openai_server: FakeOpenAIServer, tmp_path: Path
) -> None:
    """pandas costs ~0.45 s to import: keeping it off this path keeps a cached re-run fast
    (measured by bench/bench_runner.py)."""
    import subprocess
    import sys

    probe = (
        "import runpy, sys\n"
        "sys.argv = ['evalkit'] + sys.argv[1:]\n"
        "try:\n    runpy.run_module('evalkit', run_name='__main__')\n"
        "except SystemExit as stop:\n    assert not stop.code, stop.code\n"
        "print('pandas imported:', 'pandas' in sys.modules)\n"
    )
    golden = tmp_path / "scored.jsonl"
    golden.write_text(
        "".join(
            json.dumps({"id": f"c{i}", "input": f"question {i}", "expected": answer}) + "\n"
            for i, answer in enumerate(["echo: question 0", "no", "echo: question 2"])
        )
    )
    flags = ["--golden", str(golden), "--model", "openai/x", "--api-base", openai_server.url]
    flags += ["--store", str(tmp_path / "runs"), "--no-progress", "--metric", "exact"]
    command = [sys.executable, "-c", probe, "run", *flags]
    first = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, check=True)
    assert openai_server.stats()["requests"] == 3
    again = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, check=True)
    assert openai_server.stats()["requests"] == 3
    assert "3 from cache" in again.stdout
    assert "exact: mean 0.667 over 3 scored" in again.stdout
    for result in (first, again):
        assert result.stdout.strip().splitlines()[-1] == "pandas imported: False"


def test_api_key_never_reaches_the_stored_run(
    openai_server: FakeOpenAIServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = "sk-evalkit-test-secret-42"
    monkeypatch.setenv("OPENAI_API_KEY", secret)
    monkeypatch.chdir(tmp_path)
    assert main(_adhoc(tmp_path, openai_server.url)) == 0
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert any(p.name == "outputs.parquet" for p in files)
    for file in files:
        assert secret.encode() not in file.read_bytes(), file


def test_configured_suite_runs_by_name(
    openai_server: FakeOpenAIServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = _config(tmp_path, openai_server.url)
    assert main(["--config", str(config), "run", "qa", "--no-progress", "--samples", "2"]) == 0
    out = capsys.readouterr().out
    assert "30 case(s) x 2 sample(s): 60 output(s), 0 error(s)" in out
    assert str(tmp_path / "runs") in out


def test_server_down_stops_with_exit_3_and_one_message(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = _config(tmp_path, f"http://127.0.0.1:{port}/v1", max_retries=0)
    # Three times: a call cancelled inside litellm used to print "coroutine
    # 'OpenAIChatCompletion.acompletion' was never awaited" after the message (~1 run in 3).
    for _ in range(3):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            assert main(["--config", str(config), "run", "qa", "--no-progress"]) == 3
            gc.collect()
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "connect" in err
        assert [str(w.message) for w in caught if "never awaited" in str(w.message)] == []


def test_neither_suite_nor_golden_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run"]) == 2
    assert "--golden" in capsys.readouterr().err


def test_shard_runs_a_deterministic_subset(
    openai_server: FakeOpenAIServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = _config(tmp_path, openai_server.url)
    seen: list[str] = []
    for index in (1, 2, 3):
        args = ["--config", str(config), "run", "qa", "--shard", f"{index}/3", "--json"]
        assert main([*args, "--no-progress"]) == 0
        manifest = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
        assert manifest["shard"] == f"{index}/3"
        from evalkit.store._runs import RunStore

        seen += list(
            RunStore(manifest["run_dir"].rsplit("/", 1)[0])
            .load_run(manifest["run_id"])
            .outputs["case_id"]
        )
    assert sorted(seen) == sorted(f"c{i}" for i in range(30))


def test_cache_info_and_clear(
    openai_server: FakeOpenAIServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = _config(tmp_path, openai_server.url)
    assert main(["--config", str(config), "run", "qa", "--no-progress"]) == 0
    assert main(["--config", str(config), "cache", "info"]) == 0
    assert "30 cached call(s)" in capsys.readouterr().out
    assert main(["--config", str(config), "cache", "clear"]) == 0
    assert "cleared 30" in capsys.readouterr().out


def test_demo_runs_every_configured_suite(
    openai_server: FakeOpenAIServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    golden = _golden(tmp_path, 30)
    config = tmp_path / "evalkit.toml"
    config.write_text(
        f'store = "runs"\ncache_dir = "cache"\n[suites.qa]\ngolden = "{golden.name}"\n'
        'metrics = [{ name = "answered", scorer = "regex", params = { pattern = "." } }]\n'
        f'[suites.qa.sut]\nmodel = "openai/x"\napi_base = "{openai_server.url}"\n'
    )
    assert main(["--config", str(config), "demo"]) == 0
    out = capsys.readouterr().out
    assert "suite qa: run " in out
    # No committed baseline in this project: the demo pins one, and the unchanged re-run
    # (served from the call cache) passes the gate against it.
    assert "demo: suite qa has no baseline yet: pinning this run as its baseline" in out
    assert (tmp_path / "qa.baseline.jsonl").is_file()
    assert "  qa (unchanged): gate passed" in out
    assert "unexpected" not in out
    report = out.split("demo: open these reports")[1].splitlines()[1].strip()
    assert Path(report).is_file() and Path(report).name == "report.html"
    assert len(list((tmp_path / "runs").iterdir())) >= 1
