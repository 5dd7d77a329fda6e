"""Where runs live: the run store, pinned baselines, the nightly history and run references.

Modules whose names start with ``_`` are evalkit's implementation, not its API: import
from :mod:`evalkit` instead.
"""
