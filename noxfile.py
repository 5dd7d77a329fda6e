"""nox sessions: tests, lint, typecheck, demo, bench.

The sessions run in the project's .venv (made by scripts/bootstrap), so the heavy
dependencies (torch, llama.cpp) install once:  ``scripts/test`` runs
``nox --no-venv -s lint typecheck tests``.
"""

from __future__ import annotations

import nox

nox.options.default_venv_backend = "none"
nox.options.sessions = ["lint", "typecheck", "tests"]


@nox.session
def tests(session: nox.Session) -> None:
    """Runs the test suite; 'no tests collected' (pytest exit 5) fails the session."""
    args = session.posargs or ["-n", "2", "--dist", "loadgroup"]
    session.run("python", "-m", "pytest", *args, success_codes=[0])


@nox.session
def lint(session: nox.Session) -> None:
    """ruff: lint and format check."""
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session
def typecheck(session: nox.Session) -> None:
    """mypy (strict) on the library."""
    session.run("mypy", "evalkit")


@nox.session
def demo(session: nox.Session) -> None:
    """The example suites end to end on the embedded model."""
    session.run("evalkit", "demo", *session.posargs)


@nox.session
def bench(session: nox.Session) -> None:
    """The benchmarks under bench/ (numbers printed; nothing asserted on time)."""
    import pathlib

    for script in sorted(pathlib.Path("bench").glob("bench_*.py")):
        session.run("python", "-m", f"bench.{script.stem}", *session.posargs)
