"""LLM-as-judge: judge definitions, people's labelled sets, agreement and calibration,
calibration runs and labelling sheets.

Modules whose names start with ``_`` are evalkit's implementation, not its API: import
from :mod:`evalkit` instead.
"""
