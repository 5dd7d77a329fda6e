"""evalkit: evaluation and regression testing for LLM systems.

Golden sets in JSONL, a system under test reached through LiteLLM, scorers, paired
significance tests against a stored baseline, and a single-file HTML report. The
``evalkit`` command and the pytest plugin are thin shells over this Python API::

    from pathlib import Path

    import evalkit

    project = evalkit.load_config()                  # [tool.evalkit] in pyproject.toml
    suite = project.suite("qa")
    golden = evalkit.load_golden_set(project.path(suite.golden))
    candidate = evalkit.run_suite(project, suite)    # run, score and store
    baseline = evalkit.load_run("golden_sets/qa.baseline.jsonl", project)  # or a run id
    comparison = evalkit.compare_runs(baseline, candidate, gate=suite.gate)
    print(comparison.gate.passed, comparison.gate.reasons)
    evalkit.render_report(
        candidate, baseline=baseline, comparison=comparison, golden=golden,
        output=Path("reports/qa"),
    )
    record, path = evalkit.calibrate_judge("correct", project=project)

Importing evalkit changes nothing in the process (no environment variable, logging or
warning setting: see :mod:`evalkit.models._offline` for what is set, and when) and loads
none of the libraries behind these names: each is imported on first use.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from evalkit.errors import (
    ConfigError,
    DamagedStateError,
    EndpointDownError,
    EvalkitError,
    EvalkitWarning,
    GoldenSetError,
    InfrastructureError,
    InvalidInputError,
    JudgeReplyError,
    LabelImportError,
    LabelledSetError,
    NotFoundError,
    PartialRunError,
    Problem,
    ScoringError,
    ServerStartError,
    SUTError,
    TemplateError,
    UserInputError,
)

if TYPE_CHECKING:
    from evalkit.comparison._compare import compare_runs
    from evalkit.comparison._model import Comparison
    from evalkit.config._suite import GateConfig, ProjectConfig, SuiteConfig, load_config
    from evalkit.data._golden import GoldenCase, GoldenSet, load_golden_set
    from evalkit.data._records import Run
    from evalkit.execution._pipeline import run_suite
    from evalkit.judging._calibration import CalibrationRecord
    from evalkit.judging._calibration_run import calibrate_judge
    from evalkit.report._render import ReportPaths, render_report
    from evalkit.report._trend_render import render_trend_report
    from evalkit.scorers._base import Score, case_scorer, register_scorer
    from evalkit.store._runref import load_run_ref as load_run
    from evalkit.store._runs import RunStore

# name -> (module, attribute): imported on first use by __getattr__ below.
_LAZY: dict[str, tuple[str, str]] = {
    "load_config": ("evalkit.config._suite", "load_config"),
    "ProjectConfig": ("evalkit.config._suite", "ProjectConfig"),
    "SuiteConfig": ("evalkit.config._suite", "SuiteConfig"),
    "GateConfig": ("evalkit.config._suite", "GateConfig"),
    "load_golden_set": ("evalkit.data._golden", "load_golden_set"),
    "GoldenSet": ("evalkit.data._golden", "GoldenSet"),
    "GoldenCase": ("evalkit.data._golden", "GoldenCase"),
    "run_suite": ("evalkit.execution._pipeline", "run_suite"),
    "Run": ("evalkit.data._records", "Run"),
    "RunStore": ("evalkit.store._runs", "RunStore"),
    "load_run": ("evalkit.store._runref", "load_run_ref"),
    "compare_runs": ("evalkit.comparison._compare", "compare_runs"),
    "Comparison": ("evalkit.comparison._model", "Comparison"),
    "render_report": ("evalkit.report._render", "render_report"),
    "ReportPaths": ("evalkit.report._render", "ReportPaths"),
    "render_trend_report": ("evalkit.report._trend_render", "render_trend_report"),
    "calibrate_judge": ("evalkit.judging._calibration_run", "calibrate_judge"),
    "CalibrationRecord": ("evalkit.judging._calibration", "CalibrationRecord"),
    "register_scorer": ("evalkit.scorers._base", "register_scorer"),
    "case_scorer": ("evalkit.scorers._base", "case_scorer"),
    "Score": ("evalkit.scorers._base", "Score"),
}

__all__ = [
    "CalibrationRecord",
    "Comparison",
    "ConfigError",
    "DamagedStateError",
    "EndpointDownError",
    "EvalkitError",
    "EvalkitWarning",
    "GateConfig",
    "GoldenCase",
    "GoldenSet",
    "GoldenSetError",
    "InfrastructureError",
    "InvalidInputError",
    "JudgeReplyError",
    "LabelImportError",
    "LabelledSetError",
    "NotFoundError",
    "PartialRunError",
    "Problem",
    "ProjectConfig",
    "ReportPaths",
    "Run",
    "RunStore",
    "SUTError",
    "Score",
    "ScoringError",
    "ServerStartError",
    "SuiteConfig",
    "TemplateError",
    "UserInputError",
    "__version__",
    "calibrate_judge",
    "case_scorer",
    "compare_runs",
    "load_config",
    "load_golden_set",
    "load_run",
    "register_scorer",
    "render_report",
    "render_trend_report",
    "run_suite",
]

_UNKNOWN_VERSION = "0+unknown"


def _version() -> str:
    """Returns the installed distribution's version, or ``0+unknown`` when not installed."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("evalkit")
    except PackageNotFoundError:  # a source tree on sys.path, never installed
        return _UNKNOWN_VERSION


def __getattr__(name: str) -> Any:
    """Imports a public name on first use (PEP 562), so ``import evalkit`` stays light."""
    if name == "__version__":
        value: Any = _version()
    elif name in _LAZY:
        module, attribute = _LAZY[name]
        value = getattr(importlib.import_module(module), attribute)
    else:
        raise AttributeError(f"module 'evalkit' has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
