"""Environment defaults that keep evalkit's dependencies off the network, set only when needed.

evalkit runs on machines with no internet (CI runners, air-gapped clusters), and some of
its dependencies reach for the network on their own: litellm downloads its model price
map when it is imported, deepeval and ragas send usage telemetry. Each would hang or
retry for lack of a connection, so evalkit switches them off through the environment
variables those libraries read.

evalkit is also a guest in other projects: ``import evalkit`` and its pytest plugin
(without ``--evalkit-suite``) change nothing in the process. So the defaults are set

* by evalkit's own command line, all of :data:`CLI_DEFAULTS` at start
  (:func:`apply_cli_defaults`, called by ``evalkit.cli.main``);
* elsewhere (a pytest run of a suite, the ``evalkit`` fixture, library use), one library
  at a time, when evalkit is about to import and use it (:func:`prepare_import`): a run
  that calls a model sets litellm's default, a run with a deepeval or ragas metric sets
  that library's too, and a run that needs neither (say, a fully cached one) sets nothing.

Every default is set with ``os.environ.setdefault``: a value the user set wins. The
bundled MiniLM embeddings need no variable (they load from the installed package's
folder with ``local_files_only=True``, see :mod:`evalkit.models._embeddings`).
"""

from __future__ import annotations

import os

#: What each library needs before its first import (by top-level module name).
LIBRARY_DEFAULTS: dict[str, dict[str, str]] = {
    # Its price map from the package instead of a download at import time.
    "litellm": {"LITELLM_LOCAL_MODEL_COST_MAP": "True"},
    # No usage telemetry (read when a metric is measured).
    "deepeval": {"DEEPEVAL_TELEMETRY_OPT_OUT": "YES"},
    "ragas": {"RAGAS_DO_NOT_TRACK": "true"},
}

#: What the ``evalkit`` command sets at start: every library default, plus the Hugging
#: Face Hub kept offline (nothing evalkit loads comes from the Hub) and tokenizers'
#: thread pool off (else it warns when the process later starts a subprocess).
CLI_DEFAULTS: dict[str, str] = {
    **{name: value for group in LIBRARY_DEFAULTS.values() for name, value in group.items()},
    "HF_HUB_OFFLINE": "1",
    "TOKENIZERS_PARALLELISM": "false",
}


def prepare_import(library: str) -> None:
    """Sets the defaults ``library`` needs (those the user has not set); call before using it."""
    for name, value in LIBRARY_DEFAULTS.get(library, {}).items():
        os.environ.setdefault(name, value)


def apply_cli_defaults() -> None:
    """Sets every default of :data:`CLI_DEFAULTS` that the user has not set (CLI only)."""
    for name, value in CLI_DEFAULTS.items():
        os.environ.setdefault(name, value)
