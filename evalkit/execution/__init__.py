"""Running a suite: generate outputs with the system under test, score them, and merge
shards into one run.

Modules whose names start with ``_`` are evalkit's implementation, not its API: import
from :mod:`evalkit` instead.
"""
