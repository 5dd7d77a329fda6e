"""Running a suite: generate outputs with the system under test, score them, merge shards,
and report progress.

Modules whose names start with ``_`` are evalkit's implementation, not its API: import
from :mod:`evalkit` instead.
"""
