"""Suite configuration: the ``[tool.evalkit]`` tables, their validation and the suite check.

Modules whose names start with ``_`` are evalkit's implementation, not its API: import
from :mod:`evalkit` instead.
"""
