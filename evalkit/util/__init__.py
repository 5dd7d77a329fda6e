"""Small helpers shared across stages: atomic writes, Arrow tables, crash handling and
progress display.

Modules whose names start with ``_`` are evalkit's implementation, not its API.
"""
