"""Hostile strings (script and attribute injection) and the report data that carries them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from evalkit.data._records import Totals
from evalkit.store._history import CaseChange, DriftBrief, DriftRow, NightMetric, NightRecord
from tests.support.synthetic_runs import SyntheticData, synthetic_runs

SCRIPT_XSS = "</script><script>window.__pwned=1;document.title='pwned'</script>"
ATTR_XSS = '"><img src=x onerror="window.__pwned=2;document.title=\'pwned\'">'
TAG_XSS = "<b onmouseover=alert(1)>tag</b>"

START = datetime(2026, 3, 1, 2, 0, tzinfo=UTC)


def hostile_data(n_cases: int = 40, **options: Any) -> SyntheticData:
    """Returns synthetic runs with hostile strings in outputs, inputs, tags and rationales."""
    return synthetic_runs(
        n_cases,
        overrides={"case-00003": SCRIPT_XSS, "case-00004": ATTR_XSS},
        case_updates={
            "case-00005": {
                "input": {"question": SCRIPT_XSS},
                "expected": ATTR_XSS,
                "contexts": [SCRIPT_XSS + " \u2028 " + ATTR_XSS],
                "tags": ["billing", TAG_XSS],
            }
        },
        rationales={"case-00003": ATTR_XSS},
        **options,
    )


def nights(n: int = 12, *, suite: str = "qa") -> list[NightRecord]:
    """Returns ``n`` nights: a baseline update on night 4, a golden change on night 8,
    a failed night 6 with a hostile reason, a slow decline and a drift alarm at the end."""
    out = []
    for day in range(n):
        night_id = f"{(START + timedelta(days=day)):%Y%m%dT%H%M%S}Z-{suite}-{day:08x}"
        failed = day == 6
        mean = 0.9 - 0.01 * day
        out.append(
            NightRecord(
                night_id=night_id,
                suite=suite,
                night_at=(START + timedelta(days=day)).isoformat(),
                status="failed" if failed else ("alert" if day == n - 1 else "ok"),
                reason=f"SUT down {SCRIPT_XSS}" if failed else None,
                alerts=[f"exact: drift {ATTR_XSS}"] if day == n - 1 else [],
                run_id=None if failed else f"run-{day}",
                golden_fingerprint="g1" if day < 8 else "g2",
                baseline_digest="b1" if day < 4 else "b2",
                baseline_run_id="run-0" if day < 4 else "run-3",
                metrics=[]
                if failed
                else [
                    NightMetric(
                        name="exact",
                        kind="binary",
                        n=100,
                        mean=mean,
                        ci_low=mean - 0.05,
                        ci_high=mean + 0.05,
                    ),
                    NightMetric(name=f"f1{SCRIPT_XSS}", n=100, mean=0.5),
                ],
                totals=Totals(
                    calls=100,
                    prompt_tokens=1000 + day,
                    completion_tokens=200,
                    cost_usd=0.01 * (1 + day % 3),
                    latency_p50_s=0.2,
                    latency_p95_s=0.5 + 0.01 * day,
                ),
                report=None if failed else f"nights/{night_id}/regression/report.html",
                drift=DriftBrief(alarm=True, rows=[DriftRow(metric="exact", alarm=True)])
                if day == n - 1
                else None,
                changed=[
                    CaseChange(
                        case_id=f"case {ATTR_XSS}",
                        metric="exact",
                        pattern="PPFF",
                        flips=1,
                        now_failing=True,
                        since_night_id="x",
                    )
                ]
                if day == n - 1
                else [],
                flaky=[
                    CaseChange(
                        case_id="flappy", metric="exact", pattern="PFPF", flips=3, now_failing=True
                    )
                ]
                if day == n - 1
                else [],
            )
        )
    return out
