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
    """Prints cache info or clears it; returns 0 (clear works even on a damaged cache)."""
    from evalkit.config._suite import load_config
    from evalkit.models._cache import Cache, clear_cache

    if args.dir:
        folder = args.dir
    else:
        config = load_config(args.config)
        folder = str(config.path(config.cache_dir))
    if args.action == "clear":
        removed, path = clear_cache(folder)
        if removed is None:
            print(f"removed the unreadable call cache {path}")
        else:
            print(f"cleared {removed} cached call(s) from {path}")
        return 0
    cache = Cache(folder)
    try:
        info = cache.info()
    finally:
        cache.close()
    print(f"{info['path']}: {info['entries']} cached call(s), {info['bytes']} bytes")
    for copy in info["damaged"]:
        print(f"  set aside as damaged: {copy} (`evalkit cache clear` deletes it)")
    return 0
