"""evalkit's exceptions: one base class and a few families.

Catch :class:`EvalkitError` for everything, or a family for what you care about:

* :class:`UserInputError` — a golden set, config or command line the user must fix.
  The CLI prints these as one or two lines (no traceback) and exits 2.
* :class:`SUTError` — the system under test or a judge model failed. ``retryable`` says
  whether trying again may help.
* :class:`InfrastructureError` — the run cannot continue (server down, too many errors),
  or something evalkit stored is damaged (:class:`DamagedStateError`). The CLI exits 3.
* :class:`ScoringError` — a scorer could not score a case (e.g. :class:`JudgeReplyError`:
  the judge model gave no usable reply); the case becomes an unscored row, never a 0.

The whole hierarchy::

    EvalkitError
    ├── UserInputError (exit 2)
    │   ├── InvalidInputError (a list of file:line problems)
    │   │   ├── GoldenSetError, ConfigError, LabelledSetError, LabelImportError
    │   ├── TemplateError
    │   └── NotFoundError
    ├── SUTError
    ├── InfrastructureError (exit 3)
    │   ├── DamagedStateError, ServerStartError, EndpointDownError, PartialRunError
    └── ScoringError
        └── JudgeReplyError

A gate that cannot decide is not an exception: the comparison says why
(``Comparison.gate.error``) and the CLI and the pytest plugin exit 3.

Exit status 1 belongs to "the gate failed" alone: no exception maps onto it. An
:class:`EvalkitError` that is neither the user's to fix nor an infrastructure failure
(it escaped the code meant to handle it) exits 3, like any unexpected error.
"""

from __future__ import annotations

from dataclasses import dataclass


class EvalkitError(Exception):
    """Base class of every error evalkit raises on purpose."""

    exit_code = 3


# ---------------------------------------------------------------- user input (exit 2)


class UserInputError(EvalkitError):
    """The user's input is wrong: a file, a config value or a command-line flag."""

    exit_code = 2


@dataclass(frozen=True)
class Problem:
    """One problem in an input file: where it is and what to do about it."""

    path: str
    line: int | None
    message: str

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line is not None else self.path
        return f"{where}: {self.message}"


class InvalidInputError(UserInputError):
    """One or more problems in input files (golden sets, labelled sets, config)."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = list(problems)
        shown = "\n".join(str(p) for p in self.problems[:50])
        more = len(self.problems) - 50
        if more > 0:
            shown += f"\n... and {more} more problem(s)"
        super().__init__(shown)


class GoldenSetError(InvalidInputError):
    """A golden set is malformed: bad JSON, wrong types, missing or duplicate ids."""


class ConfigError(InvalidInputError):
    """The suite configuration ([tool.evalkit] or evalkit.toml) is invalid."""


class LabelledSetError(InvalidInputError):
    """A labelled set is malformed: bad JSON, wrong types, missing or duplicate ids."""


class LabelImportError(InvalidInputError):
    """A labelling sheet's answers file is malformed or does not match its run."""


class TemplateError(UserInputError):
    """A prompt template failed to render (e.g. a variable the case does not define)."""


class NotFoundError(UserInputError):
    """A named thing (suite, run, judge, scorer, file) does not exist."""


# ---------------------------------------------------------------- model calls


class SUTError(EvalkitError):
    """A call to the system under test (or to a judge model) failed."""

    def __init__(self, message: str, *, retryable: bool, status: int | None = None) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.status = status


# ---------------------------------------------------------------- infrastructure (exit 3)


class InfrastructureError(EvalkitError):
    """The run cannot go on: the SUT is unreachable, or too many calls failed."""

    exit_code = 3


class DamagedStateError(InfrastructureError):
    """A file evalkit stored (a run folder, the call cache) is missing or unreadable.

    The message names the file and how to recover (another run, ``--no-cache``).
    """


class ServerStartError(InfrastructureError):
    """The embedded model server did not start or did not answer in time."""


class EndpointDownError(InfrastructureError):
    """A model endpoint stopped answering mid-run (or the embedded server died)."""


class PartialRunError(InfrastructureError):
    """A run was stored, but more of its calls failed than the suite allows."""


# ---------------------------------------------------------------- scoring


class ScoringError(EvalkitError):
    """A scorer could not score a case; the case is recorded as unscored with this reason."""


class JudgeReplyError(ScoringError, ValueError):
    """A judge model gave no usable reply (call failed, or unparseable twice).

    ``raw`` is the judge's last reply text, kept with the unscored row. It is also a
    ValueError, which the ragas and deepeval metrics that call the judge expect.
    """

    def __init__(self, message: str, raw: str | None) -> None:
        super().__init__(message)
        self.raw = raw


# ---------------------------------------------------------------- warnings


class EvalkitWarning(UserWarning):
    """Something was wrong but evalkit recovered (a damaged cache set aside, a damaged run
    skipped); the message says what and where. The CLI prints it as one line."""
