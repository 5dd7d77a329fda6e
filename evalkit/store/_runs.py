"""The run store: runs as folders of a manifest plus Parquet tables, local or on fsspec.

Layout under the store root (default ``.evalkit/runs``; any fsspec URL such as
``s3://bucket/evalkit`` for shared storage)::

    <root>/<run_id>/manifest.json      RunManifest (JSON)
    <root>/<run_id>/outputs.parquet    one row per (case, sample): records.Output columns
    <root>/<run_id>/scores.parquet     one row per (case, sample, metric): ScoreRow columns
    <root>/<run_id>/cases.parquet      case_id, group, tags (for slices and clustering)
    <root>/_inprogress/<run_key>/journal.jsonl   the resume journal of an unfinished run

Writes are atomic. Locally a run is written into a temp folder and renamed into place,
so a reader sees the whole run or nothing. On an fsspec URL (no atomic folder rename)
the tables are written first and ``manifest.json`` last: a folder without a manifest is
an incomplete write, never listed or loaded.

Run ids sort by time: ``YYYYmmddTHHMMSSmmmZ-<suite>-<random>``; the random suffix keeps
them unique under concurrent writers (parallel shards, xdist workers).

A run folder that cannot be read (no or a damaged manifest, a missing or truncated table)
raises :class:`~evalkit.errors.DamagedStateError` naming the file; ``latest`` skips such
runs with a warning and takes the newest run that loads.

Two identical runs (same :func:`run_key`) started at once share one journal: the second
waits on :meth:`RunStore.run_lock` until the first has stored its run, then finds every
answer in the cache (or, after a crash, in the journal) instead of paying for it again.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import shutil
import sys
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from evalkit.data._records import OUTPUT_COLUMNS, SCORE_COLUMNS, Run, RunManifest, row_columns
from evalkit.errors import DamagedStateError, EvalkitWarning, InfrastructureError, NotFoundError
from evalkit.util._arrow_table import table_from_columns
from evalkit.util._format import filename_slug

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

MANIFEST = "manifest.json"
OUTPUTS = "outputs.parquet"
SCORES = "scores.parquet"
CASES = "cases.parquet"
INPROGRESS = "_inprogress"


def run_key(
    *,
    suite: str,
    golden_fingerprint: str,
    sut_fingerprint: str,
    samples: int,
    shard: str | None,
    metrics: list[str],
) -> str:
    """Returns the key that finds an unfinished run's journal when the same run is started again."""
    identity = json.dumps(
        [suite, golden_fingerprint, sut_fingerprint, samples, shard, sorted(metrics)],
        separators=(",", ":"),
    )
    digest = hashlib.sha256(identity.encode()).hexdigest()[:16]
    return f"{filename_slug(suite, fallback='run')}-{digest}"


class RunStore:
    """Stores, lists, loads and deletes runs under one root (a folder or an fsspec URL)."""

    def __init__(
        self, root: str | Path = ".evalkit/runs", *, journal_root: str | Path | None = None
    ):
        self.root = str(root)
        self.remote = "://" in self.root and not self.root.startswith("file://")
        if self.remote:
            import fsspec

            self._fs: Any = fsspec.core.url_to_fs(self.root)[0]
            local_journals = Path(journal_root or Path(".evalkit") / INPROGRESS)
            self.journal_root = local_journals
        else:
            local = self.root[len("file://") :] if self.root.startswith("file://") else self.root
            self.root = local
            self._fs = None
            self.journal_root = Path(journal_root) if journal_root else Path(local) / INPROGRESS

    # ------------------------------------------------------------ ids and paths

    def new_run_id(self, suite: str) -> str:
        """Returns a new run id: sortable UTC time, the suite name and a random suffix.

        The suffix has 48 random bits, so ids made in the same millisecond (parallel
        CI jobs, threads) do not collide: 2,000 ids in one millisecond collide with a
        probability of about 7e-9 (24 bits collided in about 1 run in 9).
        """
        now = datetime.now(UTC)
        stamp = now.strftime("%Y%m%dT%H%M%S") + f"{now.microsecond // 1000:03d}Z"
        return f"{stamp}-{filename_slug(suite, fallback='run')}-{secrets.token_hex(6)}"

    def run_dir(self, run_id: str) -> str:
        """Returns where the run ``run_id`` lives (a path or URL)."""
        return f"{self.root.rstrip('/')}/{run_id}"

    def journal_path(self, key: str) -> Path:
        """Returns the resume journal for the unfinished run ``key``."""
        return self.journal_root / key / "journal.jsonl"

    def clear_journal(self, key: str) -> None:
        """Deletes the resume journal of run ``key`` (after the run is stored)."""
        folder = self.journal_root / key
        shutil.rmtree(folder, ignore_errors=True)

    @contextmanager
    def run_lock(self, key: str) -> Iterator[None]:
        """Holds the lock of run ``key``; waits (saying so on stderr) while another process
        runs the same suite with the same settings, so the two never both pay for a call.

        The lock file sits beside the journal folder, not in it: clearing the journal must
        not delete a lock another process is waiting on. An OS lock (flock) is released
        when its process dies, so a crashed run never leaves it stuck.
        """
        from filelock import FileLock, Timeout

        self.journal_root.mkdir(parents=True, exist_ok=True)
        lock = FileLock(str(self.journal_root / f"{key}.lock"))
        try:
            lock.acquire(timeout=0)
        except Timeout:
            print(
                f"evalkit: an identical run ({key}) is in progress in another process; "
                "waiting for it to finish, then this run reuses its answers",
                file=sys.stderr,
                flush=True,
            )
            lock.acquire()
        try:
            yield
        finally:
            lock.release()

    # ------------------------------------------------------------ write

    def write_run(self, run: Run) -> str:
        """Writes ``run`` atomically; returns its location."""
        import pyarrow.parquet as pq

        run_id = run.manifest.run_id
        tables = _tables(run)
        manifest_text = run.manifest.model_dump_json(indent=2)
        if self.remote:
            target = self.run_dir(run_id)
            self._fs.makedirs(target, exist_ok=True)
            for name, table in tables.items():
                with self._fs.open(f"{target}/{name}", "wb") as handle:
                    pq.write_table(table, handle)
            # The manifest goes last: its presence marks the run complete.
            with self._fs.open(f"{target}/{MANIFEST}", "w") as handle:
                handle.write(manifest_text)
            return target
        root = Path(self.root)
        try:
            root.mkdir(parents=True, exist_ok=True)
            final = root / run_id
            if final.exists():
                raise FileExistsError(f"run {run_id} already exists in {root}")
            temp = root / f".tmp-{run_id}-{secrets.token_hex(4)}"
            temp.mkdir()
        except OSError as err:
            from evalkit.util._crash import describe_os_error

            raise InfrastructureError(
                f"cannot store run {run_id} in {root}: {describe_os_error(err)} "
                "(the store is the --store flag or the config's `store` key)"
            ) from err
        try:
            for name, table in tables.items():
                pq.write_table(table, temp / name)
            (temp / MANIFEST).write_text(manifest_text, encoding="utf-8")
            for file in temp.iterdir():
                with file.open("rb") as handle:
                    os.fsync(handle.fileno())
            os.rename(temp, final)
            _fsync_dir(root)
        except BaseException:
            shutil.rmtree(temp, ignore_errors=True)
            raise
        return str(final)

    # ------------------------------------------------------------ read

    def list_runs(self, suite: str | None = None) -> list[RunManifest]:
        """Returns the manifests of complete runs, newest first (optionally of one suite).

        A folder whose manifest cannot be read is not a complete run and is left out.
        """
        manifests = []
        for location in self._run_locations():
            try:
                manifest = RunManifest.model_validate_json(
                    self._read_text(f"{location}/{MANIFEST}")
                )
            except (OSError, ValueError):
                continue
            if suite is None or manifest.suite == suite:
                manifests.append(manifest)
        manifests.sort(key=lambda m: (m.started_at, m.run_id), reverse=True)
        return manifests

    def load_run(self, ref: str) -> Run:
        """Returns the run ``ref``: a run id, a run folder, ``latest`` or ``latest:<suite>``.

        Raises:
            NotFoundError: there is no such run.
            DamagedStateError: the run's folder exists but a file in it is missing or
                unreadable (the message names it). ``latest`` skips damaged runs instead,
                with a warning.
        """
        if ref == "latest" or ref.startswith("latest:"):
            suite = ref.split(":", 1)[1] if ":" in ref else None
            for manifest in self.list_runs(suite):
                try:
                    return self._load(self.run_dir(manifest.run_id))
                except DamagedStateError as err:
                    warnings.warn(
                        f"skipping damaged run {manifest.run_id}: {err}", EvalkitWarning, 2
                    )
            which = f" of suite {suite!r}" if suite else ""
            raise NotFoundError(
                f"no readable stored run{which} in {self.root}; run `evalkit run` first"
            )
        return self._load(self._locate(ref))

    def _load(self, location: str) -> Run:
        manifest_path = f"{location}/{MANIFEST}"
        try:
            manifest = RunManifest.model_validate_json(self._read_text(manifest_path))
        except (OSError, ValueError) as err:
            raise _damaged(manifest_path, location, err) from err
        outputs = self._read_table(f"{location}/{OUTPUTS}", location)
        scores = self._read_table(f"{location}/{SCORES}", location)
        cases = self._read_table(f"{location}/{CASES}", location)
        groups: dict[str, str] = {}
        tags: dict[str, list[str]] = {}
        try:
            for case_id, group, case_tags in zip(
                cases["case_id"].tolist(),
                cases["group"].tolist(),
                cases["tags"].tolist(),
                strict=True,
            ):
                if isinstance(group, str):
                    groups[str(case_id)] = group
                tags[str(case_id)] = [str(t) for t in case_tags] if case_tags is not None else []
        except (KeyError, TypeError, ValueError) as err:
            raise _damaged(f"{location}/{CASES}", location, err) from err
        missing = [c for c in ("case_id", "sample", "metric", "value") if c not in scores]
        if missing:
            raise _damaged(f"{location}/{SCORES}", location, ValueError(f"no column(s) {missing}"))
        scores["value"] = scores["value"].astype("float64")
        return Run(manifest, outputs, scores, location=location, groups=groups, tags=tags)

    def delete_run(self, run_id: str) -> None:
        """Deletes the run ``run_id`` (raises NotFoundError if there is none)."""
        location = self._locate(run_id)
        if self.remote:
            self._fs.rm(f"{location}/{MANIFEST}")  # first: the run stops being complete
            self._fs.rm(location, recursive=True)
            return
        doomed = Path(location).with_name(f".tmp-deleting-{run_id}-{secrets.token_hex(4)}")
        os.rename(location, doomed)
        shutil.rmtree(doomed, ignore_errors=True)

    # ------------------------------------------------------------ internals

    def _run_locations(self) -> list[str]:
        if self.remote:
            if not self._fs.exists(self.root):
                return []
            found = []
            for entry in self._fs.ls(self.root, detail=True):
                name = entry["name"].rstrip("/").rsplit("/", 1)[-1]
                visible = entry["type"] == "directory" and not name.startswith((".", "_"))
                if visible and self._fs.exists(f"{entry['name']}/{MANIFEST}"):
                    found.append(self.run_dir(name))
            return found
        root = Path(self.root)
        if not root.is_dir():
            return []
        return [
            str(folder)
            for folder in root.iterdir()
            if folder.is_dir()
            and not folder.name.startswith((".", "_"))
            and (folder / MANIFEST).exists()
        ]

    def _locate(self, ref: str) -> str:
        if ref == "latest" or ref.startswith("latest:"):
            suite = ref.split(":", 1)[1] if ":" in ref else None
            runs = self.list_runs(suite)
            if not runs:
                which = f" of suite {suite!r}" if suite else ""
                raise NotFoundError(f"no stored run{which} in {self.root}; run `evalkit run` first")
            return self.run_dir(runs[0].run_id)
        as_path = Path(ref)
        if "://" not in ref and (as_path / MANIFEST).is_file():
            return str(as_path)
        if "://" in ref and self._fs is not None and self._fs.exists(f"{ref}/{MANIFEST}"):
            return ref
        candidate = self.run_dir(ref)
        if self.remote:
            if self._fs.exists(f"{candidate}/{MANIFEST}"):
                return candidate
        elif (Path(candidate) / MANIFEST).is_file():
            return candidate
        for folder in (as_path, Path(candidate)) if not self.remote else ():
            if "://" not in ref and folder.is_dir() and _looks_like_run(folder):
                raise DamagedStateError(
                    f"{folder / MANIFEST}: missing or not a file; {folder} is an incomplete "
                    "or damaged run (a run's manifest is written last): run the suite again, "
                    "or delete the folder"
                )
        raise NotFoundError(
            f"no run {ref!r} in {self.root} (give a run id, a run folder, 'latest' or "
            "'latest:<suite>'; `evalkit history` lists runs)"
        )

    def _read_text(self, location: str) -> str:
        if self.remote:
            with self._fs.open(location, "r") as handle:
                text: str = handle.read()
                return text
        return Path(location).read_text(encoding="utf-8")

    def _read_table(self, location: str, run_location: str) -> pd.DataFrame:
        import pandas as pd
        import pyarrow as pa

        try:
            if self.remote:
                with self._fs.open(location, "rb") as handle:
                    return pd.read_parquet(handle)
            if Path(location).is_dir():  # pandas would read a folder as an empty dataset
                raise IsADirectoryError(21, "a folder, not a Parquet file", location)
            return pd.read_parquet(location)
        except (
            OSError,  # missing, a folder, unreadable; includes pyarrow's ArrowIOError
            ValueError,  # ArrowInvalid: not Parquet, truncated, a bad footer
            pa.ArrowNotImplementedError,
            pa.ArrowTypeError,
            pa.ArrowSerializationError,
        ) as err:
            # Not ArrowKeyError or ArrowMemoryError: those are the process's, not the file's.
            raise _damaged(location, run_location, err) from err


def _looks_like_run(folder: Path) -> bool:
    """Returns True when ``folder`` holds any of a run's files (but maybe not all)."""
    return any((folder / name).exists() for name in (MANIFEST, OUTPUTS, SCORES, CASES))


def _damaged(file: str, run_location: str, err: BaseException) -> DamagedStateError:
    """Returns the error for an unreadable file of a stored run, naming the file."""
    from pydantic import ValidationError

    from evalkit.util._crash import describe_error

    if isinstance(err, FileNotFoundError):
        what = "missing"
    elif isinstance(err, ValidationError):
        first = err.errors()[0]
        field = ".".join(str(part) for part in first["loc"])
        what = f"damaged ({field + ': ' if field else ''}{first['msg']})"
    elif isinstance(err, OSError) and not isinstance(err, UnicodeError):
        what = f"cannot be read ({err.strerror or describe_error(err)})"
    else:
        what = f"damaged ({describe_error(err)})"
    return DamagedStateError(
        f"{file}: {what}; the run in {run_location} cannot be loaded: run the suite again "
        "(or delete that folder)"
    )


def _column_types() -> dict[str, pa.DataType]:
    """Arrow types of the outputs, scores and cases columns, as pandas writes them."""
    import pyarrow as pa

    text, count, real = pa.large_string(), pa.int64(), pa.float64()
    return {
        "case_id": text,
        "sample": count,
        "text": text,
        "error": text,
        "latency_s": real,
        "prompt_tokens": count,
        "completion_tokens": count,
        "cost_usd": real,
        "cached": pa.bool_(),
        "attempts": count,
        "finish_reason": text,
        "prompt": text,
        "contexts": pa.list_(pa.field("element", pa.string())),
        "metric": text,
        "value": real,
        "kind": text,
        "rationale": text,
        "raw": text,
        "soft_score": real,
        "group": text,
        "tags": pa.list_(text),
    }


def _tables(run: Run) -> dict[str, pa.Table]:
    """Returns the run's Parquet tables; a run made from rows is converted without pandas.

    Columns and types are the ones ``DataFrame.to_parquet`` writes for the same rows
    (a test compares both), so either path reads back alike.
    """
    import pyarrow as pa

    rows = run.rows
    if rows is not None:
        types = _column_types()
        output_columns = row_columns(rows[0], OUTPUT_COLUMNS)
        outputs = table_from_columns(output_columns, types)
        # scores_frame makes "value" float64 even when nothing was scored.
        score_columns = row_columns(rows[1], SCORE_COLUMNS)
        scores = table_from_columns(score_columns, types, typed=frozenset({"value"}))
        output_ids = output_columns["case_id"]
    else:
        outputs = pa.Table.from_pandas(run.outputs, preserve_index=False)
        scores = pa.Table.from_pandas(run.scores, preserve_index=False)
        output_ids = run.outputs["case_id"].tolist() if "case_id" in run.outputs else []
    case_ids = sorted(set(run.tags) | set(run.groups) | set(output_ids))
    cases: dict[str, list[Any]] = {
        "case_id": case_ids,
        "group": [run.groups.get(c) for c in case_ids],
        "tags": [list(run.tags.get(c, [])) for c in case_ids],
    }
    return {OUTPUTS: outputs, SCORES: scores, CASES: table_from_columns(cases, _column_types())}


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
