"""The wheel is complete, and evalkit installed from it (not editable) works in a new project.

The wheel is built once per session from this tree and installed with ``pip install
--no-index --no-deps`` into a fresh venv that borrows its dependencies from the test
environment (tests/support/installed.py). Every command below runs the venv's own evalkit, in a
scratch project, against the fake OpenAI server on 127.0.0.1.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.fakeserver import FakeOpenAIServer
from tests.support.installed import (
    PACKAGE,
    clean_env,
    package_files,
    run,
    server_rules,
    wheel_files,
    write_user_project,
)

pytestmark = pytest.mark.slow


@pytest.fixture
def user_env(
    installed_bin: Path, openai_server: FakeOpenAIServer, tmp_path: Path
) -> Iterator[dict[str, str]]:
    """The environment of a user's shell: the venv first on PATH, their model's endpoint."""
    openai_server.configure(rules=server_rules())
    yield clean_env(
        installed_bin,
        {
            "OPENAI_API_BASE": openai_server.url,
            "OPENAI_API_KEY": "sk-test",
            "XDG_CACHE_HOME": str(tmp_path / "xdg-cache"),
        },
    )


def test_the_wheel_holds_every_file_of_the_package_tree(evalkit_wheel: Path) -> None:
    in_wheel = wheel_files(evalkit_wheel)
    assert in_wheel == package_files()
    data = [name for name in in_wheel if not name.endswith(".py")]
    # The files that went missing before: the trend report's template and static files.
    assert {
        "evalkit/report/templates/trend.html.j2",
        "evalkit/report/static/trend.css",
        "evalkit/report/static/trend.js",
        "evalkit/report/templates/report.html.j2",
        "evalkit/py.typed",
    } <= set(data)


def test_installed_evalkit_is_the_wheel_not_the_source_tree(
    installed_bin: Path, tmp_path: Path
) -> None:
    result = run(
        [str(installed_bin / "python"), "-c", "import evalkit; print(evalkit.__file__)"],
        cwd=tmp_path,
        env=clean_env(installed_bin),
    )
    where = Path(result.stdout.strip())
    assert where.is_relative_to(installed_bin.parent), where
    assert not where.is_relative_to(PACKAGE.parent)


def test_installed_wheel_runs_init_the_gate_report_and_nightly(
    user_env: dict[str, str], openai_server: FakeOpenAIServer, tmp_path: Path
) -> None:
    project = tmp_path / "shop"
    write_user_project(project)

    init = run(["evalkit", "init", "--model", "openai/fake", "--ci", "github"], project, user_env)
    assert init.returncode == 0, init.stderr
    assert (project / ".github" / "workflows" / "evalkit.yml").is_file()

    # Pin a baseline, then the gate: the ordinary unit test runs beside the suite.
    pin = run(
        ["python", "-m", "pytest", "--evalkit-suite", "qa", "--evalkit-update-baseline"],
        project,
        user_env,
    )
    assert pin.returncode == 0, pin.stdout[-3000:] + pin.stderr[-3000:]
    assert (project / "tests" / "golden_sets" / "qa.baseline.jsonl").is_file()
    gate = run(
        ["python", "-m", "pytest", "--evalkit-suite", "qa", "--evalkit-report", "reports/gate"],
        project,
        user_env,
    )
    assert gate.returncode == 0, gate.stdout[-3000:] + gate.stderr[-3000:]
    assert "test_shop.py ." in gate.stdout
    assert (project / "reports" / "gate" / "qa" / "summary.md").is_file()

    report = run(["evalkit", "report", "latest", "-o", "reports/one.html"], project, user_env)
    assert report.returncode == 0, report.stderr
    html = (project / "reports" / "one.html").read_text()
    # The page inlines the package's static files: the installed copy had them.
    css = (PACKAGE / "report" / "static" / "report.css").read_text().strip().splitlines()[0]
    assert css in html

    openai_server.configure(rules=server_rules(wrong=["capital of France?"]))
    nightly = run(
        ["evalkit", "nightly", "qa", "--report-dir", "reports/nightly"], project, user_env
    )
    # A critical case now fails against the pinned baseline: an alert, exit 1.
    assert nightly.returncode == 1, nightly.stdout + nightly.stderr
    assert "warning" not in nightly.stderr.lower(), nightly.stderr
    summary = json.loads((project / "reports" / "nightly" / "summary.json").read_text())
    assert summary["status"] == "alert"
    trend = (project / "reports" / "nightly" / "trend.html").read_text()
    assert "Nightly trends" in trend
    for asset in ("trend.css", "trend.js"):
        first = (PACKAGE / "report" / "static" / asset).read_text().strip().splitlines()[0]
        assert first in trend, asset
