"""The on-disk model-call cache: SQLite in WAL mode, keyed by a hash of the whole request.

SQLite in WAL mode is durable and safe with several processes (pytest-xdist workers,
parallel shards) reading and writing the same file. The key is the SHA-256 of the
canonical JSON of the request identity (:meth:`evalkit.llm.ModelRequest.cache_identity`:
model, api_base, mode, the full prompt or messages, every parameter and the sample index),
so repeated samples at temperature > 0 stay independent. Only successful answers are
stored: an error is never cached. Credentials are never part of a key or a value.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

CACHE_FILE = "calls.sqlite3"
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
        self.folder.mkdir(parents=True, exist_ok=True)
        self.path = self.folder / CACHE_FILE
        # isolation_level=None: autocommit; each put is its own small transaction.
        self._db = sqlite3.connect(
            self.path, timeout=30.0, isolation_level=None, check_same_thread=False
        )
        self._db.execute("PRAGMA journal_mode=WAL")
        # NORMAL in WAL mode: a commit survives a process crash (kill -9); only a power
        # loss may drop the last transactions, which costs a re-call, never a wrong answer.
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute(_SCHEMA)

    def key(self, identity: Mapping[str, Any]) -> str:
        """Returns the cache key of a request identity."""
        return request_key(identity)

    def get(self, key: str) -> dict[str, Any] | None:
        """Returns the stored result for ``key``, or None."""
        row = self._db.execute("SELECT value FROM calls WHERE key = ?", (key,)).fetchone()
        if row is None:
            return None
        value: dict[str, Any] = json.loads(row[0])
        return value

    def put(self, key: str, value: Mapping[str, Any]) -> None:
        """Stores a successful result under ``key``."""
        text = json.dumps(value, ensure_ascii=False)
        self._db.execute(
            "INSERT OR REPLACE INTO calls (key, value, created) VALUES (?, ?, ?)",
            (key, text, time.time()),
        )

    def flush(self) -> None:
        """Makes every stored result visible to other processes (autocommit: a no-op)."""

    def info(self) -> dict[str, Any]:
        """Returns the cache's path, entry count and size on disk in bytes."""
        (count,) = self._db.execute("SELECT COUNT(*) FROM calls").fetchone()
        size = sum(p.stat().st_size for p in self.folder.glob(CACHE_FILE + "*") if p.exists())
        return {"path": str(self.path), "entries": int(count), "bytes": size}

    def clear(self) -> int:
        """Deletes every entry; returns how many there were."""
        (count,) = self._db.execute("SELECT COUNT(*) FROM calls").fetchone()
        self._db.execute("DELETE FROM calls")
        self._db.execute("VACUUM")
        return int(count)

    def close(self) -> None:
        """Closes the database connection."""
        self._db.close()
