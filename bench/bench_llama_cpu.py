"""Tokens per second of the embedded Gemma 3 270M for each llama.cpp CPU variant.

The portable build (evalkit/models/llama_wheel.py) ships several CPU backends and lets
llama.cpp pick the best one for the running CPU ("auto"). This compares that choice with
each variant forced, among them ``haswell`` (AVX2 + FMA + F16C: what a lowest-common-
denominator portable build compiles) and ``x64`` (no SIMD beyond SSE2). Each variant runs
in its own process; prompt processing and generation rates are medians of ``--reps``.

    .venv/bin/python -m bench.bench_llama_cpu [--reps 5] [--tokens 128]

Pass ``--lib DIR`` to measure another build's ``llama_cpp/lib`` (e.g. a native build)
with ``--variants auto``.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import subprocess
import sys
from pathlib import Path

CHILD = r"""
import ctypes, json, statistics, sys, time
from pathlib import Path
lib, variant, reps, tokens = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
import llama_cpp  # loads libllama and the libggml it links (by soname)
sonames = sorted(p.name for p in lib.glob("libggml.so.*") if p.name.count(".") == 2)
ggml = ctypes.CDLL(sonames[0] if sonames else str(lib / "libggml.so"))
ggml.ggml_backend_reg_count.restype = ctypes.c_size_t
if ggml.ggml_backend_reg_count() == 0:
    if variant == "auto":
        ggml.ggml_backend_load_all_from_path(str(lib).encode())
    else:
        ggml.ggml_backend_load.restype = ctypes.c_void_p
        assert ggml.ggml_backend_load(str(lib / f"libggml-cpu-{variant}.so").encode())
from evalkit.models._embedded import model_path
llm = llama_cpp.Llama(model_path=str(model_path()), n_ctx=1024, n_threads=2, verbose=False)
prompt = " ".join(f"Question {i}: what is {i} plus {i}? Answer: {2 * i}." for i in range(40))
llm.create_completion("Hello", max_tokens=4)  # warm-up
pp, tg = [], []
for rep in range(reps):
    llm.reset()
    start = time.perf_counter()
    out = llm.create_completion(prompt + f" ({rep})", max_tokens=1, temperature=0.0)
    pp.append(out["usage"]["prompt_tokens"] / (time.perf_counter() - start))
    llm.reset()
    start = time.perf_counter()
    out = llm.create_completion("Once upon a time", max_tokens=tokens, temperature=0.0,
                                stop=[], logit_bias={llm.token_eos(): -100.0})
    tg.append(out["usage"]["completion_tokens"] / (time.perf_counter() - start))
print(json.dumps({"pp": statistics.median(pp), "tg": statistics.median(tg)}))
"""


def supported(lib: Path, variant: str) -> bool:
    """Returns True when the variant's backend scores above 0 on this CPU."""
    try:
        handle = ctypes.CDLL(str(lib / f"libggml-cpu-{variant}.so"))
    except OSError:
        return False
    score = getattr(handle, "ggml_backend_score", None)
    return bool(score is not None and score() > 0)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--tokens", type=int, default=128)
    parser.add_argument("--lib", type=Path, help="a llama_cpp/lib folder (default: installed)")
    parser.add_argument("--variants", nargs="*", help="default: auto and every supported one")
    args = parser.parse_args()
    if args.lib is None:
        import llama_cpp

        args.lib = Path(llama_cpp.__file__).parent / "lib"
    variants = args.variants or [
        "auto",
        *sorted(
            p.stem.removeprefix("libggml-cpu-")
            for p in args.lib.glob("libggml-cpu-*.so")
            if supported(args.lib, p.stem.removeprefix("libggml-cpu-"))
        ),
    ]
    print(f"llama.cpp CPU variants in {args.lib} (medians of {args.reps}; 2 threads)")
    print(f"{'variant':<12} {'prompt tok/s':>13} {'gen tok/s':>10}")
    for variant in variants:
        result = subprocess.run(
            [sys.executable, "-c", CHILD, str(args.lib), variant, str(args.reps), str(args.tokens)],
            capture_output=True,
            text=True,
        )
        if result.returncode != 0:
            tail = (result.stderr.strip().splitlines() or ["?"])[-1]
            print(f"{variant:<12} failed (exit {result.returncode}): {tail}")
            continue
        rates = json.loads(result.stdout.strip().splitlines()[-1])
        print(f"{variant:<12} {rates['pp']:>13.0f} {rates['tg']:>10.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
