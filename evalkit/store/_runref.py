"""Resolve what a user names as a run, and the calibration status of its judge metrics.

Shared by the CLI verbs (compare, baseline, report), the pytest gate and nightly runs, so
that "a run" means the same thing everywhere.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from evalkit.errors import UserInputError

if TYPE_CHECKING:
    from evalkit.config._suite import GateConfig, ProjectConfig, SuiteConfig
    from evalkit.data._records import Run
    from evalkit.store._runs import RunStore


def open_store(config: ProjectConfig | None, root: str | None = None) -> RunStore:
    """Returns the run store: ``root`` if given, else the config's ``store`` setting."""
    from evalkit.store._runs import RunStore

    if root:
        return RunStore(root)
    if config is None:
        return RunStore()
    return RunStore(config.store if "://" in config.store else str(config.path(config.store)))


def load_run_ref(ref: str, config: ProjectConfig | None, *, store_root: str | None = None) -> Run:
    """Returns the Run named by ``ref``: a baseline file, a score file, a run dir or a run id.

    Run ids also accept ``latest`` and ``latest:<suite>``.
    """
    from evalkit.data._scorefile import is_score_file, load_score_file
    from evalkit.store._baselines import is_baseline_file, load_baseline

    path = Path(ref)
    if path.is_file():
        if is_baseline_file(path):
            return load_baseline(path)
        if is_score_file(path):
            try:
                return load_score_file(path)
            except UnicodeDecodeError as err:  # a binary file named .jsonl/.csv
                raise UserInputError(
                    f"{ref}: not a score file: not UTF-8 text (byte {err.start})"
                ) from err
        raise UserInputError(
            f"{ref}: not a baseline or score file; a score file is .jsonl or .csv with "
            "columns case_id, metric, value"
        )
    run: Run = open_store(config, store_root).load_run(ref)
    return run


def judge_statuses(
    run: Run,
    config: ProjectConfig | None,
    gate: GateConfig,
    suite: SuiteConfig | None = None,
) -> dict[str, str]:
    """Returns metric -> calibration status ("calibrated", "uncalibrated", "stale").

    A judge metric's record is found by the judge fingerprint the run used; failing that,
    by the judge the suite names (then ``stale``). See
    :func:`evalkit.judging._calibration_run.judge_metric_statuses`.
    """
    from evalkit.judging._calibration_run import judge_metric_statuses, judge_names_for

    judges_dir = config.path(config.judges_dir) if config is not None else Path("judges")
    statuses = judge_metric_statuses(
        run.manifest,
        judges_dir,
        min_n=gate.judge_min_n,
        min_kappa=gate.judge_min_kappa,
        judge_names=judge_names_for(suite) if suite is not None else None,
    )
    return {metric: status.status for metric, status in statuses.items()}
