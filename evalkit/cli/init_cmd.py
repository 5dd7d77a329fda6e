"""``evalkit init``: scaffold evalkit into a project (see evalkit.init_project)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Adds the ``init`` verb."""
    parser = sub.add_parser(
        "init",
        help="scaffold a suite, golden set, prompt, pytest options and CI workflow",
        description="Add evalkit to a project: a suite in [tool.evalkit] of pyproject.toml "
        "(appended; created when absent), a small golden set, a prompt template, pytest "
        "options that keep unrelated plugins from slowing every run, and a GitHub Actions "
        "workflow that runs the gate and uploads the report. Existing files are kept unless "
        "you confirm (on a terminal) or pass --force.",
    )
    parser.add_argument("--suite", default="qa", metavar="NAME", help="suite name (qa)")
    parser.add_argument(
        "--model", default="embedded", metavar="M", help='the SUT\'s LiteLLM model ("embedded")'
    )
    parser.add_argument("--dir", default=".", metavar="DIR", help="the project folder (.)")
    parser.add_argument("--force", action="store_true", help="overwrite existing files")
    parser.set_defaults(handler=run)


def _ask(path: Path) -> bool:
    answer = input(f"{path} exists; overwrite? [y/N] ")
    return answer.strip().lower() in ("y", "yes")


def run(args: argparse.Namespace) -> int:
    """Scaffolds the project and lists what it did; returns the exit status."""
    from evalkit.init_project import scaffold

    root = Path(args.dir).resolve()
    confirm = _ask if sys.stdin.isatty() and not args.force else None
    for action in scaffold(root, suite=args.suite, model=args.model, force=args.force,
                           confirm=confirm):  # fmt: skip
        where = action.path.relative_to(root) if action.path.is_relative_to(root) else action.path
        note = f": {action.note}" if action.note else ""
        print(f"  {action.action:<11} {where}{note}")
    print(f"next: pytest --evalkit-suite {args.suite} --evalkit-update-baseline  (pins a baseline)")
    return 0
