"""The embedded Gemma 3 270M server: routing, start/stop, no orphans.

Tests marked ``gemma`` start the real llama.cpp server (once per session) and are kept few.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import evalkit  # noqa: F401
from evalkit.models import _embedded as embedded
from evalkit.models._llm import CallResult, ModelClient, ModelRequest
from tests.support.fakeserver import FakeOpenAIServer


def _call(request: ModelRequest) -> CallResult:
    async def go() -> CallResult:
        return await ModelClient(cache=None).call(request)

    return asyncio.run(go())


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is dead for our purposes.
    stat = Path(f"/proc/{pid}/stat")
    return not (stat.exists() and stat.read_text().split(") ", 1)[1].startswith("Z"))


def _llama_servers_of(parent: int) -> list[int]:
    """Returns pids of llama_cpp.server processes whose parent is ``parent``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ")
            ppid = int((entry / "stat").read_text().split(") ", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        if b"llama_cpp.server" in cmdline and ppid == parent and _alive(int(entry.name)):
            found.append(int(entry.name))
    return found


def test_embedded_url_env_routes_to_a_running_server(
    openai_server: FakeOpenAIServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(embedded.URL_ENV, openai_server.url.removesuffix("/v1"))
    openai_server.configure(rules=[{"match": "Q:", "reply": " Paris"}])
    result = _call(ModelRequest(model="embedded", mode="text", prompt="Q: capital?\nA:"))
    assert result.text == " Paris"
    assert openai_server.stats()["completions"] == 1
    assert embedded.server_pid() is None  # nothing was started


def test_a_server_that_cannot_start_reports_the_log_tail(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bogus = tmp_path / "not-a-model.gguf"
    bogus.write_bytes(b"not a gguf file")
    monkeypatch.setattr(embedded, "model_path", lambda: bogus)
    monkeypatch.setattr(embedded, "cache_dir", lambda: tmp_path)
    server = embedded.EmbeddedServer()
    with pytest.raises(embedded.ServerStartError, match="log tail"):
        server.start(timeout=60)
    assert server.process is None


# ---------------------------------------------------------------- real Gemma (slow)


@pytest.mark.gemma
def test_gemma_answers_a_few_shot_text_completion(embedded_url: str) -> None:
    prompt = "Q: What is the capital of France?\nA: Paris\nQ: What is the capital of Italy?\nA:"
    result = _call(
        ModelRequest(
            model="embedded",
            mode="text",
            prompt=prompt,
            params={"max_tokens": 8, "stop": ["\n"], "temperature": 0.0},
        )
    )
    assert result.ok, result.error
    assert result.text is not None and result.text.strip()
    assert result.cost_usd == 0.0 and result.completion_tokens > 0


@pytest.mark.gemma
def test_gemma_json_schema_constrains_decoding(embedded_url: str) -> None:
    schema = {
        "type": "object",
        "properties": {"verdict": {"type": "string", "enum": ["pass", "fail"]}},
        "required": ["verdict"],
    }
    result = _call(
        ModelRequest(
            model="embedded",
            mode="text",
            prompt="Is 2+2=4 correct? Answer in JSON.\n",
            params={
                "max_tokens": 24,
                "temperature": 0.0,
                "extra_body": {"response_format": {"type": "json_object", "schema": schema}},
            },
        )
    )
    assert result.ok, result.error
    assert json.loads(result.text or "")["verdict"] in ("pass", "fail")


@pytest.mark.gemma
def test_stopping_a_server_leaves_no_llama_process() -> None:
    server = embedded.EmbeddedServer()
    server.start()
    assert server.process is not None
    pid = server.process.pid
    assert _alive(pid) and pid in _llama_servers_of(os.getpid())
    server.stop()
    assert not _alive(pid)
    assert pid not in _llama_servers_of(os.getpid())


@pytest.mark.gemma
def test_kill_9_of_evalkit_takes_the_server_down(tmp_path: Path) -> None:
    script = (
        "import evalkit, sys; from evalkit.models import _embedded as embedded\n"
        "embedded.ensure_server(); print(embedded.server_pid(), flush=True)\n"
        "import time; time.sleep(600)\n"
    )
    env = {k: v for k, v in os.environ.items() if k != embedded.URL_ENV}
    parent = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, env=env
    )
    assert parent.stdout is not None
    server_pid = int(parent.stdout.readline())
    assert _alive(server_pid)
    parent.send_signal(signal.SIGKILL)
    parent.wait()
    deadline = time.monotonic() + 15
    while _alive(server_pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _alive(server_pid)


@pytest.mark.gemma
def test_gemma_suite_runs_end_to_end_and_is_stored(embedded_url: str, tmp_path: Path) -> None:
    from evalkit.config._suite import ProjectConfig, SuiteConfig, SUTConfig
    from evalkit.execution._pipeline import run_suite

    (tmp_path / "g.jsonl").write_text(
        "".join(
            json.dumps({"id": f"c{i}", "input": {"country": c}}) + "\n"
            for i, c in enumerate(["Spain", "Japan"])
        )
    )
    (tmp_path / "p.jinja").write_text(
        "Q: What is the capital of France?\nA: Paris\nQ: What is the capital of {{ country }}?\nA:"
    )
    suite = SuiteConfig(
        name="capitals",
        golden="g.jsonl",
        sut=SUTConfig(
            model="embedded", mode="text", prompt="p.jinja",
            params={"max_tokens": 8, "stop": ["\n"], "temperature": 0.0},
        ),
    )  # fmt: skip
    project = ProjectConfig(root=str(tmp_path), store="runs", cache_dir="cache")
    run = run_suite(project, suite, progress=False)
    assert run.manifest.totals.errors == 0 and run.manifest.totals.cost_usd == 0.0
    assert run.outputs["text"].str.strip().str.len().gt(0).all()
    assert (Path(run.location) / "manifest.json").is_file()
