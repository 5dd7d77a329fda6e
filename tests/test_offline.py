"""evalkit never reaches for the internet: no downloads, no telemetry, no hangs."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

# Patches socket connections before anything is imported and records every attempt to
# reach a non-loopback address; then imports evalkit and its heavy dependencies the way a
# run does. Any recorded attempt is a phone-home that would hang on an offline machine.
PROBE = textwrap.dedent(
    """
    import json, socket, sys
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
    import evalkit
    import litellm
    import deepeval
    from deepeval.metrics import GEval
    import ragas
    from ragas.metrics import Faithfulness
    import os
    print(json.dumps({"attempts": attempts,
                      "cost_map": os.environ.get("LITELLM_LOCAL_MODEL_COST_MAP")}))
    """
)


def test_importing_evalkit_and_its_libraries_makes_no_network_call() -> None:
    result = subprocess.run(
        [sys.executable, "-c", PROBE],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["attempts"] == []
    assert report["cost_map"] == "True"


def test_user_setting_wins_over_offline_default() -> None:
    code = (
        "import os; os.environ['HF_HUB_OFFLINE'] = '0'; import evalkit; "
        "print(os.environ['HF_HUB_OFFLINE'])"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == "0"
