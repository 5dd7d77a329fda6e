"""Data in and out: golden sets, run records (outputs and scores), score files from other
tools, JSONL reading and export.

Modules whose names start with ``_`` are evalkit's implementation, not its API: import
from :mod:`evalkit` instead.
"""
