"""The CI workflows `evalkit init` writes, run step by step as a fresh runner would run them.

A user's project gets evalkit from the built wheel (installed, not editable), runs
``evalkit init --ci github|gitlab``, pins a baseline and commits. The test then parses the
workflow file it wrote and runs every shell step in order (GitHub's ``run:`` steps with
``bash -e``, GitLab's ``script:`` lines in one ``bash -eo pipefail`` and ``after_script:``
after it), in a fresh venv that stands for the runner's Python; ``uses:`` steps are skipped.

What the test substitutes, and nothing else:

* PATH: the fresh venv's bin/ first (setup-python / GitLab's ``image: python:3.11``);
* PIP_NO_INDEX=1 and PIP_NO_BUILD_ISOLATION=0 (pip's spelling of ``--no-build-isolation``):
  offline, every dependency comes from the test environment, which the venv sees through
  a .pth file (tests/support/installed.py);
* the caches the ``uses: actions/cache`` steps (GitHub) or ``cache:`` (GitLab) would
  restore: evalkit's portable llama-cpp-python wheel, copied from this machine's
  ``$XDG_CACHE_HOME/evalkit/wheels/<config hash>/`` (``python evalkit/models/llama_wheel.py``
  builds it there) into the runner's cache folder, so the build step takes the cached
  path;
* OPENAI_API_BASE and OPENAI_API_KEY (a project's CI secrets): the fake OpenAI server.

The workflow's own variables (EVALKIT_REQUIREMENT: the evalkit wheel's file URL that init
recorded; PIP_ONLY_BINARY, PIP_FIND_LINKS, XDG_CACHE_HOME, PIP_CACHE_DIR) are used as
written.
"""

from __future__ import annotations

import shutil
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from evalkit.models import llama_wheel
from tests.support.fakeserver import FakeOpenAIServer
from tests.support.installed import clean_env, make_venv, run, server_rules, write_user_project

pytestmark = pytest.mark.slow


@dataclass
class Step:
    """One shell step as the runner ran it."""

    name: str
    status: int | None  # None: not run (an earlier step failed and it has no if: always())
    output: str = ""


def _seed_llama_cache(cache_home: Path) -> Path:
    """Copies this machine's portable llama-cpp-python wheel into a runner's cache folder."""
    built = sorted(llama_wheel.wheel_dir().glob("llama_cpp_python-*.whl"))
    if not built:
        pytest.fail(
            f"no portable llama-cpp-python wheel in {llama_wheel.wheel_dir()}: build it once "
            "with `python evalkit/models/llama_wheel.py` (~15 min, once per machine)"
        )
    target = cache_home / "evalkit" / "wheels" / llama_wheel.wheel_dir().name
    target.mkdir(parents=True)
    shutil.copy2(built[-1], target / built[-1].name)
    return target / built[-1].name


def _bash(script: str, cwd: Path, env: dict[str, str], flags: str) -> tuple[int, str]:
    path = cwd.parent / f"step-{abs(hash(script))}.sh"
    path.write_text(script)
    result = run(["bash", *flags.split(), str(path)], cwd=cwd, env=env)
    return result.returncode, result.stdout + result.stderr


def run_github_job(workflow: dict[str, Any], project: Path, env: dict[str, str]) -> list[Step]:
    """Runs a GitHub Actions job's ``run:`` steps in order; returns what each did."""
    (job,) = workflow["jobs"].values()
    scratch = project.parent / "runner"
    scratch.mkdir()
    github_env = scratch / "env"
    github_env.touch()
    summary = scratch / "summary.md"
    summary.touch()
    base = {**env, **workflow.get("env", {}), **job.get("env", {})}
    steps: list[Step] = []
    failed = False
    for index, step in enumerate(job["steps"]):
        if "uses" in step:
            continue
        name = step.get("name", step["run"].splitlines()[0])
        if failed and step.get("if") != "always()":
            steps.append(Step(name, None))
            continue
        assert "${{" not in step["run"], f"step {name!r}: expressions belong in env:, not run:"
        exported = dict(
            line.split("=", 1) for line in github_env.read_text().splitlines() if "=" in line
        )
        output = scratch / f"output-{index}"
        output.touch()
        step_env = {
            **base,
            **exported,
            **{k: str(v) for k, v in step.get("env", {}).items()},
            "GITHUB_ENV": str(github_env),
            "GITHUB_OUTPUT": str(output),
            "GITHUB_STEP_SUMMARY": str(summary),
            "GITHUB_WORKSPACE": str(project),
        }
        status, text = _bash(step["run"], project, step_env, "--noprofile --norc -e")
        steps.append(Step(name, status, text))
        failed = failed or status != 0
    return steps


def run_gitlab_job(pipeline: dict[str, Any], project: Path, env: dict[str, str]) -> list[Step]:
    """Runs a GitLab CI job's ``script:`` then ``after_script:``; returns both."""
    (job,) = (value for value in pipeline.values() if isinstance(value, dict) and "script" in value)
    exports = "".join(
        f'export {key}="{value}"\n' for key, value in job.get("variables", {}).items()
    )
    job_env = {**env, "CI_PROJECT_DIR": str(project), "CI_PIPELINE_SOURCE": "merge_request_event"}
    status, text = _bash(
        exports + "\n".join(job["script"]) + "\n",
        project,
        job_env,
        "--noprofile --norc -eo pipefail",
    )
    after_status, after_text = _bash(
        exports + "\n".join(job["after_script"]) + "\n", project, job_env, "--noprofile --norc"
    )
    return [Step("script", status, text), Step("after_script", after_status, after_text)]


def _user_project(
    tmp_path: Path, installed_bin: Path, server: FakeOpenAIServer, ci: str
) -> tuple[Path, dict[str, str]]:
    """A project that ran `evalkit init --ci CI` and pinned a baseline; its user's env."""
    project = tmp_path / "shop"
    write_user_project(project)
    user_env = clean_env(
        installed_bin,
        {"OPENAI_API_BASE": server.url, "OPENAI_API_KEY": "sk-test",
         "XDG_CACHE_HOME": str(tmp_path / "user-cache")},
    )  # fmt: skip
    server.configure(rules=server_rules())
    init = run(["evalkit", "init", "--model", "openai/fake", "--ci", ci], project, user_env)
    assert init.returncode == 0, init.stderr
    pin = run(
        ["python", "-m", "pytest", "--evalkit-suite", "qa", "--evalkit-update-baseline"],
        project,
        user_env,
    )
    assert pin.returncode == 0, pin.stdout[-3000:] + pin.stderr[-3000:]
    return project, user_env


def _runner_env(tmp_path: Path, shared_deps: Path, server: FakeOpenAIServer) -> dict[str, str]:
    """A fresh runner: a new venv without evalkit, offline pip, the project's secrets."""
    runner_bin = make_venv(tmp_path / "runner-python", shared_deps)
    return clean_env(
        runner_bin,
        {
            "PIP_NO_BUILD_ISOLATION": "0",
            "OPENAI_API_BASE": server.url,
            "OPENAI_API_KEY": "sk-test",
            "HOME": str(tmp_path / "home"),
            "XDG_CACHE_HOME": str(tmp_path / "home" / ".cache"),
            "PIP_CACHE_DIR": str(tmp_path / "home" / ".cache" / "pip"),
        },
    )


def _recorded_requirement(project: Path, evalkit_wheel: Path) -> str:
    pyproject = tomllib.loads((project / "pyproject.toml").read_text())
    (requirement,) = pyproject["dependency-groups"]["eval"]
    assert requirement == f"evalkit @ {evalkit_wheel.as_uri()}"
    return str(requirement)


def _llama_would_come_from(env: dict[str, str], project: Path, find_links: str) -> str:
    """Returns what the install step's pip would take for llama-cpp-python on a runner
    that does not have it yet (the test environment has it, so this is a dry run)."""
    step_env = {**env, "PIP_FIND_LINKS": find_links, "PIP_ONLY_BINARY": "llama-cpp-python"}
    result = run(
        ["python", "-m", "pip", "install", "--dry-run", "--ignore-installed", "--no-deps",
         f"llama-cpp-python=={llama_wheel.VERSION}"],
        project,
        step_env,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_github_workflow_installs_the_project_and_passes_the_gate_step_by_step(
    tmp_path: Path,
    installed_bin: Path,
    shared_deps: Path,
    evalkit_wheel: Path,
    openai_server: FakeOpenAIServer,
) -> None:
    project, _ = _user_project(tmp_path, installed_bin, openai_server, "github")
    requirement = _recorded_requirement(project, evalkit_wheel)
    workflow = yaml.safe_load((project / ".github" / "workflows" / "evalkit.yml").read_text())
    assert workflow["env"]["EVALKIT_REQUIREMENT"] == requirement

    env = _runner_env(tmp_path, shared_deps, openai_server)
    seeded = _seed_llama_cache(Path(env["XDG_CACHE_HOME"]))
    steps = run_github_job(workflow, project, env)

    report = [(s.name, s.status, s.output[-2000:]) for s in steps]
    assert [s.status for s in steps] == [0] * len(steps), report
    assert [s.name for s in steps][-2:] == ["evalkit gate", "Job summary"]
    assert "tests/test_shop.py ." in steps[-2].output  # the project's own test ran too
    assert "compiling llama-cpp-python" not in steps[0].output + steps[1].output
    summary = (tmp_path / "runner" / "summary.md").read_text()
    assert summary and summary == (project / "evalkit-reports" / "qa" / "summary.md").read_text()
    assert (project / "evalkit-reports" / "junit.xml").is_file()

    exported = dict(
        line.split("=", 1) for line in (tmp_path / "runner" / "env").read_text().splitlines()
    )
    assert Path(exported["PIP_FIND_LINKS"]) == seeded.parent
    version = seeded.name.split("-")[1]  # 0.3.36+portable.<config hash>
    assert version in _llama_would_come_from(env, project, exported["PIP_FIND_LINKS"])
    where = run(["python", "-c", "import evalkit; print(evalkit.__file__)"], project, env)
    assert Path(where.stdout.strip()).is_relative_to(tmp_path / "runner-python")


def test_gitlab_job_fails_the_gate_on_a_regressed_merge_request_and_still_shows_the_summary(
    tmp_path: Path,
    installed_bin: Path,
    shared_deps: Path,
    evalkit_wheel: Path,
    openai_server: FakeOpenAIServer,
) -> None:
    project, _ = _user_project(tmp_path, installed_bin, openai_server, "gitlab")
    requirement = _recorded_requirement(project, evalkit_wheel)
    pipeline = yaml.safe_load((project / ".gitlab-ci.yml").read_text())
    job = pipeline["evalkit-gate"]
    assert job["variables"]["EVALKIT_REQUIREMENT"] == requirement
    assert job["artifacts"]["reports"]["junit"] == "evalkit-reports/junit.xml"

    # The merge request changes the prompt (so the call cache misses) and the model now
    # gets two answers wrong, the critical one among them.
    prompt = project / "tests" / "golden_sets" / "prompts" / "qa.jinja"
    prompt.write_text(prompt.read_text().replace("in a few words", "briefly"))
    openai_server.configure(rules=server_rules(wrong=["capital of France?", "Who wrote Hamlet?"]))

    env = _runner_env(tmp_path, shared_deps, openai_server)
    # GitLab restores its cache into the project folder ($CI_PROJECT_DIR/.cache).
    seeded = _seed_llama_cache(project / ".cache")
    script, after = run_gitlab_job(pipeline, project, env)

    assert script.status == 1, script.output[-4000:]
    assert after.status == 0, after.output
    markdown = (project / "evalkit-reports" / "qa" / "summary.md").read_text()
    assert markdown.strip() and markdown.strip() in after.output
    assert (project / "evalkit-reports" / "junit.xml").is_file()
    assert "compiling llama-cpp-python" not in script.output  # the cached wheel was found
    version = seeded.name.split("-")[1]
    assert version in _llama_would_come_from(env, project, str(seeded.parent))
