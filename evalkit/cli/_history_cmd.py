"""``evalkit history list|show|prune``: the nightly history kept in the store."""

from __future__ import annotations

import argparse
import json
import sys

from evalkit.errors import UserInputError
from evalkit.util._format import terminal_number


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Adds the ``history`` verb with its ``list``, ``show`` and ``prune`` actions."""
    parser = sub.add_parser(
        "history",
        help="list, show or prune the nightly history",
        description="The nightly history: one record per suite and night in the store "
        "(<store>/_history), written by `evalkit nightly`.",
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    listing = actions.add_parser("list", help="one line per night, oldest first")
    listing.add_argument("--suite", metavar="NAME", help="only this suite")
    show = actions.add_parser("show", help="one night in full")
    show.add_argument("night", metavar="NIGHT", help="night id, a unique prefix, or latest[:SUITE]")
    prune = actions.add_parser(
        "prune",
        help="delete old nights and their runs",
        description="Delete nights beyond the newest N per suite (--keep) and/or older "
        "than DAYS (--older-than), with their stored runs. The newest successful night "
        "of each suite is always kept.",
    )
    prune.add_argument("--keep", type=int, metavar="N", help="keep the newest N nights per suite")
    prune.add_argument(
        "--older-than", type=float, metavar="DAYS", help="delete nights older than DAYS"
    )
    prune.add_argument(
        "--keep-runs", action="store_true", help="delete only the records, keep the runs"
    )
    for sub_parser in (listing, show, prune):
        sub_parser.add_argument("--store", metavar="URL", help="store (default: from config)")
        sub_parser.add_argument("--json", action="store_true", help="print JSON")
        sub_parser.set_defaults(handler=run)


def _store(args: argparse.Namespace) -> str:
    if args.store:
        return str(args.store)
    from evalkit.config._suite import load_config

    project = load_config(args.config)
    return project.store if "://" in project.store else str(project.path(project.store))


def run(args: argparse.Namespace) -> int:
    """Runs ``history list``, ``show`` or ``prune``; returns the exit status."""
    from datetime import timedelta

    from evalkit.store._history import History

    history = History(_store(args))
    if args.action == "list":
        records = history.list(args.suite)
        if args.json:
            json.dump([r.model_dump(mode="json") for r in records], sys.stdout, indent=2)
            sys.stdout.write("\n")
            return 0
        for r in records:
            metrics = " ".join(f"{m.name}={terminal_number(m.mean)}" for m in r.metrics)
            detail = r.reason if r.status == "failed" else metrics
            flags = f" alerts={len(r.alerts)}" if r.alerts else ""
            print(f"{r.night_id}  {r.suite}  {r.status:<7} {detail}{flags}")
        for name in history.invalid:
            print(f"unreadable record: {name}", file=sys.stderr)
        if not records:
            print(f"no nights in {history.root}", file=sys.stderr)
        return 0
    if args.action == "show":
        record = history.get(args.night)
        if args.json:
            print(record.model_dump_json(indent=2))
            return 0
        from evalkit.nightly._night import exit_status, job_summary, summary_markdown

        print(summary_markdown(job_summary([record], exit_status([record]))), end="")
        return 0
    if args.keep is None and args.older_than is None:
        raise UserInputError("history prune: give --keep N and/or --older-than DAYS")
    if args.keep is not None and args.keep < 1:
        raise UserInputError("history prune: --keep must be at least 1")
    if args.older_than is not None and args.older_than < 0:
        raise UserInputError("history prune: --older-than must be 0 or more days")
    result = history.prune(
        keep=args.keep,
        older_than=timedelta(days=args.older_than) if args.older_than is not None else None,
        delete_runs=not args.keep_runs,
    )
    if args.json:
        print(json.dumps({"nights": result.nights, "runs": result.runs, "kept": result.kept}))
    else:
        print(f"pruned {len(result.nights)} night(s) and {len(result.runs)} run(s); "
              f"kept {result.kept}")  # fmt: skip
    return 0
