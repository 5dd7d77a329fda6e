"""Nightly regression runs: the run itself, its history, drift detection and alerts.

Modules whose names start with ``_`` are evalkit's implementation, not its API: import
from :mod:`evalkit` instead.
"""
