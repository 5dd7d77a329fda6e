"""The plain data passed between stages: outputs, score rows and run manifests.

These are the contracts of DESIGN.md. Rows are frozen dataclasses (cheap at 100k rows);
tables of them convert to pandas with :func:`outputs_frame` / :func:`scores_frame`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

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


def outputs_frame(outputs: Iterable[Output]) -> pd.DataFrame:
    """Returns outputs as a DataFrame with the columns of :class:`Output`."""
    return pd.DataFrame([asdict(o) for o in outputs], columns=OUTPUT_COLUMNS)


def scores_frame(rows: Iterable[ScoreRow]) -> pd.DataFrame:
    """Returns score rows as a long DataFrame with the columns of :class:`ScoreRow`."""
    frame = pd.DataFrame([asdict(r) for r in rows], columns=SCORE_COLUMNS)
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


@dataclass(frozen=True)
class Run:
    """A stored run: its manifest, its outputs and its score rows."""

    manifest: RunManifest
    outputs: pd.DataFrame
    scores: pd.DataFrame
    location: str = ""
    groups: dict[str, str] = field(default_factory=dict)
    tags: dict[str, list[str]] = field(default_factory=dict)
