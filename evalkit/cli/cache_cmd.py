"""``evalkit cache info|clear``: inspect or empty the on-disk model-call cache."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Adds the ``cache`` verb."""
    parser = sub.add_parser(
        "cache",
        help="show or clear the model-call cache",
        description="The cache keeps every successful model call (SUT and judges), keyed by "
        "the model, api_base, full prompt, every parameter and the sample index.",
    )
    parser.add_argument("action", choices=["info", "clear"])
    parser.add_argument("--dir", metavar="DIR", help="cache folder (default: from the config)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Prints cache info or clears it; returns 0."""
    from evalkit.cache import Cache
    from evalkit.config import load_config

    folder = args.dir or str(load_config(args.config).path(load_config(args.config).cache_dir))
    cache = Cache(folder)
    try:
        if args.action == "clear":
            removed = cache.clear()
            print(f"cleared {removed} cached call(s) from {cache.path}")
        else:
            info = cache.info()
            print(f"{info['path']}: {info['entries']} cached call(s), {info['bytes']} bytes")
    finally:
        cache.close()
    return 0
