"""Running a Python callable as the SUT over a small in-memory golden set (no pytest needed)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from evalkit.config._suite import ProjectConfig, SuiteConfig, SUTConfig
from evalkit.data._golden import GoldenSet, parse_jsonl
from evalkit.data._records import Output
from evalkit.execution._runner import generate_outputs
from evalkit.models._cache import Cache
from evalkit.models._llm import ModelClient


def callable_golden(n: int, start: int = 0) -> GoldenSet:
    """Returns a golden set of ``n`` cases whose input is ``{"question": "q<i>"}``."""
    lines = [
        json.dumps({"id": f"c{i}", "input": {"question": f"q{i}"}}) for i in range(start, start + n)
    ]
    return parse_jsonl(("\n".join(lines) + "\n").encode(), "mem.jsonl")


def run_callable(
    target: str,
    golden: GoldenSet,
    journal: Path,
    *,
    cache: Cache | None = None,
    samples: int = 1,
    **sut: Any,
) -> tuple[list[Output], dict[str, dict[str, float]]]:
    """Returns the outputs of the callable SUT ``target`` over ``golden``, and call stats."""
    suite = SuiteConfig(
        name="t", golden="mem.jsonl", sut=SUTConfig.model_validate({"callable": target, **sut})
    )

    async def go() -> tuple[list[Output], dict[str, dict[str, float]]]:
        client = ModelClient(cache=cache, concurrency=4, backoff_base=0.01)
        outputs = await generate_outputs(
            suite,
            golden,
            project=ProjectConfig(),
            client=client,
            journal_path=journal,
            samples=samples,
            concurrency=4,
            progress=False,
        )
        await client.aclose()
        return outputs, client.stats()

    return asyncio.run(go())
