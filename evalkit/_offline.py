"""Environment defaults that keep evalkit's dependencies off the network.

evalkit runs on machines with no internet (CI runners, air-gapped clusters). Several
dependencies try to reach the network at import time or on first use: litellm downloads
its model price map, deepeval and ragas send telemetry, Hugging Face libraries look for
model updates. Each would hang or retry for lack of a connection. These defaults are set
with ``os.environ.setdefault`` before any of those libraries is imported, so a user who
sets a variable explicitly keeps their value.
"""

from __future__ import annotations

import os

OFFLINE_DEFAULTS: dict[str, str] = {
    # litellm: use the price map bundled in the package instead of downloading it.
    "LITELLM_LOCAL_MODEL_COST_MAP": "True",
    "LITELLM_TELEMETRY": "False",
    # deepeval: no telemetry, no update check, no Confident AI login prompt.
    "DEEPEVAL_TELEMETRY_OPT_OUT": "YES",
    "DEEPEVAL_UPDATE_WARNING_OPT_IN": "NO",
    "DEEPEVAL_GRPC_LOGGING": "NO",
    "ERROR_REPORTING": "NO",
    # ragas: no usage analytics.
    "RAGAS_DO_NOT_TRACK": "true",
    # Hugging Face: models come from installed packages, never from the hub.
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "HF_DATASETS_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "TOKENIZERS_PARALLELISM": "false",
    # LangChain (pulled in by ragas): no tracing to a hosted service.
    "LANGCHAIN_TRACING_V2": "false",
    "LANGSMITH_TRACING": "false",
    # posthog (used by some dependencies): disabled.
    "POSTHOG_DISABLED": "1",
    "ANONYMIZED_TELEMETRY": "False",
}


def apply_offline_defaults() -> None:
    """Sets every offline default that the user has not set already."""
    for name, value in OFFLINE_DEFAULTS.items():
        os.environ.setdefault(name, value)
