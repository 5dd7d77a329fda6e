"""What a suite needs before its first model call: checked once, for ``validate`` and ``run``.

:func:`suite_problems` lists every problem that would stop ``evalkit run`` on input
grounds, without calling a model: the golden set, every prompt rendered for every case
(Jinja syntax, variables the cases do not define, errors raised while rendering), a
callable SUT that does not import, unknown scorers and bad scorer params, judges that do
not exist, and store/cache/report folders that cannot be folders. ``evalkit validate``
prints the list; :func:`check_suite` is what :func:`evalkit.execution._pipeline.arun_suite` calls
before the runner starts, so a config that validates cleanly never fails ``run`` on
these grounds, and ``run`` never pays for calls it would then throw away.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from evalkit.errors import ConfigError, InvalidInputError, Problem, UserInputError

if TYPE_CHECKING:
    from evalkit.config._suite import ProjectConfig, SuiteConfig
    from evalkit.data._golden import GoldenSet

# What reading a user's file can raise besides evalkit's own errors.
_INPUT_ERRORS = (UserInputError, OSError, UnicodeError)


class _Problems:
    """Collects problems for one suite, each prefixed with the suite's config key."""

    def __init__(self, project: ProjectConfig, suite: SuiteConfig) -> None:
        self.source = project.source or "(config)"
        self.where = f"suites.{suite.name}"
        self.found: list[Problem] = []

    def add(self, err: BaseException, what: str) -> None:
        if isinstance(err, InvalidInputError):
            self.found.extend(err.problems)
            return
        if isinstance(err, OSError) and err.strerror:
            reason = f"{err.strerror}: {err.filename}" if err.filename else err.strerror
        elif isinstance(err, UnicodeError):
            reason = f"not a UTF-8 text file ({err})"
        else:
            reason = str(err)
        self.found.append(Problem(self.source, None, f"{self.where}: {what}: {reason}"))


def suite_problems(
    project: ProjectConfig, suite: SuiteConfig, golden: GoldenSet | None = None
) -> list[Problem]:
    """Returns every problem that would stop ``suite`` from running (empty: it can run).

    Args:
        project: the project config (paths resolve against its folder).
        suite: the suite to check.
        golden: the suite's golden set if already loaded (else it is loaded here).
    """
    problems = _Problems(project, suite)
    if golden is None:
        from evalkit.data._golden import load_golden_set

        try:
            golden = load_golden_set(project.path(suite.golden))
        except _INPUT_ERRORS as err:
            problems.add(err, "golden set")
    _check_prompts(project, suite, golden, problems)
    if suite.sut.callable:
        from evalkit.models._callable_sut import resolve

        try:
            resolve(suite.sut.callable)
        except UserInputError as err:
            problems.add(err, "sut.callable")
    if suite.judge:
        from evalkit.judging._definitions import load_judge

        try:
            load_judge(suite.judge, project.path(project.judges_dir))
        except _INPUT_ERRORS as err:
            problems.add(err, "judge")
    _check_scorers(project, suite, problems)
    for key in ("store", "cache_dir", "report_dir"):
        _check_folder(project, key, problems)
    return problems.found


def check_suite(project: ProjectConfig, suite: SuiteConfig, golden: GoldenSet) -> None:
    """Raises ConfigError listing every problem :func:`suite_problems` finds."""
    problems = suite_problems(project, suite, golden)
    if problems:
        raise ConfigError(problems)


def _check_prompts(
    project: ProjectConfig, suite: SuiteConfig, golden: GoldenSet | None, problems: _Problems
) -> None:
    """Renders every case's prompt with the runner's own code (the first failure stops)."""
    from evalkit.models._prompting import load_template

    if suite.sut.prompt:
        try:
            load_template(str(project.path(suite.sut.prompt)))
        except _INPUT_ERRORS as err:
            problems.add(err, "sut.prompt")
            return
    if golden is None:
        return
    from evalkit.execution._runner import build_requests

    try:
        build_requests(suite, golden.cases, project=project, samples=1)
    except _INPUT_ERRORS as err:
        problems.add(err, "prompt")


def _check_scorers(project: ProjectConfig, suite: SuiteConfig, problems: _Problems) -> None:
    """Builds every metric's scorer as scoring will (unknown names, bad params, judges)."""
    from evalkit.scorers._base import ScorerContext, create_scorer

    context = ScorerContext(client=None, project=project, suite=suite)
    for spec in suite.metrics:
        try:
            create_scorer(spec.scorer_name, spec.params, context, metric=spec.name)
        except _INPUT_ERRORS as err:
            problems.add(err, f"metric {spec.name!r}")


def _check_folder(project: ProjectConfig, key: str, problems: _Problems) -> None:
    """Adds a problem when the folder setting ``key`` cannot be a folder (a file is in the
    way: the path itself or one of its parents)."""
    value = str(getattr(project, key))
    if "://" in value:
        return
    folder = project.path(value)
    for candidate in (folder, *folder.parents):
        if candidate.exists():
            if not candidate.is_dir():
                message = f"{key} = {value!r}: {candidate} is a file, so it cannot hold {folder}"
                problems.found.append(Problem(problems.source, None, message))
            return
