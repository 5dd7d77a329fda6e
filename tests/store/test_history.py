"""The nightly history: atomic per-night records, listing, lookup, retention, parallel writers."""

from __future__ import annotations

import multiprocessing
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from evalkit.cli import main
from evalkit.data._records import Run, RunManifest, outputs_frame, scores_frame
from evalkit.errors import NotFoundError
from evalkit.store._history import History, NightRecord

START = datetime(2026, 3, 1, 2, 0, tzinfo=UTC)


def record(
    history: History, suite: str, day: int, status: str = "ok", **extra: object
) -> NightRecord:
    at = START + timedelta(days=day)
    night = NightRecord(
        night_id=history.new_night_id(suite, at),
        suite=suite,
        night_at=at.isoformat(),
        status=status,  # type: ignore[arg-type]
        run_id=extra.pop("run_id", f"run-{suite}-{day}") if status != "failed" else None,
        **extra,  # type: ignore[arg-type]
    )
    history.write(night)
    return night


def store_run(root: Path, run_id: str) -> None:
    from evalkit.store._runs import RunStore

    manifest = RunManifest(
        run_id=run_id, suite="qa", status="complete", golden_path="qa.jsonl",
        golden_fingerprint="g", n_cases=0, sut_fingerprint="s",
        started_at=START.isoformat(), evalkit_version="0",
    )  # fmt: skip
    RunStore(root).write_run(Run(manifest, outputs_frame([]), scores_frame([])))


def test_records_list_oldest_first_and_stay_invisible_to_the_run_listing(tmp_path: Path) -> None:
    from evalkit.store._runs import RunStore

    history = History(tmp_path)
    b = record(history, "qa", 2)
    a = record(history, "qa", 1)
    c = record(history, "rag", 3, status="failed", reason="SUT down")
    assert [r.night_id for r in history.list()] == [a.night_id, b.night_id, c.night_id]
    assert [r.night_id for r in history.list("qa")] == [a.night_id, b.night_id]
    assert history.list("rag")[0].reason == "SUT down"
    assert RunStore(tmp_path).list_runs() == []


def test_rewriting_a_record_replaces_it_and_leaves_no_temp_files(tmp_path: Path) -> None:
    history = History(tmp_path)
    night = record(history, "qa", 0, status="running")
    history.write(night.model_copy(update={"status": "alert", "alerts": ["exact: drift"]}))
    (only,) = history.list()
    assert only.status == "alert" and only.alerts == ["exact: drift"]
    assert [p.name for p in (tmp_path / "_history").iterdir()] == [f"{night.night_id}.json"]


def test_get_finds_by_id_prefix_and_latest(tmp_path: Path) -> None:
    history = History(tmp_path)
    first = record(history, "qa", 0)
    last = record(history, "qa", 1)
    assert history.get(first.night_id[:22]).night_id == first.night_id
    assert history.get("latest:qa").night_id == last.night_id
    with pytest.raises(NotFoundError):
        history.get("19990101")


def test_unreadable_record_is_reported_not_fatal(tmp_path: Path) -> None:
    history = History(tmp_path)
    good = record(history, "qa", 0)
    (tmp_path / "_history" / "broken.json").write_text("{not json")
    assert [r.night_id for r in history.list()] == [good.night_id]
    assert history.invalid == ["broken.json"]


def test_prune_by_count_keeps_the_newest_and_deletes_their_runs(tmp_path: Path) -> None:
    history = History(tmp_path)
    nights = []
    for day in range(5):
        store_run(tmp_path, f"run-{day}")
        nights.append(record(history, "qa", day, run_id=f"run-{day}"))
    result = history.prune(keep=2)
    assert sorted(result.nights) == sorted(n.night_id for n in nights[:3])
    assert sorted(result.runs) == ["run-0", "run-1", "run-2"]
    assert [r.night_id for r in history.list()] == [n.night_id for n in nights[3:]]
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("run-")) == [
        "run-3",
        "run-4",
    ]


def test_prune_by_age_always_keeps_the_latest_successful_night(tmp_path: Path) -> None:
    history = History(tmp_path)
    ok = record(history, "qa", 0)
    record(history, "qa", 1, status="failed", reason="down")
    recent = record(history, "qa", 9, status="failed", reason="down")
    result = history.prune(older_than=timedelta(days=5), now=lambda: START + timedelta(days=10))
    assert len(result.nights) == 1
    assert [r.night_id for r in history.list()] == [ok.night_id, recent.night_id]


def _writer(root: str, suite: str, count: int) -> None:
    history = History(root)
    for day in range(count):
        record(history, suite, day)
        history.list()  # readers run while others write


def test_parallel_writers_never_lose_or_corrupt_a_night(tmp_path: Path) -> None:
    context = multiprocessing.get_context("fork")  # fork: no re-import per worker
    workers = [
        context.Process(target=_writer, args=(str(tmp_path), f"s{i % 2}", 15)) for i in range(4)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
        assert worker.exitcode == 0
    history = History(tmp_path)
    records = history.list()
    assert len(records) == 60 and history.invalid == []
    assert len({r.night_id for r in records}) == 60
    assert not [p for p in (tmp_path / "_history").iterdir() if not p.name.endswith(".json")]


def test_history_on_an_fsspec_url(tmp_path: Path) -> None:
    url = "memory://evalkit-history-test"
    history = History(url)
    first = record(history, "qa", 0)
    history.write(first.model_copy(update={"status": "alert"}))
    record(history, "qa", 1, status="failed", reason="down")
    assert [r.status for r in history.list()] == ["alert", "failed"]
    assert history.prune(keep=1).nights == ()  # the failed one is newest; the alert is protected
    assert len(history.list()) == 2


def test_history_cli_lists_shows_and_prunes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    history = History(tmp_path)
    for day in range(3):
        record(history, "qa", day)
    failed = record(history, "qa", 3, status="failed", reason="SUT <down>")
    assert main(["history", "list", "--store", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert out.count("\n") == 4 and "SUT <down>" in out
    assert main(["history", "show", failed.night_id, "--store", str(tmp_path)]) == 0
    shown = capsys.readouterr().out
    assert "evalkit nightly: failed" in shown and "Could not run:** SUT &lt;down&gt;" in shown
    assert main(["history", "prune", "--store", str(tmp_path)]) == 2
    assert main(["history", "prune", "--keep", "2", "--store", str(tmp_path), "--json"]) == 0
    assert '"kept": 2' in capsys.readouterr().out
    assert len(history.list()) == 2
