"""The release gate: what a comparison means for a suite (pass, fail, reasons), and the
assertions the pytest plugin makes.

Modules whose names start with ``_`` are evalkit's implementation, not its API: import
from :mod:`evalkit` instead.
"""
