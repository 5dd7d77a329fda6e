"""With no suite selected the plugin is idle: nothing heavy imported, nothing collected."""

from __future__ import annotations

import subprocess
import sys

import pytest

pytest_plugins = ["pytester"]

HEAVY = ("litellm", "ragas", "torch", "sentence_transformers", "pandas", "scipy", "pydantic")


def test_importing_the_plugin_imports_nothing_heavy() -> None:
    code = f"import sys, evalkit.plugin; print(','.join(m for m in {HEAVY!r} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_a_run_without_a_suite_imports_nothing_heavy(pytester: pytest.Pytester) -> None:
    pytester.makepyprojecttoml(
        '[tool.pytest.ini_options]\naddopts = "-p no:deepeval -p no:langsmith_plugin"\n'
        '[tool.evalkit.suites.qa]\ngolden = "qa.jsonl"\n'
    )
    pytester.makefile(".jsonl", qa='{"id": "a", "input": "x"}\n')
    pytester.makepyfile(
        test_idle=f"""
        import sys

        def test_idle(request):
            assert request.config.pluginmanager.hasplugin("evalkit")
            heavy = [m for m in {HEAVY!r} if m in sys.modules]
            assert heavy == []
        """
    )
    result = pytester.runpytest_subprocess()
    result.assert_outcomes(passed=1)
