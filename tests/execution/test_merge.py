"""``evalkit merge``: shard runs combine into one run that compares like an unsharded run."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from evalkit.cli import main
from evalkit.comparison._compare import compare_runs
from evalkit.config._suite import load_config
from evalkit.data._records import Run
from evalkit.errors import UserInputError
from evalkit.execution._merge import merge_runs
from evalkit.execution._pipeline import run_suite
from evalkit.report import render_report
from tests.support.fakeserver import FakeOpenAIServer


def _project(tmp_path: Path, url: str) -> Path:
    cases = [
        {"id": f"c{i:02d}", "input": f"question c{i:02d}?", "expected": f"a{i}"} for i in range(24)
    ]
    (tmp_path / "qa.jsonl").write_text("".join(json.dumps(c) + "\n" for c in cases))
    config = tmp_path / "evalkit.toml"
    config.write_text(
        'store = "runs"\ncache_dir = "cache"\n[suites.qa]\ngolden = "qa.jsonl"\n'
        'metrics = [{ name = "exact", scorer = "exact_normalized" }, "token_f1"]\n'
        f'[suites.qa.sut]\nmodel = "openai/x"\napi_base = "{url}"\nmax_retries = 0\n'
        "[suites.qa.gate]\nbootstrap = 300\n"
    )
    return config


def _rules(wrong: set[int]) -> list[dict[str, str]]:
    return [
        {"match": f"question c{i:02d}?", "reply": "nope" if i in wrong else f"a{i}"}
        for i in range(24)
    ]


@pytest.fixture
def runs(
    tmp_path: Path, openai_server: FakeOpenAIServer, monkeypatch: pytest.MonkeyPatch
) -> tuple[Run, Run, list[Run]]:
    """Returns (baseline, unsharded candidate, the candidate's three shard runs)."""
    monkeypatch.setenv("OPENAI_API_KEY", "sk-dummy")
    project = load_config(_project(tmp_path, openai_server.url))
    suite = project.suite("qa")
    openai_server.configure(rules=_rules(set()))
    baseline = run_suite(project, suite, use_cache=False, progress=False)
    openai_server.configure(rules=_rules(set(range(3, 12))))
    whole = run_suite(project, suite, use_cache=False, progress=False)
    shards = [
        run_suite(project, suite, use_cache=False, progress=False, shard=(i, 3)) for i in (1, 2, 3)
    ]
    return baseline, whole, shards


def _without_ids(data: dict[str, object]) -> dict[str, object]:
    return {k: v for k, v in data.items() if "manifest" not in k and k != "candidate_id"}


def test_merged_shards_gate_and_report_like_the_unsharded_run(
    runs: tuple[Run, Run, list[Run]], tmp_path: Path
) -> None:
    baseline, whole, shards = runs
    merged = merge_runs(shards, run_id="merged")
    assert sorted(merged.outputs["case_id"]) == sorted(whole.outputs["case_id"])
    a = compare_runs(baseline, whole)
    b = compare_runs(baseline, merged)
    assert not a.gate.passed
    assert _without_ids(a.to_dict()) == _without_ids(b.to_dict())
    summaries = []
    for name, run in (("whole", whole), ("merged", merged)):
        paths = render_report(run, baseline=baseline, comparison=compare_runs(baseline, run),
                              output=tmp_path / name)  # fmt: skip
        summary = json.loads(paths.summary_json.read_text())
        summaries.append((summary["gate"], summary["metrics"]))
    assert summaries[0] == summaries[1]


def test_totals_are_summed_and_percentiles_recomputed(runs: tuple[Run, Run, list[Run]]) -> None:
    _, _, shards = runs
    merged = merge_runs(shards, run_id="merged")
    totals = merged.manifest.totals
    assert totals.calls == sum(s.manifest.totals.calls for s in shards) == 24
    assert totals.prompt_tokens == sum(s.manifest.totals.prompt_tokens for s in shards)
    latencies = merged.outputs["latency_s"].to_numpy()
    assert totals.latency_p50_s == pytest.approx(float(np.percentile(latencies, 50)))
    assert totals.latency_p95_s == pytest.approx(float(np.percentile(latencies, 95)))
    assert merged.manifest.status == "complete" and merged.manifest.shard is None


def test_overlapping_or_foreign_runs_are_refused(runs: tuple[Run, Run, list[Run]]) -> None:
    _, whole, shards = runs
    with pytest.raises(UserInputError, match="disjoint"):
        merge_runs([shards[0], whole], run_id="x")
    with pytest.raises(UserInputError, match="at least two"):
        merge_runs([shards[0]], run_id="x")
    partial = merge_runs(shards[:2], run_id="x")
    assert partial.manifest.status == "partial"
    assert "missing" in partial.manifest.extra["warnings"][0]


def test_merge_verb_stores_the_merged_run(
    runs: tuple[Run, Run, list[Run]], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, _, shards = runs
    config = str(tmp_path / "evalkit.toml")
    ids = [s.manifest.run_id for s in shards]
    assert main(["--config", config, "merge", *ids, "--json"]) == 0
    manifest = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert manifest["extra"]["merged_from"] == ids and manifest["n_cases"] == 24
    assert (Path(manifest["run_dir"]) / "manifest.json").is_file()
