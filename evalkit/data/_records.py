"""The plain data passed between stages: outputs, score rows and run manifests.

These are the contracts of DESIGN.md. Rows are frozen dataclasses (cheap at 100k rows);
tables of them convert to pandas with :func:`outputs_frame` / :func:`scores_frame`.

pandas is imported on first use only: ``evalkit run`` makes, stores and prints a run
without it (a fully cached re-run is mostly process start-up).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

if TYPE_CHECKING:
    import pandas as pd

MetricKind = Literal["binary", "continuous", "ordinal"]
RunStatus = Literal["running", "complete", "partial", "failed"]


@dataclass(frozen=True, slots=True)
class Output:
    """What the SUT answered for one (case, sample): text, or an error with its reason."""

    case_id: str
    sample: int
    text: str | None
    error: str | None = None
    latency_s: float = 0.0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    cached: bool = False
    attempts: int = 1
    finish_reason: str | None = None
    prompt: str | None = None
    # Passages a callable SUT (e.g. a RAG pipeline) says it retrieved; None for plain models.
    contexts: tuple[str, ...] | None = None

    @property
    def ok(self) -> bool:
        """True when the call produced text."""
        return self.error is None and self.text is not None


@dataclass(frozen=True, slots=True)
class ScoreRow:
    """One score: ``value`` is a float, or None with ``error`` saying why it is unscored."""

    case_id: str
    sample: int
    metric: str
    value: float | None
    kind: MetricKind
    error: str | None = None
    rationale: str | None = None
    raw: str | None = None
    #: A judge's soft score behind ``value``: P(pass) read from token log-probabilities
    #: (pass/fail), the probability-weighted score (1..N), or a similarity judge's
    #: cosine; None otherwise. Runs stored before it existed have no such column.
    soft_score: float | None = None

    def __post_init__(self) -> None:
        if self.value is None and not self.error:
            raise ValueError(f"unscored row for {self.case_id}/{self.metric} needs a reason")
        if self.value is not None and (math.isnan(self.value) or math.isinf(self.value)):
            raise ValueError(
                f"score for {self.case_id}/{self.metric} is {self.value}; record it as "
                "unscored (value=None, error=reason) instead"
            )

    @property
    def scored(self) -> bool:
        """True when the row carries a value."""
        return self.value is not None


OUTPUT_COLUMNS = [f for f in Output.__dataclass_fields__]
SCORE_COLUMNS = [f for f in ScoreRow.__dataclass_fields__]


def row_columns(rows: Iterable[Any], columns: Sequence[str]) -> dict[str, list[Any]]:
    """Returns ``{column: [value per row]}`` of flat dataclass rows (no deep copy as in asdict)."""
    listed = list(rows)
    return {name: [getattr(row, name) for row in listed] for name in columns}


def _frame(columns: dict[str, list[Any]], names: list[str]) -> pd.DataFrame:
    import pandas as pd

    if not columns[names[0]]:  # no rows: object columns (pandas would guess float64)
        return pd.DataFrame([], columns=names)
    return pd.DataFrame(columns, columns=names)


def outputs_frame(outputs: Iterable[Output]) -> pd.DataFrame:
    """Returns outputs as a DataFrame with the columns of :class:`Output`."""
    return _frame(row_columns(outputs, OUTPUT_COLUMNS), OUTPUT_COLUMNS)


def scores_frame(rows: Iterable[ScoreRow]) -> pd.DataFrame:
    """Returns score rows as a long DataFrame with the columns of :class:`ScoreRow`."""
    frame = _frame(row_columns(rows, SCORE_COLUMNS), SCORE_COLUMNS)
    frame["value"] = frame["value"].astype("float64")
    return frame


class MetricInfo(BaseModel):
    """What a metric is: kind, range and direction, as declared by its scorer."""

    model_config = ConfigDict(extra="forbid")

    name: str
    scorer: str
    kind: MetricKind
    higher_is_better: bool = True
    low: float | None = 0.0
    high: float | None = 1.0
    threshold: float | None = None
    gate: bool = True
    margin: float | None = None
    judge_fingerprint: str | None = None


class Totals(BaseModel):
    """Cost, token and latency totals of a run."""

    model_config = ConfigDict(extra="forbid")

    calls: int = 0
    cached: int = 0
    errors: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    latency_p50_s: float | None = None
    latency_p95_s: float | None = None
    latency_p99_s: float | None = None
    latency_mean_s: float | None = None
    wall_s: float | None = None


class RunManifest(BaseModel):
    """Everything needed to identify and trust a run, stored as manifest.json."""

    model_config = ConfigDict(extra="forbid")

    run_id: str
    suite: str
    status: RunStatus = "running"
    golden_path: str
    golden_fingerprint: str
    n_cases: int
    samples: int = 1
    sut: dict[str, Any] = Field(default_factory=dict, description="Model, mode, params (no keys).")
    sut_fingerprint: str
    judges: dict[str, str] = Field(default_factory=dict, description="judge name -> fingerprint")
    metrics: list[MetricInfo] = Field(default_factory=list)
    git_sha: str | None = None
    started_at: str
    finished_at: str | None = None
    evalkit_version: str
    totals: Totals = Field(default_factory=Totals)
    shard: str | None = None
    error: str | None = None
    extra: dict[str, Any] = Field(default_factory=dict)


class Run:
    """A run: its manifest, its outputs and its score rows, with each case's group and tags.

    ``outputs`` and ``scores`` are DataFrames (columns of :class:`Output` and
    :class:`ScoreRow`). A run made with :meth:`from_rows` keeps its rows and builds the
    frames on first use, so storing and summarising it needs no pandas. Treat a Run as
    immutable: :meth:`at` returns a copy with a location.
    """

    __slots__ = ("_outputs", "_rows", "_scores", "groups", "location", "manifest", "tags")

    def __init__(
        self,
        manifest: RunManifest,
        outputs: pd.DataFrame,
        scores: pd.DataFrame,
        location: str = "",
        groups: dict[str, str] | None = None,
        tags: dict[str, list[str]] | None = None,
    ) -> None:
        self._fill(manifest, location, groups, tags, frames=(outputs, scores), rows=None)

    def _fill(
        self,
        manifest: RunManifest,
        location: str,
        groups: dict[str, str] | None,
        tags: dict[str, list[str]] | None,
        *,
        frames: tuple[pd.DataFrame | None, pd.DataFrame | None],
        rows: tuple[Sequence[Output], Sequence[ScoreRow]] | None,
    ) -> None:
        self.manifest = manifest
        self.location = location
        self.groups: dict[str, str] = groups if groups is not None else {}
        self.tags: dict[str, list[str]] = tags if tags is not None else {}
        self._outputs: pd.DataFrame | None = frames[0]
        self._scores: pd.DataFrame | None = frames[1]
        self._rows = rows

    @classmethod
    def from_rows(
        cls,
        manifest: RunManifest,
        outputs: Sequence[Output],
        scores: Sequence[ScoreRow],
        *,
        location: str = "",
        groups: dict[str, str] | None = None,
        tags: dict[str, list[str]] | None = None,
    ) -> Run:
        """Returns a run that keeps ``outputs`` and ``scores`` as rows (frames built lazily)."""
        run = cls.__new__(cls)
        run._fill(manifest, location, groups, tags, frames=(None, None), rows=(outputs, scores))
        return run

    @property
    def rows(self) -> tuple[Sequence[Output], Sequence[ScoreRow]] | None:
        """The (outputs, score rows) of a run made by :meth:`from_rows`, else None."""
        return self._rows

    @property
    def outputs(self) -> pd.DataFrame:
        """One row per (case, sample), the columns of :class:`Output`."""
        if self._outputs is None:
            assert self._rows is not None
            self._outputs = outputs_frame(self._rows[0])
        return self._outputs

    @property
    def scores(self) -> pd.DataFrame:
        """One row per (case, sample, metric), the columns of :class:`ScoreRow`."""
        if self._scores is None:
            assert self._rows is not None
            self._scores = scores_frame(self._rows[1])
        return self._scores

    def at(self, location: str) -> Run:
        """Returns this run with ``location`` set (frames and rows shared, not copied)."""
        copy = Run.__new__(Run)
        frames = (self._outputs, self._scores)
        copy._fill(self.manifest, location, self.groups, self.tags, frames=frames, rows=self._rows)
        return copy

    def metric_means(self) -> dict[str, tuple[float | None, int]]:
        """Returns ``{metric: (mean of scored values or None, number scored)}``."""
        sums: dict[str, float] = {}
        counts: dict[str, int] = {}
        if self._rows is not None:
            pairs: Iterable[tuple[str, float | None]] = (
                (row.metric, row.value) for row in self._rows[1]
            )
        else:
            frame = self.scores
            pairs = zip(frame["metric"].tolist(), frame["value"].tolist(), strict=True)
        for metric, value in pairs:
            sums.setdefault(metric, 0.0)
            counts.setdefault(metric, 0)
            if value is not None and not math.isnan(value):
                sums[metric] += value
                counts[metric] += 1
        return {m: (sums[m] / counts[m] if counts[m] else None, counts[m]) for m in sums}
