"""Small helpers shared across stages: atomic writes, Arrow tables, crash handling, progress
display, fingerprints and how numbers are printed.

Modules whose names start with ``_`` are evalkit's implementation, not its API.
"""
