"""How long a run takes to stop after its model server dies (issue 14).

Two real servers, each killed mid-run, with ``evalkit run`` as a user runs it (a new
process, the command on real files):

* remote: the fake OpenAI server (tests/support/fakeserver.py), 200 cases at concurrency 4 and
  50 ms latency, killed after 40 answers; the SUT's ``outage_timeout`` is 10 s, so the run
  probes the endpoint for 10 s and then stops (exit 3);
* embedded: the embedded Gemma 3 270M server, 60 cases at concurrency 2, killed with
  SIGSEGV after 10 answers; the run stops as soon as it notices (no probing).

Printed: the seconds from the kill to the command's exit, its exit status, and how many
finished cases the journal kept. Before this change the embedded case took 82 s (every
remaining case retried) and exited 0 with a partial run.

Run: ``python -m bench.bench_outage [--skip-embedded]``. Nothing is asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

from tests.support.fakeserver import FakeOpenAIServer  # noqa: E402


def _project(folder: Path, n: int, sut: str) -> Path:
    golden = folder / "qa.jsonl"
    golden.write_text(
        "".join(json.dumps({"id": f"c{i:03d}", "input": f"Question {i}:"}) + "\n" for i in range(n))
    )
    config = folder / "evalkit.toml"
    config.write_text(
        f'store = "runs"\ncache_dir = "cache"\n[suites.qa]\ngolden = "qa.jsonl"\n'
        f"concurrency = 4\n[suites.qa.sut]\n{sut}"
    )
    return config


def _journal_rows(folder: Path) -> int:
    return sum(
        sum(1 for line in path.read_text().splitlines() if '"text":"' in line)
        for path in (folder / "runs").rglob("*.jsonl")
    )


def _run_and_kill(
    config: Path, kill_after: int, kill: Callable[[int], None], env: dict[str, str]
) -> str:
    command = [sys.executable, "-m", "evalkit", "--config", str(config), "run", "qa"]
    process = subprocess.Popen(
        [*command, "--no-progress", "--no-cache"], env=env, stderr=subprocess.PIPE, text=True
    )
    while _journal_rows(config.parent) < kill_after and process.poll() is None:
        time.sleep(0.05)
    killed = time.monotonic()
    kill(process.pid)
    _, err = process.communicate(timeout=600)
    stopped = time.monotonic() - killed
    kept = _journal_rows(config.parent)
    first = (err.strip().splitlines() or [""])[0][:160]
    return (
        f"stopped {stopped:.1f} s after the kill, exit {process.returncode}, {kept} kept: {first}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-embedded", action="store_true")
    args = parser.parse_args()
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "remote"
        folder.mkdir()
        server = FakeOpenAIServer(latency=0.05).start()
        sut = f'model = "openai/x"\napi_base = "{server.url}"\noutage_timeout = 10.0\n'
        config = _project(folder, 200, sut)
        print("remote:  ", _run_and_kill(config, 40, lambda _pid: server.stop(), env))
        if not args.skip_embedded:
            folder = Path(tmp) / "embedded"
            folder.mkdir()
            sut = 'model = "embedded"\nmode = "text"\nparams = { max_tokens = 8 }\n'
            config = _project(folder, 60, sut)

            def kill_embedded(evalkit_pid: int) -> None:
                # Only the server this run started: a child of the evalkit process.
                children = subprocess.run(
                    ["pgrep", "-P", str(evalkit_pid), "-f", "llama_cpp.server"],
                    capture_output=True,
                    text=True,
                ).stdout.split()
                for pid in children:
                    os.kill(int(pid), signal.SIGSEGV)

            print("embedded:", _run_and_kill(config, 10, kill_embedded, env))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
