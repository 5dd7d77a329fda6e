"""The ``evalkit`` command: one verb per stage, each a thin shell over the library.

Every verb lives in its own module ``evalkit.cli.<verb>`` exposing ``register(sub)``
(add its parser) and ``run(args) -> int``. Modules import heavy libraries inside
``run`` so ``evalkit --help`` stays fast.

Exit status everywhere: 0 success, 1 the gate failed, 2 a usage or input error (one or
two readable lines, no traceback), 3 an infrastructure failure.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import os
import sys
from collections.abc import Sequence
from types import ModuleType

import evalkit
from evalkit._offline import apply_cli_defaults
from evalkit.errors import EvalkitError, InfrastructureError, UserInputError

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
        name = f"evalkit.cli.{verb}_cmd"
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
        "--config",
        metavar="FILE",
        help="pyproject.toml or evalkit.toml to read (default: the nearest one found "
        "walking up from the current folder)",
    )
    sub = parser.add_subparsers(dest="verb", metavar="VERB", parser_class=_Parser)
    for _, module in _verb_modules():
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Runs the command line; returns the exit status."""
    apply_cli_defaults()  # evalkit's own process: its dependencies kept off the network
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "verb", None):
        parser.print_help()
        return 2
    debug = bool(os.environ.get("EVALKIT_DEBUG"))
    try:
        return int(args.handler(args))
    except UserInputError as err:
        if debug:
            raise
        print(f"evalkit {args.verb}: {err}", file=sys.stderr)
        return 2
    except InfrastructureError as err:
        if debug:
            raise
        print(f"evalkit {args.verb}: {err}", file=sys.stderr)
        return 3
    except EvalkitError as err:
        if debug:
            raise
        print(f"evalkit {args.verb}: {err}", file=sys.stderr)
        return err.exit_code
    except KeyboardInterrupt:
        print("evalkit: interrupted; run the same command again to resume", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
