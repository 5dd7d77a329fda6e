"""Content fingerprints: ``"sha256:"`` and the first 16 hex digits of a SHA-256 digest.

One helper for every stored fingerprint (suite SUT config, judge definitions, golden
sets, labelled sets, baseline files, model-based scorers). The values are stored in run
manifests, baselines, calibration records and the call cache's keys, so the encoding
below must never change: a changed byte would make every stored baseline look stale.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from typing import Any

PREFIX = "sha256:"
_DIGITS = 16


def _short(digest: Any) -> str:
    return PREFIX + str(digest.hexdigest())[:_DIGITS]


def fingerprint_bytes(data: bytes) -> str:
    """Returns the fingerprint of raw bytes (e.g. a file's content)."""
    return _short(hashlib.sha256(data))


def fingerprint_json(data: Any) -> str:
    """Returns the fingerprint of JSON-able data: sorted keys, no spaces, ``str`` for the rest."""
    text = json.dumps(data, sort_keys=True, separators=(",", ":"), default=str)
    return fingerprint_bytes(text.encode("utf-8"))


def fingerprint_lines(texts: Iterable[str]) -> str:
    """Returns the fingerprint of a set of lines, independent of their order.

    The lines are sorted and each is hashed as UTF-8 followed by a newline (the golden
    set's and the labelled set's canonical JSON lines).
    """
    digest = hashlib.sha256()
    for text in sorted(texts):
        digest.update(text.encode("utf-8") + b"\n")
    return _short(digest)
