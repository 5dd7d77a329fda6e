"""evalkit as a user gets it: a wheel built from this tree, installed into a fresh venv.

Offline: the wheel is built without build isolation, and a new venv sees the project's own
environment (the venv running the tests) through a ``.pth`` file that points at a folder
of links to its site-packages, evalkit itself left out. ``pip install --no-index`` then
finds every dependency already installed, and the venv's own site-packages (where the
wheel goes) comes first on ``sys.path``. pip never uninstalls a package outside the venv
it runs in, so nothing in the shared environment is touched.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from collections.abc import Mapping, Sequence
from pathlib import Path

import evalkit

SOURCE_ROOT = Path(evalkit.__file__).resolve().parent.parent
PACKAGE = SOURCE_ROOT / "evalkit"
# What an sdist of evalkit holds besides the package (pyproject's readme is README.md).
SDIST_FILES = ("pyproject.toml", "README.md", "MANIFEST.in")


def package_files() -> list[str]:
    """Returns every file of the package tree (as wheel paths), bytecode caches left out."""
    return sorted(
        path.relative_to(SOURCE_ROOT).as_posix()
        for path in PACKAGE.rglob("*")
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc"
    )


def wheel_files(wheel: Path) -> list[str]:
    """Returns the wheel's files under evalkit/ (its .dist-info folder left out)."""
    with zipfile.ZipFile(wheel) as archive:
        return sorted(name for name in archive.namelist() if name.startswith("evalkit/"))


def build_wheel(folder: Path) -> Path:
    """Builds evalkit's wheel from a copy of the source tree (so the tree gets no build/)."""
    source = folder / "src"
    source.mkdir(parents=True)
    for name in SDIST_FILES:
        shutil.copy2(SOURCE_ROOT / name, source / name)
    shutil.copytree(PACKAGE, source / "evalkit", ignore=shutil.ignore_patterns("__pycache__"))
    out = folder / "dist"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-index",
         "--no-build-isolation", "-w", str(out), str(source)],
        check=True,
        env=clean_env(),
    )  # fmt: skip
    (wheel,) = out.glob("evalkit-*.whl")
    return wheel


def shared_dependencies(folder: Path) -> Path:
    """Returns a folder of links to this environment's site-packages, evalkit left out."""
    site_packages = Path(sysconfig.get_paths()["purelib"])
    folder.mkdir(parents=True)
    for entry in site_packages.iterdir():
        name = entry.name
        if name.startswith(("evalkit", "__editable__")) or name.endswith(".pth"):
            continue
        if name == "__pycache__":
            continue
        (folder / name).symlink_to(entry)
    return folder


def make_venv(path: Path, dependencies: Path) -> Path:
    """Creates a venv at ``path`` that sees ``dependencies`` (pip included); returns its bin/."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(path)], check=True)
    code = "import sysconfig; print(sysconfig.get_paths()['purelib'])"
    purelib = subprocess.run(
        [str(path / "bin" / "python"), "-c", code],
        check=True,
        capture_output=True,
        text=True,
        env=clean_env(),
    ).stdout.strip()  # fmt: skip
    Path(purelib, "_shared_dependencies.pth").write_text(f"{dependencies}\n")
    return path / "bin"


def clean_env(
    bin_dir: Path | None = None, extra: Mapping[str, str] | None = None
) -> dict[str, str]:
    """Returns this process's environment without what would reach the source tree or venv.

    PYTHONPATH (a worktree on it would shadow the installed copy) and VIRTUAL_ENV go;
    pip neither reads an index nor checks its version; ``bin_dir`` comes first on PATH.
    """
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env.pop("PYTEST_ADDOPTS", None)
    env["PIP_NO_INDEX"] = "1"
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    if bin_dir is not None:
        env["PATH"] = f"{bin_dir}{os.pathsep}{env.get('PATH', '')}"
    env.update(extra or {})
    return env


def run(
    command: Sequence[str], cwd: Path, env: Mapping[str, str], timeout: float = 600
) -> subprocess.CompletedProcess[str]:
    """Runs a command and returns it (stdout and stderr captured as text)."""
    return subprocess.run(
        list(command), cwd=cwd, env=dict(env), capture_output=True, text=True, timeout=timeout
    )


def write_user_project(root: Path) -> None:
    """Writes a small project of someone else's: one module, one ordinary unit test."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "pyproject.toml").write_text(
        "# A project that adopts evalkit.\n"
        "[project]\n"
        'name = "shop"\n'
        'version = "0.1.0"\n'
        'requires-python = ">=3.11"\n'
        "dependencies = []  # none yet\n\n"
        "[build-system]\n"
        'requires = ["setuptools>=61"]\n'
        'build-backend = "setuptools.build_meta"\n'
    )
    (root / "shop.py").write_text("def total(prices):\n    return sum(prices)\n")
    (root / "tests").mkdir()
    (root / "tests" / "test_shop.py").write_text(
        "from shop import total\n\n\ndef test_total():\n    assert total([1, 2]) == 3\n"
    )


ANSWERS = {
    "capital of France?": "Paris",
    "capital of Japan?": "Tokyo",
    "What is 2 + 3?": "5",
    "Who wrote Hamlet?": "William Shakespeare",
    "red planet?": "Mars",
}


def server_rules(wrong: Sequence[str] = ()) -> list[dict[str, str]]:
    """Returns fake-server rules answering `evalkit init`'s golden set (``wrong``: badly)."""
    return [
        {"match": question, "reply": "no idea" if question in wrong else reply}
        for question, reply in ANSWERS.items()
    ]
