"""The ``evalkit`` command: one verb per stage, each a thin shell over the library.

Every verb lives in its own module ``evalkit.cli.<verb>`` exposing ``register(sub)``
(add its parser) and ``run(args) -> int``. Modules import heavy libraries inside
``run`` so ``evalkit --help`` stays fast.

Exit status everywhere: 0 success, 1 the gate failed (and nothing else), 2 a usage or
input error (one or two readable lines, no traceback), 3 an infrastructure failure,
damaged stored state, or an unexpected internal error. An internal error prints one
line saying what happened and where its full traceback was written; ``evalkit --debug
VERB ...`` (or ``EVALKIT_DEBUG=1``) prints the traceback instead.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import os
import sys
import traceback
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from types import ModuleType
from typing import Any, TextIO

import evalkit
from evalkit.errors import EvalkitWarning
from evalkit.models._offline import apply_cli_defaults
from evalkit.util._crash import (
    classify,
    internal_error_line,
    traceback_whereabouts,
    write_crash_report,
)

VERBS = [
    "validate",
    "run",
    "compare",
    "plan",
    "report",
    "baseline",
    "merge",
    "calibrate",
    "label",
    "nightly",
    "history",
    "demo",
    "init",
    "export",
    "cache",
]


def _verb_modules() -> list[tuple[str, ModuleType]]:
    modules = []
    for verb in VERBS:
        name = f"evalkit.cli._{verb}_cmd"
        if importlib.util.find_spec(name) is not None:
            modules.append((verb, importlib.import_module(name)))
    return modules


class _Parser(argparse.ArgumentParser):
    """argparse that exits 2 with one readable line (its default, made explicit)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        self.exit(2, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    """Returns the parser for every available verb."""
    parser = _Parser(
        prog="evalkit",
        description="Evaluate LLM systems against golden sets and gate releases on a "
        "paired comparison with a stored baseline.",
    )
    parser.add_argument("--version", action="version", version=f"evalkit {evalkit.__version__}")
    parser.add_argument(
        "--debug",
        action="store_true",
        help="print the full traceback of an unexpected error (also: EVALKIT_DEBUG=1)",
    )
    parser.add_argument(
        "--config",
        metavar="FILE",
        help="pyproject.toml or evalkit.toml to read (default: the nearest one found "
        "walking up from the current folder)",
    )
    sub = parser.add_subparsers(dest="verb", metavar="VERB", parser_class=_Parser)
    for _, module in _verb_modules():
        module.register(sub)
    return parser


@contextmanager
def _warnings_as_lines(prefix: str) -> Iterator[None]:
    """Shows evalkit's own warnings (a damaged cache set aside, a damaged run skipped) as
    one line each; other warnings are shown as before."""
    previous = warnings.showwarning

    def show(
        message: Warning | str,
        category: type[Warning],
        filename: str,
        lineno: int,
        file: TextIO | None = None,
        line: str | None = None,
    ) -> None:
        if issubclass(category, EvalkitWarning):
            print(f"{prefix}: warning: {message}", file=file or sys.stderr)
        else:
            previous(message, category, filename, lineno, file, line)

    warnings.showwarning = show
    try:
        yield
    finally:
        warnings.showwarning = previous


def main(argv: Sequence[str] | None = None) -> int:
    """Runs the command line; returns the exit status."""
    apply_cli_defaults()  # evalkit's own process: its dependencies kept off the network
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "verb", None):
        parser.print_help()
        return 2
    debug = bool(args.debug or os.environ.get("EVALKIT_DEBUG"))
    prefix = f"evalkit {args.verb}"
    try:
        with _warnings_as_lines(prefix):
            return int(args.handler(args))
    except KeyboardInterrupt:
        print("evalkit: interrupted; run the same command again to resume", file=sys.stderr)
        return 130
    except Exception as err:
        return _failed(err, prefix, debug=debug, argv=argv)


def _failed(err: Exception, prefix: str, *, debug: bool, argv: Sequence[str] | None) -> int:
    """Prints one line for ``err`` (the traceback too with --debug); returns 2 or 3."""
    known = classify(err)
    if debug:
        traceback.print_exception(err, file=sys.stderr)
    if known is not None:
        status, message = known
        print(f"{prefix}: {message}", file=sys.stderr)
        return status
    if debug:
        where = "its traceback is above"
    else:
        command: list[Any] = ["evalkit", *(argv if argv is not None else sys.argv[1:])]
        report = write_crash_report(err, [str(part) for part in command])
        where = traceback_whereabouts(report, debug_hint="`evalkit --debug VERB ...`")
    print(f"{prefix}: {internal_error_line(err, where)}", file=sys.stderr)
    return 3


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
