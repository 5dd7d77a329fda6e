"""Simulated nights: a fake clock, a small project and scripted answers of the fake server."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tests.support.fakeserver import FakeOpenAIServer

START = datetime(2026, 3, 1, 2, 0, tzinfo=UTC)


@dataclass
class FakeClock:
    """A clock for simulated nights: ``now()`` is 02:00 UTC on day ``day``."""

    day: int = 0

    def __call__(self) -> datetime:
        return START + timedelta(days=self.day)


def write_project(tmp_path: Path, url: str, n_cases: int = 40, *, max_retries: int = 0) -> Path:
    """Writes evalkit.toml and a golden set of ``n_cases`` questions; returns the config."""
    golden = tmp_path / "qa.jsonl"
    golden.write_text(
        "".join(
            json.dumps({"id": f"q{i:03d}", "input": f"question {i}?", "expected": f"answer{i}"})
            + "\n"
            for i in range(n_cases)
        )
    )
    config = tmp_path / "evalkit.toml"
    config.write_text(
        'store = "runs"\ncache_dir = "cache"\nreport_dir = "reports"\n'
        '[suites.qa]\ngolden = "qa.jsonl"\nmetrics = ["exact"]\n'
        f'[suites.qa.sut]\nmodel = "openai/x"\napi_base = "{url}"\nmax_retries = {max_retries}\n'
        "timeout = 5\n"
    )
    return config


def script_answers(server: FakeOpenAIServer, n_cases: int, wrong: Iterable[int]) -> None:
    """Makes the fake server answer every question right except those in ``wrong``."""
    bad = set(wrong)
    rules = [
        {"match": f"question {i}?", "reply": f"wrong{i}" if i in bad else f"answer{i}"}
        for i in range(n_cases)
    ]
    server.configure(rules=rules)


N = 20
