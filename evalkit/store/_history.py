"""The nightly history: one JSON record per suite and night, beside the runs in the store.

Layout under the run store's root (a folder or any fsspec URL)::

    <root>/_history/<night_id>.json     one NightRecord

There is no shared index file. Each night's record is its own file with a unique id
(UTC time, suite, random suffix), written by one job only: first as ``running`` when the
night starts, then replaced by its final state. Locally a record is written to a temp
file and renamed into place (atomic); on an object store a single object upload is
atomic. Listing reads every record, so two nightly jobs writing to the same store at
once never overwrite each other's entries. ``_history`` starts with ``_``, so
:meth:`evalkit.store._runs.RunStore.list_runs` skips it.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from evalkit.data._records import Totals
from evalkit.errors import NotFoundError
from evalkit.store._runs import RunStore
from evalkit.util._atomic import atomic_write_text
from evalkit.util._format import filename_slug

HISTORY_DIR = "_history"
SCHEMA_VERSION = 1
NightStatus = Literal["running", "ok", "alert", "failed"]
SUCCESSFUL: tuple[str, ...] = ("ok", "alert")  # the night ran and produced a usable run


class _Record(BaseModel):
    # Records written by a newer evalkit stay readable: unknown keys are ignored.
    model_config = ConfigDict(extra="ignore")


class NightMetric(_Record):
    """One metric's estimate on one night: mean over cases with its 95% CI."""

    name: str
    kind: str = "continuous"
    higher_is_better: bool = True
    n: int = 0
    mean: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None


class ComparisonRow(_Record):
    """One metric of a comparison (all cases), as kept in the history."""

    metric: str
    baseline_mean: float | None = None
    candidate_mean: float | None = None
    delta: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    p_value: float | None = None
    q_value: float | None = None
    verdict: str = "inconclusive"
    gating: bool = True
    mde: float | None = None  # design-time MDE (docs/sizing.md); None: n/a or none detectable
    mde_observed: float | None = None  # MDE at the comparison's observed noise


class ComparisonBrief(_Record):
    """A night's comparison with the baseline or with the previous successful night."""

    against: Literal["baseline", "previous"]
    other_id: str
    passed: bool
    error: str | None = None
    reasons: list[str] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list)
    rows: list[ComparisonRow] = Field(default_factory=list)


class DriftRow(_Record):
    """One metric's drift tests as kept in the history."""

    metric: str
    n_nights: int = 0
    slope: float | None = None
    slope_se: float | None = None
    trend_p: float | None = None
    trend_q: float | None = None
    pooled_nights: int = 0
    pooled_delta: float | None = None
    pooled_p: float | None = None
    pooled_q: float | None = None
    alarm: bool = False


class DriftBrief(_Record):
    """A night's drift check over the suite's recent nights."""

    alarm: bool = False
    alpha: float = 0.01
    window: int = 10
    reasons: list[str] = Field(default_factory=list)
    rows: list[DriftRow] = Field(default_factory=list)


class CaseChange(_Record):
    """A case whose pass/fail outcome moved across recent nights."""

    case_id: str
    metric: str
    pattern: str  # one letter per night, oldest first: P pass, F fail, . unscored/absent
    flips: int
    now_failing: bool
    since_night_id: str | None = None  # changed: the first night of the new outcome


class NightRecord(_Record):
    """Everything the history keeps about one suite's night."""

    schema_version: int = SCHEMA_VERSION
    night_id: str
    suite: str
    night_at: str  # ISO 8601, UTC
    finished_at: str | None = None
    status: NightStatus = "running"
    reason: str | None = None  # why the night failed
    alerts: list[str] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list)
    run_id: str | None = None
    run_status: str | None = None
    golden_path: str | None = None
    golden_fingerprint: str | None = None
    n_cases: int = 0
    sut_model: str | None = None
    sut_fingerprint: str | None = None
    baseline_run_id: str | None = None
    baseline_digest: str | None = None  # sha256 of the baseline file: changes mark updates
    previous_night_id: str | None = None
    metrics: list[NightMetric] = Field(default_factory=list)
    vs_baseline: ComparisonBrief | None = None
    vs_previous: ComparisonBrief | None = None
    drift: DriftBrief | None = None
    flaky: list[CaseChange] = Field(default_factory=list)
    changed: list[CaseChange] = Field(default_factory=list)
    totals: Totals = Field(default_factory=Totals)
    report: str | None = None  # regression report, relative to the report folder
    summary: str | None = None  # summary.md, relative to the report folder
    extra: dict[str, Any] = Field(default_factory=dict)

    @property
    def successful(self) -> bool:
        """True when the night ran and stored a run (status ok or alert)."""
        return self.status in SUCCESSFUL and self.run_id is not None

    @property
    def when(self) -> datetime:
        """Returns ``night_at`` as an aware datetime."""
        return parse_time(self.night_at)

    def headline(self) -> str:
        """Returns a one-line verdict for the night."""
        if self.status == "failed":
            return f"{self.suite}: night FAILED to run: {self.reason}"
        if self.status == "running":
            return f"{self.suite}: night did not finish"
        if self.status == "alert":
            return f"{self.suite}: ALERT ({len(self.alerts)} reason(s))"
        return f"{self.suite}: ok"


def parse_time(text: str) -> datetime:
    """Returns the ISO 8601 time ``text`` as an aware datetime (naive means UTC)."""
    value = datetime.fromisoformat(text)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


@dataclass(frozen=True)
class PruneResult:
    """What a prune removed: night records and the runs they pointed to."""

    nights: tuple[str, ...]
    runs: tuple[str, ...]
    kept: int


class History:
    """Reads and writes night records under ``<store root>/_history``."""

    def __init__(self, store_root: str | Path):
        self.store = RunStore(store_root)
        self.root = f"{self.store.root.rstrip('/')}/{HISTORY_DIR}"
        self.invalid: list[str] = []  # records that could not be read by the last list()
        self._fs: Any = None
        if self.store.remote:
            import fsspec

            self._fs = fsspec.core.url_to_fs(self.root)[0]

    @staticmethod
    def new_night_id(suite: str, at: datetime) -> str:
        """Returns a unique, time-sortable night id: UTC time, suite, random suffix."""
        stamp = at.astimezone(UTC).strftime("%Y%m%dT%H%M%S")
        return f"{stamp}Z-{filename_slug(suite, fallback='suite')}-{secrets.token_hex(4)}"

    def path(self, night_id: str) -> str:
        """Returns where the record of ``night_id`` lives."""
        return f"{self.root}/{night_id}.json"

    def write(self, record: NightRecord) -> str:
        """Writes ``record`` atomically (replacing its earlier state); returns its path."""
        target = self.path(record.night_id)
        text = record.model_dump_json(indent=2)
        fs = self._fs
        if fs is None:
            atomic_write_text(Path(target), text)
        else:
            fs.makedirs(self.root, exist_ok=True)
            with fs.open(target, "w") as handle:  # one object upload: atomic on a bucket
                handle.write(text)
        return target

    def _names(self) -> list[str]:
        fs = self._fs
        if fs is None:
            folder = Path(self.root)
            if not folder.is_dir():
                return []
            return [p.name for p in folder.iterdir() if _is_record_name(p.name)]
        if not fs.exists(self.root):
            return []
        names = [str(e).rstrip("/").rsplit("/", 1)[-1] for e in fs.ls(self.root, detail=False)]
        return [n for n in names if _is_record_name(n)]

    def _read(self, name: str) -> NightRecord | None:
        location = f"{self.root}/{name}"
        try:
            fs = self._fs
            if fs is None:
                text = Path(location).read_text(encoding="utf-8")
            else:
                with fs.open(location, "r") as handle:
                    text = handle.read()
            return NightRecord.model_validate_json(text)
        except (OSError, ValidationError, ValueError):
            return None

    def list(self, suite: str | None = None) -> list[NightRecord]:
        """Returns the night records, oldest first (optionally of one suite)."""
        records = []
        self.invalid = []
        for name in self._names():
            record = self._read(name)
            if record is None:
                self.invalid.append(name)
                continue
            if suite is None or record.suite == suite:
                records.append(record)
        records.sort(key=lambda r: (r.when, r.night_id))
        return records

    def get(self, ref: str) -> NightRecord:
        """Returns the night ``ref``: its id, a unique prefix of it, or ``latest[:suite]``."""
        if ref == "latest" or ref.startswith("latest:"):
            suite = ref.split(":", 1)[1] if ":" in ref else None
            records = self.list(suite)
            if not records:
                raise NotFoundError(f"no nights in {self.root}; run `evalkit nightly` first")
            return records[-1]
        matches = [r for r in self.list() if r.night_id == ref] or [
            r for r in self.list() if r.night_id.startswith(ref)
        ]
        if len(matches) == 1:
            return matches[0]
        if not matches:
            raise NotFoundError(f"no night {ref!r} in {self.root}; `evalkit history list`")
        raise NotFoundError(f"{ref!r} matches {len(matches)} nights; give more of the id")

    def latest_successful(
        self, suite: str, *, exclude: str | None = None, records: Sequence[NightRecord] = ()
    ) -> NightRecord | None:
        """Returns the newest successful night of ``suite`` other than ``exclude``."""
        candidates = [
            r
            for r in (records or self.list(suite))
            if r.suite == suite and r.successful and r.night_id != exclude
        ]
        return candidates[-1] if candidates else None

    def prune(
        self,
        *,
        keep: int | None = None,
        older_than: timedelta | None = None,
        now: Callable[[], datetime] | None = None,
        delete_runs: bool = True,
    ) -> PruneResult:
        """Deletes nights beyond the newest ``keep`` per suite, or older than ``older_than``.

        The newest successful night of each suite is always kept (tomorrow's night is
        compared with it), and so are nights still ``running``. With ``delete_runs`` the
        stored runs of pruned nights are deleted too. Records already gone (another job
        pruned them) are skipped.
        """
        clock = now or (lambda: datetime.now(UTC))
        cutoff = clock() - older_than if older_than is not None else None
        doomed: list[NightRecord] = []
        kept = 0
        by_suite: dict[str, list[NightRecord]] = {}
        for record in self.list():
            by_suite.setdefault(record.suite, []).append(record)
        for records in by_suite.values():
            protected = self.latest_successful(records[0].suite, records=records)
            newest_first = list(reversed(records))
            for position, record in enumerate(newest_first):
                too_many = keep is not None and position >= keep
                too_old = cutoff is not None and record.when < cutoff
                safe = record is protected or record.status == "running"
                if (too_many or too_old) and not safe:
                    doomed.append(record)
                else:
                    kept += 1
        nights, runs = [], []
        for record in doomed:
            if delete_runs and record.run_id:
                try:
                    self.store.delete_run(record.run_id)
                    runs.append(record.run_id)
                except (NotFoundError, FileNotFoundError):
                    pass
            if self._delete_record(record.night_id):
                nights.append(record.night_id)
        return PruneResult(tuple(nights), tuple(runs), kept)

    def _delete_record(self, night_id: str) -> bool:
        fs = self._fs
        try:
            if fs is None:
                Path(self.path(night_id)).unlink()
            else:
                fs.rm(self.path(night_id))
        except FileNotFoundError:
            return False
        return True


def _is_record_name(name: str) -> bool:
    return name.endswith(".json") and not name.startswith(".")
