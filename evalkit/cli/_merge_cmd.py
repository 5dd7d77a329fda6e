"""``evalkit merge RUN...``: combine shard runs into one stored run (see ``execution/_merge``)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Adds the ``merge`` verb."""
    parser = sub.add_parser(
        "merge",
        help="combine shard runs into one run",
        description="Combine the runs of `--shard I/N` jobs (run ids, run folders) into one "
        "stored run: same suite, golden set, SUT and samples required, cases disjoint. "
        "Totals are summed and latency percentiles recomputed; compare or report the "
        "merged run as if it had run in one job.",
    )
    parser.add_argument("runs", nargs="+", metavar="RUN", help="a shard run: id or folder")
    parser.add_argument("--store", metavar="DIR", help="run store folder or fsspec URL")
    parser.add_argument(
        "--json", action="store_true", help="print the merged manifest as JSON on the last line"
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Loads the shard runs, merges and stores them; returns the exit status."""
    from evalkit.config._suite import find_config_file, load_config
    from evalkit.execution._merge import merge_runs
    from evalkit.store._runs import RunStore

    config = None
    if args.config or find_config_file(Path.cwd()) is not None:
        config = load_config(args.config)
    if args.store:
        root = args.store if "://" in args.store else str(Path(args.store).resolve())
    elif config is not None:
        root = config.store if "://" in config.store else str(config.path(config.store))
    else:
        root = ".evalkit/runs"
    store = RunStore(root)
    runs = [store.load_run(ref) for ref in args.runs]
    merged = merge_runs(runs, run_id=store.new_run_id(runs[0].manifest.suite))
    location = store.write_run(merged)
    manifest = merged.manifest
    if args.json:
        payload = json.loads(manifest.model_dump_json())
        payload["run_dir"] = location
        print(json.dumps(payload, sort_keys=True))
        return 0
    print(
        f"merged {len(runs)} runs into {manifest.run_id} ({manifest.status}): suite "
        f"{manifest.suite}, {manifest.n_cases} cases x {manifest.samples} sample(s), "
        f"{manifest.totals.calls} outputs"
    )
    for warning in manifest.extra.get("warnings", []):
        print(f"  warning: {warning}")
    print(f"  stored in {location}")
    return 0
