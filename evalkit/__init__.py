"""evalkit: evaluation and regression testing for LLM systems.

Golden sets in JSONL, a system under test reached through LiteLLM, scorers, paired
significance tests against a stored baseline, and a single-file HTML report.

Importing evalkit changes nothing in the process (no environment variable, logging or
warning setting): see :mod:`evalkit.models._offline` for what is set, and when.
"""

from __future__ import annotations

__version__ = "0.1.0"

from evalkit.errors import (
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
