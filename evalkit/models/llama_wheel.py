"""Builds llama-cpp-python portably, once per build configuration; prints the wheel's path.

A default ``pip install llama-cpp-python`` compiles llama.cpp with ``-march=native``: the
wheel runs on the CPU that built it and may fault on another one (a native build on a CPU
that advertises AMX dies with a general-protection fault on its first completion). This
script builds instead with llama.cpp's runtime CPU dispatch: ``GGML_BACKEND_DL`` with
``GGML_CPU_ALL_VARIANTS`` compiles the CPU backend several times, each for one instruction
set, and the loader picks the best one the running CPU supports when the model loads.

Two changes to the vendored CMake files, both checked so a new release cannot skip them
silently:

* the variant list keeps x64 (any x86-64), haswell (AVX2), skylakex and icelake (AVX-512)
  and alderlake (AVX-VNNI), and drops the AMX variant (``sapphirerapids``): a CPU can
  advertise AMX on a kernel or hypervisor that faults on its tile instructions, which is
  the crash this build exists to avoid; the others are intermediate steps;
* llama-cpp-python installs only a target named ``ggml-cpu``; the variant libraries are
  installed beside ``libllama.so`` (evalkit loads them from there when the server starts).

The configuration (version, CMake flags, variants, patch revision) is hashed; the wheel's
version carries it as a local label (``0.3.36+portable.<hash>``), and it is kept in
``$XDG_CACHE_HOME/evalkit/wheels/<hash>/``. A wheel built with another configuration is
never reused: it has another hash, so another folder and another version.

Usage: ``python -m evalkit.models.llama_wheel`` (after ``pip install --no-deps evalkit``), or
``python evalkit/models/llama_wheel.py`` from a checkout: prints the wheel's path on stdout.
``--dir`` prints the cache folder only (a CI cache's path and key) and builds nothing.
Standard library only: it runs before evalkit's dependencies are installed, so a project's
CI builds the wheel once, caches that folder, and installs llama-cpp-python from it
(docs/ci.md).
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

VERSION = "0.3.36"
#: Bump when :func:`patch_source` changes what it does to the sources (an edit elsewhere in
#: this file must not make every machine and CI cache rebuild llama.cpp).
PATCH_REVISION = 1
VARIANTS = ("x64", "haswell", "skylakex", "icelake", "alderlake")
CMAKE_ARGS = (
    "-DGGML_NATIVE=OFF",
    "-DGGML_BACKEND_DL=ON",
    "-DGGML_CPU_ALL_VARIANTS=ON",
    "-DLLAVA_BUILD=OFF",
    "-DLLAMA_BUILD_TESTS=OFF",
    "-DLLAMA_BUILD_EXAMPLES=OFF",
    "-DLLAMA_BUILD_TOOLS=OFF",
)


def config_hash() -> str:
    """Returns a short hash of everything that decides what the wheel contains."""
    digest = hashlib.sha256()
    for part in (VERSION, str(PATCH_REVISION), *CMAKE_ARGS, *VARIANTS):
        digest.update(part.encode() + b"\0")
    return digest.hexdigest()[:12]


def wheel_dir() -> Path:
    """Returns the folder that holds the wheel of this configuration."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "evalkit" / "wheels" / f"llama-cpp-python-{config_hash()}"


def _replace_once(text: str, pattern: str, replacement: str, where: str) -> str:
    new, count = re.subn(pattern, replacement, text, flags=re.MULTILINE)
    if count == 0:
        raise SystemExit(f"llama_wheel: {where}: pattern {pattern!r} not found")
    return new


def patch_source(src: Path) -> None:
    """Applies the variant list, the install rule and the version label to an sdist tree."""
    ggml = src / "vendor/llama.cpp/ggml/src/CMakeLists.txt"
    text = ggml.read_text()
    kept = 0

    def keep_or_drop(match: re.Match[str]) -> str:
        nonlocal kept
        if match.group(2) in VARIANTS:
            kept += 1
            return match.group(0)
        return f"{match.group(1)}# dropped by evalkit: {match.group(0).strip()}\n"

    x86 = re.search(
        r'if \(GGML_CPU_ALL_VARIANTS\).*?if \(GGML_SYSTEM_ARCH STREQUAL "x86"\)(.*?)elseif',
        text,
        re.DOTALL,
    )
    if x86 is None:
        raise SystemExit(f"llama_wheel: {ggml}: x86 variant block not found")
    variant_line = r"^(\s*)ggml_add_cpu_backend_variant\((\w+)[^)]*\)\n"
    block = re.sub(variant_line, keep_or_drop, x86.group(1), flags=re.M)
    if kept != len(VARIANTS):
        raise SystemExit(f"llama_wheel: {ggml}: kept {kept} of {len(VARIANTS)} variants")
    ggml.write_text(text[: x86.start(1)] + block + text[x86.end(1) :])

    top = src / "CMakeLists.txt"
    install = "".join(f"    llama_cpp_python_install_target(ggml-cpu-{v})\n" for v in VARIANTS)
    top.write_text(
        _replace_once(
            top.read_text(),
            r"^(\s*llama_cpp_python_install_target\(ggml-cpu\)\n)",
            r"\g<1>" + install,
            str(top),
        )
    )

    init = src / "llama_cpp/__init__.py"
    init.write_text(
        _replace_once(
            init.read_text(),
            rf'^__version__ = "{re.escape(VERSION)}"',
            f'__version__ = "{VERSION}+portable.{config_hash()}"',
            str(init),
        )
    )


def build(target: Path) -> Path:
    """Downloads the sdist, patches it and builds the wheel into ``target``."""
    with tempfile.TemporaryDirectory(prefix="evalkit-llama-") as tmp:
        work = Path(tmp)
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--no-binary",
             ":all:", f"llama-cpp-python=={VERSION}", "-d", str(work)],
            check=True,
        )  # fmt: skip
        (sdist,) = work.glob("llama_cpp_python-*.tar.gz")
        with tarfile.open(sdist) as archive:
            archive.extractall(work, filter="data")
        src = work / f"llama_cpp_python-{VERSION}"
        patch_source(src)
        env = dict(os.environ)
        env["CMAKE_ARGS"] = " ".join(CMAKE_ARGS)
        env.setdefault("CMAKE_BUILD_PARALLEL_LEVEL", str(os.cpu_count() or 2))
        out = work / "wheel"
        subprocess.run(
            [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-cache-dir",
             "-w", str(out), str(src)],
            check=True,
            env=env,
        )  # fmt: skip
        (wheel,) = out.glob("llama_cpp_python-*.whl")
        target.mkdir(parents=True, exist_ok=True)
        # Copy then rename: a concurrent reader never sees half a wheel.
        partial = target / (wheel.name + ".partial")
        shutil.copyfile(wheel, partial)
        final = target / wheel.name
        os.replace(partial, final)
        return final


def main(argv: list[str] | None = None) -> int:
    """Prints the cached wheel's path (building it first when missing), or with --dir its folder."""
    args = sys.argv[1:] if argv is None else argv
    target = wheel_dir()
    if args == ["--dir"]:
        print(target)
        return 0
    if args:
        print("usage: python -m evalkit.models.llama_wheel [--dir]", file=sys.stderr)
        return 2
    found = sorted(target.glob("llama_cpp_python-*.whl"))
    if found:
        print(found[-1])
        return 0
    print(
        f"llama_wheel: compiling llama-cpp-python {VERSION} portably "
        f"({len(VARIANTS)} CPU variants; ~15 min on 2 cores, once per machine)",
        file=sys.stderr,
    )
    print(build(target))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
