"""evalkit as a guest: importing it, or loading its plugin without a suite, changes nothing.

The processes here start from a minimal environment (no offline switch set), so a
default that evalkit set on import would show up as a difference.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import evalkit
from evalkit.models import _offline

pytest_plugins = ["pytester"]

SOURCE_ROOT = str(Path(evalkit.__file__).resolve().parent.parent)

# What a process looks like from inside: its environment, the logging configuration
# (root and every configured logger) and the warning filters.
STATE = """
def evalkit_guest_state():
    import logging, os, warnings

    loggers = {}
    for name, logger in logging.root.manager.loggerDict.items():
        if isinstance(logger, logging.Logger) and (
            logger.level or logger.handlers or not logger.propagate or logger.disabled
        ):
            loggers[name] = [logger.level, [repr(h) for h in logger.handlers],
                             logger.propagate, logger.disabled]
    return {
        "env": dict(os.environ),
        "root": [logging.root.level, [repr(h) for h in logging.root.handlers]],
        "disable": logging.root.manager.disable,
        "loggers": loggers,
        "warnings": [repr(f) for f in warnings.filters],
    }
"""


def _minimal_env() -> dict[str, str]:
    """Returns an environment with none of the offline switches set (evalkit importable)."""
    keep = ("PATH", "HOME", "LANG", "TMPDIR", "SYSTEMROOT")
    env = {name: os.environ[name] for name in keep if name in os.environ}
    env["PYTHONPATH"] = SOURCE_ROOT
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def _differences(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    changed: dict[str, Any] = {}
    for key in before:
        if before[key] == after[key]:
            continue
        if isinstance(before[key], dict):
            names = set(before[key]) | set(after[key])
            changed[key] = {
                n: (before[key].get(n), after[key].get(n))
                for n in sorted(names)
                if before[key].get(n) != after[key].get(n)
            }
        else:
            changed[key] = (before[key], after[key])
    return changed


def test_importing_evalkit_and_its_plugin_changes_nothing_in_the_process() -> None:
    code = STATE + (
        "import json, sys\n"
        "before = evalkit_guest_state()\n"
        "import evalkit, evalkit.plugin, evalkit.cli\n"
        "after = evalkit_guest_state()\n"
        "heavy = [m for m in ('litellm', 'deepeval', 'ragas', 'torch', 'pandas')"
        " if m in sys.modules]\n"
        "print(json.dumps({'before': before, 'after': after, 'heavy': heavy}))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        env=_minimal_env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(done.stdout)
    assert _differences(report["before"], report["after"]) == {}
    assert report["heavy"] == []


def test_importing_every_evalkit_module_sets_no_environment_variable() -> None:
    # numpy and scipy register warning filters of their own when imported, so only the
    # environment is compared here; the line above covers what every host process loads.
    code = (
        "import importlib, json, os, pkgutil\n"
        "before = dict(os.environ)\n"
        "import evalkit\n"
        "for module in pkgutil.walk_packages(evalkit.__path__, 'evalkit.'):\n"
        "    if module.name != 'evalkit.__main__':\n"
        "        importlib.import_module(module.name)\n"
        "after = dict(os.environ)\n"
        "print(json.dumps({k: v for k, v in after.items() if before.get(k) != v}))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        env=_minimal_env(),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout.strip().splitlines()[-1]) == {}


def _state_seen_by_a_test(
    pytester: pytest.Pytester, *plugin_args: str, import_evalkit: bool
) -> dict[str, Any]:
    dump = pytester.path / "state.json"
    header = "import evalkit\n" if import_evalkit else ""
    pytester.makepyfile(
        test_host=header
        + STATE
        + (
            "import json\n\n"
            "def test_ordinary():\n"
            f"    with open({str(dump)!r}, 'w') as handle:\n"
            "        json.dump(evalkit_guest_state(), handle)\n"
        )
    )
    result = pytester.runpytest_subprocess(*plugin_args)
    result.assert_outcomes(passed=1)
    state: dict[str, Any] = json.loads(dump.read_text())
    return state


def test_plugin_without_a_suite_leaves_what_a_test_sees_unchanged(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in {*_offline.CLI_DEFAULTS, "TRANSFORMERS_OFFLINE", "HF_DATASETS_OFFLINE"}:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PYTHONPATH", SOURCE_ROOT)
    pytester.makepyprojecttoml(
        "[tool.pytest.ini_options]\n"
        'addopts = "-p no:deepeval -p no:langsmith_plugin -p no:cacheprovider"\n'
        "[tool.evalkit.suites.qa]\n"
        'golden = "qa.jsonl"\n'
    )
    pytester.makefile(".jsonl", qa='{"id": "a", "input": "x"}\n')
    without = _state_seen_by_a_test(pytester, "-p", "no:evalkit", import_evalkit=False)
    with_plugin = _state_seen_by_a_test(pytester, import_evalkit=False)
    with_import = _state_seen_by_a_test(pytester, import_evalkit=True)
    assert _differences(without, with_plugin) == {}
    assert _differences(without, with_import) == {}
    assert "LITELLM_LOCAL_MODEL_COST_MAP" not in with_plugin["env"]  # the probe sees env


def test_cli_defaults_are_set_but_a_users_value_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in _offline.CLI_DEFAULTS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    _offline.apply_cli_defaults()
    assert os.environ["HF_HUB_OFFLINE"] == "0"
    assert os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] == "True"
    assert os.environ["RAGAS_DO_NOT_TRACK"] == "true"


def test_preparing_a_library_sets_only_its_own_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in _offline.CLI_DEFAULTS:
        monkeypatch.delenv(name, raising=False)
    before = dict(os.environ)
    _offline.prepare_import("litellm")
    added = {k: v for k, v in os.environ.items() if before.get(k) != v}
    assert added == {"LITELLM_LOCAL_MODEL_COST_MAP": "True"}
    _offline.prepare_import("sentence_transformers")  # needs nothing: loads from a path
    assert {k: v for k, v in os.environ.items() if before.get(k) != v} == added


SESSION_ENV = """
import json, os

def pytest_sessionstart(session):
    session.config._env_at_start = dict(os.environ)

def pytest_sessionfinish(session):
    start = session.config._env_at_start
    added = {k: v for k, v in os.environ.items() if start.get(k) != v}
    with open("env_added.json", "w") as handle:
        json.dump(added, handle)
"""


def test_a_suite_run_sets_only_what_it_needs(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, fake_server: Any
) -> None:
    from tests.support.plugin_project import configure, write_project

    for name in {*_offline.CLI_DEFAULTS, "KMP_DUPLICATE_LIB_OK"}:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PYTHONPATH", SOURCE_ROOT)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-dummy")
    write_project(pytester, fake_server.url, n=6)
    configure(fake_server, n=6)
    pytester.makeconftest(SESSION_ENV)
    pinned = pytester.runpytest_subprocess(
        "--evalkit-suite", "qa", "--evalkit-update-baseline", "--evalkit-report", "none"
    )
    pinned.assert_outcomes(passed=6, skipped=1)
    gated = pytester.runpytest_subprocess("--evalkit-suite", "qa", "--evalkit-no-cache")
    gated.assert_outcomes(passed=7)
    added = json.loads((pytester.path / "env_added.json").read_text())
    added.pop("PYTEST_CURRENT_TEST", None)
    # The run called a model through LiteLLM: litellm's offline default, and no other of
    # evalkit's (no deepeval or ragas metric here). The comparison's bootstrap imports
    # threadpoolctl, which sets KMP_DUPLICATE_LIB_OK itself (README, "Offline by design").
    assert added == {"LITELLM_LOCAL_MODEL_COST_MAP": "True", "KMP_DUPLICATE_LIB_OK": "True"}
