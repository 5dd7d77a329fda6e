"""The pytest plugin end to end: golden cases as items, the gate, outcomes and the summary."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest

from evalkit.config._suite import load_config
from evalkit.gate._decision import GateOptions, evaluate_suite
from tests.support.fakeserver import FakeOpenAIServer
from tests.support.plugin_project import N_CASES, case_ids, configure, write_project

pytest_plugins = ["pytester"]

RUN = ("--evalkit-suite", "qa", "--evalkit-no-cache")


@pytest.fixture(autouse=True)
def _api_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-dummy")


@pytest.fixture(scope="module", autouse=True)
def _library_imported(
    fake_server: FakeOpenAIServer, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Runs a tiny suite once in this process before the in-process pytester runs.

    pytester drops the modules first imported inside a run; some (pandas' Arrow types)
    cannot be imported twice. With the whole path already imported here, in-process runs
    import nothing new, and take a second instead of re-importing LiteLLM and pandas.
    """
    folder = tmp_path_factory.mktemp("warm")
    mp = pytest.MonkeyPatch()
    mp.setenv("OPENAI_API_KEY", "sk-dummy")
    try:
        write_project(_Folder(folder), fake_server.url, n=4)  # type: ignore[arg-type]
        project = load_config(folder / "pyproject.toml")
        suite = project.suite("qa")
        evaluate_suite(project, suite, GateOptions(update_baseline=True, use_cache=False))
        evaluate_suite(project, suite, GateOptions(report=str(folder / "report")))
    finally:
        mp.undo()


class _Folder:
    """Enough of pytester for write_project outside a test."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def makepyprojecttoml(self, text: str) -> None:
        (self.path / "pyproject.toml").write_text(text)


@pytest.fixture
def project(pytester: pytest.Pytester, openai_server: FakeOpenAIServer) -> pytest.Pytester:
    """A project whose suite qa has a baseline pinned from a run where every case passes."""
    write_project(pytester, openai_server.url)
    configure(openai_server)
    result = pytester.runpytest(*RUN, "--evalkit-update-baseline", "--evalkit-report", "none")
    result.assert_outcomes(passed=N_CASES, skipped=1)
    return pytester


def test_update_baseline_writes_the_suite_baseline(project: pytest.Pytester) -> None:
    baseline = project.path / "golden_sets" / "qa.baseline.jsonl"
    lines = baseline.read_text().splitlines()
    assert json.loads(lines[0])["manifest"]["suite"] == "qa"
    assert sorted(json.loads(line)["case_id"] for line in lines[1:]) == case_ids()


def test_unchanged_sut_passes_every_case_and_the_gate(
    project: pytest.Pytester, openai_server: FakeOpenAIServer
) -> None:
    configure(openai_server)
    result = project.runpytest(*RUN, "-v")
    result.assert_outcomes(passed=N_CASES + 1)
    assert result.ret == 0
    result.stdout.fnmatch_lines(
        [
            "golden_sets/qa.jsonl::c00 PASSED*",
            "golden_sets/qa.jsonl::c29 PASSED*",
            "golden_sets/qa.jsonl::gate PASSED*",
            "*= evalkit =*",
            "suite qa: run *",
            "*metric*baseline*candidate*delta [[]CI[]]*p*q*verdict*",
            "*exact*1*1*+0 [[]+0, +0[]]*no-change*",
            "*gate: passed*",
            "*report: *report.html",
        ]
    )
    report = next(line for line in result.outlines if "report: " in line).split("report: ")[1]
    assert Path(report).is_file()
    assert openai_server.stats()["requests"] == N_CASES


def test_planted_regression_fails_the_gate_with_delta_ci_p_q_and_mde(
    project: pytest.Pytester, openai_server: FakeOpenAIServer
) -> None:
    wrong = case_ids()[10:22]
    configure(openai_server, wrong=wrong)
    result = project.runpytest(*RUN, "--evalkit-report", "none")
    result.assert_outcomes(passed=N_CASES - len(wrong), failed=len(wrong) + 1)
    assert result.ret == 1
    result.stdout.fnmatch_lines(
        [
            "*_ evalkit qa: gate _*",
            "gate failed (regression, alpha 0.05):",
            "  exact 1 -> 0.6, delta -0.4 [[]-*, -*[]], p=*, q=*, MDE *: regression",
        ]
    )
    result.stdout.fnmatch_lines(
        ["*_ evalkit qa: case c10 _*", "exact 0 < threshold 1; baseline 1; f1 *"]
    )
    assert "Traceback" not in result.stdout.str()


def test_known_failures_xfail_and_warn_but_a_newly_failing_critical_case_fails(
    pytester: pytest.Pytester, openai_server: FakeOpenAIServer
) -> None:
    write_project(pytester, openai_server.url)
    configure(openai_server, wrong=["c03", "c05"])  # c05 is tagged critical
    pytester.runpytest(*RUN, "--evalkit-update-baseline", "--evalkit-report", "none")
    result = pytester.runpytest(*RUN, "--evalkit-report", "none", "-rxf")
    # every case but the two known failures passes, and so does the gate item
    result.assert_outcomes(passed=N_CASES - 2 + 1, xfailed=2)
    assert result.ret == 0
    result.stdout.fnmatch_lines(
        [
            "*warning: critical case c05 fails exact*: known failure*",
            "XFAIL golden_sets/qa.jsonl::c03 - known failure (also failed in baseline): exact 0 *",
            "XFAIL golden_sets/qa.jsonl::c05 - critical case, known failure (also failed in *",
        ]
    )
    configure(openai_server, wrong=["c03", "c05", "c06"])  # c06: critical, passed before
    tags = pytester.path.joinpath("golden_sets/qa.jsonl")
    lines = tags.read_text().splitlines()
    lines[6] = lines[6].replace('"tags": [', '"tags": ["critical", ', 1)
    tags.write_text("\n".join(lines) + "\n")
    result = pytester.runpytest(*RUN, "--evalkit-report", "none", "-rxf")
    assert result.ret == 1
    result.stdout.fnmatch_lines(
        [
            "FAILED golden_sets/qa.jsonl::c06 - critical case: exact 0 < threshold 1*",
            "FAILED golden_sets/qa.jsonl::gate - gate failed*",
        ]
    )


def test_missing_baseline_fails_the_gate_unless_told_to_xfail(
    pytester: pytest.Pytester, openai_server: FakeOpenAIServer
) -> None:
    write_project(pytester, openai_server.url)
    configure(openai_server)
    result = pytester.runpytest(*RUN, "--evalkit-report", "none", "-rxf")
    result.assert_outcomes(passed=N_CASES, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*_ evalkit qa: gate _*",
            "no baseline: run with --evalkit-update-baseline to create one",
            "FAILED golden_sets/qa.jsonl::gate - no baseline*",
        ]
    )
    result = pytester.runpytest(
        *RUN, "--evalkit-report", "none", "--evalkit-missing-baseline", "xfail"
    )
    result.assert_outcomes(passed=N_CASES, xfailed=1)


def test_unreachable_sut_is_an_error_with_exit_status_3(
    pytester: pytest.Pytester, openai_server: FakeOpenAIServer
) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    write_project(pytester, f"http://127.0.0.1:{port}/v1", n=6)
    result = pytester.runpytest(*RUN, "--evalkit-report", "none")
    result.assert_outcomes(errors=7)
    assert result.ret == 3
    result.stdout.fnmatch_lines(["*suite qa could not run (InfrastructureError)*"])


def test_a_partial_run_above_the_suites_limit_is_exit_3_and_says_how_to_resume(
    pytester: pytest.Pytester, openai_server: FakeOpenAIServer
) -> None:
    write_project(pytester, openai_server.url, n=20)
    # c10..c19 fail with a 400 (never retried): 10 of 20 calls, above max_unscored_share 10%.
    openai_server.configure(
        rules=[{"match": "", "reply": "x"}],
        faults=[{"status": 400, "match": "re:question c1[0-9]"}],
    )
    result = pytester.runpytest(*RUN, "--evalkit-report", "none")
    assert result.ret == 3
    result.stdout.fnmatch_lines(
        ["*suite qa could not run (PartialRunError)*10 of 20 calls*Run the same command again*"]
    )


def test_repeated_samples_flag_flaky_cases(
    project: pytest.Pytester, openai_server: FakeOpenAIServer
) -> None:
    configure(openai_server, flaky=["c01", "c02"])
    result = project.runpytest(*RUN, "--evalkit-samples", "3", "--evalkit-report", "none")
    result.stdout.fnmatch_lines(["*flaky cases (2): c01 (exact sd 0.58*), c02 (exact sd 0.58*)"])
    assert openai_server.stats()["requests"] == N_CASES * 3


def test_junit_xml_has_scores_per_case_and_the_gate_summary(
    project: pytest.Pytester, openai_server: FakeOpenAIServer
) -> None:
    import xml.etree.ElementTree as ET

    configure(openai_server, wrong=["c04"])
    xml_path = project.path / "junit.xml"
    project.runpytest(*RUN, "--evalkit-report", "none", f"--junitxml={xml_path}")
    root = ET.parse(xml_path).getroot()
    suite = root if root.tag == "testsuite" else root.find("testsuite")
    assert suite is not None and suite.get("tests") == str(N_CASES + 1)
    cases = {tc.get("name"): tc for tc in suite.iter("testcase")}
    assert set(cases) == {*case_ids(), "gate"}

    def props(name: str) -> dict[str, str]:
        return {p.get("name"): p.get("value") for p in cases[name].iter("property")}

    assert props("c00")["evalkit.exact"] == "1" and props("c00")["evalkit.outcome"] == "passed"
    assert props("c04")["evalkit.exact"] == "0" and props("c04")["evalkit.exact.baseline"] == "1"
    assert cases["c04"].find("failure") is not None
    gate = props("gate")
    assert gate["evalkit.gate"] == "passed"
    assert gate["evalkit.exact.delta"].startswith("-0.0333")
    assert {"evalkit.exact.ci", "evalkit.exact.p", "evalkit.exact.q", "evalkit.exact.mde"} <= set(
        gate
    )


def test_k_selects_cases_and_tags_are_markers(
    project: pytest.Pytester, openai_server: FakeOpenAIServer
) -> None:
    configure(openai_server)
    result = project.runpytest(*RUN, "--evalkit-report", "none", "-k", "c01 or c02")
    result.assert_outcomes(passed=2)
    result = project.runpytest(
        *RUN, "--evalkit-report", "none", "-m", "critical", "--strict-markers"
    )
    result.assert_outcomes(passed=1)


def test_no_selected_suite_collects_nothing_of_evalkit(
    pytester: pytest.Pytester, openai_server: FakeOpenAIServer
) -> None:
    write_project(pytester, openai_server.url)
    pytester.makepyfile(test_plain="def test_plain():\n    assert True\n")
    result = pytester.runpytest("golden_sets", "test_plain.py")
    result.assert_outcomes(passed=1)
    assert openai_server.stats()["requests"] == 0


def test_p_no_evalkit_disables_the_plugin(
    pytester: pytest.Pytester, openai_server: FakeOpenAIServer
) -> None:
    write_project(pytester, openai_server.url)
    help_text = pytester.runpytest("-p", "no:evalkit", "--help").stdout.str()
    assert "--evalkit-suite" not in help_text
    assert "--evalkit-suite" in pytester.runpytest("--help").stdout.str()
    result = pytester.runpytest("-p", "no:evalkit", "--evalkit-suite", "qa")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert openai_server.stats()["requests"] == 0


def test_unknown_suite_is_a_usage_error(
    pytester: pytest.Pytester, openai_server: FakeOpenAIServer
) -> None:
    write_project(pytester, openai_server.url)
    result = pytester.runpytest("--evalkit-suite", "nope")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*no suite named 'nope'*known suites: qa*"])


def _outcomes(result: pytest.RunResult) -> dict[str, str]:
    """Returns node id -> outcome from ``-v`` lines (serial and pytest-xdist formats)."""
    words = {"PASSED", "FAILED", "XFAIL", "SKIPPED", "ERROR"}
    found = {}
    for line in result.outlines:
        tokens = line.split()
        nodes = [t for t in tokens if t.startswith("golden_sets/qa.jsonl::")]
        outcome = [t for t in tokens if t in words]
        if nodes and outcome and " - " not in line:
            found[nodes[0]] = outcome[0]
    return found


def test_xdist_agrees_with_serial_and_calls_the_sut_once_per_case(
    project: pytest.Pytester, openai_server: FakeOpenAIServer
) -> None:
    wrong = ["c03", *case_ids()[12:22]]
    configure(openai_server, wrong=wrong)
    serial = project.runpytest(*RUN, "--evalkit-report", "none", "-v")
    configure(openai_server, wrong=wrong)
    parallel = project.runpytest(*RUN, "--evalkit-report", "none", "-v", "-n", "2")
    assert openai_server.stats()["requests"] == N_CASES
    assert parallel.parseoutcomes() == serial.parseoutcomes()
    assert _outcomes(parallel) == _outcomes(serial)
    assert _outcomes(serial)["golden_sets/qa.jsonl::gate"] == "FAILED"
    parallel.stdout.fnmatch_lines(["*= evalkit =*", "*gate: failed*"])
    assert parallel.ret == serial.ret == 1


def test_shards_split_the_cases_and_their_merge_gates_like_one_run(
    project: pytest.Pytester, openai_server: FakeOpenAIServer
) -> None:
    from evalkit.cli import main
    from evalkit.comparison._compare import compare_runs
    from evalkit.store._baselines import load_baseline
    from evalkit.store._runs import RunStore

    wrong = case_ids()[8:20]
    configure(openai_server, wrong=wrong)
    whole = project.runpytest(*RUN, "--evalkit-report", "none", "-v")
    seen: dict[str, str] = {}
    for shard in ("1/2", "2/2"):
        result = project.runpytest(*RUN, "--evalkit-shard", shard, "--evalkit-report", "none", "-v")
        outcomes = _outcomes(result)
        assert outcomes.pop("golden_sets/qa.jsonl::gate") == "SKIPPED"
        assert not set(outcomes) & set(seen)
        seen.update(outcomes)
    expected = _outcomes(whole)
    assert expected.pop("golden_sets/qa.jsonl::gate") == "FAILED"
    assert seen == expected
    store = RunStore(project.path / ".evalkit" / "runs")
    runs = store.list_runs("qa")
    shard_ids = [m.run_id for m in runs if m.shard]
    unsharded = next(line for line in whole.outlines if line.startswith("suite qa: run "))
    unsharded = unsharded.split()[3].rstrip(",")
    config = str(project.path / "pyproject.toml")
    assert main(["--config", config, "merge", *shard_ids]) == 0
    merged = next(m.run_id for m in store.list_runs("qa") if m.extra.get("merged_from"))
    baseline = str(project.path / "golden_sets" / "qa.baseline.jsonl")
    verdicts = []
    for run in (unsharded, merged):
        comparison = compare_runs(
            load_baseline(baseline), store.load_run(run), gate=load_config(config).suite("qa").gate
        )
        data = comparison.to_dict()
        for key in ("candidate_id", "candidate_manifest", "baseline_manifest"):
            data.pop(key)
        verdicts.append(data)
    assert verdicts[0] == verdicts[1]
    assert not verdicts[0]["gate"]["passed"]
