"""Suite configuration: ``[tool.evalkit]`` in pyproject.toml, or a standalone evalkit.toml.

Example::

    [tool.evalkit]
    store = ".evalkit/runs"

    [tool.evalkit.suites.qa]
    golden = "golden_sets/qa.jsonl"
    metrics = ["exact_normalized", { name = "f1", scorer = "token_f1", threshold = 0.5 }]

    [tool.evalkit.suites.qa.sut]
    model = "embedded"            # the bundled Gemma 3 270M; or any LiteLLM model name
    mode = "text"                 # "text" completion (base models) or "chat"
    prompt = "golden_sets/prompts/qa.jinja"
    params = { temperature = 0.0, max_tokens = 24, stop = ["\\n"] }

    [tool.evalkit.suites.qa.gate]
    alpha = 0.05
    margin = 0.02

Unknown keys and wrong types are errors that name the key and the file. Relative paths
are resolved against the folder of the config file.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from evalkit._policy import JUDGE_MIN_ITEMS, JUDGE_MIN_KAPPA
from evalkit.errors import ConfigError, NotFoundError, Problem
from evalkit.util._fingerprint import fingerprint_json

EMBEDDED_MODEL = "embedded"

Correction = Literal["bh", "holm", "none"]
"""How p-values are adjusted across a comparison's metrics and slices."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SUTConfig(_Strict):
    """How to reach the system under test."""

    model: str = Field(
        default=EMBEDDED_MODEL,
        description='A LiteLLM model name, or "embedded" for the bundled Gemma 3 270M.',
    )
    mode: Literal["chat", "text"] = Field(
        default="chat", description='"chat" (messages) or "text" completion (base models).'
    )
    api_base: str | None = None
    callable: str | None = Field(
        default=None, description='A Python SUT "package.module:function" (sync or async).'
    )
    prompt: str | None = Field(default=None, description="A Jinja2 prompt template file.")
    system: str | None = Field(default=None, description="A system message for chat mode.")
    params: dict[str, Any] = Field(default_factory=dict)
    timeout: float = Field(default=60.0, gt=0, description="Seconds per attempt.")
    max_retries: int = Field(default=4, ge=0, le=20)
    rpm: int | None = Field(default=None, gt=0, description="Requests-per-minute limit.")
    outage_timeout: float = Field(
        default=60.0,
        gt=0,
        description="Seconds to probe an endpoint that worked and then failed every call "
        "(refused, 5xx, timeouts) before the run stops with exit 3.",
    )

    @field_validator("callable")
    @classmethod
    def _callable_has_colon(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"[\w.]+:[\w.]+", value):
            raise ValueError('must look like "package.module:function"')
        return value

    def fingerprint(self) -> str:
        """Returns a hash of what determines the SUT's answers (no secrets included)."""
        how_to_call = {"timeout", "max_retries", "rpm", "outage_timeout"}
        return fingerprint_json(self.model_dump(mode="json", exclude=how_to_call))


class MetricSpec(_Strict):
    """One metric of a suite: a registered scorer, its parameters and its thresholds."""

    name: str = Field(min_length=1)
    scorer: str | None = Field(default=None, description="Registered scorer; default: name.")
    params: dict[str, Any] = Field(default_factory=dict)
    threshold: float | None = Field(
        default=None, description="Per-case pass threshold (plugin case items)."
    )
    gate: bool = Field(default=True, description="False: reported but never fails the gate.")
    margin: float | None = Field(default=None, ge=0, description="Overrides the gate margin.")

    @property
    def scorer_name(self) -> str:
        """Returns the registered scorer this metric uses."""
        return self.scorer or self.name


class GateConfig(_Strict):
    """When a comparison with the baseline fails the build."""

    alpha: float = Field(default=0.05, gt=0, lt=1)
    margin: float = Field(default=0.0, ge=0, description="Non-inferiority margin.")
    policy: Literal["regression", "non-inferiority"] = Field(
        default="regression",
        description='"regression": fail on a significant drop; "non-inferiority": fail '
        "unless the candidate is shown no worse than baseline minus margin.",
    )
    correction: Correction = "bh"
    max_unscored_share: float = Field(default=0.1, ge=0, le=1)
    fail_on_critical: bool = True
    judge_min_n: int = Field(default=JUDGE_MIN_ITEMS, ge=0)
    judge_min_kappa: float = Field(default=JUDGE_MIN_KAPPA, ge=-1, le=1)
    bootstrap: int = Field(default=2000, ge=100)
    seed: int = 0
    mde_correlation: float = Field(
        default=0.5,
        ge=0,
        lt=1,
        description="Assumed correlation between a case's baseline and candidate scores, "
        "used by the design-time MDE (docs/sizing.md): lower for a candidate that may "
        "change many answers, higher for a small edit.",
    )


class SuiteConfig(_Strict):
    """One suite: a golden set, the SUT, its metrics and its gate."""

    name: str
    golden: str
    baseline: str | None = Field(
        default=None, description="Committed baseline file; default <golden>.baseline.jsonl."
    )
    sut: SUTConfig = Field(default_factory=SUTConfig)
    metrics: list[MetricSpec] = Field(default_factory=list)
    samples: int = Field(default=1, ge=1, le=1000)
    concurrency: int = Field(default=8, ge=1, le=1024)
    gate: GateConfig = Field(default_factory=GateConfig)
    judge: str | None = Field(default=None, description="Default judge for judge metrics.")
    description: str = ""

    @field_validator("metrics", mode="before")
    @classmethod
    def _metric_strings(cls, value: Any) -> Any:
        if isinstance(value, list):
            return [{"name": item} if isinstance(item, str) else item for item in value]
        return value

    @field_validator("metrics")
    @classmethod
    def _metric_names_unique(cls, value: list[MetricSpec]) -> list[MetricSpec]:
        # Scores are stored by metric name: a second metric of the same name would be
        # filed under the first one's.
        seen: set[str] = set()
        for spec in value:
            if spec.name in seen:
                raise ValueError(
                    f"two metrics are named {spec.name!r}; give each its own name (use "
                    "`scorer` to run the same scorer twice with different params)"
                )
            seen.add(spec.name)
        return value

    def with_changes(self, **changes: Any) -> SuiteConfig:
        """Returns a copy with ``changes`` applied and validated like the config file.

        ``sut`` may be a dict of SUT fields to change. Command-line overrides go through
        here, so ``--samples 0`` fails exactly as ``samples = 0`` does (ConfigError).
        """
        data = self.model_dump()
        sut_changes = changes.pop("sut", None) or {}
        data["sut"] = {**data["sut"], **sut_changes}
        data.update(changes)
        try:
            return SuiteConfig.model_validate(data)
        except ValidationError as err:
            raise ConfigError(_problems_from(err, "command line", "", "")) from err

    @property
    def baseline_path(self) -> str:
        """Returns where the suite's committed baseline lives."""
        if self.baseline:
            return self.baseline
        golden = Path(self.golden)
        return str(golden.with_name(golden.stem + ".baseline.jsonl"))


class ProjectConfig(_Strict):
    """Everything under ``[tool.evalkit]``."""

    source: str = Field(default="", description="The file this config was read from.")
    root: str = Field(default=".", description="Folder that relative paths start from.")
    store: str = ".evalkit/runs"
    cache_dir: str = ".evalkit/cache"
    report_dir: str = "reports"
    judges_dir: str = "judges"
    suites: dict[str, SuiteConfig] = Field(default_factory=dict)

    def suite(self, name: str) -> SuiteConfig:
        """Returns the named suite, or raises NotFoundError listing the known ones."""
        if name not in self.suites:
            known = ", ".join(sorted(self.suites)) or "none"
            raise NotFoundError(f"no suite named {name!r} in {self.source}; known suites: {known}")
        return self.suites[name]

    def path(self, relative: str) -> Path:
        """Returns ``relative`` resolved against the config's folder (URLs unchanged)."""
        if "://" in relative:
            return Path(relative)
        candidate = Path(relative)
        return candidate if candidate.is_absolute() else Path(self.root) / candidate


def _line_of(text: str, key: str) -> int | None:
    """Returns the first line that assigns ``key`` (best effort; TOML gives no positions)."""
    pattern = re.compile(rf"^\s*(\"?{re.escape(key)}\"?)\s*=|[{{,]\s*{re.escape(key)}\s*=", re.M)
    match = pattern.search(text)
    return text.count("\n", 0, match.start()) + 1 if match else None


def _problems_from(error: ValidationError, source: str, text: str, prefix: str) -> list[Problem]:
    problems = []
    for item in error.errors():
        loc = [str(part) for part in item["loc"]]
        dotted = ".".join([prefix, *loc]) if prefix else ".".join(loc)
        key = loc[-1] if loc else prefix
        if item["type"] == "extra_forbidden":
            message = f"unknown key {dotted!r}; remove it or check its spelling"
        elif item["type"] == "missing":
            message = f"missing required key {dotted!r}"
        else:
            shown = repr(item.get("input"))
            shown = shown if len(shown) <= 80 else shown[:77] + "..."
            reason = item["msg"].removeprefix("Value error, ")
            message = f"{dotted}: {reason} (got {shown})"
        problems.append(Problem(source, _line_of(text, key), message))
    return problems


def parse_config(data: dict[str, Any], *, source: str, text: str = "") -> ProjectConfig:
    """Returns the ProjectConfig for ``data`` (the ``[tool.evalkit]`` table)."""
    root = str(Path(source).parent) if source else "."
    suites_raw = data.get("suites", {})
    problems: list[Problem] = []
    if not isinstance(suites_raw, dict):
        raise ConfigError([Problem(source, _line_of(text, "suites"), "'suites' must be a table")])
    suites: dict[str, Any] = {}
    for name, raw in suites_raw.items():
        if not isinstance(raw, dict):
            problems.append(Problem(source, None, f"suites.{name} must be a table"))
            continue
        try:
            suites[name] = SuiteConfig.model_validate({"name": name, **raw})
        except ValidationError as err:
            problems.extend(_problems_from(err, source, text, f"suites.{name}"))
    top = {k: v for k, v in data.items() if k != "suites"}
    try:
        config = ProjectConfig.model_validate({"source": source, "root": root, **top})
    except ValidationError as err:
        problems.extend(_problems_from(err, source, text, ""))
        config = None
    if problems or config is None:
        raise ConfigError(problems)
    return config.model_copy(update={"suites": suites})


def load_config(path: str | Path | None = None) -> ProjectConfig:
    """Returns the project config: ``path``, else the nearest evalkit.toml or pyproject.toml.

    A pyproject.toml without ``[tool.evalkit]`` gives an empty config (no suites).
    """
    file = Path(path) if path else find_config_file(Path.cwd())
    if file is None:
        return ProjectConfig(source="(no config file)", root=str(Path.cwd()))
    if not file.exists():
        raise NotFoundError(f"{file}: no such config file")
    if file.is_dir():
        raise ConfigError([Problem(str(file), None, "is a folder, not a config file")])
    try:
        text = file.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise ConfigError(
            [Problem(str(file), None, f"not a text file (not UTF-8 at byte {err.start})")]
        ) from err
    except OSError as err:
        raise ConfigError([Problem(str(file), None, f"cannot read: {err.strerror}")]) from err
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise ConfigError([Problem(str(file), None, f"not valid TOML: {err}")]) from err
    if file.name == "pyproject.toml":
        table = document.get("tool", {}).get("evalkit", {})
    else:
        table = document.get("tool", {}).get("evalkit", document)
    if not isinstance(table, dict):
        raise ConfigError([Problem(str(file), None, "[tool.evalkit] must be a table")])
    return parse_config(table, source=str(file), text=text)


def find_config_file(start: Path) -> Path | None:
    """Returns the nearest evalkit.toml or pyproject.toml with [tool.evalkit], walking up."""
    for folder in [start, *start.parents]:
        standalone = folder / "evalkit.toml"
        if standalone.exists():
            return standalone
        pyproject = folder / "pyproject.toml"
        if pyproject.is_file() and "tool.evalkit" in _read_loosely(pyproject):
            return pyproject
    return None


def _read_loosely(path: Path) -> str:
    """Returns a file's text for a quick look (undecodable bytes replaced; '' if unreadable)."""
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
