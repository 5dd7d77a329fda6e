"""Small hand-made runs for comparison tests: a Run from (case, metric, value) rows."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from evalkit.data._records import (
    MetricInfo,
    Run,
    RunManifest,
    ScoreRow,
    outputs_frame,
    scores_frame,
)

Row = tuple[str, str, float | None] | tuple[str, str, float | None, int]


def make_run(
    run_id: str,
    rows: Iterable[Row],
    *,
    metrics: Sequence[MetricInfo] = (),
    tags: dict[str, list[str]] | None = None,
    groups: dict[str, str] | None = None,
    golden: str = "sha256:golden1",
    suite: str = "qa",
) -> Run:
    """Returns a Run from (case, metric, value[, sample]) rows; None values are unscored."""
    infos = {m.name: m for m in metrics}
    score_rows = []
    for row in rows:
        case, metric, value = row[0], row[1], row[2]
        sample = row[3] if len(row) == 4 else 0  # type: ignore[misc]
        kind = infos[metric].kind if metric in infos else "continuous"
        error = None if value is not None else "judge reply unparseable"
        score_rows.append(ScoreRow(case, int(sample), metric, value, kind, error=error))
    frame = scores_frame(score_rows)
    manifest = RunManifest(
        run_id=run_id,
        suite=suite,
        status="complete",
        golden_path="golden_sets/qa.jsonl",
        golden_fingerprint=golden,
        n_cases=int(frame["case_id"].nunique()),
        sut_fingerprint="sha256:sut",
        metrics=list(metrics),
        started_at="2025-01-01T00:00:00Z",
        evalkit_version="0.1.0",
    )
    return Run(manifest, outputs_frame([]), frame, tags=tags or {}, groups=groups or {})


CORRECT = MetricInfo(name="correct", scorer="exact", kind="binary")


F1 = MetricInfo(name="f1", scorer="token_f1", kind="continuous")
