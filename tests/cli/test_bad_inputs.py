"""Bad inputs, generated: the command line fails cleanly and destroys nothing committed.

Each example copies a small finished project (a golden set, a prompt template, a config,
a stored run, a committed baseline and an unfinished run's journal with finished rows),
damages one input, runs ``evalkit`` in a subprocess as a user would, and asserts:

* exit status 2 (the user's to fix) or 3 (damaged state, infrastructure), never 1 or 0;
* no Python traceback on stderr or stdout;
* the message names the damaged file or the offending key;
* the committed baseline and the journal's finished rows are byte for byte unchanged.

Two kinds of damage evalkit must *recover* from are checked the same way with their own
promise: a damaged journal (the run finishes, paying only for unfinished cases) and a
damaged call cache (set aside and rebuilt, or a stop naming the file and --no-cache).

What cannot be simulated here: the tests run as root, so permission bits stop nothing.
"Unwritable" is simulated with a path whose parent is a regular file (ENOTDIR), which
every user can hit; a read-only mount or a full disk is not tried.

Inputs tried per full run (derandomized, so the same every time) are counted in
``TRIED`` and printed at the end of the module (``pytest -s``).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import tomllib
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, assume, given, settings
from hypothesis import strategies as st

from evalkit.cli import main
from evalkit.config._suite import load_config
from evalkit.data._golden import load_golden_set
from evalkit.data._records import Output
from evalkit.execution._runner import Journal
from evalkit.store._runs import RunStore, run_key
from tests.support.fakeserver import FakeOpenAIServer

N_CASES = 12
FINISHED = 5  # journal rows of the unfinished run that are already paid for
TRIED: Counter[str] = Counter()

# Each example starts a subprocess (~1-2 s); keep the whole module near two minutes.
# No shrinking: each step would start more subprocesses, and a failure already shows
# the whole input (the drawn values are printed).
SETTINGS = settings(
    max_examples=8,
    deadline=None,
    derandomize=True,
    database=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


# ---------------------------------------------------------------- the pristine project


@pytest.fixture(scope="module")
def pristine(fake_server: FakeOpenAIServer, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A finished project: a stored run, a pinned baseline and an unfinished run's journal."""
    fake_server.reset()
    root = tmp_path_factory.mktemp("pristine")
    (root / "qa.jsonl").write_text(
        "".join(
            json.dumps(
                {"id": f"c{i:02d}", "input": f"question {i}", "expected": f"echo: question {i}"}
            )
            + "\n"
            for i in range(N_CASES)
        )
    )
    (root / "prompt.jinja").write_text("{{ input }}")
    (root / "evalkit.toml").write_text(
        'store = "runs"\ncache_dir = "cache"\n'
        '[suites.qa]\ngolden = "qa.jsonl"\nmetrics = ["exact"]\n'
        f'[suites.qa.sut]\nmodel = "openai/x"\napi_base = "{fake_server.url}"\n'
        'prompt = "prompt.jinja"\n'
    )
    config = str(root / "evalkit.toml")
    assert main(["--config", config, "run", "qa", "--no-progress"]) == 0
    assert main(["--config", config, "baseline", "update", "qa", "--from", "latest"]) == 0
    # An unfinished run of the same suite with 2 samples: FINISHED rows already paid for.
    journal = Journal(_journal_path(root, samples=2))
    for i in range(FINISHED):
        journal.append(Output(case_id=f"c{i:02d}", sample=0, text=f"echo: question {i}"))
    journal.close()
    fake_server.reset()
    return root


def _journal_path(root: Path, *, samples: int) -> Path:
    project = load_config(root / "evalkit.toml")
    suite = project.suite("qa")
    key = run_key(
        suite="qa",
        golden_fingerprint=load_golden_set(project.path(suite.golden)).fingerprint,
        sut_fingerprint=suite.sut.fingerprint(),
        samples=samples,
        shard=None,
        metrics=["exact"],
    )
    return RunStore(project.path(project.store)).journal_path(key)


@pytest.fixture(scope="module", autouse=True)
def _report_counts() -> Iterator[None]:
    yield
    total = sum(TRIED.values())
    shown = ", ".join(f"{name} {count}" for name, count in sorted(TRIED.items()))
    print(f"\nbad inputs tried: {total} ({shown})")


class Copy:
    """A throw-away copy of the pristine project for one example."""

    def __init__(self, pristine: Path) -> None:
        self._temp = tempfile.TemporaryDirectory(prefix="evalkit-bad-")
        self.root = Path(self._temp.name) / "project"
        shutil.copytree(pristine, self.root)
        self.baseline = (self.root / "qa.baseline.jsonl").read_bytes()
        self.journal_file = _only(self.root.glob("runs/_inprogress/*/journal.jsonl"))
        self.journal = self.journal_file.read_bytes()
        self.run = _only(p for p in (self.root / "runs").iterdir() if p.name[0].isdigit())

    def __enter__(self) -> Copy:
        return self

    def __exit__(self, *exc: object) -> None:
        self._temp.cleanup()

    def evalkit(self, *args: str) -> subprocess.CompletedProcess[str]:
        """Runs ``python -m evalkit --config CONFIG ARGS`` in the copy, as a user would."""
        env = {k: v for k, v in os.environ.items() if k != "EVALKIT_DEBUG"}
        env["TMPDIR"] = str(self.root.parent)  # a crash report would land here
        command = [sys.executable, "-m", "evalkit", "--config", str(self.root / "evalkit.toml")]
        return subprocess.run(
            [*command, *args],
            cwd=self.root,
            capture_output=True,
            text=True,
            timeout=180,
            env=env,
            check=False,
        )

    def assert_clean_failure(
        self, result: subprocess.CompletedProcess[str], names: list[str]
    ) -> None:
        """Exit 2 or 3, one of ``names`` in the message, no traceback, nothing committed lost."""
        shown = f"exit {result.returncode}\nstdout: {result.stdout}\nstderr: {result.stderr}"
        assert result.returncode in (2, 3), shown
        assert "Traceback" not in result.stderr + result.stdout, shown
        assert "internal error" not in result.stderr, shown
        assert any(name in result.stderr for name in names), shown
        baseline = self.root / "qa.baseline.jsonl"
        assert baseline.is_dir() or baseline.read_bytes() == self.baseline
        assert self.journal_file.read_bytes() == self.journal
        assert not list(self.root.parent.glob("evalkit-crash-*"))


def _only(paths: Any) -> Path:
    (path,) = list(paths)
    return Path(path)


# ---------------------------------------------------------------- kinds of damage

DAMAGES = ("delete", "truncate", "binary", "directory", "empty")


def _damage(target: Path, damage: str, data: st.DataObject) -> None:
    """Damages ``target`` in place: deletes, cuts, overwrites or replaces it with a folder."""
    original = target.read_bytes() if target.is_file() else b""
    if damage == "delete":
        target.unlink()
    elif damage == "truncate":
        assume(len(original) > 1)
        cut = data.draw(st.integers(1, len(original) - 1), label="cut at byte")
        target.write_bytes(original[:cut])
    elif damage == "binary":
        junk = data.draw(st.binary(min_size=1, max_size=2048), label="junk")
        target.write_bytes(b"\x00\xff" + junk)  # never valid UTF-8, never valid Parquet
    elif damage == "directory":
        target.unlink()
        target.mkdir()
        (target / "inside").write_text("x")
    else:
        target.write_bytes(b"")


# ---------------------------------------------------------------- stored runs


@pytest.mark.parametrize("damage", DAMAGES)
@settings(SETTINGS, max_examples=2)
@given(
    name=st.sampled_from(["manifest.json", "outputs.parquet", "scores.parquet", "cases.parquet"]),
    command=st.sampled_from(["report", "compare", "baseline", "export"]),
    data=st.data(),
)
def test_a_damaged_run_folder(
    pristine: Path, name: str, damage: str, command: str, data: st.DataObject
) -> None:
    with Copy(pristine) as copy:
        _damage(copy.run / name, damage, data)
        TRIED["run folder"] += 1
        args = {
            "report": ["report", str(copy.run), "-o", str(copy.root / "r.html")],
            "compare": ["compare", str(copy.root / "qa.baseline.jsonl"), str(copy.run)],
            "baseline": ["baseline", "update", "qa", "--from", str(copy.run)],
            "export": ["export", "--run", str(copy.run), "-o", str(copy.root / "out")],
        }[command]
        result = copy.evalkit(*args)
        copy.assert_clean_failure(result, [str(copy.run / name)])
        assert result.returncode == 3


# ---------------------------------------------------------------- the config file

# Values no key of its type accepts (TOML literals).
WRONG_VALUES = {
    "samples": st.sampled_from(["0", "-3", '"three"', "1001", "[1]", "2.5"]),
    "concurrency": st.sampled_from(["0", "-5", '"many"', "100000", "{}"]),
    "golden": st.sampled_from(["7", "[]", "{ a = 1 }"]),
    "metrics": st.sampled_from(['"exact"', "7", '["exact", "exact"]', '[{ scorer = "exact" }]']),
    "judge": st.sampled_from(["1", '"nobody"']),
    "sut.timeout": st.sampled_from(["0", "-1", '"soon"']),
    "sut.mode": st.sampled_from(['"speech"', "3"]),
    "sut.callable": st.sampled_from(['"no_colon"', '"a b:c"']),
    "gate.alpha": st.sampled_from(["0", "1.5", '"low"']),
    "gate.max_unscored_share": st.sampled_from(["-0.1", "2"]),
    "unknown": st.sampled_from(["1"]),
}


def _with_value(config_text: str, key: str, value: str) -> tuple[str, str]:
    """Returns the config with ``key`` set to ``value`` and the key's name as shown."""
    section, _, leaf = key.rpartition(".")
    table = "[suites.qa]" if not section else f"[suites.qa.{section}]"
    if key == "unknown":
        leaf = "smaples"
    lines = [line for line in config_text.splitlines() if not line.startswith(f"{leaf} =")]
    if table not in lines:
        lines.append(table)
    lines.insert(lines.index(table) + 1, f"{leaf} = {value}")
    return "\n".join(lines) + "\n", leaf


@pytest.mark.parametrize("kind", ["wrong value", "binary", "truncate", "directory", "delete"])
@settings(SETTINGS, max_examples=2)
@given(
    key=st.sampled_from(sorted(WRONG_VALUES)),
    command=st.sampled_from(["run", "validate", "baseline"]),
    data=st.data(),
)
def test_a_damaged_config(
    pristine: Path, kind: str, key: str, command: str, data: st.DataObject
) -> None:
    with Copy(pristine) as copy:
        config = copy.root / "evalkit.toml"
        names = [str(config), "evalkit.toml"]
        if kind == "wrong value":
            value = data.draw(WRONG_VALUES[key], label="value")
            # Naming a missing judge is wrong for running the suite, not for pinning a run.
            assume(not (key == "judge" and value == '"nobody"' and command == "baseline"))
            text, leaf = _with_value(config.read_text(), key, value)
            config.write_text(text)
            names.append(leaf)
        elif kind == "truncate":
            text = config.read_text()
            cut = data.draw(st.integers(1, len(text) - 1), label="cut at")
            try:  # a cut that still parses may be a valid config: not this test's input
                tomllib.loads(text[:cut])
                assume(False)
            except tomllib.TOMLDecodeError:
                pass
            config.write_text(text[:cut])
        else:
            _damage(config, kind, data)
        TRIED["config"] += 1
        args = {
            "run": ["run", "qa", "--no-progress"],
            "validate": ["validate", str(config)],
            "baseline": ["baseline", "update", "qa", "--from", str(copy.run)],
        }[command]
        result = copy.evalkit(*args)
        copy.assert_clean_failure(result, names)
        assert result.returncode == 2


# ---------------------------------------------------------------- the golden set

WRONG_FIELDS = {
    "id": st.sampled_from([7, None, [], {"a": 1}, ""]),
    "input": st.sampled_from([7, None, True, [], [{"role": "user"}]]),
    "tags": st.sampled_from(["geo", 5, [1, 2]]),
    "group": st.sampled_from([[], {"a": 1}]),
}


@pytest.mark.parametrize(
    "kind", ["wrong field", "duplicate id", "binary", "truncate", "directory", "delete"]
)
@settings(SETTINGS, max_examples=1)
@given(
    line=st.integers(0, N_CASES - 1),
    command=st.sampled_from(["run", "validate"]),
    data=st.data(),
)
def test_a_damaged_golden_set(
    pristine: Path, kind: str, line: int, command: str, data: st.DataObject
) -> None:
    with Copy(pristine) as copy:
        golden = copy.root / "qa.jsonl"
        rows = golden.read_text().splitlines()
        if kind == "wrong field":
            field = data.draw(st.sampled_from(sorted(WRONG_FIELDS)), label="field")
            row = json.loads(rows[line])
            row[field] = data.draw(WRONG_FIELDS[field], label="value")
            rows[line] = json.dumps(row)
            golden.write_text("\n".join(rows) + "\n")
        elif kind == "duplicate id":
            other = (line + 1) % N_CASES
            row = json.loads(rows[other])
            row["id"] = json.loads(rows[line])["id"]
            rows[other] = json.dumps(row)
            golden.write_text("\n".join(rows) + "\n")
        elif kind == "truncate":
            text = golden.read_text()
            cut = data.draw(st.integers(1, len(text) - 1), label="cut at")
            assume(text[cut - 1] not in "}\n")  # a cut inside a line, not between cases
            golden.write_text(text[:cut])
        else:
            _damage(golden, kind, data)
        TRIED["golden set"] += 1
        target = str(copy.root / "evalkit.toml") if command == "validate" else None
        args = ["validate", target] if target else ["run", "qa", "--no-progress"]
        result = copy.evalkit(*args)
        copy.assert_clean_failure(result, [str(golden), "qa.jsonl"])
        assert result.returncode == 2


# ---------------------------------------------------------------- the prompt template

TEMPLATE_BREAKS = st.sampled_from(
    [
        "{{ input }",
        "{% if input %}{{ input }}",
        "{{ input | no_such_filter }}",
        "{% for x in %}{% endfor %}",
        "{{ input }} {{ 1 / 0 }}",
        "{{ input.no_method() }}",
        "{{ input }} {{ zz_missing }}",
        "{{ metadata.zz_missing.deeper }}",
        "{{ input }} {{ range(1, 2, 0) | list }}",
    ]
)


@pytest.mark.parametrize("kind", ["broken", "binary", "directory", "delete"])
@settings(SETTINGS, max_examples=2)
@given(command=st.sampled_from(["run", "validate"]), data=st.data())
def test_a_damaged_prompt_template(
    pristine: Path, kind: str, command: str, data: st.DataObject
) -> None:
    with Copy(pristine) as copy:
        template = copy.root / "prompt.jinja"
        if kind == "broken":
            template.write_text(data.draw(TEMPLATE_BREAKS, label="template"))
        else:
            _damage(template, kind, data)
        TRIED["prompt template"] += 1
        args = (
            ["validate", str(copy.root / "evalkit.toml")]
            if command == "validate"
            else ["run", "qa", "--no-progress"]
        )
        result = copy.evalkit(*args)
        copy.assert_clean_failure(result, [str(template), "prompt.jinja"])
        assert result.returncode == 2


# ---------------------------------------------------------------- numbers and paths given as flags


@settings(SETTINGS, max_examples=5)
@given(
    flag=st.sampled_from(["--samples", "--concurrency"]),
    value=st.one_of(
        st.integers(max_value=0),
        st.integers(min_value=1025, max_value=10**9),
        st.sampled_from(["x", "1.5", "", "1e3", "0x10"]),
    ),
)
def test_a_bad_number_on_the_command_line(pristine: Path, flag: str, value: int | str) -> None:
    with Copy(pristine) as copy:
        TRIED["command-line number"] += 1
        result = copy.evalkit("run", "qa", "--no-progress", f"{flag}={value}")
        copy.assert_clean_failure(result, [flag, flag.removeprefix("--")])
        assert result.returncode == 2


@pytest.mark.parametrize(
    "args",
    [
        ["run", "qa", "--no-progress", "--store", "{file}/runs"],
        ["report", "{run}", "-o", "{file}/report.html"],
        ["export", "--run", "{run}", "-o", "{file}/out"],
        ["compare", "{run}", "{file}/missing-run"],
    ],
    ids=["store", "report", "export", "compare"],
)
def test_a_path_under_a_regular_file(pristine: Path, args: list[str]) -> None:
    """What an unwritable folder looks like to a user we can simulate as root (ENOTDIR)."""
    with Copy(pristine) as copy:
        blocker = copy.root / "a-file"
        blocker.write_text("not a folder")
        TRIED["unusable path"] += 1
        filled = [a.format(file=blocker, run=copy.run) for a in args]
        result = copy.evalkit(*filled)
        copy.assert_clean_failure(result, [str(blocker)])


# ---------------------------------------------------------------- baselines and score files


@pytest.mark.parametrize("kind", ["binary", "truncate", "bad case line", "bad header", "directory"])
@settings(SETTINGS, max_examples=1)
@given(command=st.sampled_from(["compare", "show", "report"]), data=st.data())
def test_a_damaged_committed_baseline(
    pristine: Path, kind: str, command: str, data: st.DataObject
) -> None:
    with Copy(pristine) as copy:
        baseline = copy.root / "qa.baseline.jsonl"
        lines = baseline.read_text().splitlines()
        if kind == "bad case line":
            lines[data.draw(st.integers(1, len(lines) - 1), label="line")] = '{"scores": 5}'
            baseline.write_text("\n".join(lines) + "\n")
        elif kind == "bad header":
            lines[0] = json.dumps({"evalkit_baseline": 99})
            baseline.write_text("\n".join(lines) + "\n")
        elif kind == "truncate":
            text = baseline.read_text()
            cut = data.draw(st.integers(1, len(lines[0]) - 1), label="cut in header")
            baseline.write_text(text[:cut])
        else:
            _damage(baseline, kind, data)
        # The damaged file is the input: the command must leave it as it is (a folder
        # in its place is checked as "still a folder").
        copy.baseline = baseline.read_bytes() if baseline.is_file() else b""
        TRIED["committed baseline"] += 1
        args = {
            "compare": ["compare", str(baseline), str(copy.run)],
            "show": ["baseline", "show", "qa"],
            "report": ["report", str(copy.run), "--baseline", str(baseline), "-o", "r.html"],
        }[command]
        result = copy.evalkit(*args)
        copy.assert_clean_failure(result, [str(baseline), "qa.baseline.jsonl"])
        assert result.returncode == 2


SCORE_FILES = st.sampled_from(
    [
        ("s.jsonl", b'{"case_id": "c00", "metric": "exact"}\n'),
        ("s.jsonl", b'{"case_id": "c00", "metric": "exact", "value": "high"}\n'),
        ("s.jsonl", b'{"case_id": "c00", "metric": "exact", "value": 1}\n{"case_id": '),
        ("s.jsonl", b"\x00\xff\xfe binary"),
        ("s.csv", b"case_id,metric\nc00,exact\n"),
        ("s.csv", b"case_id,metric,value\nc00,exact,not-a-number\n"),
        ("s.csv", b"\xff\xfe\x00\x01"),
        ("s.jsonl", b"[1, 2, 3]\n"),
    ]
)


@settings(SETTINGS, max_examples=4)
@given(score_file=SCORE_FILES)
def test_a_damaged_score_file(pristine: Path, score_file: tuple[str, bytes]) -> None:
    with Copy(pristine) as copy:
        name, content = score_file
        path = copy.root / name
        path.write_bytes(content)
        TRIED["score file"] += 1
        result = copy.evalkit("compare", str(copy.root / "qa.baseline.jsonl"), str(path))
        copy.assert_clean_failure(result, [str(path), name])
        assert result.returncode == 2


# ---------------------------------------------------------------- damage evalkit recovers from

JOURNAL_DAMAGE = st.lists(
    st.one_of(
        st.sampled_from(
            [
                b'{"case_id": "c07", "sample": 0}',  # well-formed, incomplete
                b'{"case_id": "c08", "sample": "0", "text": "x"}',  # wrong type
                b'{"case_id": 9, "sample": 0, "text": "x"}',
                b"[]",
                b"null",
            ]
        ),
        st.binary(min_size=1, max_size=64).filter(lambda b: b"\n" not in b),
    ),
    min_size=1,
    max_size=4,
)


@settings(SETTINGS, max_examples=3)
@given(damage=JOURNAL_DAMAGE, torn=st.integers(1, 40))
def test_a_damaged_journal_loses_and_repays_nothing(
    pristine: Path, fake_server: FakeOpenAIServer, damage: list[bytes], torn: int
) -> None:
    with Copy(pristine) as copy:
        finished = copy.journal_file.read_bytes()
        row = b'{"case_id":"c10","sample":0,"text":"echo: question 10","error":null}'
        tail = b"\n".join(damage) + b"\n" + row[:torn]  # the last line torn by a crash
        copy.journal_file.write_bytes(finished + tail)
        TRIED["journal"] += 1
        fake_server.reset()
        result = copy.evalkit("run", "qa", "--no-progress", "--no-cache", "--samples", "2")
        assert result.returncode == 0, result.stderr
        assert "Traceback" not in result.stderr
        assert f"{copy.journal_file}: skipped" in result.stderr
        # Every finished (case, sample) was kept: only the rest was paid for.
        assert fake_server.stats()["requests"] == 2 * N_CASES - FINISHED
        run = RunStore(copy.root / "runs").load_run("latest")
        assert run.scores["value"].tolist() == [1.0] * (2 * N_CASES)
        assert (copy.root / "qa.baseline.jsonl").read_bytes() == copy.baseline


@pytest.mark.parametrize("kind", ["binary", "truncate", "directory"])
@settings(SETTINGS, max_examples=1)
@given(data=st.data())
def test_a_damaged_cache_is_set_aside_or_named(
    pristine: Path, fake_server: FakeOpenAIServer, kind: str, data: st.DataObject
) -> None:
    with Copy(pristine) as copy:
        cache = copy.root / "cache" / "calls.sqlite3"
        for extra in cache.parent.glob("calls.sqlite3-*"):
            extra.unlink()  # checkpointed by the pristine run's close
        _damage(cache, kind, data)
        TRIED["call cache"] += 1
        fake_server.reset()
        result = copy.evalkit("run", "qa", "--no-progress")
        assert "Traceback" not in result.stderr
        if kind == "binary":  # not SQLite at all: set aside and rebuilt, the run goes on
            assert result.returncode == 0, result.stderr
            assert f"warning: the call cache {cache} is damaged" in result.stderr
            assert fake_server.stats()["requests"] == N_CASES
        elif kind == "directory":  # cannot be opened: the run stops before any call
            assert result.returncode == 3
            assert str(cache) in result.stderr and "--no-cache" in result.stderr
            assert fake_server.stats()["requests"] == 0
        else:  # a cut SQLite file: SQLite may still read what is left, or not
            assert result.returncode in (0, 3), result.stderr
            if result.returncode == 3:
                assert str(cache) in result.stderr and "--no-cache" in result.stderr
        cleared = copy.evalkit("cache", "clear")
        assert cleared.returncode == 0 and "Traceback" not in cleared.stderr
        assert {p.name for p in cache.parent.iterdir()} <= {"calls.sqlite3"}
        assert not cache.is_dir()  # nothing set aside or in the way is left behind
        assert (copy.root / "qa.baseline.jsonl").read_bytes() == copy.baseline
