"""evalkit never reaches for the internet: no downloads, no telemetry, no hangs.

Importing evalkit sets nothing (tests/package/test_guest.py); the offline defaults come from the
paths that use the libraries: a run (the scorers and the model client set each library's
default before its first import) and evalkit's command line (all of them at start).
Each probe starts from a minimal environment, so nothing inherited from this test
process can hide a missing default.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import evalkit

SOURCE_ROOT = str(Path(evalkit.__file__).resolve().parent.parent)

# Patches socket connections before anything is imported and records every attempt to
# reach a non-loopback address. Any recorded attempt is a phone-home that would hang on
# an offline machine.
GUARD = textwrap.dedent(
    """
    import json, os, socket, sys
    attempts = []
    real_connect = socket.socket.connect
    def guarded(self, address):
        host = address[0] if isinstance(address, tuple) else str(address)
        if not (host.startswith("127.") or host in ("localhost", "::1")):
            attempts.append(str(address))
            raise OSError("network disabled by test")
        return real_connect(self, address)
    socket.socket.connect = guarded
    real_getaddrinfo = socket.getaddrinfo
    def guarded_getaddrinfo(host, *args, **kwargs):
        if host not in (None, "localhost", "127.0.0.1", "::1"):
            attempts.append("dns:" + str(host))
            raise socket.gaierror("network disabled by test")
        return real_getaddrinfo(host, *args, **kwargs)
    socket.getaddrinfo = guarded_getaddrinfo
    """
)

# What a suite run with deepeval and ragas metrics does before calling anything: build
# the scorers (each sets its library's default) and import litellm the way the model
# client does; then use the libraries.
RUN_PATH = textwrap.dedent(
    """
    from evalkit.models._llm import ModelClient, _import_litellm
    from evalkit.scorers import ScorerContext, create_scorer
    judge = {"judge": {"model": "openai/judge", "mode": "chat",
                       "api_base": "http://127.0.0.1:9/v1"}}
    context = ScorerContext(client=ModelClient(cache=None))
    create_scorer("geval", {**judge, "criteria": "Is it right?",
                  "evaluation_params": ["input", "actual_output"]}, context, metric="c")
    create_scorer("faithfulness", judge, context)
    _import_litellm()
    """
)

CLI_PATH = textwrap.dedent(
    """
    from evalkit.models._offline import apply_cli_defaults
    apply_cli_defaults()  # what evalkit.cli.main does first
    import litellm
    """
)

USE_LIBRARIES = textwrap.dedent(
    """
    import deepeval
    from deepeval.metrics import GEval
    import ragas
    from ragas.metrics import Faithfulness
    print(json.dumps({"attempts": attempts,
                      "cost_map": os.environ.get("LITELLM_LOCAL_MODEL_COST_MAP"),
                      "deepeval": os.environ.get("DEEPEVAL_TELEMETRY_OPT_OUT"),
                      "ragas": os.environ.get("RAGAS_DO_NOT_TRACK")}))
    """
)


def _probe(code: str) -> dict[str, Any]:
    keep = ("PATH", "HOME", "LANG", "TMPDIR")
    env = {name: os.environ[name] for name in keep if name in os.environ}
    env["PYTHONPATH"] = SOURCE_ROOT
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
        env=env,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    report: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return report


def test_a_run_with_litellm_deepeval_and_ragas_makes_no_network_call() -> None:
    report = _probe(GUARD + RUN_PATH + USE_LIBRARIES)
    assert report["attempts"] == []
    assert (report["cost_map"], report["deepeval"], report["ragas"]) == ("True", "YES", "true")


def test_the_command_line_makes_no_network_call() -> None:
    report = _probe(GUARD + CLI_PATH + USE_LIBRARIES)
    assert report["attempts"] == []
    assert report["cost_map"] == "True"


def test_without_the_default_litellm_would_download_its_price_map() -> None:
    # Why the default exists, and proof that the probe sees a phone-home.
    report = _probe(GUARD + "import evalkit, litellm\n" + USE_LIBRARIES)
    assert any("dns:" in attempt for attempt in report["attempts"])
    assert report["cost_map"] is None
