"""``evalkit calibrate``: a judge over its labelled set through a real HTTP model server."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from evalkit.cli import main
from evalkit.judging._calibration import judge_gate_status, load_record
from evalkit.judging._definitions import load_judge
from tests.support.fakeserver import FakeOpenAIServer

POINTWISE = """\
model = "fake-judge"
mode = "chat"
api_base = "{url}"
structured = "none"
params = {{ temperature = 0.0, max_tokens = 16 }}
max_retries = 0
rubric = "Grade the answer. Reply with JSON."
template = \"\"\"Question: {{{{ input }}}}
Answer: {{{{ output }}}}\"\"\"
"""

PAIRWISE = """\
model = "fake-judge"
mode = "chat"
api_base = "{url}"
type = "pairwise"
structured = "none"
max_retries = 0
rubric = "Which answer is better?"
template = \"\"\"Question: {{{{ input }}}}
A: {{{{ output_a }}}}
B: {{{{ output_b }}}}\"\"\"
"""


def _project(tmp_path: Path, judge: str, toml: str, labels: list[dict[str, object]]) -> Path:
    judges = tmp_path / "judges"
    judges.mkdir()
    (judges / f"{judge}.toml").write_text(toml)
    (judges / f"{judge}.labels.jsonl").write_text(
        "".join(json.dumps(item) + "\n" for item in labels)
    )
    config = tmp_path / "evalkit.toml"
    config.write_text('judges_dir = "judges"\ncache_dir = ".evalkit/cache"\n')
    return config


def _pointwise_labels() -> list[dict[str, object]]:
    items: list[dict[str, object]] = []
    for index in range(30):
        items.append(
            {
                "id": f"r{index}",
                "input": f"q{index}",
                "output": f"right {index}",
                "labels": [{"rater": "ref-a", "value": "pass"}],
            }
        )
    for index in range(30):
        # People pass five of the answers the judge will fail.
        value = "pass" if index < 5 else "fail"
        labels = [{"rater": "ref-a", "value": value}]
        if index < 10:
            labels.append({"rater": "ref-b", "value": "fail"})
        items.append(
            {"id": f"w{index}", "input": f"q{index}", "output": f"wrong {index}", "labels": labels}
        )
    return items


def _configure_pointwise(server: FakeOpenAIServer) -> None:
    server.configure(
        rules=[{"match": "re:Answer: right", "reply": '{"verdict": "pass"}'}],
        default_reply='{"verdict": "fail"}',
    )


def test_calibrate_stores_a_record_tied_to_the_fingerprint_and_gates(
    tmp_path: Path, openai_server: FakeOpenAIServer, capsys: pytest.CaptureFixture[str]
) -> None:
    _configure_pointwise(openai_server)
    config = _project(
        tmp_path, "grader", POINTWISE.format(url=openai_server.url), _pointwise_labels()
    )
    status = main(["--config", str(config), "calibrate", "grader", "--json", "--bootstrap", "200"])
    assert status == 0
    payload = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert payload["n"] == 60 and payload["n_unscored"] == 0
    # 55 of 60 agree; the judge never passes what people fail, and misses 5 of 35 passes.
    assert payload["figures"]["accuracy"]["value"] == pytest.approx(55 / 60)
    assert payload["figures"]["specificity"]["value"] == pytest.approx(1.0)
    assert payload["figures"]["sensitivity"]["value"] == pytest.approx(30 / 35)
    assert payload["confusion"]["counts"] == [[25, 0], [5, 30]]
    assert "alpha_people" in payload["figures"]
    assert payload["gate"]["status"] == "calibrated"
    assert payload["totals"]["calls"] == 60

    record_file = tmp_path / "judges" / "grader.calibration.json"
    record = load_record(record_file)
    assert record is not None and len(record.items) == 60
    judge = load_judge("grader", tmp_path / "judges")
    assert record.fingerprint == judge.fingerprint()
    assert judge_gate_status(judge, record).status == "calibrated"

    # A changed rubric makes the stored record stale.
    toml = tmp_path / "judges" / "grader.toml"
    toml.write_text(toml.read_text().replace("Grade the answer.", "Grade the answer strictly."))
    assert judge_gate_status(load_judge("grader", tmp_path / "judges"), record).status == "stale"


def test_calibrate_reuses_the_call_cache_and_prints_the_figures(
    tmp_path: Path, openai_server: FakeOpenAIServer, capsys: pytest.CaptureFixture[str]
) -> None:
    _configure_pointwise(openai_server)
    config = _project(
        tmp_path, "grader", POINTWISE.format(url=openai_server.url), _pointwise_labels()
    )
    args = ["--config", str(config), "calibrate", "grader", "--bootstrap", "100"]
    assert main(args) == 0
    first_requests = openai_server.stats()["requests"]
    capsys.readouterr()
    assert main([*args, "--min-kappa", "0.95"]) == 0
    out = capsys.readouterr().out
    assert openai_server.stats()["requests"] == first_requests  # every call from the cache
    assert "judge calls: 60 (60 cached, 0 errors)" in out
    assert "Cohen's kappa:" in out and "sensitivity:" in out
    assert "gate: uncalibrated" in out and "need >= 0.95" in out


def test_unparseable_replies_are_unscored_not_disagreements(
    tmp_path: Path, openai_server: FakeOpenAIServer, capsys: pytest.CaptureFixture[str]
) -> None:
    openai_server.configure(
        rules=[
            {"match": "re:Answer: right [0-9]$", "reply": "I cannot say."},
            {"match": "re:Answer: right", "reply": '{"verdict": "pass"}'},
        ],
        default_reply='{"verdict": "fail"}',
    )
    config = _project(
        tmp_path, "grader", POINTWISE.format(url=openai_server.url), _pointwise_labels()
    )
    assert (
        main(["--config", str(config), "calibrate", "grader", "--json", "--bootstrap", "100"]) == 0
    )
    payload = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert payload["n_unscored"] == 10  # right 0..9
    assert payload["n"] == 50
    assert payload["figures"]["accuracy"]["value"] == pytest.approx(45 / 50)


def test_pairwise_calibration_reports_the_position_flip_rate(
    tmp_path: Path, openai_server: FakeOpenAIServer, capsys: pytest.CaptureFixture[str]
) -> None:
    # The judge prefers "good" answers in either position, but always picks A when A
    # is "meh": pairs (meh, ok) flip with the order.
    openai_server.configure(
        rules=[
            {"match": "re:A: good", "reply": '{"verdict": "A"}'},
            {"match": "re:B: good", "reply": '{"verdict": "B"}'},
            {"match": "re:A: meh", "reply": '{"verdict": "A"}'},
        ],
        default_reply='{"verdict": "tie"}',
    )
    labels = [
        {
            "id": f"g{i}",
            "input": "q",
            "a": f"good {i}",
            "b": f"bad {i}",
            "labels": [{"rater": "r", "value": "a"}],
        }
        for i in range(6)
    ] + [
        {
            "id": f"m{i}",
            "input": "q",
            "a": f"meh {i}",
            "b": f"ok {i}",
            "labels": [{"rater": "r", "value": "b"}],
        }
        for i in range(4)
    ]
    config = _project(tmp_path, "pair", PAIRWISE.format(url=openai_server.url), labels)
    assert main(["--config", str(config), "calibrate", "pair", "--json", "--bootstrap", "100"]) == 0
    payload = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert payload["scale"] == "pairwise"
    assert payload["figures"]["flip_rate"]["value"] == pytest.approx(0.4)
    # A flipped pair (A, then tie) leans to "a" (mean of both orders 0.75): people's "b"
    # is missed.
    assert payload["confusion"]["counts"] == [[6, 0, 0], [0, 0, 0], [4, 0, 0]]
    assert payload["gate"]["status"] == "uncalibrated"  # only 10 items


def test_calibrate_rejects_labels_off_the_judges_scale(
    tmp_path: Path, openai_server: FakeOpenAIServer, capsys: pytest.CaptureFixture[str]
) -> None:
    labels = [{"id": "x", "input": "q", "output": "o", "labels": [{"rater": "r", "value": 3}]}]
    config = _project(tmp_path, "grader", POINTWISE.format(url=openai_server.url), labels)
    assert main(["--config", str(config), "calibrate", "grader"]) == 2
    err = capsys.readouterr().err
    assert "grader.labels.jsonl:1:" in err and "not on the scale" in err
    assert openai_server.stats()["requests"] == 0


def test_calibrate_unknown_judge_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "evalkit.toml"
    config.write_text('judges_dir = "judges"\n')
    assert main(["--config", str(config), "calibrate", "nope"]) == 2
    assert "no judge 'nope'" in capsys.readouterr().err
