"""The on-disk model-call cache: SQLite in WAL mode, keyed by a hash of the whole request.

SQLite in WAL mode is durable and safe with several processes (pytest-xdist workers,
parallel shards) reading and writing the same file. The key is the SHA-256 of the
canonical JSON of the request identity (:meth:`evalkit.models._llm.ModelRequest.cache_identity`:
model, api_base, mode, the full prompt or messages, every parameter and the sample index),
so repeated samples at temperature > 0 stay independent. Only successful answers are
stored: an error is never cached. Credentials are never part of a key or a value.

A damaged cache file (overwritten, truncated, not SQLite, or SQLite without the cache's
table) is set aside as ``calls.sqlite3.damaged-<time>`` with a warning and an empty cache
takes its place: the cache only saves calls, so a run goes on. A cache that cannot be
opened at all (a folder in its place, no permission) or that breaks during a run stops
with a :class:`~evalkit.errors.DamagedStateError` naming the file and ``--no-cache``.
:func:`clear_cache` empties the cache whatever state the file is in.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import sqlite3
import time
import warnings
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from evalkit.errors import DamagedStateError, EvalkitWarning

CACHE_FILE = "calls.sqlite3"
DAMAGED_SUFFIX = ".damaged-"
# SQLite's primary result codes for "this is not a database" and "the file is corrupt"
# (an exception's sqlite_errorcode may be an extended code: compare the low byte).
_DAMAGED_CODES = {sqlite3.SQLITE_NOTADB, sqlite3.SQLITE_CORRUPT}
_SCHEMA = """
CREATE TABLE IF NOT EXISTS calls (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    created REAL NOT NULL
)
"""


def request_key(identity: Mapping[str, Any]) -> str:
    """Returns the SHA-256 hex digest of ``identity`` as canonical JSON."""
    text = json.dumps(identity, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class Cache:
    """A persistent map from request key to a successful call's result."""

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)
        self.path = self.folder / CACHE_FILE
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            self._db = _connect(self.path)
        except sqlite3.DatabaseError as err:
            if not _is_damaged(err):
                raise self._unusable(err) from err
            aside = _set_aside(self.path)
            warnings.warn(
                f"the call cache {self.path} is damaged ({err}); moved it to {aside.name} "
                "and started an empty cache (answers are called again)",
                EvalkitWarning,
                stacklevel=2,
            )
            try:
                self._db = _connect(self.path)
            except sqlite3.DatabaseError as again:
                raise self._unusable(again) from again
        except OSError as err:
            raise self._unusable(err) from err

    def _unusable(self, err: BaseException) -> DamagedStateError:
        return DamagedStateError(
            f"cannot use the call cache {self.path}: {err}; run with --no-cache, or empty "
            "it with `evalkit cache clear`"
        )

    def key(self, identity: Mapping[str, Any]) -> str:
        """Returns the cache key of a request identity."""
        return request_key(identity)

    def get(self, key: str) -> dict[str, Any] | None:
        """Returns the stored result for ``key``, or None (also for an unreadable entry)."""
        try:
            row = self._db.execute("SELECT value FROM calls WHERE key = ?", (key,)).fetchone()
        except sqlite3.DatabaseError as err:
            raise self._unusable(err) from err
        if row is None:
            return None
        try:
            value = json.loads(row[0])
        except (TypeError, ValueError):
            return None  # a damaged entry costs a call, never a wrong answer
        return value if isinstance(value, dict) else None

    def put(self, key: str, value: Mapping[str, Any]) -> None:
        """Stores a successful result under ``key``."""
        text = json.dumps(value, ensure_ascii=False)
        try:
            self._db.execute(
                "INSERT OR REPLACE INTO calls (key, value, created) VALUES (?, ?, ?)",
                (key, text, time.time()),
            )
        except sqlite3.DatabaseError as err:
            raise self._unusable(err) from err

    def flush(self) -> None:
        """Makes every stored result visible to other processes (autocommit: a no-op)."""

    def info(self) -> dict[str, Any]:
        """Returns the cache's path, entry count, size on disk in bytes and set-aside copies."""
        (count,) = self._db.execute("SELECT COUNT(*) FROM calls").fetchone()
        files = [Path(f"{self.path}{suffix}") for suffix in ("", "-wal", "-shm")]
        size = sum(p.stat().st_size for p in files if p.is_file())
        damaged = sorted(str(p) for p in self.folder.glob(CACHE_FILE + DAMAGED_SUFFIX + "*"))
        return {"path": str(self.path), "entries": int(count), "bytes": size, "damaged": damaged}

    def clear(self) -> int:
        """Deletes every entry and any set-aside damaged copy; returns how many entries."""
        (count,) = self._db.execute("SELECT COUNT(*) FROM calls").fetchone()
        self._db.execute("DELETE FROM calls")
        self._db.execute("VACUUM")
        for copy in self.folder.glob(CACHE_FILE + DAMAGED_SUFFIX + "*"):
            _remove(copy)
        return int(count)

    def close(self) -> None:
        """Closes the database connection."""
        self._db.close()


def clear_cache(folder: str | Path) -> tuple[int | None, Path]:
    """Empties the cache in ``folder`` whatever state it is in; returns (entries, file).

    ``entries`` is None when the file was unreadable and was deleted instead of emptied.
    """
    path = Path(folder) / CACHE_FILE
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", EvalkitWarning)  # damaged: it goes anyway
            cache = Cache(folder)
    except DamagedStateError:
        for file in Path(folder).glob(CACHE_FILE + "*"):
            _remove(file)
        return None, path
    try:
        return cache.clear(), path
    except sqlite3.DatabaseError:
        cache.close()
        for file in Path(folder).glob(CACHE_FILE + "*"):
            _remove(file)
        return None, path
    finally:
        cache.close()


def _connect(path: Path) -> sqlite3.Connection:
    """Opens the cache database and checks it is one (raises sqlite3.DatabaseError)."""
    # isolation_level=None: autocommit; each put is its own small transaction.
    db = sqlite3.connect(path, timeout=30.0, isolation_level=None, check_same_thread=False)
    try:
        db.execute("PRAGMA journal_mode=WAL")
        # NORMAL in WAL mode: a commit survives a process crash (kill -9); only a power
        # loss may drop the last transactions, which costs a re-call, never a wrong answer.
        db.execute("PRAGMA synchronous=NORMAL")
        db.execute(_SCHEMA)
        try:
            db.execute("SELECT key, value, created FROM calls LIMIT 1").fetchall()
        except sqlite3.OperationalError as err:
            raise _NotACache(f"an SQLite file, but not an evalkit cache: {err}") from err
    except BaseException:
        db.close()
        raise
    return db


class _NotACache(sqlite3.DatabaseError):
    """The file is SQLite but has no ``calls`` table of the expected shape."""


def _is_damaged(err: sqlite3.DatabaseError) -> bool:
    if isinstance(err, _NotACache):
        return True
    code = getattr(err, "sqlite_errorcode", None)
    return code is not None and code & 0xFF in _DAMAGED_CODES


def _set_aside(path: Path) -> Path:
    """Renames a damaged cache file (and its WAL) out of the way; returns the new name."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    aside = path.with_name(f"{path.name}{DAMAGED_SUFFIX}{stamp}")
    for suffix in ("", "-wal"):
        # Gone already: another process set it aside first, or there was no WAL.
        with contextlib.suppress(FileNotFoundError):
            os.replace(f"{path}{suffix}", f"{aside}{suffix}")
    _remove(Path(f"{path}-shm"))  # shared-memory index: rebuilt by SQLite
    return aside


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)
