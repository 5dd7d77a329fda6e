"""Resume after kill -9: the same command finishes the run without re-calling finished cases."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import evalkit  # noqa: F401
from evalkit.store._runs import RunStore
from tests.support.fakeserver import FakeOpenAIServer

N_CASES = 60


def _command(golden: Path, store: Path, url: str) -> list[str]:
    return [
        sys.executable, "-m", "evalkit", "run",
        "--golden", str(golden), "--model", "openai/x", "--api-base", url,
        "--store", str(store), "--concurrency", "4", "--no-cache", "--no-progress", "--json",
    ]  # fmt: skip


def _journal_lines(store: Path) -> list[dict[str, object]]:
    rows = []
    for journal in store.glob("_inprogress/*/journal.jsonl"):
        for line in journal.read_text().splitlines():
            with contextlib.suppress(json.JSONDecodeError):  # a line torn by the kill
                rows.append(json.loads(line))
    return rows


def test_kill_9_then_rerun_completes_without_recalling_finished_cases(
    openai_server: FakeOpenAIServer, tmp_path: Path
) -> None:
    openai_server.configure(latency=0.1)
    golden = tmp_path / "golden.jsonl"
    golden.write_text(
        "".join(
            json.dumps({"id": f"c{i:03d}", "input": f"question {i}"}) + "\n" for i in range(N_CASES)
        )
    )
    store = tmp_path / "runs"
    command = _command(golden, store, openai_server.url)
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}

    first = subprocess.Popen(
        command, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    deadline = time.monotonic() + 60
    while len(_journal_lines(store)) < 15:
        assert first.poll() is None, first.stderr.read().decode() if first.stderr else ""
        assert time.monotonic() < deadline, "the run never journaled 15 results"
        time.sleep(0.02)
    first.send_signal(signal.SIGKILL)
    first.wait()
    assert first.returncode == -signal.SIGKILL

    done = {row["case_id"] for row in _journal_lines(store) if row["text"] is not None}
    assert 15 <= len(done) < N_CASES
    before = openai_server.stats()

    second = subprocess.run(
        command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
    )
    assert second.returncode == 0, second.stderr
    manifest = json.loads(second.stdout.strip().splitlines()[-1])
    after = openai_server.stats()

    # Only the unfinished cases were called again.
    assert after["requests"] - before["requests"] == N_CASES - len(done)
    for i in range(N_CASES):
        if f"c{i:03d}" in done:
            assert (
                after["prompt_counts"][f"question {i}"] == before["prompt_counts"][f"question {i}"]
            )
    # Nothing lost or duplicated.
    run = RunStore(store).load_run(manifest["run_id"])
    assert sorted(run.outputs["case_id"]) == [f"c{i:03d}" for i in range(N_CASES)]
    assert run.outputs["text"].notna().all()
    assert manifest["run_dir"] == run.location
    # The journal is gone once the run is stored.
    assert _journal_lines(store) == []
