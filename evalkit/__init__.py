"""evalkit: evaluation and regression testing for LLM systems.

Golden sets in JSONL, a system under test reached through LiteLLM, scorers, paired
significance tests against a stored baseline, and a single-file HTML report.
"""

from __future__ import annotations

from evalkit._offline import apply_offline_defaults

apply_offline_defaults()

__version__ = "0.1.0"

from evalkit.errors import (  # noqa: E402
    ConfigError,
    EvalkitError,
    GoldenSetError,
    InfrastructureError,
    ScoringError,
    SUTError,
    UserInputError,
)

__all__ = [
    "ConfigError",
    "EvalkitError",
    "GoldenSetError",
    "InfrastructureError",
    "SUTError",
    "ScoringError",
    "UserInputError",
    "__version__",
]
