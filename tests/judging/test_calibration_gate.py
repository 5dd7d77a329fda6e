"""A run's judge metrics: their gate status and the report's calibration view."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from evalkit.config._suite import SuiteConfig
from evalkit.data._records import (
    MetricInfo,
    Output,
    Run,
    RunManifest,
    ScoreRow,
    outputs_frame,
    scores_frame,
)
from evalkit.judging._calibration import (
    CalibratedItem,
    CalibrationRecord,
    Confusion,
    Figure,
    save_record,
)
from evalkit.judging._calibration_run import (
    calibration_report,
    judge_metric_statuses,
    judge_names_for,
)

FINGERPRINT = "sha256:judge-now"


def _run(fingerprint: str = FINGERPRINT) -> Run:
    rng = np.random.default_rng(1)
    values = (rng.random(400) < 0.66).astype(float)
    outputs = [Output(case_id=f"c{i}", sample=0, text="x") for i in range(400)]
    rows = [
        ScoreRow(case_id=f"c{i}", sample=0, metric="correct", value=float(v), kind="binary")
        for i, v in enumerate(values)
    ]
    manifest = RunManifest(
        run_id="r1",
        suite="qa",
        golden_path="g.jsonl",
        golden_fingerprint="sha256:g",
        n_cases=400,
        sut_fingerprint="sha256:s",
        judges={"correct": fingerprint},
        metrics=[
            MetricInfo(name="exact", scorer="exact", kind="binary"),
            MetricInfo(
                name="correct", scorer="judge", kind="binary", judge_fingerprint=fingerprint
            ),
        ],
        started_at="2025-01-01T00:00:00+00:00",
        evalkit_version="0.1.0",
    )
    return Run(manifest, outputs_frame(outputs), scores_frame(rows))


def _record(judges: Path, *, kappa: float = 0.7, n_items: int = 100) -> CalibrationRecord:
    # Se = 0.9 (45 of 50 people-passes), Sp = 0.7 (35 of 50 people-fails).
    items = [
        CalibratedItem(
            id=f"i{k}",
            judge="pass" if (k < 45 or 50 <= k < 65) else "fail",
            people="pass" if k < 50 else "fail",
        )
        for k in range(n_items)
    ]
    record = CalibrationRecord(
        judge="correctness",
        fingerprint=FINGERPRINT,
        scale="binary",
        categories=["fail", "pass"],
        labels_path="judges/correctness.labels.jsonl",
        labels_fingerprint="sha256:l",
        created_at="2025-01-01T00:00:00+00:00",
        evalkit_version="0.1.0",
        n_items=n_items,
        n=n_items,
        figures={"kappa": Figure(value=kappa, ci_low=kappa - 0.1, ci_high=kappa + 0.1)},
        confusion=Confusion(labels=["fail", "pass"], counts=[[35, 15], [5, 45]]),
        items=items,
    )
    save_record(record, judges / "correctness.calibration.json")
    return record


def test_statuses_find_the_record_by_the_runs_judge_fingerprint(tmp_path: Path) -> None:
    _record(tmp_path)
    statuses = judge_metric_statuses(_run().manifest, tmp_path)
    assert set(statuses) == {"correct"}
    assert statuses["correct"].status == "calibrated"
    strict = judge_metric_statuses(_run().manifest, tmp_path, min_kappa=0.8)
    assert strict["correct"].status == "uncalibrated"


def test_a_run_made_with_another_rubric_is_stale_when_the_judge_is_named(tmp_path: Path) -> None:
    _record(tmp_path)
    manifest = _run("sha256:older-rubric").manifest
    unnamed = judge_metric_statuses(manifest, tmp_path)
    assert unnamed["correct"].status == "uncalibrated"
    assert "correctness" in unnamed["correct"].reason
    named = judge_metric_statuses(manifest, tmp_path, judge_names={"correct": "correctness"})
    assert named["correct"].status == "stale"


def test_judge_names_come_from_the_suites_judge_metrics() -> None:
    suite = SuiteConfig.model_validate(
        {
            "name": "qa",
            "golden": "g.jsonl",
            "judge": "default-judge",
            "metrics": [
                "exact",
                {"name": "correct", "scorer": "judge", "params": {"name": "correctness"}},
                {"name": "polite", "scorer": "judge"},
            ],
        }
    )
    assert judge_names_for(suite) == {"correct": "correctness", "polite": "default-judge"}


def test_report_view_has_figures_reliability_and_raw_vs_corrected(tmp_path: Path) -> None:
    _record(tmp_path)
    view = calibration_report(_run(), tmp_path)
    judge = view["correctness"]
    assert judge["status"] == "calibrated" and judge["n"] == 100
    assert judge["confusion"] == {"labels": ["fail", "pass"], "matrix": [[35, 15], [5, 45]]}
    assert judge["reliability"] == [
        {"judge": "fail", "n": 40, "people_mean": pytest.approx(5 / 40)},
        {"judge": "pass", "n": 60, "people_mean": pytest.approx(45 / 60)},
    ]
    (row,) = judge["estimates"]
    assert row["metric"] == "correct" and row["n"] == 400
    raw = row["raw"]["estimate"]
    assert row["sensitivity"] == pytest.approx(0.9) and row["specificity"] == pytest.approx(0.7)
    assert row["corrected"]["estimate"] == pytest.approx((raw + 0.7 - 1) / 0.6)
    assert row["ppi"] is None  # nobody labelled this run's outputs


def test_shipped_calibration_record_matches_the_shipped_judge_and_labels() -> None:
    # The stored record must describe the judge and labels as shipped: a rubric or label
    # edit without `evalkit calibrate correctness` would leave a stale record behind.
    from evalkit.judging._calibration import judge_gate_status, load_record
    from evalkit.judging._definitions import load_judge
    from evalkit.judging._labelled_sets import load_labels

    judges = Path(__file__).parents[2] / "judges"
    record = load_record(judges / "correctness.calibration.json")
    assert record is not None
    judge = load_judge("correctness", judges)
    labels = load_labels(judges / "correctness.labels.jsonl")
    assert record.definition_fingerprint == judge.fingerprint()
    assert record.labels_fingerprint == labels.fingerprint
    expected_items = record.subset["n"] if record.subset else len(labels)
    assert record.n_items == expected_items and record.model == "embedded"
    # The judge as it scores (its fitted mapping applied) is the judge the record measured.
    from evalkit.scorers._judge import build_judge_scorer, fitted_mapping

    scorer = build_judge_scorer(judge, mapping=fitted_mapping(judge, judges))
    assert scorer.fingerprint() == record.fingerprint
    assert judge_gate_status(scorer, record).status in ("calibrated", "uncalibrated")
