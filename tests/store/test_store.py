"""The run store: atomic writes, listing newest first, loading by id/folder/latest."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from evalkit.data._records import Output, Run, RunManifest, ScoreRow, outputs_frame, scores_frame
from evalkit.errors import NotFoundError
from evalkit.store._runs import RunStore, run_key


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
    import pyarrow.parquet as pq

    original = pq.write_table

    def flaky(*args: Any, **kwargs: Any) -> None:
        calls["n"] += 1
        if calls["n"] == 2:
            raise OSError("disk full")
        original(*args, **kwargs)

    monkeypatch.setattr(pq, "write_table", flaky)
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


def test_run_ids_made_in_the_same_millisecond_do_not_collide(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Parallel CI jobs can start runs in the same millisecond: the random suffix
    alone must keep their ids apart (24 random bits gave ~12 collisions here)."""
    import evalkit.store._runs as runs_module

    frozen = runs_module.datetime(2026, 12, 1, 23, 31, 10, 864000, tzinfo=runs_module.UTC)

    class FrozenClock(runs_module.datetime):
        @classmethod
        def now(cls, tz: Any = None) -> Any:
            return frozen

    monkeypatch.setattr(runs_module, "datetime", FrozenClock)
    store = RunStore(tmp_path)
    ids = [store.new_run_id("qa") for _ in range(20_000)]
    assert {run_id.split("-")[0] for run_id in ids} == {"20261201T233110864Z"}
    assert len(set(ids)) == len(ids)


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


def _rows() -> tuple[list[Output], list[ScoreRow]]:
    long_text = "ü" * 700_000  # 1.4 MB in UTF-8: longer than one JSON read block
    outputs = [
        Output("a", 0, "x", latency_s=0.25, prompt_tokens=3, completion_tokens=1, cached=True),
        Output("a", 1, long_text, contexts=("p1", 'quote " and \\ and \n'), attempts=2),
        Output("b", 0, None, error="boom", contexts=()),
        Output("c", 0, "<script>alert(1)</script>", finish_reason="stop", prompt="Q: c"),
    ]
    scores = [
        ScoreRow("a", 0, "exact", 1.0, "binary"),
        ScoreRow("a", 1, "exact", 0.0, "binary", rationale="wrong"),
        ScoreRow("b", 0, "exact", None, "binary", error="no output"),
        ScoreRow("c", 0, "f1", 0.123456789, "continuous", raw='{"x": 1}'),
    ]
    return outputs, scores


def _manifest(store: RunStore) -> RunManifest:
    return _run(store).manifest.model_copy(update={"run_id": store.new_run_id("qa")})


@pytest.mark.parametrize("empty_scores", [False, True])
def test_run_from_rows_is_stored_exactly_as_the_pandas_path_stores_it(
    tmp_path: Path, empty_scores: bool
) -> None:
    import pyarrow.parquet as pq

    store = RunStore(tmp_path)
    outputs, scores = _rows()
    if empty_scores:
        scores = []
    groups, tags = {"a": "doc1"}, {"a": ["geo", "x"], "b": [], "c": []}
    by_rows = Run.from_rows(_manifest(store), outputs, scores, groups=groups, tags=tags)
    by_frames = Run(
        _manifest(store), outputs_frame(outputs), scores_frame(scores), groups=groups, tags=tags
    )
    rows_dir = Path(store.write_run(by_rows))
    frames_dir = Path(store.write_run(by_frames))
    for name in ("outputs.parquet", "scores.parquet", "cases.parquet"):
        from_rows = pq.read_table(rows_dir / name)
        from_frames = pq.read_table(frames_dir / name).replace_schema_metadata(None)
        assert from_rows.schema == from_frames.schema, name
        assert from_rows.to_pylist() == from_frames.to_pylist(), name
    loaded_rows = store.load_run(by_rows.manifest.run_id)
    loaded_frames = store.load_run(by_frames.manifest.run_id)
    pd.testing.assert_frame_equal(loaded_rows.outputs, loaded_frames.outputs)
    pd.testing.assert_frame_equal(loaded_rows.scores, loaded_frames.scores)
    assert (loaded_rows.groups, loaded_rows.tags) == (loaded_frames.groups, loaded_frames.tags)
    assert loaded_rows.outputs["text"].tolist()[1] == outputs[1].text
    pd.testing.assert_frame_equal(by_rows.outputs, by_frames.outputs)
    pd.testing.assert_frame_equal(by_rows.scores, by_frames.scores)


def test_metric_means_skip_unscored_rows_from_rows_and_from_frames(tmp_path: Path) -> None:
    outputs, scores = _rows()
    manifest = _manifest(RunStore(tmp_path))
    expected = {"exact": (0.5, 2), "f1": (0.123456789, 1)}
    assert Run.from_rows(manifest, outputs, scores).metric_means() == expected
    assert Run(manifest, outputs_frame(outputs), scores_frame(scores)).metric_means() == expected
    only_unscored = [ScoreRow("a", 0, "judge", None, "binary", error="unparseable")]
    assert Run.from_rows(manifest, outputs, only_unscored).metric_means() == {"judge": (None, 0)}


def test_storing_a_run_made_from_rows_does_not_import_pandas(tmp_path: Path) -> None:
    """pandas costs ~0.45 s to import; `evalkit run` must store a run without it."""
    import subprocess
    import sys
    import textwrap

    script = textwrap.dedent(
        f"""
        import sys
        from evalkit.data._records import Output, Run, RunManifest, ScoreRow
        from evalkit.store._runs import RunStore
        store = RunStore({str(tmp_path)!r})
        manifest = RunManifest(run_id=store.new_run_id("qa"), suite="qa", golden_path="g",
            golden_fingerprint="g", n_cases=1, sut_fingerprint="s",
            started_at="2026-01-01T00:00:00+00:00", evalkit_version="0")
        run = Run.from_rows(manifest, [Output("a", 0, "x", contexts=("c",))],
            [ScoreRow("a", 0, "exact", 1.0, "binary")], tags={{"a": ["t"]}})
        store.write_run(run)
        assert run.metric_means() == {{"exact": (1.0, 1)}}
        print("pandas" in sys.modules)
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False"
    assert RunStore(tmp_path).load_run("latest").outputs["contexts"].tolist()[0].tolist() == ["c"]
