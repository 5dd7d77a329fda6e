"""``evalkit label``: draw a labelling sheet from a run, or import people's answers."""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Adds the ``label`` verb."""
    parser = sub.add_parser(
        "label",
        help="draw a random sheet of a run's outputs for people to label, or import answers",
        description="`evalkit label RUN --n 50` draws 50 of the run's scored outputs for a "
        "judge metric at random and writes sheet.csv, an offline sheet.html form and "
        "sheet.json. `evalkit label --import FILE` reads the answers back (CSV or JSON), "
        "validates them and stores them with the run (human_labels.jsonl), so the run's "
        "judge metric gets a prediction-powered CI.",
    )
    parser.add_argument(
        "run_ref",
        nargs="?",
        metavar="RUN",
        help="a run id, run folder, 'latest' or 'latest:<suite>' (with --import: default "
        "the run named in the answers)",
    )
    parser.add_argument("--n", type=int, default=50, metavar="N", help="outputs to draw (50)")
    parser.add_argument("--seed", type=int, default=0, metavar="S", help="the draw's seed (0)")
    parser.add_argument("--metric", metavar="NAME", help="the judge metric (default: the only one)")
    parser.add_argument(
        "-o", "--output", metavar="DIR", help="sheet folder (default reports/labels/RUN-METRIC)"
    )
    parser.add_argument("--store", metavar="DIR", help="run store folder")
    parser.add_argument(
        "--import", dest="import_file", metavar="FILE", help="import answers (CSV or JSON)"
    )
    parser.add_argument("--rater", metavar="NAME", help="rater id for answers without one")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Writes a sheet or imports answers; returns the exit status."""
    from evalkit.config._suite import load_config
    from evalkit.errors import UserInputError
    from evalkit.store._runs import RunStore

    project = load_config(args.config)
    store = RunStore(args.store or str(project.path(project.store)))
    if args.import_file:
        return _import(args, store)
    if not args.run_ref:
        raise UserInputError("give a RUN to draw a sheet from, or --import FILE")
    from evalkit.judging._labelling_sheet import draw_sheet, write_sheet

    loaded = store.load_run(args.run_ref)
    golden = project.path(loaded.manifest.golden_path)
    sheet = draw_sheet(loaded, n=args.n, metric=args.metric, seed=args.seed, golden_path=golden)
    folder = (
        Path(args.output)
        if args.output
        else project.path(project.report_dir) / "labels" / f"{sheet.run_id}-{sheet.metric}"
    )
    paths = write_sheet(sheet, folder)
    if args.json:
        print(
            json.dumps(
                {
                    "run_id": sheet.run_id,
                    "metric": sheet.metric,
                    "n": len(sheet.items),
                    "n_population": sheet.n_population,
                    "seed": sheet.seed,
                    "files": [str(p) for p in paths],
                },
                sort_keys=True,
            )
        )
        return 0
    print(
        f"drew {len(sheet.items)} of {sheet.n_population} scored {sheet.metric!r} outputs of "
        f"run {sheet.run_id} (seed {sheet.seed}); labels: {', '.join(map(str, sheet.labels))}"
    )
    for path in paths:
        print(f"  {path}")
    print(f"fill sheet.csv or open sheet.html, then: evalkit label --import FILE {sheet.run_id}")
    return 0


def _import(args: argparse.Namespace, store: object) -> int:
    from evalkit.errors import UserInputError
    from evalkit.judging._labelling_sheet import read_answers, store_human_labels, validate_answers
    from evalkit.store._runs import RunStore

    assert isinstance(store, RunStore)
    answers = read_answers(args.import_file)
    if not answers:
        raise UserInputError(f"{args.import_file}: no answers in the file")
    ref = args.run_ref
    if ref is None:
        named = {a.run_id for a in answers if a.run_id}
        if len(named) != 1:
            raise UserInputError(
                f"{args.import_file}: name the run (the file names {len(named)} runs)"
            )
        ref = named.pop()
    loaded = store.load_run(ref)
    metric, labels, unanswered = validate_answers(
        answers, loaded, str(args.import_file), metric=args.metric, rater=args.rater
    )
    if not labels:
        raise UserInputError(f"{args.import_file}: every label is blank; nothing to import")
    path = store_human_labels(loaded, labels)
    if args.json:
        print(
            json.dumps(
                {
                    "run_id": loaded.manifest.run_id,
                    "metric": metric,
                    "imported": len(labels),
                    "unanswered": unanswered,
                    "path": str(path),
                },
                sort_keys=True,
            )
        )
        return 0
    print(f"imported {len(labels)} label(s) for {metric!r} into {path}")
    if unanswered:
        print(
            f"warning: {unanswered} item(s) of the sheet are unlabelled; the prediction-powered "
            "CI assumes the labelled outputs are a random sample, so label them all"
        )
    return 0
