"""The run store: atomic writes, listing newest first, loading by id/folder/latest."""

from __future__ import annotations

import threading
from pathlib import Path

import pandas as pd
import pytest

from evalkit.errors import NotFoundError
from evalkit.records import Output, Run, RunManifest, ScoreRow, outputs_frame, scores_frame
from evalkit.store import RunStore, run_key


def _run(store: RunStore, suite: str = "qa", started: str = "2026-01-01T00:00:00+00:00") -> Run:
    manifest = RunManifest(
        run_id=store.new_run_id(suite),
        suite=suite,
        status="complete",
        golden_path="g.jsonl",
        golden_fingerprint="sha256:g",
        n_cases=2,
        sut_fingerprint="sha256:s",
        started_at=started,
        evalkit_version="0.1.0",
    )
    outputs = outputs_frame([Output("a", 0, "x"), Output("b", 0, None, error="boom")])
    scores = scores_frame(
        [
            ScoreRow("a", 0, "exact", 1.0, "binary"),
            ScoreRow("b", 0, "exact", None, "binary", error="no output"),
        ]
    )
    return Run(manifest, outputs, scores, groups={"a": "doc1"}, tags={"a": ["geo"], "b": []})


def test_written_run_loads_back_identically(tmp_path: Path) -> None:
    store = RunStore(tmp_path)
    run = _run(store)
    location = store.write_run(run)
    loaded = store.load_run(run.manifest.run_id)
    assert loaded.manifest == run.manifest
    assert loaded.location == location
    pd.testing.assert_frame_equal(loaded.outputs, run.outputs)
    pd.testing.assert_frame_equal(loaded.scores, run.scores)
    assert loaded.groups == {"a": "doc1"}
    assert loaded.tags == {"a": ["geo"], "b": []}
    assert store.load_run(location).manifest.run_id == run.manifest.run_id


def test_latest_and_latest_of_suite(tmp_path: Path) -> None:
    store = RunStore(tmp_path)
    old = _run(store, "qa", "2026-01-01T00:00:00+00:00")
    new = _run(store, "qa", "2026-01-02T00:00:00+00:00")
    other = _run(store, "rag", "2026-01-03T00:00:00+00:00")
    for run in (new, old, other):
        store.write_run(run)
    assert [m.run_id for m in store.list_runs()] == [
        other.manifest.run_id,
        new.manifest.run_id,
        old.manifest.run_id,
    ]
    assert store.load_run("latest").manifest.run_id == other.manifest.run_id
    assert store.load_run("latest:qa").manifest.run_id == new.manifest.run_id
    with pytest.raises(NotFoundError):
        store.load_run("latest:nope")


def test_a_failed_write_leaves_nothing_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = RunStore(tmp_path)
    run = _run(store)
    calls = {"n": 0}
    original = pd.DataFrame.to_parquet

    def flaky(self: pd.DataFrame, *args: object, **kwargs: object) -> None:
        calls["n"] += 1
        if calls["n"] == 2:
            raise OSError("disk full")
        original(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(pd.DataFrame, "to_parquet", flaky)
    with pytest.raises(OSError, match="disk full"):
        store.write_run(run)
    assert list(tmp_path.iterdir()) == []
    assert store.list_runs() == []


def test_a_folder_without_manifest_is_not_a_run(tmp_path: Path) -> None:
    store = RunStore(tmp_path)
    (tmp_path / "20260101T000000000Z-qa-abcdef").mkdir()
    assert store.list_runs() == []
    with pytest.raises(NotFoundError):
        store.load_run("20260101T000000000Z-qa-abcdef")


def test_run_ids_are_unique_and_sortable_under_concurrent_writers(tmp_path: Path) -> None:
    store = RunStore(tmp_path)
    ids: list[str] = []
    lock = threading.Lock()

    def make() -> None:
        made = [store.new_run_id("qa") for _ in range(500)]
        with lock:
            ids.extend(made)

    threads = [threading.Thread(target=make) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(ids)) == 2000
    first, later = store.new_run_id("qa"), None
    import time

    time.sleep(0.002)
    later = store.new_run_id("qa")
    assert first < later


def test_delete_run(tmp_path: Path) -> None:
    store = RunStore(tmp_path)
    run = _run(store)
    store.write_run(run)
    store.delete_run(run.manifest.run_id)
    assert store.list_runs() == []
    with pytest.raises(NotFoundError):
        store.delete_run(run.manifest.run_id)


def test_fsspec_memory_store_round_trip() -> None:
    store = RunStore("memory://evalkit-test-store")
    run = _run(store)
    store.write_run(run)
    assert [m.run_id for m in store.list_runs()] == [run.manifest.run_id]
    loaded = store.load_run(run.manifest.run_id)
    pd.testing.assert_frame_equal(loaded.outputs, run.outputs)
    store.delete_run(run.manifest.run_id)
    assert store.list_runs() == []


def test_run_key_changes_with_what_determines_the_run() -> None:
    base = dict(
        suite="qa",
        golden_fingerprint="g",
        sut_fingerprint="s",
        samples=1,
        shard=None,
        metrics=["a", "b"],
    )
    key = run_key(**base)  # type: ignore[arg-type]
    assert run_key(**{**base, "metrics": ["b", "a"]}) == key  # type: ignore[arg-type]
    for change in ({"samples": 2}, {"shard": "1/2"}, {"sut_fingerprint": "t"}):
        assert run_key(**{**base, **change}) != key  # type: ignore[arg-type]
