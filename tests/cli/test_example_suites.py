"""The example suites that ship with evalkit: shapes, sizes, prompts and judge labels."""

from __future__ import annotations

import json
import re
import tomllib
from collections import Counter
from functools import cache
from pathlib import Path
from typing import Any

import jinja2
import jsonschema
import pytest

from evalkit.data._golden import GoldenCase, GoldenSet, load_golden_set

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = ROOT / "golden_sets"
PROMPTS = GOLDEN / "prompts"
LABELS = ROOT / "judges" / "correctness.smoke.labels.jsonl"
PEOPLE_LABELS = ROOT / "judges" / "correctness.labels.jsonl"

# suite -> (minimum number of cases, how its rendered prompt ends: the model continues it)
SUITES = {
    "qa": (160, "\nQ: {question}\nA:"),
    "support_rag": (60, "\nQuestion: {question}\nAnswer:"),
    "extraction": (45, "\nText: {text}\nJSON:"),
}
ORDER_KEYS = {"name", "product", "quantity", "city"}
NUMBER_WORDS = {
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
    "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "a dozen": 12, "twelve": 12,
}  # fmt: skip


@cache
def suite(name: str) -> GoldenSet:
    return load_golden_set(GOLDEN / f"{name}.jsonl")


def raw_lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def template_context(case: GoldenCase) -> dict[str, Any]:
    """Returns the variables evalkit gives a prompt template for ``case``."""
    assert isinstance(case.input, dict)
    return {
        **case.input,
        "input": case.input,
        "expected": case.expected,
        "contexts": list(case.contexts),
        "tags": list(case.tags),
        "metadata": dict(case.metadata),
        "case": case,
    }


def load_prompt(name: str) -> jinja2.Template:
    env = jinja2.Environment(undefined=jinja2.StrictUndefined, autoescape=False)
    return env.from_string((PROMPTS / f"{name}.jinja").read_text(encoding="utf-8"))


def readme_schema() -> dict[str, Any]:
    text = (GOLDEN / "README.md").read_text(encoding="utf-8")
    section = text.split("## Extraction JSON Schema", 1)[1]
    block = re.search(r"```json\n(.*?)\n```", section, re.DOTALL)
    assert block, "golden_sets/README.md: no ```json block under 'Extraction JSON Schema'"
    schema: dict[str, Any] = json.loads(block.group(1))
    return schema


def answers(case: GoldenCase) -> list[Any]:
    expected = case.expected
    return list(expected) if isinstance(expected, list) else [expected]


def input_text(case: GoldenCase, key: str) -> str:
    """Returns the string ``input[key]`` of a case whose input is an object."""
    assert isinstance(case.input, dict), case.id
    value = case.input[key]
    assert isinstance(value, str), case.id
    return value


# ---------------------------------------------------------------- every suite


@pytest.mark.parametrize("name", sorted(SUITES))
def test_suite_loads_and_has_its_minimum_size(name: str) -> None:
    assert len(suite(name)) >= SUITES[name][0]


@pytest.mark.parametrize("name", sorted(SUITES))
def test_suite_ids_are_unique_and_descriptive(name: str) -> None:
    ids = [row["id"] for row in raw_lines(GOLDEN / f"{name}.jsonl")]
    assert [i for i, n in Counter(ids).items() if n > 1] == []
    assert [i for i in ids if not re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)+", i)] == []


@pytest.mark.parametrize("name", sorted(SUITES))
def test_readme_counts_match_the_files(name: str) -> None:
    golden = suite(name)
    critical = sum(case.critical for case in golden)
    row = f"| `{name}.jsonl` | `prompts/{name}.jinja` | {len(golden)} | {critical} |"
    assert row in (GOLDEN / "README.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("name", sorted(SUITES))
def test_prompt_renders_every_case_and_ends_with_the_answer_prefix(name: str) -> None:
    template = load_prompt(name)
    for case in suite(name):
        prompt = template.render(template_context(case))
        assert isinstance(case.input, dict)
        assert prompt.endswith(SUITES[name][1].format(**case.input)), case.id
        for passage in case.contexts:
            assert f"Context: {passage}\n" in prompt, case.id


def test_prompt_fails_loudly_when_a_variable_is_missing() -> None:
    with pytest.raises(jinja2.UndefinedError, match="question"):
        load_prompt("qa").render({"input": {}})


@pytest.mark.parametrize("name", sorted(SUITES))
def test_inputs_and_expected_answers_fit_on_one_line(name: str) -> None:
    for case in suite(name):
        expected = case.expected
        values = expected.values() if isinstance(expected, dict) else answers(case)
        assert all("\n" not in str(value) for value in values), case.id
        assert isinstance(case.input, dict)
        assert all("\n" not in str(value) for value in case.input.values()), case.id


# ---------------------------------------------------------------- qa


def test_qa_cases_are_short_answers_to_one_question() -> None:
    for case in suite("qa"):
        assert isinstance(case.input, dict) and set(case.input) == {"question"}, case.id
        assert case.input["question"].endswith("?"), case.id
        options = answers(case)
        assert options and all(isinstance(a, str) and a.strip() for a in options), case.id
        assert max(len(a.split()) for a in options) <= 5, case.id
        assert len(set(options)) == len(options), case.id


def test_qa_group_is_the_topic_tag_and_about_ten_cases_are_critical() -> None:
    golden = suite("qa")
    for case in golden:
        assert case.group and case.tags[0] == case.group, case.id
    assert len({case.group for case in golden}) >= 8
    assert 8 <= sum(case.critical for case in golden) <= 15


def test_qa_few_shot_examples_are_not_golden_questions() -> None:
    source = (PROMPTS / "qa.jinja").read_text(encoding="utf-8")
    shots = re.findall(r"^Q: (.+)$", source, re.MULTILINE)
    examples = [q for q in shots if "{{" not in q]
    assert 5 <= len(examples) <= 8
    questions = {input_text(case, "question") for case in suite("qa")}
    assert questions.isdisjoint(examples)


# ---------------------------------------------------------------- support rag


def test_rag_cases_have_contexts_group_and_one_sentence_answer() -> None:
    for case in suite("support_rag"):
        assert isinstance(case.input, dict) and set(case.input) == {"question"}, case.id
        assert 1 <= len(case.contexts) <= 3, case.id
        assert all(p.strip() for p in case.contexts), case.id
        assert case.group and case.group.startswith("doc-"), case.id
        assert isinstance(case.expected, str) and case.expected.endswith((".", "?")), case.id
        assert case.tags, case.id


def test_rag_passage_ids_name_the_same_text_everywhere() -> None:
    text_of: dict[str, str] = {}
    for case in suite("support_rag"):
        passages, relevant = case.metadata["passages"], case.metadata["relevant"]
        assert len(passages) == len(case.contexts), case.id
        assert relevant and set(relevant) <= set(passages), case.id
        for pid, text in zip(passages, case.contexts, strict=True):
            assert text_of.setdefault(pid, text) == text, f"{case.id}: {pid}"
    assert len({case.group for case in suite("support_rag")}) >= 10


def test_rag_critical_cases_exist_but_are_a_minority() -> None:
    golden = suite("support_rag")
    assert 3 <= sum(case.critical for case in golden) <= len(golden) // 4


# ---------------------------------------------------------------- extraction


def test_extraction_expected_objects_share_keys_and_match_the_readme_schema() -> None:
    schema = readme_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    for case in suite("extraction"):
        assert isinstance(case.expected, dict) and set(case.expected) == ORDER_KEYS, case.id
        errors = [e.message for e in validator.iter_errors(case.expected)]
        assert errors == [], case.id
    assert set(schema["required"]) == ORDER_KEYS


def test_extraction_values_appear_in_the_text() -> None:
    for case in suite("extraction"):
        assert isinstance(case.input, dict) and isinstance(case.expected, dict)
        text = case.input["text"].lower()
        for key in ("name", "product", "city"):
            assert case.expected[key].lower() in text, f"{case.id}: {key}"
        quantity = case.expected["quantity"]
        words = [w for w, n in NUMBER_WORDS.items() if n == quantity]
        digits = re.search(rf"(?<![\d-]){quantity}(?!\d)", text)
        spelled = any(re.search(rf"\b{w}\b", text) for w in words)
        assert digits or spelled, f"{case.id}: quantity {quantity}"


def test_extraction_few_shot_examples_are_valid_one_line_json_not_golden_texts() -> None:
    source = (PROMPTS / "extraction.jinja").read_text(encoding="utf-8")
    texts = [t for t in re.findall(r"^Text: (.+)$", source, re.MULTILINE) if "{{" not in t]
    objects = [json.loads(j) for j in re.findall(r"^JSON: (\{.+\})$", source, re.MULTILINE)]
    assert len(objects) == len(texts) >= 2
    validator = jsonschema.Draft202012Validator(readme_schema())
    for obj in objects:
        assert list(validator.iter_errors(obj)) == []
    golden_texts = {input_text(case, "text") for case in suite("extraction")}
    assert golden_texts.isdisjoint(texts)


# ---------------------------------------------------------------- judge labels


def test_labelled_set_parses_with_pass_fail_labels_from_named_raters() -> None:
    items = raw_lines(LABELS)
    assert len(items) >= 100
    ids = [item["id"] for item in items]
    assert len(set(ids)) == len(ids)
    for item in items:
        assert set(item) == {"id", "input", "output", "expected", "labels"}, item["id"]
        assert isinstance(item["input"], str) and item["input"].strip(), item["id"]
        assert isinstance(item["output"], str) and isinstance(item["expected"], str)
        raters = [label["rater"] for label in item["labels"]]
        assert raters[0] == "ref-a" and raters in (["ref-a"], ["ref-a", "ref-b"]), item["id"]
        assert all(label["value"] in ("pass", "fail") for label in item["labels"]), item["id"]


def test_labelled_set_is_balanced_and_partly_double_labelled() -> None:
    items = raw_lines(LABELS)
    primary = Counter(item["labels"][0]["value"] for item in items)
    assert 0.4 <= primary["pass"] / len(items) <= 0.6, primary
    double = [item for item in items if len(item["labels"]) == 2]
    assert len(double) >= 25
    for item in double:
        a, b = (label["value"] for label in item["labels"])
        notes = [label.get("note") for label in item["labels"]]
        assert (a != b) == all(notes), f"{item['id']}: explain every disagreement in a note"


def test_labels_md_counts_match_the_labelled_set() -> None:
    items = raw_lines(LABELS)
    double = [item for item in items if len(item["labels"]) == 2]
    disagree = [item for item in double if len({lb["value"] for lb in item["labels"]}) == 2]
    primary = Counter(item["labels"][0]["value"] for item in items)
    doc = (ROOT / "judges" / "LABELS.md").read_text(encoding="utf-8")
    for row, count in [
        ("total", len(items)),
        ("`ref-a` pass", primary["pass"]),
        ("`ref-a` fail", primary["fail"]),
        ("labelled by `ref-b` too", len(double)),
        ("`ref-a` and `ref-b` disagree", len(disagree)),
    ]:
        assert f"| {row} | {count} |" in doc, row
    for item in disagree:
        assert f"`{item['id']}`" in doc


def test_labelled_questions_are_not_the_judge_few_shot_examples() -> None:
    judge = tomllib.loads((ROOT / "judges" / "correctness.toml").read_text(encoding="utf-8"))
    shots = {example["input"] for example in judge.get("examples", [])}
    assert shots, "judges/correctness.toml has no few-shot examples to compare with"
    assert shots.isdisjoint(item["input"] for item in raw_lines(LABELS))
    assert shots.isdisjoint(item["input"] for item in raw_lines(PEOPLE_LABELS))


# ---------------------------------------------------------------- baselines and the demo


@pytest.mark.parametrize("name", sorted(SUITES))
def test_critical_cases_pass_in_the_committed_baseline(name: str) -> None:
    # An unchanged system must pass its own gate: a critical case is one the embedded
    # model gets right, so a critical failure in a demo run is news, not a known failure.
    from evalkit.comparison._compare import compare_runs
    from evalkit.config._suite import load_config
    from evalkit.store._baselines import load_baseline

    project = load_config(str(ROOT / "pyproject.toml"))
    config = project.suite(name)
    baseline = load_baseline(GOLDEN / f"{name}.baseline.jsonl")
    assert baseline.manifest.golden_fingerprint == suite(name).fingerprint, "re-pin the baseline"
    comparison = compare_runs(baseline, baseline, gate=config.gate, metrics=config.metrics)
    critical = [case for case in comparison.cases if "critical" in case.tags]
    assert len(critical) == sum(case.critical for case in suite(name))
    assert [case.case_id for case in critical if case.critical_failed] == []
    assert comparison.gate.passed and not comparison.gate.known_failures


def test_the_demo_candidate_is_support_rag_with_terse_few_shot_answers() -> None:
    from evalkit.cli._demo_cmd import CANDIDATE

    assert CANDIDATE.suite == "support_rag"
    env = jinja2.Environment(undefined=jinja2.StrictUndefined, autoescape=False)
    source = (ROOT / CANDIDATE.prompt).read_text(encoding="utf-8")
    candidate = env.from_string(source)
    shipped = load_prompt("support_rag")
    shots = re.findall(r"^Answer: (.+)$", source, re.MULTILINE)
    assert shots == ["90 days.", "Yes."]  # the edit: terse answers, references stay sentences
    for case in suite("support_rag"):
        context = template_context(case)
        text = candidate.render(**context)
        # The same passages and question as the shipped prompt: only the answers' style moved.
        assert text.endswith(shipped.render(**context).split("Yes, you can pay with PayPal.")[1])
