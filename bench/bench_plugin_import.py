"""Benchmark: what loading evalkit's pytest plugin adds to a pytest run with no suite selected.

Runs a one-test project with pytest five times with the plugin and five times with
``-p no:evalkit`` (alternating, so machine load hits both alike) and prints the medians and
their difference. Target (issue 7): the plugin adds under 0.5 s.

    .venv/bin/python -m bench.bench_plugin_import [--repeat 5]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PYPROJECT = """[tool.pytest.ini_options]
addopts = "-p no:deepeval -p no:langsmith_plugin -p no:cacheprovider"
asyncio_default_fixture_loop_scope = "function"

[tool.evalkit.suites.qa]
golden = "qa.jsonl"
"""


def _time(folder: Path, *extra: str) -> float:
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "pytest", "-q", *extra],
        cwd=folder,
        check=True,
        capture_output=True,
    )
    return time.perf_counter() - started


def main() -> None:
    """Prints the median pytest wall time with and without the plugin, and the difference."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        (folder / "pyproject.toml").write_text(PYPROJECT)
        (folder / "qa.jsonl").write_text('{"id": "a", "input": "x"}\n')
        (folder / "test_one.py").write_text("def test_one():\n    assert True\n")
        _time(folder)  # warm the file system cache
        with_plugin, without = [], []
        for _ in range(args.repeat):
            with_plugin.append(_time(folder))
            without.append(_time(folder, "-p", "no:evalkit"))
    on, off = statistics.median(with_plugin), statistics.median(without)
    print(f"pytest, one test, no suite selected (median of {args.repeat}):")
    print(f"  with evalkit plugin: {on:.3f} s")
    print(f"  -p no:evalkit:       {off:.3f} s")
    print(f"  added by the plugin: {on - off:+.3f} s (target < 0.5 s)")


if __name__ == "__main__":
    main()
