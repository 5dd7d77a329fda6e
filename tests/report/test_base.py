"""The HTML/SVG base shared by the regression report, the trend report and the labelling sheet."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import evalkit
from evalkit.judging._labelling_sheet import Sheet, SheetItem, sheet_html
from evalkit.report import _base, _plots, _trend_plots
from tests.support.hostile import ATTR_XSS, SCRIPT_XSS

SOURCE_ROOT = Path(evalkit.__file__).resolve().parent.parent
REPO_ROOT = Path(__file__).resolve().parents[2]


def test_every_page_template_loads_from_the_one_autoescaping_environment() -> None:
    env = _base.environment()
    assert env is _base.environment() and env.autoescape is True
    for name in ("report.html.j2", "trend.html.j2", "labelling_sheet.html.j2"):
        assert env.get_template(name).filename == str(_base.TEMPLATES / name)
    assert env.from_string("{{ x }}").render(x=SCRIPT_XSS) == (
        "&lt;/script&gt;&lt;script&gt;window.__pwned=1;document.title=&#39;pwned&#39;"
        "&lt;/script&gt;"
    )


def test_the_labelling_sheet_is_a_template_file_and_escapes_model_output() -> None:
    sheet = Sheet(
        run_id="r1",
        metric="helpful",
        scale="binary",
        labels=["pass", "fail"],
        seed=0,
        n_population=1,
        items=[SheetItem(1, "c1", 0, SCRIPT_XSS, ATTR_XSS, SCRIPT_XSS)],
    )
    html = sheet_html(sheet)
    assert SCRIPT_XSS not in html and ATTR_XSS not in html
    assert html.count("<script>") == 1  # the sheet's own script, nothing from the output
    source = (SOURCE_ROOT / "evalkit" / "judging" / "_labelling_sheet.py").read_text()
    assert "<!doctype html>" not in source.lower()


def test_both_charts_use_the_one_tick() -> None:
    assert _plots.Tick is _trend_plots.Tick is _base.Tick
    assert _plots.nice_step is _trend_plots.nice_step is _base.nice_step


def test_the_report_package_does_not_import_nightly() -> None:
    # nightly renders the trend report; the report must not reach back (no import cycle).
    for path in sorted((SOURCE_ROOT / "evalkit" / "report").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom):
                assert not (node.module or "").startswith("evalkit.nightly"), path.name
            if isinstance(node, ast.Import):
                assert not any(a.name.startswith("evalkit.nightly") for a in node.names)
    code = (
        "import json, sys\n"
        "from evalkit.report import render_trend_html\n"
        "from evalkit.report._trend_data import build_trend\n"
        "from tests.support.hostile import nights\n"
        "html = render_trend_html(build_trend(nights()))\n"
        "print(json.dumps([m for m in sys.modules if m.startswith('evalkit.nightly')]))\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(SOURCE_ROOT), str(REPO_ROOT)])}
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout.strip().splitlines()[-1]) == []
