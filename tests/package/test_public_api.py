"""evalkit's public face: ``evalkit/__init__.py`` exports what a Python user needs, lazily.

The quick path here is the one README's "Python API" section and the package docstring
show, run once against the fake OpenAI-compatible server over real HTTP.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

import evalkit
from tests.support.fakeserver import FakeOpenAIServer

SOURCE_ROOT = str(Path(evalkit.__file__).resolve().parent.parent)

JUDGE = """\
model = "fake-judge"
mode = "chat"
api_base = "{url}"
structured = "none"
max_retries = 0
rubric = "Grade the answer. Reply with JSON."
template = \"\"\"Question: {{{{ input }}}}
Answer: {{{{ output }}}}\"\"\"
"""


def _run_python(code: str, *, path: list[str], isolated: bool = False) -> str:
    env = {"PYTHONPATH": ":".join(path), "PYTHONDONTWRITEBYTECODE": "1"}
    flags = ["-S"] if isolated else []
    done = subprocess.run(
        [sys.executable, *flags, "-c", code],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        # An empty folder, not the repository: `python -c` puts the working directory first on
        # sys.path, and a checkout holds an evalkit.egg-info (0.1.0) from `pip install -e .`.
        cwd=tempfile.mkdtemp(prefix="evalkit-cwd-"),
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout.strip()


def test_every_name_in_all_imports_and_is_what_its_module_defines() -> None:
    assert len(set(evalkit.__all__)) == len(evalkit.__all__)
    for name in evalkit.__all__:
        assert getattr(evalkit, name) is not None, name
    namespace: dict[str, object] = {}
    exec("from evalkit import *", namespace)
    assert set(evalkit.__all__) <= set(namespace)
    from evalkit.comparison._compare import compare_runs
    from evalkit.store._runref import load_run_ref

    assert evalkit.compare_runs is compare_runs and evalkit.load_run is load_run_ref
    with pytest.raises(AttributeError, match="no attribute 'no_such_name'"):
        _ = evalkit.no_such_name  # type: ignore[attr-defined]


def test_every_exported_exception_is_an_evalkit_error_from_errors_py() -> None:
    from evalkit import errors

    exported = [getattr(evalkit, n) for n in evalkit.__all__]
    exceptions = [e for e in exported if isinstance(e, type) and issubclass(e, BaseException)]
    assert evalkit.SUTError in exceptions and evalkit.LabelledSetError in exceptions
    for cls in exceptions:
        assert cls.__module__ == "evalkit.errors", cls
        assert issubclass(cls, evalkit.EvalkitError) or issubclass(cls, Warning)
    classes = {
        v for v in vars(errors).values() if isinstance(v, type) and issubclass(v, BaseException)
    }
    assert classes == set(exceptions)


def test_every_exported_exception_is_raised_somewhere_in_the_package() -> None:
    # Raised itself, or through a subclass (a base class such as UserInputError is what a
    # caller catches; the package raises its specific kinds). Warnings are issued, not raised.
    import ast

    raised: set[str] = set()
    for path in Path(evalkit.__file__).parent.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Raise) and node.exc is not None:
                target = node.exc.func if isinstance(node.exc, ast.Call) else node.exc
                name = target.attr if isinstance(target, ast.Attribute) else None
                name = target.id if isinstance(target, ast.Name) else name
                if name:
                    raised.add(name)
    exported = [getattr(evalkit, n) for n in evalkit.__all__]
    exceptions = [
        e
        for e in exported
        if isinstance(e, type) and issubclass(e, BaseException) and not issubclass(e, Warning)
    ]
    raised_classes = [e for e in exceptions if e.__name__ in raised]
    never = [e.__name__ for e in exceptions if not any(issubclass(r, e) for r in raised_classes)]
    assert never == [], f"exported but never raised (nor any subclass): {never}"


def test_importing_evalkit_loads_none_of_the_modules_behind_its_names() -> None:
    out = _run_python(
        "import json, sys\nimport evalkit\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.startswith('evalkit'))))",
        path=[SOURCE_ROOT],
    )
    assert json.loads(out) == ["evalkit", "evalkit.errors"]


def test_the_version_comes_from_the_installed_metadata(tmp_path: Path) -> None:
    dist = tmp_path / "evalkit-9.8.7.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: evalkit\nVersion: 9.8.7\n")
    code = "import evalkit; print(evalkit.__version__)"
    assert _run_python(code, path=[str(tmp_path), SOURCE_ROOT]) == "9.8.7"
    # Not installed at all (no site-packages, and a copy of the package without the
    # checkout's evalkit.egg-info beside it): a version that says so, not a made-up one.
    bare = tmp_path / "bare"
    shutil.copytree(Path(SOURCE_ROOT) / "evalkit", bare / "evalkit")
    assert _run_python(code, path=[str(bare)], isolated=True) == "0+unknown"


def _write_project(root: Path, url: str) -> Path:
    golden = root / "golden_sets" / "qa.jsonl"
    golden.parent.mkdir()
    golden.write_text(
        "".join(
            json.dumps({"id": f"c{i}", "input": f"question {i}?", "expected": f"answer {i}"}) + "\n"
            for i in range(12)
        )
    )
    judges = root / "judges"
    judges.mkdir()
    (judges / "grader.toml").write_text(JUDGE.format(url=url))
    labels = [
        {
            "id": f"{kind}{i}",
            "input": f"q{i}",
            "output": f"{kind} {i}",
            "labels": [{"rater": "ann", "value": "pass" if kind == "right" else "fail"}],
        }
        for kind in ("right", "wrong")
        for i in range(10)
    ]
    (judges / "grader.labels.jsonl").write_text("".join(json.dumps(x) + "\n" for x in labels))
    config = root / "pyproject.toml"
    config.write_text(
        f"""
[tool.evalkit]
store = ".evalkit/runs"
cache_dir = ".evalkit/cache"
judges_dir = "judges"

[tool.evalkit.suites.qa]
golden = "golden_sets/qa.jsonl"
metrics = [{{ name = "f1", scorer = "token_f1", threshold = 0.5 }}]

[tool.evalkit.suites.qa.sut]
model = "openai/fake"
mode = "chat"
api_base = "{url}"
max_retries = 0

[tool.evalkit.suites.qa.gate]
bootstrap = 200
"""
    )
    return config


def test_the_documented_quick_path_runs_against_a_real_http_server(
    tmp_path: Path, openai_server: FakeOpenAIServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-dummy")
    monkeypatch.chdir(tmp_path)
    _write_project(tmp_path, openai_server.url)
    rules = [{"match": f"question {i}?", "reply": f"answer {i}"} for i in range(12)]
    judge_rules = [{"match": "re:Answer: right", "reply": '{"verdict": "pass"}'}]
    openai_server.configure(rules=rules + judge_rules, default_reply='{"verdict": "fail"}')

    project = evalkit.load_config()
    suite = project.suite("qa")
    golden = evalkit.load_golden_set(project.path(suite.golden))
    assert isinstance(golden, evalkit.GoldenSet) and len(golden.cases) == 12
    first = evalkit.run_suite(project, suite, progress=False)
    # Tonight the SUT gets two answers wrong.
    wrong = [{"match": "question 0?", "reply": "no idea"}, {"match": "question 1?", "reply": "?"}]
    openai_server.configure(
        rules=[*wrong, *rules, *judge_rules], default_reply='{"verdict": "fail"}'
    )
    candidate = evalkit.run_suite(project, suite, progress=False, use_cache=False)
    baseline = evalkit.load_run(first.manifest.run_id, project)
    assert isinstance(baseline, evalkit.Run) and baseline.manifest.run_id == first.manifest.run_id

    comparison = evalkit.compare_runs(baseline, candidate, gate=suite.gate)
    assert isinstance(comparison, evalkit.Comparison)
    [row] = comparison.overall()
    assert row.metric == "f1" and row.delta == pytest.approx(-2 / 12)
    paths = evalkit.render_report(
        candidate,
        baseline=baseline,
        comparison=comparison,
        golden=golden,
        output=Path("reports/qa"),
    )
    assert isinstance(paths, evalkit.ReportPaths) and paths.html.is_file()
    summary = json.loads(paths.summary_json.read_text())
    assert summary["baseline_id"] == baseline.manifest.run_id

    record, where = evalkit.calibrate_judge("grader", project=project, n_boot=200)
    assert isinstance(record, evalkit.CalibrationRecord) and where.is_file()
    assert len(record.items) == 20


def test_no_test_module_imports_another_test_module() -> None:
    # Shared helpers live in tests/support; a test module imported by another would run
    # its tests' module-level code twice and tie unrelated tests together.
    import ast

    tests_root = Path(__file__).resolve().parents[1]
    offenders = []
    for path in sorted(tests_root.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module, *(f"{node.module}.{a.name}" for a in node.names)]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            if any(n.split(".")[-1].startswith("test_") for n in names if n.startswith("tests")):
                offenders.append(f"{path.relative_to(tests_root)}:{node.lineno}")
        # Code run in a subprocess is a string: look for the import there too.
        text = path.read_text(encoding="utf-8")
        for line_no, line in enumerate(text.splitlines(), 1):
            stripped = line.strip()
            if stripped.startswith(("from tests.", "import tests.")) and ".test_" in stripped:
                offenders.append(f"{path.relative_to(tests_root)}:{line_no}")
    assert sorted(set(offenders)) == []
