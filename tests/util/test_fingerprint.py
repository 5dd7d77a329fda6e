"""The one fingerprint helper, and the stored fingerprints it must keep producing.

Fingerprints are stored in run manifests, baselines, calibration records and cache keys:
a change of encoding would make every existing baseline look stale. The values below
were computed by the code before the helper existed (four separate hashing sites).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from evalkit.config._suite import SUTConfig
from evalkit.data._golden import GoldenCase, fingerprint_cases
from evalkit.judging._calibration import ScoreMapping, calibrated_fingerprint
from evalkit.judging._definitions import JudgeModel
from evalkit.judging._labelled_sets import parse_labels
from evalkit.nightly._night import _digest
from evalkit.util._fingerprint import fingerprint_bytes, fingerprint_json, fingerprint_lines


def test_fingerprints_keep_their_stored_values() -> None:
    sut = SUTConfig(model="openai/gpt-4o-mini", params={"temperature": 0})
    assert sut.fingerprint() == "sha256:d1d50d7eec314484"
    cases = [
        GoldenCase.model_validate({"id": "b", "input": "2+2?", "expected": "4"}),
        GoldenCase.model_validate(
            {"id": "a", "input": "Capital of France?", "expected": "Paris", "tags": ["geo"]}
        ),
    ]
    assert fingerprint_cases(cases) == "sha256:723789267befb040"
    assert fingerprint_cases(reversed(cases)) == "sha256:723789267befb040"
    labels = (
        b'{"id": "x1", "input": "q", "output": "a",'
        b' "labels": [{"rater": "ann", "value": "pass"}]}\n'
        b'{"id": "x2", "input": "q2", "output": "b",'
        b' "labels": [{"rater": "ann", "value": "fail"}]}\n'
    )
    assert parse_labels(labels, "labels.jsonl").fingerprint == "sha256:7a08bea68c698313"
    mapping = ScoreMapping(method="threshold", threshold=0.5, score="P(pass)")
    assert calibrated_fingerprint("sha256:0123456789abcdef", mapping) == "sha256:287a09cad0d709e8"
    assert JudgeModel(model="openai/gpt-4o-mini").fingerprint() == "sha256:f82cfe529e6df2ed"


def test_baseline_file_digest_is_the_sha256_of_its_bytes(tmp_path: Path) -> None:
    path = tmp_path / "baseline.parquet"
    path.write_bytes(b"baseline bytes\n")
    assert _digest(path) == "sha256:266495a9a02592fa"
    assert fingerprint_bytes(b"baseline bytes\n") == _digest(path)


def test_helper_encodings() -> None:
    data = {"b": [1, 2], "a": Path("x")}
    text = '{"a":"x","b":[1,2]}'
    assert fingerprint_json(data) == "sha256:" + hashlib.sha256(text.encode()).hexdigest()[:16]
    assert fingerprint_lines(["z", "y"]) == fingerprint_bytes(b"y\nz\n")
