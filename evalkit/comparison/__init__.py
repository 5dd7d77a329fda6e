"""Comparing a candidate run with its baseline: paired statistics, the comparison itself,
its data model, and sizing a golden set (MDE planning).

Modules whose names start with ``_`` are evalkit's implementation, not its API: import
from :mod:`evalkit` instead.
"""
