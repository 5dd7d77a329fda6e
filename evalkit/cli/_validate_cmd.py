"""``evalkit validate PATH...``: check golden sets, labelled sets and config files."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from evalkit.errors import InvalidInputError, NotFoundError, Problem


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Adds the ``validate`` verb."""
    parser = sub.add_parser(
        "validate",
        help="check golden sets and config: every problem, as file:line",
        description="Check golden sets (.jsonl or a local HF dataset), config files "
        "(pyproject.toml, evalkit.toml) and labelled sets. Lists every problem as "
        "file:line: message and exits 2 if there is any. A config file is checked as "
        "`evalkit run` checks it before its first call: every suite's golden set, prompt "
        "templates rendered for every case, callable SUT, scorer names and params, judges "
        "and folders. With no PATH, checks the project config.",
    )
    parser.add_argument("paths", nargs="*", metavar="PATH")
    parser.set_defaults(handler=run)


def _check(path: Path) -> tuple[list[Problem], str]:
    from evalkit.config._check import suite_problems
    from evalkit.config._suite import load_config
    from evalkit.data._golden import load_golden_set

    try:
        if path.name in ("pyproject.toml", "evalkit.toml") or path.suffix == ".toml":
            config = load_config(path)
            problems: list[Problem] = []
            for suite in config.suites.values():
                # The checks `evalkit run` makes before its first call (one rule, one place).
                problems.extend(suite_problems(config, suite))
            return problems, f"{len(config.suites)} suite(s)"
        if path.name.endswith(".labels.jsonl"):
            from evalkit.judging._labelled_sets import load_labels

            labels = load_labels(path)
            return [], f"{len(labels)} labelled item(s)"
        golden_set = load_golden_set(path)
        return [], f"{len(golden_set)} case(s), {golden_set.fingerprint}"
    except InvalidInputError as err:
        return err.problems, ""
    except NotFoundError as err:
        return [Problem(str(path), None, str(err).split(": ", 1)[-1])], ""
    except (OSError, UnicodeError) as err:
        reason = err.strerror if isinstance(err, OSError) and err.strerror else str(err)
        return [Problem(str(path), None, f"cannot be read: {reason}")], ""


def run(args: argparse.Namespace) -> int:
    """Validates every path; prints each problem; returns 2 if any."""
    from evalkit.config._suite import find_config_file

    paths = [Path(p) for p in args.paths]
    if not paths:
        found = Path(args.config) if args.config else find_config_file(Path.cwd())
        if found is None:
            print("evalkit validate: no PATH given and no config file found", file=sys.stderr)
            return 2
        paths = [found]
    problems: list[Problem] = []
    for path in paths:
        found_problems, summary = _check(path)
        problems.extend(found_problems)
        if not found_problems:
            print(f"ok  {path}: {summary}")
    for problem in problems:
        print(problem, file=sys.stderr)
    if problems:
        print(f"{len(problems)} problem(s) found", file=sys.stderr)
        return 2
    return 0
