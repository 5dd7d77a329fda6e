"""Benchmark: a 10,000-case comparison report: file size, Python render time, and the
time headless Chromium takes from navigation to an interactive per-case table.

    .venv/bin/python -m bench.bench_report [--cases 10000] [--repeat 3] [--out DIR]

Prints the numbers (median of ``--repeat``) and one JSON line; asserts nothing. Targets
(issue 8): file < 10 MB, interactive < 2 s.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from evalkit.report import render_report
from tests.support.synthetic_runs import synthetic_comparison, synthetic_runs


def browser_times(html: Path, repeat: int, cases: int) -> dict[str, float]:
    """Returns median ms: script ready (table rendered) and a search round trip."""
    from tests.support.browser import chromium, chromium_problem, console_errors, wait_ready

    problem = chromium_problem()
    if problem:
        raise SystemExit(f"bench_report: {problem}")
    query = "case-0999"
    expected = sum(query in f"case-{i:05d}" for i in range(cases))
    ready, parsed, loaded, search = [], [], [], []
    with chromium() as driver:
        for _ in range(repeat):
            driver.get("about:blank")
            driver.get(html.as_uri())
            ready.append(wait_ready(driver, timeout=60))
            parsed.append(
                float(
                    driver.execute_script(
                        "return performance.getEntriesByName('evalkit-parsed')[0].startTime"
                    )
                )
            )
            loaded.append(
                float(
                    driver.execute_script(
                        "var t = performance.getEntriesByType('navigation')[0];"
                        "return t.loadEventEnd;"
                    )
                )
            )
            search.append(
                float(
                    driver.execute_script(
                        """
                        var box = document.getElementById('case-search');
                        var t0 = performance.now();
                        var want = arguments[1];
                        box.value = arguments[0];
                        box.dispatchEvent(new Event('input'));
                        return new Promise(function (resolve) {
                          (function poll() {
                            if (document.getElementById('case-count').dataset.matching === want)
                              resolve(performance.now() - t0 - 120);  // minus the debounce
                            else setTimeout(poll, 5);
                          })();
                        });
                        """,
                        query,
                        str(expected),
                    )
                )
            )
            errors = console_errors(driver)
            if errors:
                raise SystemExit(f"bench_report: console errors: {errors[:3]}")
    return {
        "ready_ms": statistics.median(ready),
        "json_parsed_ms": statistics.median(parsed),
        "load_event_ms": statistics.median(loaded),
        "search_ms": statistics.median(search),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--out", type=Path, default=None, help="folder for the report")
    parser.add_argument("--no-browser", action="store_true")
    args = parser.parse_args()

    started = time.perf_counter()
    data = synthetic_runs(args.cases, seed=0)
    comparison = synthetic_comparison(data)
    setup_s = time.perf_counter() - started
    out = args.out or Path(tempfile.mkdtemp(prefix="evalkit-bench-"))
    render_s = []
    paths = None
    for _ in range(args.repeat):
        started = time.perf_counter()
        paths = render_report(
            data.candidate,
            baseline=data.baseline,
            comparison=comparison,
            golden=data.golden,
            output=out / "report.html",
        )
        render_s.append(time.perf_counter() - started)
    assert paths is not None
    size = paths.html.stat().st_size
    result: dict[str, object] = {
        "cases": args.cases,
        "metrics": len(comparison.overall()),
        "slices": len(comparison.metrics) - len(comparison.overall()),
        "size_mb": round(size / 1e6, 2),
        "render_s": round(statistics.median(render_s), 2),
        "synthetic_setup_s": round(setup_s, 2),
        "html": str(paths.html),
    }
    print(
        f"cases            {args.cases:,} ({result['metrics']} metrics, "
        f"{result['slices']} slice rows)"
    )
    print(f"file size        {size / 1e6:.2f} MB (target < 10 MB)")
    print(f"python render    {statistics.median(render_s):.2f} s (median of {args.repeat})")
    if not args.no_browser:
        times = browser_times(paths.html, args.repeat, args.cases)
        result.update({k: round(v) for k, v in times.items()})
        print(
            f"chromium ready   {times['ready_ms']:.0f} ms from navigation to the table painted "
            f"and idle (median of {args.repeat}; target < 2000 ms)"
        )
        print(
            f"  of which       {times['json_parsed_ms']:.0f} ms until the embedded JSON is parsed"
        )
        print(f"chromium load    {times['load_event_ms']:.0f} ms to the load event")
        print(f"search           {times['search_ms']:.0f} ms to filter {args.cases:,} cases")
    result["load_average_1m"] = round(os.getloadavg()[0], 2)
    print(f"machine          load average {result['load_average_1m']} on {os.cpu_count()} cores")
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
