"""``evalkit init``: add evalkit to a project (see evalkit.cli._init_project)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Adds the ``init`` verb."""
    parser = sub.add_parser(
        "init",
        help="add evalkit to a project: its dependency, a suite, golden set, prompt, CI workflow",
        description="Add evalkit to a project. Records evalkit as a dependency the way the "
        "project declares its own: a [dependency-groups] group or a dev/eval extra in "
        "pyproject.toml, or a requirements file (requirements-dev.txt) when there is no "
        "[project] table; the requirement is the way this evalkit was installed (a wheel, "
        "git URL or folder) unless --requirement says otherwise. Then scaffolds a suite in "
        "[tool.evalkit] of pyproject.toml (appended; created when absent), a small golden "
        "set, a prompt template, pytest options that keep unrelated plugins from slowing "
        "every run, and a CI workflow (--ci) that installs the project, runs the gate and "
        "uploads the report. Nothing else in your files changes; existing files are kept "
        "unless you confirm (on a terminal) or pass --force; running it twice changes nothing.",
    )
    parser.add_argument("--suite", default="qa", metavar="NAME", help="suite name (qa)")
    parser.add_argument(
        "--model", default="embedded", metavar="M", help='the SUT\'s LiteLLM model ("embedded")'
    )
    parser.add_argument(
        "--ci",
        choices=("github", "gitlab", "none"),
        default="github",
        help="the CI workflow to write: .github/workflows/evalkit.yml (github, the default), "
        ".gitlab-ci.yml (gitlab) or none",
    )
    parser.add_argument(
        "--requirement",
        metavar="SPEC",
        help="how the project requires evalkit, e.g. "
        '"evalkit @ git+https://github.com/ORG/evalkit@v0.1.0" (default: the way this '
        "evalkit was installed)",
    )
    parser.add_argument("--dir", default=".", metavar="DIR", help="the project folder (.)")
    parser.add_argument("--force", action="store_true", help="overwrite existing files")
    parser.set_defaults(handler=run)


def _ask(path: Path) -> bool:
    answer = input(f"{path} exists; overwrite? [y/N] ")
    return answer.strip().lower() in ("y", "yes")


def run(args: argparse.Namespace) -> int:
    """Adds evalkit to the project and lists what it did; returns the exit status."""
    from evalkit.cli._init_project import scaffold

    root = Path(args.dir).resolve()
    confirm = _ask if sys.stdin.isatty() and not args.force else None
    actions = scaffold(
        root,
        suite=args.suite,
        model=args.model,
        ci=args.ci,
        requirement=args.requirement,
        force=args.force,
        confirm=confirm,
    )
    for action in actions:
        where = action.path.relative_to(root) if action.path.is_relative_to(root) else action.path
        note = f": {action.note}" if action.note else ""
        print(f"  {action.action:<11} {where}{note}")
    print(f"next: pytest --evalkit-suite {args.suite} --evalkit-update-baseline  (pins a baseline)")
    return 0
