"""Probability verdicts and fitted calibration, end to end through a real HTTP server.

A simulated judge runs on the fake OpenAI-compatible server, which returns token
log-probabilities: its sampled verdicts are biased (it says "fail" unless P(pass) > 0.5,
and its P(pass) is low for every answer), but P(pass) carries the signal. Fitted on
people's labels, the mapping recovers agreement to within 0.10 kappa of the best any
threshold on P(pass) achieves on the same items, measured out of fold. A judge whose
probabilities carry no signal stays uncalibrated.
"""

from __future__ import annotations

import asyncio
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sklearn.metrics import cohen_kappa_score

from evalkit.cli import main
from evalkit.judging._calibration import (
    CalibrationRecord,
    ScoreMapping,
    calibrated_fingerprint,
    cross_fitted_verdicts,
    fit_mapping,
    judge_gate_status,
    load_record,
)
from evalkit.judging._definitions import load_judge, verdict_soft_score
from evalkit.models._llm import TokenLogprob
from evalkit.scorers._base import ScoreInput, ScorerContext, create_scorer
from tests.support.fakeserver import FakeOpenAIServer

#: Out of fold, the fitted judge's kappa is at least the best in-sample kappa of any
#: threshold minus this (200 items; over 200 simulated sets the gap's 99th percentile
#: was 0.08 and its maximum 0.10).
TOLERANCE = 0.10
N_ITEMS = 200

JUDGE = """\
model = "fake-judge"
mode = "{mode}"
api_base = "{url}"
structured = "none"
params = {{ temperature = 0.0, max_tokens = 16 }}
max_retries = 0
rubric = "Grade the answer. Reply with JSON."
template = \"\"\"Question: {{{{ input }}}}
Reference: {{{{ expected }}}}
Answer: {{{{ output }}}}\"\"\"
"""


def _tokens(p_pass: float) -> list[list[Any]]:
    """The reply's tokens: the sampled verdict is the likelier one, with both alternatives."""
    verdict = "pass" if p_pass > 0.5 else "fail"
    top = {"pass": math.log(p_pass), "fail": math.log(1 - p_pass)}
    return [['{"verdict": "', -0.01, {}], [verdict, top[verdict], top], ['"}', -0.01, {}]]


def _simulate(seed: int, signal: bool) -> tuple[np.ndarray, np.ndarray]:
    """Returns people's 0/1 labels and the judge's P(pass) per item."""
    rng = np.random.default_rng(seed)
    people = (rng.random(N_ITEMS) < 0.5).astype(float)
    shift = 2.5 * people if signal else 0.0
    logit = -3.0 + shift + rng.normal(0.0, 1.0, N_ITEMS)
    return people, 1.0 / (1.0 + np.exp(-logit))


def _project(
    tmp_path: Path, server: FakeOpenAIServer, people: np.ndarray, p_pass: np.ndarray, mode: str
) -> Path:
    judges = tmp_path / "judges"
    judges.mkdir()
    (judges / "grader.toml").write_text(JUDGE.format(url=server.url, mode=mode))
    lines = []
    rules = []
    for index, (label, probability) in enumerate(zip(people, p_pass, strict=True)):
        marker = f"answer number {index:03d}."
        rules.append({"match": marker, "tokens": _tokens(float(probability))})
        lines.append(
            {
                "id": f"item-{index:03d}",
                "input": f"question {index}",
                "output": marker,
                "expected": "the reference",
                "labels": [{"rater": "person", "value": "pass" if label else "fail"}],
                "metadata": {"group": f"question-{index // 2}"},
            }
        )
    server.configure(rules=rules)
    (judges / "grader.labels.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))
    config = tmp_path / "evalkit.toml"
    config.write_text('judges_dir = "judges"\ncache_dir = ".evalkit/cache"\n')
    return config


def _calibrate(config: Path, capsys: pytest.CaptureFixture[str], *extra: str) -> dict[str, Any]:
    status = main(
        ["--config", str(config), "calibrate", "grader", "--json", "--bootstrap", "200", *extra]
    )
    assert status == 0
    payload: dict[str, Any] = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    return payload


def _best_kappa(people: np.ndarray, scores: np.ndarray) -> float:
    """The best kappa any threshold on the scores reaches on these very items."""
    unique = np.unique(scores)
    cuts = np.concatenate([[unique[0] - 1], (unique[:-1] + unique[1:]) / 2, [unique[-1] + 1]])
    return max(
        float(cohen_kappa_score(people, (scores >= cut).astype(float)))
        if 0 < (scores >= cut).mean() < 1
        else 0.0
        for cut in cuts
    )


@pytest.mark.parametrize("mode", ["text", "chat"])
def test_fitted_calibration_recovers_a_biased_judge_whose_probabilities_carry_signal(
    tmp_path: Path,
    openai_server: FakeOpenAIServer,
    capsys: pytest.CaptureFixture[str],
    mode: str,
) -> None:
    people, p_pass = _simulate(seed=7, signal=True)
    config = _project(tmp_path, openai_server, people, p_pass, mode)
    payload = _calibrate(config, capsys)

    raw_kappa = payload["raw_figures"]["kappa"]["value"]
    fitted_kappa = payload["figures"]["kappa"]["value"]
    best = _best_kappa(people, p_pass)
    assert raw_kappa == pytest.approx(
        cohen_kappa_score(people, (p_pass > 0.5).astype(float)), abs=1e-9
    )
    assert raw_kappa < 0.45  # the sampled verdicts are biased towards "fail"
    assert fitted_kappa >= best - TOLERANCE
    assert payload["fit"]["n_soft"] == N_ITEMS and payload["fit"]["grouped"] is True
    assert payload["mapping"]["method"] == "threshold"
    assert payload["mapping"]["threshold"] < 0.5  # the fitted cut undoes the bias
    assert payload["gate"]["status"] == "calibrated"
    # The gate reads the out-of-fold figure, not the optimistic in-sample one.
    assert payload["fit"]["in_sample_kappa"] >= fitted_kappa - 1e-9

    record = load_record(tmp_path / "judges" / "grader.calibration.json")
    assert record is not None and record.mapping is not None
    judge = load_judge("grader", tmp_path / "judges")
    assert record.judge_fingerprint == judge.fingerprint()
    assert record.fingerprint == calibrated_fingerprint(judge.fingerprint(), record.mapping)
    assert record.fingerprint != judge.fingerprint()
    # Items keep the score, the judge's own verdict and the out-of-fold verdict.
    first = record.items[0]
    assert first.score == pytest.approx(p_pass[0], abs=1e-6)
    assert first.raw == ("pass" if p_pass[0] > 0.5 else "fail")
    judged, labels = record.calibration_arrays()  # what corrected rates use: out of fold
    assert cohen_kappa_score(labels, judged) == pytest.approx(fitted_kappa)


def test_scoring_applies_the_fitted_mapping_and_stores_the_probability(
    tmp_path: Path, openai_server: FakeOpenAIServer, capsys: pytest.CaptureFixture[str]
) -> None:
    people, p_pass = _simulate(seed=7, signal=True)
    config = _project(tmp_path, openai_server, people, p_pass, "text")
    _calibrate(config, capsys)
    record = load_record(tmp_path / "judges" / "grader.calibration.json")
    assert record is not None and record.mapping is not None
    threshold = record.mapping.threshold
    # An item whose sampled verdict is "fail" but whose P(pass) clears the fitted cut.
    index = next(i for i, p in enumerate(p_pass) if threshold < p < 0.5)

    from evalkit.config._suite import load_config
    from evalkit.models._llm import ModelClient

    project = load_config(str(config))

    async def score(calibrated: bool) -> tuple[Any, str | None]:
        client = ModelClient(cache=None)
        context = ScorerContext(client=client, project=project)
        params = {"name": "grader", "calibrated": calibrated}
        scorer = create_scorer("judge", params, context, metric="correct")
        item = ScoreInput(
            case_id="c1",
            sample=0,
            input="question",
            output=f"answer number {index:03d}.",
            expected="the reference",
        )
        (result,) = await scorer.score([item])
        return result, scorer.fingerprint()

    fitted, fitted_fingerprint = asyncio.run(score(True))
    own, own_fingerprint = asyncio.run(score(False))
    assert fitted.value == 1.0 and own.value == 0.0
    assert fitted.soft_score == pytest.approx(p_pass[index], abs=1e-6)
    assert own.soft_score == pytest.approx(p_pass[index], abs=1e-6)
    assert "fitted P(pass) >=" in (fitted.rationale or "")
    assert fitted_fingerprint == record.fingerprint
    assert own_fingerprint == record.judge_fingerprint
    status = judge_gate_status(fitted_fingerprint or "", record)
    assert status.status == "calibrated"
    # Scoring without the mapping is a different judge for the gate: the record is stale.
    assert judge_gate_status(own_fingerprint or "", record).status == "stale"


def test_a_judge_without_signal_stays_uncalibrated(
    tmp_path: Path, openai_server: FakeOpenAIServer, capsys: pytest.CaptureFixture[str]
) -> None:
    people, p_pass = _simulate(seed=7, signal=False)
    config = _project(tmp_path, openai_server, people, p_pass, "text")
    payload = _calibrate(config, capsys)
    assert payload["mapping"] is not None
    assert payload["figures"]["kappa"]["value"] < 0.25
    assert payload["gate"]["status"] == "uncalibrated"


def test_a_judge_without_log_probabilities_keeps_its_sampled_verdicts(
    tmp_path: Path, openai_server: FakeOpenAIServer, capsys: pytest.CaptureFixture[str]
) -> None:
    people, p_pass = _simulate(seed=3, signal=True)
    config = _project(tmp_path, openai_server, people, p_pass, "text")
    toml = tmp_path / "judges" / "grader.toml"
    toml.write_text(toml.read_text() + 'probabilities = "off"\n')
    payload = _calibrate(config, capsys)
    assert payload["mapping"] is None and payload["raw_figures"] == {}
    assert payload["figures"]["kappa"]["value"] == pytest.approx(
        cohen_kappa_score(people, (p_pass > 0.5).astype(float))
    )


def test_the_fingerprint_changes_with_the_mapping() -> None:
    base = "sha256:0123456789abcdef"
    one = ScoreMapping(method="threshold", threshold=0.3, score="P(pass)")
    two = ScoreMapping(method="threshold", threshold=0.4, score="P(pass)")
    assert calibrated_fingerprint(base, None) == base
    fingerprints = {base, calibrated_fingerprint(base, one), calibrated_fingerprint(base, two)}
    assert len(fingerprints) == 3
    assert calibrated_fingerprint(base, one) == calibrated_fingerprint(base, one.model_copy())


# ---------------------------------------------------------------- pure parts


def _lp(token: str, logprob: float, **top: float) -> TokenLogprob:
    return TokenLogprob(token, logprob, tuple(top.items()))


def _judge(scale: str = "pass/fail") -> Any:
    from evalkit.judging._definitions import JudgeDefinition

    return JudgeDefinition(name="j", rubric="r", template="t", scale=scale)


def test_p_pass_is_read_at_the_verdict_position_over_label_prefixes() -> None:
    tokens = [
        _lp('{"verdict": "', -0.1),
        _lp("fa", math.log(0.5), fa=math.log(0.5), p=math.log(0.2), Pass=math.log(0.1)),
        _lp('il"}', -0.1),
    ]
    # "p" and "Pass" both begin "pass"; "fa" begins "fail": P(pass) = 0.3 / 0.8.
    assert verdict_soft_score('{"verdict": "fail"}', tokens, _judge()) == pytest.approx(0.375)
    assert verdict_soft_score('{"verdict": "fail"}', None, _judge()) is None
    # Tokens that do not spell the reply: no probability, the sampled verdict stands.
    assert verdict_soft_score('{"verdict": "pass"}', tokens, _judge()) is None


def test_an_ordinal_judge_gets_the_probability_weighted_score() -> None:
    tokens = [
        _lp('{"score": ', -0.1),
        _lp("4", math.log(0.6), **{"4": math.log(0.6), "5": math.log(0.2), "2": math.log(0.2)}),
        _lp("}", -0.1),
    ]
    soft = verdict_soft_score('{"score": 4}', tokens, _judge("1..5"))
    assert soft == pytest.approx(0.6 * 4 + 0.2 * 5 + 0.2 * 2)


def test_fit_mapping_methods_agree_on_a_separable_set() -> None:
    scores = np.array([0.05, 0.1, 0.15, 0.2, 0.3, 0.35, 0.4, 0.45])
    people = np.array([0, 0, 0, 0, 1, 1, 1, 1], dtype=float)
    for method in ("threshold", "isotonic", "platt"):
        mapping = fit_mapping(scores, people, method=method)  # type: ignore[arg-type]
        assert mapping.verdicts(scores).tolist() == people.tolist(), method
        assert 0.2 < mapping.threshold <= 0.3, method
    with pytest.raises(ValueError, match="passed and items they failed"):
        fit_mapping(scores, np.ones(8))


def test_cross_fitting_keeps_a_group_in_one_fold() -> None:
    rng = np.random.default_rng(0)
    people = np.tile([0.0, 1.0], 50)
    scores = people * 0.5 + rng.random(100)
    groups = [f"g{i // 4}" for i in range(100)]
    verdicts = cross_fitted_verdicts(scores, people, folds=5, seed=1, groups=groups)
    assert set(np.unique(verdicts)) <= {0.0, 1.0}
    with pytest.raises(ValueError, match="at least 5 items of each label"):
        cross_fitted_verdicts(scores[:6], people[:6], folds=5)


def test_a_version_1_record_still_loads() -> None:
    data = {
        "schema_version": 1,
        "judge": "old",
        "fingerprint": "sha256:00000000000000aa",
        "scale": "binary",
        "categories": ["fail", "pass"],
        "labels_path": "judges/old.labels.jsonl",
        "labels_fingerprint": "sha256:00000000000000bb",
        "created_at": "2026-11-23T14:27:44+00:00",
        "evalkit_version": "0.1.0",
        "n_items": 2,
        "n": 2,
        "figures": {"kappa": {"value": 0.7}},
        "confusion": {"labels": ["fail", "pass"], "counts": [[1, 0], [0, 1]]},
    }
    record = CalibrationRecord.model_validate(data)
    assert record.mapping is None and record.definition_fingerprint == data["fingerprint"]


# ---------------------------------------------------------------- shipped data


ROOT = Path(__file__).resolve().parents[2]


def test_peoples_labels_are_what_the_conversion_script_makes_of_the_committed_source() -> None:
    import subprocess
    import sys

    script = ROOT / "scripts" / "convert_openqa_labels.py"
    result = subprocess.run(
        [sys.executable, str(script), "--check"], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    assert "items 1489" in result.stdout and "duplicates_dropped 1" in result.stdout
    assert (
        (ROOT / "judges" / "sources" / "openqa-eval" / "LICENSE")
        .read_text()
        .startswith("MIT License")
    )


def test_labels_md_counts_match_the_peoples_labels() -> None:
    from collections import Counter

    from evalkit.judging._labelled_sets import load_labels

    labels = load_labels(ROOT / "judges" / "correctness.labels.jsonl")
    consensus = Counter(item.consensus() for item in labels)
    raters = Counter(len(item.labels) for item in labels)
    disagree = sum(1 for item in labels if len({label.value for label in item.labels}) > 1)
    doc = (ROOT / "judges" / "LABELS.md").read_text(encoding="utf-8")
    for row in (
        f"| total | {len(labels):,} (301 questions",
        f"| consensus pass | {consensus['pass']:,} |",
        f"| consensus fail | {consensus['fail']:,} |",
        f"| labelled by 2 people | {raters[2]:,} ",
        f"| labelled by 3 people | {raters[3]:,} |",
        f"| items where the people disagree | {disagree:,} |",
    ):
        assert row in doc, row


@pytest.mark.parametrize("name", ["correctness", "similarity"])
def test_shipped_records_state_out_of_fold_agreement_on_peoples_labels(name: str) -> None:
    from evalkit.judging._labelled_sets import load_labels
    from evalkit.scorers._judge import build_judge_scorer, fitted_mapping

    judges = ROOT / "judges"
    record = load_record(judges / f"{name}.calibration.json")
    assert record is not None
    judge = load_judge(name, judges)
    labels = load_labels(judges / "correctness.labels.jsonl")
    assert record.labels_path == "judges/correctness.labels.jsonl"
    assert record.labels_fingerprint == labels.fingerprint
    assert record.mapping is not None and record.fit is not None and record.fit.grouped
    for figure in ("kappa", "sensitivity", "specificity"):
        assert record.figures[figure].ci_low is not None, figure
        assert record.raw_figures[figure].value is not None, figure
    scorer = build_judge_scorer(judge, mapping=fitted_mapping(judge, judges))
    assert scorer.fingerprint() == record.fingerprint
    status = judge_gate_status(scorer, record)
    kappa = record.figures["kappa"].value
    assert status.status == ("calibrated" if kappa is not None and kappa >= 0.6 else "uncalibrated")
    assert record.seconds_per_item is not None and record.seconds_per_item > 0


def test_judges_ask_for_log_probabilities_where_the_server_returns_them() -> None:
    from evalkit.judging._definitions import TOP_LOGPROBS, JudgeDefinition

    def params(**fields: Any) -> dict[str, Any]:
        definition = JudgeDefinition(name="j", rubric="r", template="t", **fields)
        return definition.request_params()

    assert params(model="embedded", mode="text")["logprobs"] == TOP_LOGPROBS
    chat = params(model="openai/x", mode="chat", api_base="http://127.0.0.1:1/v1")
    assert chat["logprobs"] is True and chat["top_logprobs"] == TOP_LOGPROBS
    assert "logprobs" not in params(model="openai/gpt-4o-mini", mode="chat")
    assert params(model="openai/gpt-4o-mini", mode="chat", probabilities="on")["logprobs"]
    assert "logprobs" not in params(model="embedded", mode="text", probabilities="off")
    # Judges that read probabilities keep the fingerprint they had before the option
    # existed; turning it off makes another judge (a mapping fitted on P(pass) does not
    # apply to 0/1 verdicts).
    base = JudgeDefinition(name="j", rubric="r", template="t")
    off = JudgeDefinition(name="j", rubric="r", template="t", probabilities="off")
    assert base.fingerprint() != off.fingerprint()
    assert base.fingerprint() == JudgeDefinition(name="k", rubric="r", template="t").fingerprint()


@pytest.mark.gemma
def test_the_correctness_judge_reads_p_pass_from_embedded_gemma() -> None:
    from evalkit.config._suite import ProjectConfig
    from evalkit.models._llm import ModelClient

    context = ScorerContext(
        client=ModelClient(cache=None), project=ProjectConfig(source="x", root=str(ROOT))
    )
    scorer = create_scorer("judge", {"name": "correctness", "calibrated": False}, context)
    batch = [
        ScoreInput("a", 0, "What is the capital of Italy?", "Rome", "Rome"),
        ScoreInput("b", 0, "How many days are in a week?", "Five days.", "7"),
    ]
    results = asyncio.run(scorer.score(batch))
    for result in results:
        assert result.value in (0.0, 1.0), result.error
        assert result.soft_score is not None and 0.0 <= result.soft_score <= 1.0, result.raw
        assert "P(pass)" in (result.rationale or "")


def test_a_similarity_judge_goes_through_the_same_calibrate_record_gate_path(
    tmp_path: Path, openai_server: FakeOpenAIServer, capsys: pytest.CaptureFixture[str]
) -> None:
    # The fake server's embeddings are hashed bags of words: an answer sharing the
    # reference's words is close to it. People pass the answers that repeat it.
    openai_server.configure(embedding_dim=512)  # few hash collisions between words
    judges = tmp_path / "judges"
    judges.mkdir()
    (judges / "near.toml").write_text(
        'type = "similarity"\nmodel = "openai/fake-embed"\n'
        f'api_base = "{openai_server.url}"\nthreshold = 0.99\n'
    )
    items = []
    for index in range(40):
        right = index % 2 == 0
        reference = f"alpha{index} beta{index} gamma{index}"
        output = f"alpha{index} beta{index} gamma{index} delta" if right else f"omega{index}"
        items.append(
            {
                "id": f"n{index}",
                "input": f"question {index}",
                "output": output,
                "expected": reference,
                "labels": [{"rater": "person", "value": "pass" if right else "fail"}],
            }
        )
    (judges / "near.labels.jsonl").write_text("".join(json.dumps(x) + "\n" for x in items))
    config = tmp_path / "evalkit.toml"
    config.write_text('judges_dir = "judges"\ncache_dir = ".evalkit/cache"\n')

    status = main(["--config", str(config), "calibrate", "near", "--json", "--bootstrap", "200"])
    assert status == 0
    payload = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    # Unfitted, the 0.99 cut fails every answer; the fitted cut separates them.
    assert payload["raw_figures"]["kappa"]["value"] == pytest.approx(0.0)
    assert payload["mapping"]["score"] == "cosine" and payload["mapping"]["threshold"] < 0.99
    assert payload["figures"]["kappa"]["value"] == pytest.approx(1.0)
    assert payload["gate"]["status"] == "uncalibrated"  # 40 items < judge_min_n 50

    from evalkit.config._suite import load_config

    context = ScorerContext(project=load_config(str(config)))
    scorer = create_scorer("judge", {"name": "near"}, context, metric="near")
    (result,) = asyncio.run(
        scorer.score([ScoreInput("c", 0, "q", "alpha0 beta0 gamma0 delta", "alpha0 beta0 gamma0")])
    )
    assert result.value == 1.0 and result.soft_score is not None and result.soft_score < 0.99
    record = load_record(judges / "near.calibration.json")
    assert record is not None and scorer.fingerprint() == record.fingerprint


def test_a_judges_soft_score_is_stored_with_the_score_row_and_old_runs_still_load(
    tmp_path: Path,
) -> None:
    from evalkit.data._records import Output, Run, RunManifest, ScoreRow
    from evalkit.store._runs import RunStore

    store = RunStore(tmp_path)
    manifest = RunManifest(
        run_id=store.new_run_id("qa"),
        suite="qa",
        status="complete",
        golden_path="g.jsonl",
        golden_fingerprint="sha256:g",
        n_cases=2,
        sut_fingerprint="sha256:s",
        started_at="2026-01-01T00:00:00+00:00",
        evalkit_version="0.1.0",
    )
    rows = [
        ScoreRow("a", 0, "correct", 1.0, "binary", soft_score=0.31),
        ScoreRow("b", 0, "correct", 0.0, "binary"),
    ]
    run = Run.from_rows(manifest, [Output("a", 0, "x"), Output("b", 0, "y")], rows)
    location = Path(store.write_run(run))
    loaded = store.load_run(manifest.run_id)
    assert loaded.scores["soft_score"].tolist()[0] == pytest.approx(0.31)
    assert math.isnan(loaded.scores["soft_score"].tolist()[1])
    # A run stored before the column existed reads as before.
    import pyarrow.parquet as pq

    table = pq.read_table(location / "scores.parquet")
    pq.write_table(table.drop(["soft_score"]), location / "scores.parquet")
    old = store.load_run(manifest.run_id)
    assert "soft_score" not in old.scores and old.metric_means()["correct"] == (0.5, 2)


def test_too_few_labelled_items_to_fit_is_a_usage_error(
    tmp_path: Path, openai_server: FakeOpenAIServer, capsys: pytest.CaptureFixture[str]
) -> None:
    people, p_pass = _simulate(seed=1, signal=True)
    config = _project(tmp_path, openai_server, people, p_pass, "text")
    labels = tmp_path / "judges" / "grader.labels.jsonl"
    lines = labels.read_text().splitlines()
    fails = [line for line in lines if '"fail"' in line][:3]
    passes = [line for line in lines if '"pass"' in line][:20]
    labels.write_text("\n".join(fails + passes) + "\n")
    status = main(["--config", str(config), "calibrate", "grader", "--bootstrap", "200"])
    assert status == 2
    err = capsys.readouterr().err
    assert "cannot fit judge 'grader'" in err and "at least 5 items of each label" in err
    assert "Traceback" not in err


def test_a_text_judge_reads_its_verdict_from_one_token_after_the_replys_start(
    tmp_path: Path, openai_server: FakeOpenAIServer
) -> None:
    # llama-cpp-python sorts its whole vocabulary for every token it reports
    # log-probabilities for: the judge asks for the verdict's token only.
    from evalkit.models._llm import ModelClient
    from evalkit.scorers._judge import JudgeScorer

    judges = tmp_path / "judges"
    judges.mkdir()
    (judges / "grader.toml").write_text(JUDGE.format(url=openai_server.url, mode="text"))
    odd = [['{"verdict": "', -0.01, {}], ["maybe", -0.1, {"maybe": -0.1}], ['"}', -0.01, {}]]
    openai_server.configure(
        rules=[
            {"match": "answer one.", "tokens": _tokens(0.8)},
            {"match": "answer two.", "tokens": _tokens(0.3)},
            {"match": "answer odd.", "tokens": odd},
        ]
    )
    judge = load_judge("grader", judges)
    assert judge.verdict_prefix == '{"verdict": "'
    scorer = JudgeScorer(judge, client=ModelClient(cache=None))
    batch = [
        ScoreInput("a", 0, "q", "answer one.", "ref"),
        ScoreInput("b", 0, "q", "answer two.", "ref"),
        ScoreInput("c", 0, "q", "answer odd.", "ref"),
    ]
    one, two, odd_score = asyncio.run(scorer.score(batch))
    assert one.value == 1.0 and one.soft_score == pytest.approx(0.8)
    assert one.raw == '{"verdict": "pass'
    assert two.value == 0.0 and two.soft_score == pytest.approx(0.3)
    # A token that begins no label: unscored with the reply kept, never a fail; a greedy
    # judge (temperature 0) is not asked again.
    assert odd_score.value is None and "begins no single label" in (odd_score.error or "")
    assert odd_score.raw == '{"verdict": "maybe'
    stats = openai_server.stats()
    assert stats["requests"] == 3 and stats["max_tokens"] == [1, 1, 1]
    # Reading the verdict this way is part of the judge's identity: a record fitted on
    # the whole-reply probabilities is stale for it.
    whole = load_judge("grader", judges).model_copy(update={"probabilities": "off"})
    assert whole.verdict_prefix is None and whole.fingerprint() != judge.fingerprint()
