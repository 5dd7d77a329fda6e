"""Suite config: unknown keys and wrong types name the key and the file."""

from __future__ import annotations

from pathlib import Path

import pytest

from evalkit.config._suite import load_config
from evalkit.errors import ConfigError, NotFoundError


def write(tmp_path: Path, text: str, name: str = "pyproject.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


GOOD = """
[project]
name = "demo"

[tool.evalkit]
store = "runs"

[tool.evalkit.suites.qa]
golden = "golden/qa.jsonl"
samples = 3
metrics = ["exact", { name = "f1", scorer = "token_f1", threshold = 0.5 }]

[tool.evalkit.suites.qa.sut]
model = "openai/gpt-4o-mini"
params = { temperature = 0.7 }

[tool.evalkit.suites.qa.gate]
margin = 0.02
policy = "non-inferiority"
"""


def test_pyproject_suite_is_read(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, GOOD))
    suite = config.suite("qa")
    assert suite.samples == 3
    assert [m.name for m in suite.metrics] == ["exact", "f1"]
    assert suite.metrics[1].scorer_name == "token_f1"
    assert suite.metrics[0].scorer_name == "exact"
    assert suite.gate.policy == "non-inferiority"
    assert suite.sut.params == {"temperature": 0.7}
    assert config.path(suite.golden) == tmp_path / "golden/qa.jsonl"
    assert suite.baseline_path == "golden/qa.baseline.jsonl"


def test_standalone_evalkit_toml(tmp_path: Path) -> None:
    path = write(tmp_path, '[suites.s]\ngolden = "s.jsonl"\n', name="evalkit.toml")
    assert list(load_config(path).suites) == ["s"]


def test_unknown_key_names_key_and_file(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD.replace("samples = 3", "samples = 3\nsampels = 4"))
    with pytest.raises(ConfigError) as info:
        load_config(path)
    (problem,) = info.value.problems
    assert str(problem).startswith(f"{path}:")
    assert "unknown key 'suites.qa.sampels'" in str(problem)
    assert problem.line == GOOD.splitlines().index("samples = 3") + 2


def test_wrong_type_names_key(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD.replace("samples = 3", 'samples = "three"'))
    with pytest.raises(ConfigError, match="suites.qa.samples"):
        load_config(path)


def test_unknown_nested_key_in_gate(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD.replace("margin = 0.02", "margni = 0.02"))
    with pytest.raises(ConfigError, match="suites.qa.gate.margni"):
        load_config(path)


def test_bad_policy_value(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD.replace('"non-inferiority"', '"strict"'))
    with pytest.raises(ConfigError, match="suites.qa.gate.policy"):
        load_config(path)


def test_missing_golden_is_reported(tmp_path: Path) -> None:
    path = write(tmp_path, "[tool.evalkit.suites.x]\nsamples = 1\n")
    with pytest.raises(ConfigError, match="missing required key 'suites.x.golden'"):
        load_config(path)


def test_bad_callable_spec(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD.replace('model = "openai/gpt-4o-mini"', 'callable = "nocolon"'))
    with pytest.raises(ConfigError, match="package.module:function"):
        load_config(path)


def test_invalid_toml(tmp_path: Path) -> None:
    path = write(tmp_path, "[tool.evalkit\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(path)


def test_unknown_suite_lists_known_ones(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, GOOD))
    with pytest.raises(NotFoundError, match="known suites: qa"):
        config.suite("nope")


def test_several_problems_reported_together(tmp_path: Path) -> None:
    text = GOOD.replace("samples = 3", "samples = 0\nfoo = 1").replace("store", "stor")
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, text))
    assert len(info.value.problems) == 3


def test_sut_fingerprint_ignores_retries_but_not_params(tmp_path: Path) -> None:
    from evalkit.config._suite import SUTConfig

    a = SUTConfig(model="m", params={"temperature": 0})
    assert (
        a.fingerprint()
        == SUTConfig(model="m", params={"temperature": 0}, max_retries=9).fingerprint()
    )
    assert a.fingerprint() != SUTConfig(model="m", params={"temperature": 1}).fingerprint()


def test_repository_config_is_valid() -> None:
    root = Path(__file__).resolve().parents[2]
    config = load_config(root / "pyproject.toml")
    assert {"qa", "support_rag", "extraction"} <= set(config.suites)
