"""evalkit's pytest plugin (entry point ``pytest11: evalkit``): golden sets as tests, and the gate.

Loaded by every pytest run in a project that has evalkit installed, so it must stay cheap:
this module imports only pytest and the standard library, and the library (pandas,
LiteLLM, the scorers) is imported inside hooks once a suite is selected.

**Nothing happens without a selection.** Suites run only when named with
``--evalkit-suite NAME`` (repeatable) or the ini option ``evalkit_suites``, so a project's
ordinary test run never starts a model. A selected suite's golden file is added to the
collection: each case becomes an item ``golden_sets/qa.jsonl::<case id>`` (its tags are
markers, so ``-k`` and ``-m`` select cases) and the suite gets one ``::gate`` item.

The suite runs once per pytest session, on the first item that needs it: a file lock in a
session folder shared with pytest-xdist workers makes one process run the SUT and the
others read its outcome (:class:`evalkit.gate._decision.SuiteOutcome`). All decisions come from
:func:`evalkit.gate._decision.evaluate_suite`; this module turns them into outcomes, JUnit
properties, a terminal summary and the exit status (3 when a suite could not be decided).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from evalkit.config._suite import ProjectConfig, SuiteConfig
    from evalkit.data._golden import GoldenSet
    from evalkit.gate._assertions import Evaluator
    from evalkit.gate._decision import GateOptions, SuiteOutcome

GATE_ITEM = "gate"
SHARED_DIR_KEY = "evalkit_shared_dir"
EXIT_UNDECIDED = 3
INI_SETTINGS = frozenset(
    {
        "evalkit_suites",
        "evalkit_config",
        "evalkit_report",
        "evalkit_samples",
        "evalkit_concurrency",
        "evalkit_missing_baseline",
    }
)


# ---------------------------------------------------------------- options


def pytest_addoption(parser: pytest.Parser) -> None:
    """Registers the ``evalkit`` option group and its ini settings."""
    group = parser.getgroup("evalkit", "evalkit: golden sets as tests and the release gate")
    group.addoption(
        "--evalkit-suite",
        action="append",
        dest="evalkit_suites",
        metavar="NAME",
        default=None,
        help="run this suite of [tool.evalkit] as tests (repeatable; ini: evalkit_suites). "
        "Without a suite the plugin does nothing, so ordinary test runs stay fast.",
    )
    group.addoption(
        "--evalkit-config",
        dest="evalkit_config",
        metavar="FILE",
        help="pyproject.toml or evalkit.toml with the suites (default: the nearest one "
        "above the rootdir; ini: evalkit_config)",
    )
    group.addoption(
        "--evalkit-baseline",
        dest="evalkit_baseline",
        metavar="PATH|RUN",
        help="compare with this baseline file, run id or run folder instead of the "
        "suite's committed baseline",
    )
    group.addoption(
        "--evalkit-update-baseline",
        action="store_true",
        dest="evalkit_update_baseline",
        default=False,
        help="write this run as the suite's committed baseline; the gate item is skipped",
    )
    group.addoption(
        "--evalkit-missing-baseline",
        dest="evalkit_missing_baseline",
        choices=("fail", "xfail"),
        default=None,
        help="what the gate item does when the suite has no baseline yet: fail (default) "
        "or xfail (ini: evalkit_missing_baseline)",
    )
    group.addoption(
        "--evalkit-report",
        dest="evalkit_report",
        metavar="PATH",
        help="write the HTML report here (a folder: one report per suite; 'none': no "
        "report). Default: the project's report_dir (ini: evalkit_report)",
    )
    group.addoption(
        "--evalkit-samples",
        dest="evalkit_samples",
        type=int,
        metavar="N",
        help="samples per case; more than 1 shows flaky cases (ini: evalkit_samples)",
    )
    group.addoption(
        "--evalkit-concurrency",
        dest="evalkit_concurrency",
        type=int,
        metavar="N",
        help="calls to the SUT in flight at most (ini: evalkit_concurrency)",
    )
    group.addoption(
        "--evalkit-no-cache",
        action="store_true",
        dest="evalkit_no_cache",
        default=False,
        help="call the SUT even for answers in the cache",
    )
    group.addoption(
        "--evalkit-shard",
        dest="evalkit_shard",
        metavar="I/N",
        help="run only shard I of N (by a hash of the case id; combine the shard runs "
        "with `evalkit merge`); the gate is decided on the merged run",
    )
    parser.addini("evalkit_suites", type="args", help="suites to run as tests (names)")
    parser.addini("evalkit_config", help="the file with [tool.evalkit] (default: nearest)")
    parser.addini("evalkit_report", help="where reports go (a folder, or 'none')")
    parser.addini("evalkit_samples", help="samples per case")
    parser.addini("evalkit_concurrency", help="calls to the SUT in flight at most")
    parser.addini("evalkit_missing_baseline", help="gate without a baseline: fail or xfail")


def _setting(config: pytest.Config, name: str) -> Any:
    """Returns the command-line value of ``name``, else its ini value (None when unset)."""
    value = config.getoption(name, default=None)
    if value not in (None, [], False):
        return value
    if name not in INI_SETTINGS:
        return None
    ini = config.getini(name)
    return ini if ini not in ("", []) else None


def _positive(config: pytest.Config, name: str) -> int | None:
    value = _setting(config, name)
    if value is None:
        return None
    try:
        number = int(value)
    except ValueError:
        number = 0
    if number < 1:
        flag = "--" + name.replace("_", "-")
        raise pytest.UsageError(f"{flag}: expected a whole number >= 1, got {value!r}")
    return number


# ---------------------------------------------------------------- session state


class _Session:
    """The selected suites of one pytest run, and their outcomes (computed once)."""

    def __init__(
        self,
        project: ProjectConfig,
        suites: list[SuiteConfig],
        goldens: dict[str, GoldenSet],
        options: GateOptions,
        missing_baseline: str,
        shared_dir: Path,
        owns_shared_dir: bool,
    ) -> None:
        self.project = project
        self.suites = {suite.name: suite for suite in suites}
        self.goldens = goldens
        self.options = options
        self.missing_baseline = missing_baseline
        self.shared_dir = shared_dir
        self.owns_shared_dir = owns_shared_dir
        self.outcomes: dict[str, SuiteOutcome] = {}

    def suites_of(self, path: Path) -> list[str]:
        """Returns the selected suites whose golden file is ``path``."""
        resolved = path.resolve()
        return [
            name
            for name, suite in self.suites.items()
            if self.project.path(suite.golden).resolve() == resolved
        ]

    def outcome(self, name: str) -> SuiteOutcome:
        """Returns the suite's outcome: computed by the first process that asks, else read."""
        if name in self.outcomes:
            return self.outcomes[name]
        from filelock import FileLock

        from evalkit.gate._decision import SuiteOutcome, evaluate_suite

        stored = self.shared_dir / f"{name}.json"
        with FileLock(str(self.shared_dir / f"{name}.lock")):
            if stored.is_file():
                outcome = SuiteOutcome.from_json(stored.read_text(encoding="utf-8"))
            else:
                try:
                    outcome = evaluate_suite(
                        self.project, self.suites[name], self.options, n_suites=len(self.suites)
                    )
                except Exception as err:  # a bug, not a verdict: report it once, on every item
                    outcome = SuiteOutcome(name, error=_one_line(err), error_kind="internal error")
                temp = stored.with_suffix(".tmp")
                temp.write_text(outcome.to_json(), encoding="utf-8")
                os.replace(temp, stored)
        self.outcomes[name] = outcome
        return outcome

    def finished(self) -> list[SuiteOutcome]:
        """Returns the outcomes of the suites that ran (in this or another process)."""
        from evalkit.gate._decision import SuiteOutcome

        found = []
        for name in self.suites:
            stored = self.shared_dir / f"{name}.json"
            if name in self.outcomes:
                found.append(self.outcomes[name])
            elif stored.is_file():
                found.append(SuiteOutcome.from_json(stored.read_text(encoding="utf-8")))
        return found


SESSION = pytest.StashKey[_Session]()


def _selected(config: pytest.Config) -> list[str]:
    names = config.getoption("evalkit_suites", default=None) or config.getini("evalkit_suites")
    return list(dict.fromkeys(names or []))


def pytest_configure(config: pytest.Config) -> None:
    """Loads the selected suites (none selected: returns at once) and adds their golden files."""
    config.addinivalue_line("markers", "evalkit: a case or gate item of an evalkit suite")
    names = _selected(config)
    if not names:
        return
    from evalkit.errors import UserInputError

    try:
        _start(config, names)
    except UserInputError as err:
        raise pytest.UsageError(f"evalkit: {err}") from None
    except Exception as err:  # infrastructure or a bug: exit 3, never 1 (a failed gate)
        pytest.exit(f"evalkit: {_one_line(err)}", returncode=EXIT_UNDECIDED)


def _one_line(err: BaseException) -> str:
    """Returns an error as one line; a bug's traceback goes to a file the line names."""
    from evalkit.util._crash import (
        classify,
        internal_error_line,
        traceback_whereabouts,
        write_crash_report,
    )

    known = classify(err)
    if known is not None:
        return known[1]
    if os.environ.get("EVALKIT_DEBUG"):
        import traceback

        return internal_error_line(err, "traceback:\n" + "".join(traceback.format_exception(err)))
    where = traceback_whereabouts(write_crash_report(err), debug_hint="EVALKIT_DEBUG=1")
    return internal_error_line(err, where)


def _start(config: pytest.Config, names: list[str]) -> None:
    from evalkit.config._suite import load_config
    from evalkit.data._golden import load_golden_set
    from evalkit.errors import UserInputError
    from evalkit.gate._decision import GateOptions

    config_file = _setting(config, "evalkit_config")
    if config_file is None:
        from evalkit.config._suite import find_config_file

        config_file = find_config_file(config.rootpath)
    project = load_config(config_file)
    suites = [project.suite(name) for name in names]
    shard = None
    shard_text = _setting(config, "evalkit_shard")
    if shard_text:
        from evalkit.execution._pipeline import parse_shard

        shard = parse_shard(shard_text)
    update = bool(config.getoption("evalkit_update_baseline", default=False))
    if update and shard is not None:
        raise UserInputError(
            "--evalkit-update-baseline with --evalkit-shard: a shard is not a whole "
            "baseline; `evalkit merge` the shard runs, then `evalkit baseline update`"
        )
    report = _setting(config, "evalkit_report")
    missing = _setting(config, "evalkit_missing_baseline") or "fail"
    if missing not in ("fail", "xfail"):
        raise UserInputError(f"evalkit_missing_baseline: expected fail or xfail, got {missing!r}")
    options = GateOptions(
        samples=_positive(config, "evalkit_samples"),
        concurrency=_positive(config, "evalkit_concurrency"),
        use_cache=not config.getoption("evalkit_no_cache", default=False),
        shard=shard,
        baseline=_setting(config, "evalkit_baseline"),
        update_baseline=update,
        report=None if report in (None, "none") else str(report),
        write_report=report != "none",
    )
    goldens = {}
    for suite in suites:
        golden = load_golden_set(project.path(suite.golden))
        if shard is not None:
            from evalkit.execution._pipeline import shard_cases

            golden = shard_cases(golden, shard)
        goldens[suite.name] = golden
        for tag in sorted({tag for case in golden.cases for tag in case.tags}):
            config.addinivalue_line("markers", f"{_marker(tag)}: evalkit golden-set tag")
    workerinput = getattr(config, "workerinput", None)
    if workerinput is not None and SHARED_DIR_KEY in workerinput:
        shared, owns = Path(workerinput[SHARED_DIR_KEY]), False
    else:
        shared, owns = Path(tempfile.mkdtemp(prefix="evalkit-pytest-")), True
    config.stash[SESSION] = _Session(project, suites, goldens, options, missing, shared, owns)
    present = {Path(arg.split("::")[0]).resolve() for arg in config.args}
    for suite in suites:
        golden_path = project.path(suite.golden).resolve()
        if golden_path not in present:
            config.args.append(str(golden_path))
            present.add(golden_path)


def _marker(tag: str) -> str:
    """Returns ``tag`` as a marker name (characters pytest's expressions reject become _)."""
    return "".join(c if c.isalnum() or c in "_-." else "_" for c in tag)


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    """Tells each pytest-xdist worker where the session's suite outcomes are shared."""
    session = node.config.stash.get(SESSION, None)
    if session is not None:
        node.workerinput[SHARED_DIR_KEY] = str(session.shared_dir)


def pytest_unconfigure(config: pytest.Config) -> None:
    """Removes the session folder (in the process that made it)."""
    session = config.stash.get(SESSION, None)
    if session is not None and session.owns_shared_dir:
        shutil.rmtree(session.shared_dir, ignore_errors=True)


# ---------------------------------------------------------------- collection


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    """Returns a collector for a selected suite's golden file, else None."""
    session = parent.config.stash.get(SESSION, None)
    if session is None or file_path.suffix != ".jsonl":
        return None
    names = session.suites_of(file_path)
    if not names:
        return None
    return GoldenFile.from_parent(parent, path=file_path, suites=names)


class GoldenFile(pytest.File):
    """A golden set: one item per case and one gate item per selected suite."""

    def __init__(self, *, suites: list[str], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.suites = suites

    def collect(self) -> Iterator[pytest.Item | pytest.Collector]:
        """Yields the case items and the gate item (under a suite node when shared)."""
        if len(self.suites) == 1:
            yield from _suite_items(self, self.suites[0])
            return
        for name in self.suites:  # several suites share this file: keep node ids apart
            yield SuiteNode.from_parent(self, name=name, suite=name)


class SuiteNode(pytest.Collector):
    """One suite of a golden file that several selected suites share."""

    def __init__(self, *, suite: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.suite = suite

    def collect(self) -> Iterator[pytest.Item]:
        """Yields the suite's case items and its gate item."""
        yield from _suite_items(self, self.suite)


def _suite_items(parent: pytest.Collector, suite: str) -> Iterator[pytest.Item]:
    golden = parent.config.stash[SESSION].goldens[suite]
    for case in golden.cases:
        line = golden.lines.get(case.id, 1)
        item = CaseItem.from_parent(parent, name=case.id, suite=suite, case_id=case.id, line=line)
        for tag in case.tags:
            item.add_marker(_marker(tag))
        yield item
    name = GATE_ITEM if GATE_ITEM not in golden.by_id() else f"{GATE_ITEM}[evalkit]"
    yield GateItem.from_parent(parent, name=name, suite=suite)


class EvalkitFailure(Exception):
    """A case or gate verdict: shown as its message, without a traceback."""


class _EvalkitItem(pytest.Item):
    suite: str

    def _outcome(self) -> SuiteOutcome:
        outcome = self.config.stash[SESSION].outcome(self.suite)
        if outcome.error:
            pytest.fail(
                f"evalkit: suite {self.suite} could not run ({outcome.error_kind}): "
                f"{outcome.error}",
                pytrace=False,
            )
        return outcome

    def repr_failure(
        self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None
    ) -> str | Any:
        """Returns the verdict's message for an evalkit failure, else pytest's usual report."""
        if isinstance(excinfo.value, EvalkitFailure):
            return str(excinfo.value)
        return super().repr_failure(excinfo, style=style)


class CaseItem(_EvalkitItem):
    """One golden case: passes when it meets its thresholds (see evalkit.gate._decision)."""

    def __init__(self, *, suite: str, case_id: str, line: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.suite = suite
        self.case_id = case_id
        self.line = line
        self.add_marker("evalkit")

    def setup(self) -> None:
        """Runs the suite (once per session) or reads its outcome; an evalkit error errors."""
        self._outcome()

    def runtest(self) -> None:
        """Passes, xfails (known failure) or fails with the case's verdict."""
        outcome = self._outcome()
        case = outcome.cases.get(self.case_id)
        if case is None:
            raise EvalkitFailure(f"case {self.case_id} is not in run {outcome.run_id}")
        self.user_properties.extend(case.properties)
        if case.status == "known-failure":
            pytest.xfail(case.message)
        if case.status == "failed":
            raise EvalkitFailure(case.message)

    def reportinfo(self) -> tuple[Path, int, str]:
        """Returns the golden file, the case's line (0-based) and a title."""
        return self.path, self.line - 1, f"evalkit {self.suite}: case {self.case_id}"


class GateItem(_EvalkitItem):
    """The suite's release gate: fails when the paired comparison with the baseline does."""

    def __init__(self, *, suite: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.suite = suite
        self.add_marker("evalkit")

    def setup(self) -> None:
        """Runs the suite (once per session) or reads its outcome; an evalkit error errors."""
        outcome = self._outcome()
        if outcome.gate is not None and outcome.gate.status == "error":
            self.user_properties.extend(outcome.gate.properties)
            pytest.fail(f"evalkit: {outcome.gate.message}", pytrace=False)

    def runtest(self) -> None:
        """Passes or fails with the gate's verdict; no baseline fails (or xfails if set)."""
        gate = self._outcome().gate
        assert gate is not None
        self.user_properties.extend(gate.properties)
        if gate.status == "skipped":
            pytest.skip(gate.message)
        if gate.status == "no-baseline":
            if self.config.stash[SESSION].missing_baseline == "xfail":
                pytest.xfail(gate.message)
            raise EvalkitFailure(gate.message)
        if gate.status == "failed":
            raise EvalkitFailure(gate.message)

    def reportinfo(self) -> tuple[Path, int, str]:
        """Returns the golden file and a title."""
        return self.path, 0, f"evalkit {self.suite}: gate"


# ---------------------------------------------------------------- summary and exit status


def _is_worker(config: pytest.Config) -> bool:
    return hasattr(config, "workerinput")


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Sets exit status 3 when a suite could not be decided (as the evalkit CLI does)."""
    state = session.config.stash.get(SESSION, None)
    if state is None or _is_worker(session.config):
        return
    for outcome in state.finished():
        if outcome.error or (outcome.gate is not None and outcome.gate.status == "error"):
            session.exitstatus = EXIT_UNDECIDED
            return


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    """Prints each suite's metric table, gate decision and report path."""
    state = config.stash.get(SESSION, None)
    if state is None or _is_worker(config) or config.option.collectonly:
        return
    from evalkit.gate._decision import summary_lines

    outcomes = {outcome.suite: outcome for outcome in state.finished()}
    terminalreporter.section("evalkit")
    for name in state.suites:
        if name not in outcomes:
            terminalreporter.write_line(f"suite {name}: not run (none of its items selected)")
            continue
        for line in summary_lines(outcomes[name]):
            red = line.startswith("  gate: failed") or "ERROR" in line
            terminalreporter.write_line(line, red=red, bold=red)


# ---------------------------------------------------------------- fixtures


@pytest.fixture
def evalkit(request: pytest.FixtureRequest) -> Evaluator:
    """Runs and scores single cases in ordinary tests: ``evalkit.check(case, metrics=[...])``."""
    from evalkit.gate._assertions import Evaluator

    state = request.config.stash.get(SESSION, None)
    config_file = _setting(request.config, "evalkit_config")
    return Evaluator(
        project=state.project if state is not None else None,
        config_file=config_file,
        root=request.config.rootpath,
        use_cache=not request.config.getoption("evalkit_no_cache", default=False),
    )
