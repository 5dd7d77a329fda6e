"""Repo-level pytest configuration: evalkit's own tests live in tests/.

The example suites in golden_sets/ are registered in pyproject.toml [tool.evalkit];
the evalkit plugin only collects them when asked (``--evalkit-suite NAME``), so the
project's own test run stays fast. Nothing here sets the environment: evalkit sets the
offline defaults of a library itself, right before it first imports it
(evalkit.models._offline).
"""
