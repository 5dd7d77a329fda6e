"""Damaged state is named and recoverable; nothing committed is destroyed by a mistake.

Run folders, the call cache and the run journal are damaged on purpose here, and the
command line must say which file is wrong with exit 3 (or recover with a warning), keep
every finished answer, and never report damage as a failed gate (exit 1).
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

from evalkit.cli import main
from evalkit.config._suite import load_config
from evalkit.data._golden import load_golden_set
from evalkit.data._records import Output
from evalkit.errors import DamagedStateError, EvalkitWarning
from evalkit.execution._runner import Journal
from evalkit.models._cache import CACHE_FILE, Cache, clear_cache
from evalkit.store._runs import MANIFEST, RunStore, run_key
from tests.support.fakeserver import FakeOpenAIServer
from tests.support.qa_project import N_CASES, run_qa, stored_run, write_project

# ---------------------------------------------------------------- run folders


@pytest.fixture
def stored(openai_server: FakeOpenAIServer, tmp_path: Path) -> Path:
    """A project with one finished run of suite qa; returns the config file."""
    config = write_project(tmp_path, openai_server.url)
    assert run_qa(config) == 0
    return config


@pytest.mark.parametrize(
    ("name", "damage"),
    [
        ("manifest.json", "delete"),
        ("manifest.json", "empty"),
        ("manifest.json", "cut"),
        ("scores.parquet", "delete"),
        ("scores.parquet", "cut"),
        ("outputs.parquet", "binary"),
        ("cases.parquet", "cut"),
    ],
)
def test_an_unreadable_run_folder_names_the_file_and_exits_3(
    stored: Path, name: str, damage: str, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = stored_run(stored)
    target = folder / name
    data = target.read_bytes()
    if damage == "delete":
        target.unlink()
    elif damage == "empty":
        target.write_bytes(b"")
    elif damage == "cut":
        target.write_bytes(data[: len(data) // 2])
    else:
        target.write_bytes(os.urandom(len(data)))
    capsys.readouterr()
    for command in (["report", str(folder), "-o", str(stored.parent / "r.html")],
                    ["compare", str(folder), str(folder)]):  # fmt: skip
        assert main(["--config", str(stored), *command]) == 3
        err = capsys.readouterr().err
        assert str(target) in err and "Traceback" not in err
        assert err.count("\n") == 1


def test_latest_skips_a_damaged_run_with_a_warning(
    stored: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = stored_run(stored)
    assert run_qa(stored) == 0  # a second run (from the cache), newer: then damage it
    newer = max(p for p in (stored.parent / "runs").iterdir() if not p.name.startswith("_"))
    assert newer != good
    (newer / "scores.parquet").write_bytes(b"PAR1 cut")
    capsys.readouterr()
    report = ["report", "latest", "-o", str(stored.parent / "r.html")]
    assert main(["--config", str(stored), *report]) == 0
    err = capsys.readouterr().err
    assert f"warning: skipping damaged run {newer.name}" in err
    assert "Traceback" not in err


def test_a_run_id_whose_folder_has_no_manifest_is_damaged_not_missing(stored: Path) -> None:
    folder = stored_run(stored)
    (folder / MANIFEST).unlink()
    store = RunStore(stored.parent / "runs")
    with pytest.raises(DamagedStateError, match=f"{folder / MANIFEST}: missing or not a file"):
        store.load_run(folder.name)
    assert store.list_runs() == []  # never listed as a run


# ---------------------------------------------------------------- the call cache


def test_a_damaged_cache_is_set_aside_with_a_warning_and_rebuilt(tmp_path: Path) -> None:
    folder = tmp_path / "cache"
    cache = Cache(folder)
    cache.put("k", {"text": "kept"})
    cache.close()
    (folder / CACHE_FILE).write_bytes(os.urandom(8192))
    with pytest.warns(EvalkitWarning, match=r"calls\.sqlite3 is damaged.*moved it to"):
        cache = Cache(folder)
    assert cache.get("k") is None
    cache.put("k", {"text": "again"})
    assert cache.get("k") == {"text": "again"}
    assert len(cache.info()["damaged"]) == 1
    cache.close()


def test_an_sqlite_file_that_is_not_a_cache_is_set_aside_too(tmp_path: Path) -> None:
    folder = tmp_path / "cache"
    folder.mkdir()
    other = sqlite3.connect(folder / CACHE_FILE)
    other.execute("CREATE TABLE calls (id INTEGER)")
    other.commit()
    other.close()
    with pytest.warns(EvalkitWarning, match="not an evalkit cache"):
        Cache(folder).close()


def test_run_recovers_from_a_junk_cache_and_cache_clear_always_works(
    openai_server: FakeOpenAIServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_project(tmp_path, openai_server.url)
    cache_file = tmp_path / "cache" / CACHE_FILE
    cache_file.parent.mkdir()
    cache_file.write_bytes(b"this is not SQLite" * 100)
    with warnings.catch_warnings():
        warnings.simplefilter("default")
        assert run_qa(config) == 0
    err = capsys.readouterr().err
    assert f"warning: the call cache {cache_file} is damaged" in err
    assert openai_server.stats()["requests"] == N_CASES
    assert run_qa(config) == 0  # the rebuilt cache serves the second run
    assert openai_server.stats()["requests"] == N_CASES
    cache_file.write_bytes(b"junk again" * 100)
    assert main(["--config", str(config), "cache", "clear"]) == 0
    assert [p.name for p in cache_file.parent.iterdir()] == [CACHE_FILE]


def test_a_cache_that_cannot_be_opened_stops_the_run_naming_the_file_and_no_cache(
    openai_server: FakeOpenAIServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_project(tmp_path, openai_server.url)
    cache_file = tmp_path / "cache" / CACHE_FILE
    cache_file.mkdir(parents=True)  # a folder where the database should be
    assert run_qa(config) == 3
    err = capsys.readouterr().err
    assert str(cache_file) in err and "--no-cache" in err and "Traceback" not in err
    assert openai_server.stats()["requests"] == 0
    assert run_qa(config, "--no-cache") == 0
    assert clear_cache(cache_file.parent)[0] is None
    assert run_qa(config) == 0


def test_a_cache_damaged_during_a_run_names_the_file_and_no_cache(tmp_path: Path) -> None:
    cache = Cache(tmp_path)
    cache._db.close()
    cache._db = sqlite3.connect(":memory:")  # a database without the calls table
    with pytest.raises(DamagedStateError, match=r"calls\.sqlite3.*--no-cache"):
        cache.get("k")
    cache.close()


# ---------------------------------------------------------------- the run journal


def _row(case: str, text: str | None = "answer", error: str | None = None) -> Output:
    return Output(case_id=case, sample=0, text=text, error=error)


def test_a_torn_last_line_is_never_glued_to_the_next_row(tmp_path: Path) -> None:
    path = tmp_path / "journal.jsonl"
    journal = Journal(path)
    journal.append(_row("a"))
    journal.close()
    with path.open("ab") as handle:
        handle.write(b'{"case_id":"b","sample":0,"te')  # the crash cut this row short
    journal = Journal(path)
    with pytest.warns(EvalkitWarning, match="skipped 1 unreadable line"):
        assert set(journal.read()) == {("a", 0)}
    journal.append(_row("c"))
    journal.close()
    with pytest.warns(EvalkitWarning):
        assert set(Journal(path).read()) == {("a", 0), ("c", 0)}


@pytest.mark.parametrize(
    "line",
    [
        b'{"case_id": "b", "sample": 0}',  # no text field
        b'{"case_id": "b", "text": "x"}',  # no sample
        b'{"case_id": 7, "sample": 0, "text": "x"}',  # wrong type
        b'{"case_id": "b", "sample": "zero", "text": "x"}',
        b'["case_id", "b"]',
        b"\xff\xfe\x00binary",
    ],
)
def test_an_incomplete_or_mistyped_row_is_skipped_not_a_crash(tmp_path: Path, line: bytes) -> None:
    path = tmp_path / "journal.jsonl"
    journal = Journal(path)
    journal.append(_row("a"))
    journal.close()
    with path.open("ab") as handle:
        handle.write(line + b"\n")
    with pytest.warns(EvalkitWarning, match="skipped 1"):
        rows = Journal(path).read()
    assert set(rows) == {("a", 0)} and rows[("a", 0)].text == "answer"


def test_a_failed_row_after_a_finished_one_does_not_unfinish_the_case(tmp_path: Path) -> None:
    path = tmp_path / "journal.jsonl"
    journal = Journal(path)
    journal.append(_row("a"))
    journal.append(_row("a", text=None, error="timeout"))
    journal.close()
    assert Journal(path).read()[("a", 0)].ok


def _journal_of(config: Path) -> Path:
    project = load_config(config)
    suite = project.suite("qa")
    golden = load_golden_set(project.path(suite.golden))
    key = run_key(
        suite="qa",
        golden_fingerprint=golden.fingerprint,
        sut_fingerprint=suite.sut.fingerprint(),
        samples=1,
        shard=None,
        metrics=["exact"],
    )
    return RunStore(project.path(project.store)).journal_path(key)


def test_resume_over_torn_and_incomplete_lines_pays_only_for_unfinished_cases(
    openai_server: FakeOpenAIServer, tmp_path: Path
) -> None:
    config = write_project(tmp_path, openai_server.url)
    path = _journal_of(config)
    journal = Journal(path)
    for i in range(5):
        journal.append(_row(f"c{i:02d}", text=f"echo: question {i}"))
    journal.close()
    with path.open("ab") as handle:
        handle.write(b'{"case_id": "c05", "sample": 0}\n')  # well-formed, incomplete
        handle.write(b'{"case_id":"c06","sample":0,"text":"echo: quest')  # torn last line
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", EvalkitWarning)
        assert run_qa(config, "--no-cache") == 0
    assert openai_server.stats()["requests"] == N_CASES - 5
    run = RunStore(tmp_path / "runs").load_run("latest")
    assert run.scores["value"].tolist() == [1.0] * N_CASES


# ---------------------------------------------------------------- two identical runs


def test_two_identical_runs_started_at_once_pay_for_each_call_once(
    openai_server: FakeOpenAIServer, tmp_path: Path
) -> None:
    openai_server.configure(latency=0.05)
    config = write_project(tmp_path, openai_server.url, n=24)
    command = [sys.executable, "-m", "evalkit", "--config", str(config), "run", "qa",
               "--no-progress", "--concurrency", "2"]  # fmt: skip
    first = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    second = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    results = [process.communicate(timeout=300) for process in (first, second)]
    assert first.returncode == 0 and second.returncode == 0, results
    assert openai_server.stats()["requests"] == 24
    assert any("an identical run" in err and "waiting" in err for _, err in results)
    assert len(RunStore(tmp_path / "runs").list_runs()) == 2
