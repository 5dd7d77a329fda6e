"""Classify a failure for the exit status, and keep an unexpected one's traceback in a file.

The command line and the pytest plugin share this so that a failure means the same
thing in both: 2 for what the user can fix, 3 for infrastructure, damaged state and
evalkit's own bugs. Exit status 1 is reserved for "the gate failed" and never comes
from an exception.
"""

from __future__ import annotations

import errno
import os
import platform
import sys
import tempfile
import traceback
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

USER_ERROR = 2
INFRASTRUCTURE_ERROR = 3

# File-system errors that say "this path is wrong", not "the machine is in trouble".
_PATH_ERRNOS = {errno.ENOENT, errno.EISDIR, errno.ENOTDIR, errno.ENAMETOOLONG}


def describe_error(err: BaseException) -> str:
    """Returns ``err`` as one short line: its type and the first line of its message."""
    from evalkit.scorers._base import describe_error as one_line  # the one formatter

    return one_line(err)


def classify(err: BaseException) -> tuple[int, str] | None:
    """Returns ``(exit status, one-line message)`` for an expected failure, else None.

    Expected failures are evalkit's own errors (their family decides 2 or 3) and
    file-system errors (3: the store, report or cache folder could not be used; the
    message names the path). Anything else is a bug: None, and the caller writes a
    crash report.
    """
    from evalkit.errors import EvalkitError, UserInputError

    if isinstance(err, UserInputError):
        return USER_ERROR, str(err)
    if isinstance(err, EvalkitError):
        # Never 1: that status is the gate's verdict.
        status = err.exit_code if err.exit_code in (USER_ERROR, INFRASTRUCTURE_ERROR) else 3
        return status, str(err)
    if isinstance(err, OSError):
        return INFRASTRUCTURE_ERROR, describe_os_error(err)
    if isinstance(err, MemoryError):
        return INFRASTRUCTURE_ERROR, "out of memory"
    return None


def describe_os_error(err: OSError) -> str:
    """Returns a file-system error as one line naming the path and what to check."""
    reason = err.strerror or describe_error(err)
    paths = [str(p) for p in (err.filename, err.filename2) if p is not None]
    where = " -> ".join(paths)
    if not where:
        return f"file system error: {reason}"
    hint = (
        "check the path (a folder in it may be missing or be a file)"
        if err.errno in _PATH_ERRNOS
        else "check that the folder exists, is writable and has space"
    )
    return f"cannot use {where}: {reason}; {hint}"


def write_crash_report(err: BaseException, argv: Sequence[str] | None = None) -> Path | None:
    """Writes ``err``'s full traceback (with versions and arguments) to a temp file.

    Returns the file, or None when it could not be written.
    """
    import evalkit

    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    lines = [
        f"evalkit {evalkit.__version__} crash report, {stamp}\n",
        f"python {platform.python_version()} on {platform.platform()}\n",
        f"command: {' '.join(argv if argv is not None else sys.argv)}\n\n",
        *traceback.format_exception(err),
    ]
    try:
        fd, name = tempfile.mkstemp(prefix=f"evalkit-crash-{stamp}-", suffix=".txt")
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.writelines(lines)
    except OSError:
        return None
    return Path(name)


def internal_error_line(err: BaseException, where: str) -> str:
    """Returns the one line shown for an unexpected error: what happened, ``where`` its
    traceback is, and how to report it."""
    import evalkit

    return (
        f"internal error (a bug in evalkit {evalkit.__version__}): {describe_error(err)}; "
        f"{where}; please report it to the evalkit maintainers with that traceback and "
        "the command you ran"
    )


def traceback_whereabouts(report: Path | None, *, debug_hint: str) -> str:
    """Returns where the traceback of an internal error can be read."""
    if report is None:
        return f"the traceback could not be saved; {debug_hint} prints it"
    return f"the full traceback is in {report} ({debug_hint} prints it)"
