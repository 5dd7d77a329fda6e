"""A small ``qa`` project (evalkit.toml, a golden set the fake server echoes) run by the CLI."""

from __future__ import annotations

import json
from pathlib import Path

from evalkit.cli import main

N_CASES = 12


def write_project(tmp_path: Path, url: str, *, n: int = N_CASES, gate: str = "") -> Path:
    """Writes qa.jsonl (answers the fake server echoes) and evalkit.toml; returns the config."""
    golden = tmp_path / "qa.jsonl"
    golden.write_text(
        "".join(
            json.dumps(
                {"id": f"c{i:02d}", "input": f"question {i}", "expected": f"echo: question {i}"}
            )
            + "\n"
            for i in range(n)
        )
    )
    config = tmp_path / "evalkit.toml"
    config.write_text(
        'store = "runs"\ncache_dir = "cache"\n[suites.qa]\ngolden = "qa.jsonl"\n'
        f'metrics = ["exact"]\n[suites.qa.sut]\nmodel = "openai/x"\napi_base = "{url}"\n{gate}'
    )
    return config


def run_qa(config: Path, *extra: str) -> int:
    """Runs ``evalkit run qa`` on ``config``; returns the exit status."""
    return main(["--config", str(config), "run", "qa", "--no-progress", *extra])


def stored_run(config: Path) -> Path:
    """Returns the folder of the one run stored under the project's ``runs``."""
    (folder,) = [p for p in (config.parent / "runs").iterdir() if not p.name.startswith("_")]
    return folder
