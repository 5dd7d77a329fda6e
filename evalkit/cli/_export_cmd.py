"""``evalkit export``: write a golden set or a run's results as a HF ``datasets`` dataset."""

from __future__ import annotations

import argparse
from pathlib import Path

from evalkit.errors import UserInputError


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Adds the ``export`` verb."""
    parser = sub.add_parser(
        "export",
        help="write a golden set or a run's results as a datasets.Dataset on disk",
        description="Write a golden set (JSONL or dataset) or a stored run's results "
        "(one row per case, sample and metric) as a Hugging Face datasets.Dataset "
        "(save_to_disk folder, or Parquet with --parquet).",
    )
    what = parser.add_mutually_exclusive_group(required=True)
    what.add_argument("--golden", metavar="PATH", help="golden set to export")
    what.add_argument("--run", metavar="RUN", help="stored run id or run directory")
    parser.add_argument("-o", "--output", metavar="DIR", required=True, help="where to write")
    parser.add_argument("--parquet", action="store_true", help="write one Parquet file")
    parser.add_argument("--store", metavar="DIR", help="run store (default: from config)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Exports; prints the path written and the row count."""
    from evalkit.data._export import golden_to_dataset, run_to_dataset

    if args.golden:
        from evalkit.data._golden import load_golden_set

        dataset = golden_to_dataset(load_golden_set(args.golden))
    else:
        from evalkit.config._suite import load_config
        from evalkit.store._runs import RunStore

        project = load_config(args.config)
        store = RunStore(args.store or str(project.path(project.store)))
        dataset = run_to_dataset(store.load_run(args.run))
    out = Path(args.output)
    if out.exists() and any(out.iterdir()) if out.is_dir() else out.exists():
        raise UserInputError(f"{out} exists; choose a new output path")
    if args.parquet:
        out.parent.mkdir(parents=True, exist_ok=True)
        dataset.to_parquet(str(out))
    else:
        dataset.save_to_disk(str(out))
    print(f"wrote {len(dataset)} rows to {out}")
    return 0
