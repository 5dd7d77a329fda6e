"""The scorer registry: third-party scorers from the `evalkit.scorers` entry-point group."""

from __future__ import annotations

import asyncio
from importlib.metadata import EntryPoint
from typing import Any

import pytest

from evalkit.errors import NotFoundError
from evalkit.scorers import ScoreInput, case_scorer, create_scorer, scorer_names
from evalkit.scorers import _base as registry


def shouting(*, suffix: str = "!") -> Any:
    """A third-party scorer: 1 when the output is upper case and ends with ``suffix``."""

    def check(item: ScoreInput) -> float:
        return float(item.output.isupper() and item.output.endswith(suffix))

    return case_scorer("shouting", check, needs=registry.Needs())


@pytest.fixture
def plugin_entry_points(monkeypatch: pytest.MonkeyPatch) -> None:
    points = [
        EntryPoint("shouting", f"{__name__}:shouting", registry.ENTRY_POINT_GROUP),
        EntryPoint("broken", "no_such_module_xyz:factory", registry.ENTRY_POINT_GROUP),
        EntryPoint("exact", f"{__name__}:shouting", registry.ENTRY_POINT_GROUP),
    ]

    def fake_entry_points(*, group: str) -> list[EntryPoint]:
        return points if group == registry.ENTRY_POINT_GROUP else []

    scorer_names()  # the built-ins register first, as in any real process
    monkeypatch.setattr(registry, "entry_points", fake_entry_points)
    monkeypatch.setattr(registry, "_loaded", False)
    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))


def test_entry_point_scorers_are_found_by_name_with_params(plugin_entry_points: None) -> None:
    assert "shouting" in scorer_names()
    scorer = create_scorer("shouting", {"suffix": "?"})
    items = [ScoreInput("a", 0, "q", "WHY?"), ScoreInput("b", 0, "q", "why?")]
    assert [r.value for r in asyncio.run(scorer.score(items))] == [1.0, 0.0]


def test_a_plugin_cannot_shadow_a_builtin_and_a_broken_one_fails_when_used(
    plugin_entry_points: None,
) -> None:
    exact = create_scorer("exact")
    (result,) = asyncio.run(exact.score([ScoreInput("a", 0, "q", "x", expected="x")]))
    assert result.value == 1.0  # still evalkit's exact, not the plugin's
    assert "broken" in scorer_names()  # listed, so the user sees it exists
    with pytest.raises(NotFoundError, match="failed to load: ModuleNotFoundError"):
        create_scorer("broken")


def test_metric_name_overrides_the_scorer_name_in_errors() -> None:
    scorer = create_scorer("exact", {}, metric="answer_exact")
    (result,) = asyncio.run(scorer.score([ScoreInput("a", 0, "q", "x")]))
    assert result.value is None
    assert (result.error or "").startswith("answer_exact needs an 'expected'")
