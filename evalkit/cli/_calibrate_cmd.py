"""``evalkit calibrate JUDGE``: measure a judge's agreement with people and store it."""

from __future__ import annotations

import argparse
import json

from evalkit._policy import JUDGE_MIN_ITEMS, JUDGE_MIN_KAPPA


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Adds the ``calibrate`` verb."""
    parser = sub.add_parser(
        "calibrate",
        help="run a judge over its human-labelled set; fit its verdicts; store its agreement",
        description="Run the judge judges/JUDGE.toml over its labelled set "
        "(judges/JUDGE.labels.jsonl, or the judge's `labels` key) through the call cache. "
        "For a pass/fail judge, fit the mapping from its score (P(pass) from token "
        "log-probabilities, a similarity judge's cosine, else the sampled verdict) to a "
        "verdict, and measure agreement out of fold (K-fold cross-fitting). Compare the "
        "verdicts with people's labels (accuracy, Cohen's kappa, Krippendorff's alpha, "
        "Spearman, bias, confusion matrix, sensitivity/specificity or flip rate, each with "
        "a bootstrap CI), store judges/JUDGE.calibration.json (the figures, the mapping, "
        "tied to the judge's fingerprint), and say whether the judge may gate "
        "(calibrated) or is advisory (uncalibrated).",
    )
    parser.add_argument("judge", metavar="JUDGE", help="a judge name in judges/, or its .toml")
    parser.add_argument(
        "--labels",
        metavar="PATH",
        help="the labelled set (default: the judge's `labels` key, else judges/JUDGE.labels.jsonl)",
    )
    parser.add_argument("--json", action="store_true", help="print the record as JSON")
    parser.add_argument("--no-cache", action="store_true", help="do not read or write the cache")
    parser.add_argument(
        "--concurrency", type=int, default=4, metavar="N", help="judge calls in flight (4)"
    )
    parser.add_argument(
        "--bootstrap", type=int, default=2000, metavar="N", help="bootstrap resamples (2000)"
    )
    parser.add_argument(
        "--fit",
        choices=["auto", "threshold", "isotonic", "platt", "none"],
        default="auto",
        help="the fitted mapping from score to verdict: auto (a threshold for pass/fail "
        "judges with a soft score: P(pass) or a cosine), threshold (maximises kappa), "
        "isotonic, platt, or none",
    )
    parser.add_argument(
        "--folds", type=int, default=5, metavar="K", help="folds of the out-of-fold agreement (5)"
    )
    parser.add_argument(
        "--sample",
        type=int,
        metavar="N",
        help="calibrate on N items of the set, chosen deterministically from the seed "
        "(for a slow judge); the record says so",
    )
    parser.add_argument(
        "--seed", type=int, default=0, metavar="S", help="seed of bootstrap, folds, sample (0)"
    )
    parser.add_argument(
        "--min-n",
        type=int,
        metavar="N",
        help=f"gate threshold: labelled items (default {JUDGE_MIN_ITEMS})",
    )
    parser.add_argument(
        "--min-kappa",
        type=float,
        metavar="K",
        help=f"gate threshold: kappa (default {JUDGE_MIN_KAPPA:g})",
    )
    parser.add_argument(
        "--dry-run", action="store_true", help="compute and print, do not store the record"
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Calibrates the judge, stores the record, prints the figures; returns 0."""
    from evalkit.config._suite import GateConfig, load_config
    from evalkit.errors import UserInputError
    from evalkit.judging._calibration import describe, judge_gate_status
    from evalkit.judging._calibration_run import calibrate_judge, record_summary

    if args.bootstrap < 100:
        raise UserInputError("--bootstrap must be at least 100")
    if args.concurrency < 1:
        raise UserInputError("--concurrency must be at least 1")
    if args.folds < 2:
        raise UserInputError("--folds must be at least 2")
    if args.sample is not None and args.sample < 2 * args.folds:
        raise UserInputError(f"--sample must be at least {2 * args.folds} (2 x --folds)")
    project = load_config(args.config)
    defaults = GateConfig()
    min_n = args.min_n if args.min_n is not None else defaults.judge_min_n
    min_kappa = args.min_kappa if args.min_kappa is not None else defaults.judge_min_kappa
    record, path = calibrate_judge(
        args.judge,
        project=project,
        labels_path=args.labels,
        use_cache=not args.no_cache,
        concurrency=args.concurrency,
        fit=args.fit,
        folds=args.folds,
        sample=args.sample,
        n_boot=args.bootstrap,
        seed=args.seed,
        write=not args.dry_run,
    )
    status = judge_gate_status(record.fingerprint, record, min_n=min_n, min_kappa=min_kappa)
    if args.json:
        payload = record_summary(record)
        payload["record_path"] = None if args.dry_run else str(path)
        payload["gate"] = {"status": status.status, "reason": status.reason}
        print(json.dumps(payload, sort_keys=True))
        return 0
    print(
        f"judge {record.judge} ({record.model}, {record.scale}), fingerprint {record.fingerprint}"
    )
    print(
        f"labelled set {record.labels_path}: {record.n_items} item(s), {record.n} scored, "
        f"{record.n_unscored} unscored; raters {', '.join(record.raters)} "
        f"({record.n_multi_rated} item(s) with 2+ raters)"
    )
    if record.subset:
        print(f"  a deterministic subset of {record.subset['of']} items: {record.subset['rule']}")
    for line in describe(record):
        print(f"  {line}")
    if record.seconds_per_item is not None:
        print(f"time per labelled item: {record.seconds_per_item:.3f} s")
    calls = record.totals
    if calls:
        print(
            f"judge calls: {int(calls.get('calls', 0))} ({int(calls.get('cached', 0))} cached, "
            f"{int(calls.get('errors', 0))} errors)"
        )
    print(f"gate: {status.status} — {status.reason}")
    print("record not stored (--dry-run)" if args.dry_run else f"stored {path}")
    return 0
