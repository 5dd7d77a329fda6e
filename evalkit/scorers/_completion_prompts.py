"""Few-shot text-completion prompts for the ragas and deepeval judge tasks (base models).

ragas' and deepeval's prompts are instructions for chat models: long rules, a JSON schema
in prose, examples far from the item. A base model such as the bundled Gemma 3 270M
(text completion) cannot follow them: it copies the examples or stops mid-list. For a
judge in ``mode = "text"`` evalkit swaps each library prompt for a short few-shot
rendering of the same task with the same reply schema: an instruction line, one or two
worked examples whose reply is the exact JSON the library parses, then the item. The
libraries still do everything else — which calls to make, statement splitting, verdict
aggregation, G-Eval's rescaling — because only the prompt objects are replaced: ragas'
metric prompt attributes (``.to_string(input)``) and deepeval's ``evaluation_template``
hook (a subclass of the metric's template class). Chat judges keep the libraries' prompts.

Each rendered prompt is a :class:`CompletionPrompt`: the text, plus the JSON schema the
reply is constrained to (llama.cpp turns it into a grammar) and a completion budget that
fits that schema's longest reply. The schemas are the libraries' reply schemas made
tight for this item: every string has a ``maxLength``, every list a ``maxItems``,
verdicts an ``enum``. Where the library's reply repeats given statements next to their
verdicts (ragas' NLI step), the model writes only the verdicts, exactly one per
statement, and evalkit expands them into the library's reply (``expand``): a copied
statement costs a model step per token and decides nothing.

Each task has two sets of worked examples: a ferry timetable (asked first) and a bakery
(``retry``: asked when the first reply cannot be used, since at temperature 0 the same
prompt would give the same reply). No golden set here uses either topic, so copied example
text is easy to detect (``EXAMPLE_MARKERS``).
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from pydantic import BaseModel

M = TypeVar("M", bound="BaseModel")
#: Words from the few-shot examples (both sets) that should never appear in a judged reply.
EXAMPLE_MARKERS = ("ferry", "pier 4", "lighthouse", "bakery", "sourdough", "croissant")
#: Added to a reply's worst-case length: the tokenizer may split a rare character in two.
BUDGET_MARGIN = 16
#: Completion budget for a reply schema with no length bounds (the libraries' own
#: schemas, sent to chat models): enough for a dozen long list items.
UNBOUNDED_BUDGET = 4096
_REASON_CHARS = 60
_STOP = ["\n"]


class CompletionPrompt(str):
    """A text-completion prompt with the JSON schema its reply is constrained to and the
    completion budget that schema needs (``max_tokens``).

    ``expand``, when set, turns the reply (which fits ``schema``) into the library's reply
    JSON: a compact rendering asks the model only for what it must decide (ragas'
    verdicts) and evalkit fills in what was given (the statements), instead of having
    the model copy given text token by token. ``retry``, when set, renders the same item
    with the other set of worked examples, for a second call when this reply is unusable.
    """

    schema: dict[str, Any]
    max_tokens: int
    expand: Callable[[Any], Any] | None
    retry: Callable[[], CompletionPrompt] | None

    def __new__(
        cls,
        text: str,
        schema: dict[str, Any],
        expand: Callable[[Any], Any] | None = None,
        retry: Callable[[], CompletionPrompt] | None = None,
    ) -> CompletionPrompt:
        prompt = super().__new__(cls, text)
        prompt.schema = schema
        prompt.max_tokens = reply_token_budget(schema)
        prompt.expand = expand
        prompt.retry = retry
        return prompt


def call_options(prompt: str, response_model: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """Returns (reply schema, extra params) for one library call with ``prompt``.

    A :class:`CompletionPrompt` brings its tight schema and budget (and stops at the end
    of the reply line); a library prompt gets the library's schema and a budget sized
    for it, never the judge's short verdict budget.
    """
    if isinstance(prompt, CompletionPrompt):
        return prompt.schema, {"max_tokens": prompt.max_tokens, "stop": list(_STOP)}
    schema = response_model.model_json_schema()
    return schema, {"max_tokens": reply_token_budget(schema)}


def reply_model(prompt: str, response_model: type[M]) -> type[M]:
    """Returns the pydantic model that parses the reply to ``prompt``.

    That is ``response_model`` itself, except for a :class:`CompletionPrompt` with an
    ``expand`` step: then a subclass of ``response_model`` (same name) whose validation
    first expands the compact reply into the library's JSON, so the library gets its own
    reply type and a reply that does not fit is unparseable as usual.
    """
    expand = getattr(prompt, "expand", None)
    if expand is None:
        return response_model
    from pydantic import model_validator

    def _expand(cls: type[Any], data: Any) -> Any:
        return expand(data)

    validator: Any = model_validator(mode="before")
    namespace = {
        "__module__": response_model.__module__,
        "__doc__": response_model.__doc__,
        "_expand_compact_reply": validator(classmethod(_expand)),
    }
    return type(response_model.__name__, (response_model,), namespace)


def judge_concurrency(model: str, chosen: int | None, suite_default: int | None) -> int:
    """Returns how many cases a ragas/deepeval scorer judges at once.

    ``chosen`` (the metric's ``concurrency``) wins; else the embedded model gets 1: its
    llama.cpp server answers one request at a time, so more in flight only queue at the
    server, where the waiting counts against each call's timeout. Else the suite's.
    """
    if chosen:
        return chosen
    if model == "embedded":
        return 1
    return suite_default or 8


# ---------------------------------------------------------------- budgets


def worst_case_chars(schema: Mapping[str, Any]) -> int | None:
    """Returns the longest JSON text a reply fitting ``schema`` can be, or None if unbounded.

    Counts what llama.cpp's schema grammar lets the model write: the optional single
    space after each brace, bracket, colon and comma, two quotes around each string.
    Only the subset of JSON Schema used in this module is understood.
    """
    if "const" in schema:
        return len(json.dumps(schema["const"], ensure_ascii=False)) + 1
    if "enum" in schema:
        return max(len(json.dumps(v, ensure_ascii=False)) for v in schema["enum"]) + 1
    kind = schema.get("type")
    if kind == "string":
        limit = schema.get("maxLength")
        return None if limit is None else int(limit) + 3
    if kind == "boolean":
        return 6
    if kind == "object":
        total = 2
        for key, value in schema.get("properties", {}).items():
            inner = worst_case_chars(value)
            if inner is None:
                return None
            total += len(json.dumps(key)) + 2 + inner + 2
        return total
    if kind == "array":
        prefix = schema.get("prefixItems")
        if prefix is not None:
            parts = [worst_case_chars(item) for item in prefix]
            if any(p is None for p in parts):
                return None
            return 4 + sum(int(p or 0) + 2 for p in parts)
        limit = schema.get("maxItems")
        item = worst_case_chars(schema.get("items") or {})
        if limit is None or item is None:
            return None
        return 4 + int(limit) * (item + 2)
    return None


def reply_token_budget(schema: Mapping[str, Any]) -> int:
    """Returns the completion budget (max_tokens) for a reply fitting ``schema``.

    A bounded schema gets its worst case: a token is at least one character, so the
    longest reply in characters (plus :data:`BUDGET_MARGIN`) always fits. An unbounded
    schema (a library's own) gets :data:`UNBOUNDED_BUDGET`; the model stops when its
    JSON is done, so a generous cap costs nothing.
    """
    chars = worst_case_chars(schema)
    return UNBOUNDED_BUDGET if chars is None else chars + BUDGET_MARGIN


# ---------------------------------------------------------------- schema pieces


def _object(**properties: Any) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": properties,
        "required": list(properties),
        "additionalProperties": False,
    }


def _string(max_length: int, min_length: int = 1) -> dict[str, Any]:
    return {"type": "string", "minLength": min_length, "maxLength": max(min_length, max_length)}


def _list(item: dict[str, Any], most: int, least: int = 1) -> dict[str, Any]:
    return {"type": "array", "items": item, "minItems": least, "maxItems": max(least, most)}


def _tuple(items: Sequence[dict[str, Any]]) -> dict[str, Any]:
    return {
        "type": "array",
        "prefixItems": list(items),
        "items": False,
        "minItems": len(items),
        "maxItems": len(items),
    }


_BINARY = {"type": "integer", "enum": [0, 1]}
_SENTENCE_END = re.compile(r"[.!?;:](\s|$)|,\s+(and|but)\s")


def _one_line(text: str) -> str:
    """Returns ``text`` with every run of whitespace as one space (one item per line)."""
    return " ".join(str(text).split())


def _statement_limits(text: str) -> tuple[int, int]:
    """Returns (most statements, longest statement) for splitting ``text``.

    At most one statement per clause: with room for more, the embedded model filled it
    with invented statements (a second, contradicting "fact" after a one-fact answer).
    """
    clauses = len(_SENTENCE_END.findall(text.rstrip(".!?;: "))) + 1
    return min(8, clauses), min(200, len(text) + 20)


def _copied_example(statements: Any, source: str) -> str | None:
    """Returns the example marker a statement copied from the few-shot examples, or None
    (a marker that the text being split contains itself is not a copy)."""
    text = json.dumps(statements, ensure_ascii=False).lower()
    for marker in EXAMPLE_MARKERS:
        if marker in text and marker not in source.lower():
            return marker
    return None


def _reject_copies(key: str, source: str) -> Callable[[Any], Any]:
    """Returns an ``expand`` step that rejects a reply whose ``key`` copies an example."""

    def check(reply: Any) -> Any:
        if isinstance(reply, dict):
            marker = _copied_example(reply.get(key), source)
            if marker:
                raise ValueError(
                    f"the judge copied the few-shot example ({marker!r}) instead of "
                    "splitting the text"
                )
        return reply

    return check


def _statements_schema(text: str, key: str = "statements") -> dict[str, Any]:
    most, longest = _statement_limits(_one_line(text))
    return _object(**{key: _list(_string(longest, 3), most)})


def _retry(render: Callable[..., CompletionPrompt], variant: int, *args: Any) -> Any:
    """Returns the ``retry`` of a first rendering: the same item with the second examples."""
    if variant:
        return None
    return functools.partial(render, *args, variant=1)


def _shots(instruction: str, examples: Sequence[tuple[str, Any]], item: str, label: str) -> str:
    """Returns the few-shot prompt: instruction, worked examples, then the item."""
    parts = [instruction, ""]
    for text, reply in examples:
        parts += [text, f"{label}:", json.dumps(reply, ensure_ascii=False), ""]
    parts += [item, f"{label}:", ""]
    return "\n".join(parts)


# ---------------------------------------------------------------- ragas 0.4.3

_RAGAS_STATEMENTS = (
    "Break the answer into short statements, each one fact from the answer as a full "
    "sentence without pronouns."
)
_RAGAS_STATEMENTS_EXAMPLES = (
    [
        (
            "Question: Does the ferry run on Sundays?\nAnswer: No, not on Sundays.",
            {"statements": ["The ferry does not run on Sundays."]},
        ),
        (
            "Question: When does the ferry leave?\nAnswer: It leaves at 8 am, and from pier 4.",
            {"statements": ["The ferry leaves at 8 am.", "The ferry leaves from pier 4."]},
        ),
    ],
    [
        (
            "Question: What does a sourdough loaf cost?\nAnswer: It costs 5 euros, and it is "
            "baked every morning.",
            {
                "statements": [
                    "A sourdough loaf costs 5 euros.",
                    "The sourdough loaf is baked every morning.",
                ]
            },
        ),
        (
            "Question: Is the bakery open on Mondays?\nAnswer: Yes, from 7 am.",
            {"statements": ["The bakery is open on Mondays from 7 am."]},
        ),
    ],
)


def ragas_statements(data: Any, *, variant: int = 0) -> CompletionPrompt:
    """Returns ragas faithfulness' statement-splitting prompt (StatementGeneratorOutput)."""
    item = f"Question: {_one_line(data.question)}\nAnswer: {_one_line(data.answer)}"
    text = _shots(_RAGAS_STATEMENTS, _RAGAS_STATEMENTS_EXAMPLES[variant], item, "Statements")
    check = _reject_copies("statements", item)
    retry = _retry(ragas_statements, variant, data)
    return CompletionPrompt(text, _statements_schema(data.answer), check, retry)


_RAGAS_NLI = (
    "One verdict per numbered statement, in order: 1 if the context supports the "
    "statement, 0 if it does not."
)
_RAGAS_NLI_EXAMPLES = (
    [
        (
            "Context: The ferry leaves at 8 am from pier 4. Tickets cost 12 euros.\n"
            "Statements:\n1. The ferry leaves at 8 am.\n2. Tickets cost 20 euros.",
            {"verdicts": [1, 0]},
        ),
    ],
    [
        (
            "Context: The bakery opens at 7 am. A sourdough loaf costs 5 euros.\n"
            "Statements:\n1. A sourdough loaf costs 8 euros.\n2. The bakery opens at 7 am.",
            {"verdicts": [0, 1]},
        ),
    ],
)


def _numbered(statements: Sequence[str]) -> str:
    return "\n".join(f"{n}. {_one_line(s)}" for n, s in enumerate(statements, 1))


def ragas_nli(data: Any, *, variant: int = 0) -> CompletionPrompt:
    """Returns ragas faithfulness' verdict prompt (NLIStatementOutput), compact.

    The model writes one 0/1 verdict per statement (``{"verdicts": [1, 0]}``, exactly as
    many as there are statements); evalkit expands that into ragas' reply, each given
    statement with its verdict and an empty reason, so ragas counts the verdicts as
    usual. Copying the statements back (ragas' own reply form) cost most of the reply's
    tokens, each one a full model step on the embedded server.
    """
    statements = [str(s) for s in data.statements]
    item = f"Context: {_one_line(data.context)}\nStatements:\n{_numbered(statements)}"
    text = _shots(_RAGAS_NLI, _RAGAS_NLI_EXAMPLES[variant], item, "Verdicts")
    schema = _object(verdicts=_tuple([_BINARY] * len(statements)))

    def expand(reply: Any) -> Any:
        if not (isinstance(reply, dict) and "verdicts" in reply):
            return reply  # already ragas' form (e.g. a copy of a parsed reply)
        verdicts = reply["verdicts"]
        if not isinstance(verdicts, list) or len(verdicts) != len(statements):
            raise ValueError(f"expected {len(statements)} verdicts, got {verdicts!r}")
        return {
            "statements": [
                {"statement": s, "reason": "", "verdict": v}
                for s, v in zip(statements, verdicts, strict=True)
            ]
        }

    return CompletionPrompt(text, schema, expand, _retry(ragas_nli, variant, data))


_RAGAS_QUESTION = (
    "Write the question the answer replies to; noncommittal is 1 for an evasive or vague "
    "answer, else 0."
)
_RAGAS_QUESTION_EXAMPLES = (
    [
        (
            "Answer: The ferry leaves at 8 am.",
            {"question": "When does the ferry leave?", "noncommittal": 0},
        ),
        (
            "Answer: I am not sure about dogs on the ferry.",
            {"question": "Are dogs allowed on the ferry?", "noncommittal": 1},
        ),
    ],
    [
        (
            "Answer: I do not know if the bakery sells croissants.",
            {"question": "Does the bakery sell croissants?", "noncommittal": 1},
        ),
        (
            "Answer: A sourdough loaf costs 5 euros.",
            {"question": "How much is a sourdough loaf?", "noncommittal": 0},
        ),
    ],
)


def ragas_question(data: Any, *, variant: int = 0) -> CompletionPrompt:
    """Returns ragas answer relevancy's question prompt (AnswerRelevanceOutput)."""
    item = f"Answer: {_one_line(data.response)}"
    text = _shots(_RAGAS_QUESTION, _RAGAS_QUESTION_EXAMPLES[variant], item, "Reply")
    schema = _object(question=_string(100, 5), noncommittal=_BINARY)
    return CompletionPrompt(text, schema, retry=_retry(ragas_question, variant, data))


_RAGAS_PRECISION = "Verdict 1 if the context was useful for the answer to the question, 0 if not."
_RAGAS_PRECISION_EXAMPLES = (
    [
        (
            "Question: How much is a ferry ticket?\nContext: A ferry ticket costs 12 euros.\n"
            "Answer: 12 euros.",
            {"reason": "It gives the price.", "verdict": 1},
        ),
        (
            "Question: How much is a ferry ticket?\nContext: The island has a lighthouse.\n"
            "Answer: 12 euros.",
            {"reason": "No price in it.", "verdict": 0},
        ),
    ],
    [
        (
            "Question: When does the bakery open?\nContext: The bakery has a blue door.\n"
            "Answer: At 7 am.",
            {"reason": "No opening time in it.", "verdict": 0},
        ),
        (
            "Question: When does the bakery open?\nContext: The bakery opens at 7 am daily.\n"
            "Answer: At 7 am.",
            {"reason": "It gives the time.", "verdict": 1},
        ),
    ],
)


def ragas_precision(data: Any, *, variant: int = 0) -> CompletionPrompt:
    """Returns ragas context precision's usefulness prompt (ContextPrecisionOutput)."""
    item = (
        f"Question: {_one_line(data.question)}\nContext: {_one_line(data.context)}\n"
        f"Answer: {_one_line(data.answer)}"
    )
    text = _shots(_RAGAS_PRECISION, _RAGAS_PRECISION_EXAMPLES[variant], item, "Reply")
    schema = _object(reason=_string(_REASON_CHARS), verdict=_BINARY)
    return CompletionPrompt(text, schema, retry=_retry(ragas_precision, variant, data))


_RAGAS_RECALL = (
    "Split the answer into statements; attributed is 1 if the context supports the "
    "statement, else 0."
)
_RAGAS_RECALL_EXAMPLES = (
    [
        (
            "Question: When does the ferry leave?\nContext: The ferry leaves at 8 am from "
            "pier 4.\nAnswer: At 8 am, and the trip takes 40 minutes.",
            {
                "classifications": [
                    {
                        "statement": "The ferry leaves at 8 am.",
                        "reason": "Stated.",
                        "attributed": 1,
                    },
                    {
                        "statement": "The trip takes 40 minutes.",
                        "reason": "Not in the context.",
                        "attributed": 0,
                    },
                ]
            },
        ),
        (
            "Question: Can I bring a bike on the ferry?\nContext: Tickets cost 12 euros. Bikes "
            "travel free on every crossing.\nAnswer: Yes, bikes travel free.",
            {
                "classifications": [
                    {
                        "statement": "Bikes travel free on the ferry.",
                        "reason": "Stated.",
                        "attributed": 1,
                    }
                ]
            },
        ),
    ],
    [
        (
            "Question: How much is a sourdough loaf?\nContext: The bakery sells out by noon.\n"
            "Answer: 5 euros, and it sells out by noon.",
            {
                "classifications": [
                    {
                        "statement": "A sourdough loaf costs 5 euros.",
                        "reason": "No price in the context.",
                        "attributed": 0,
                    },
                    {
                        "statement": "The bakery sells out by noon.",
                        "reason": "Stated.",
                        "attributed": 1,
                    },
                ]
            },
        ),
        (
            "Question: Does the bakery deliver?\nContext: The bakery opens at 7 am. It has no "
            "delivery service.\nAnswer: No, the bakery does not deliver.",
            {
                "classifications": [
                    {
                        "statement": "The bakery does not deliver.",
                        "reason": "Stated.",
                        "attributed": 1,
                    }
                ]
            },
        ),
    ],
)


def ragas_recall(data: Any, *, variant: int = 0) -> CompletionPrompt:
    """Returns ragas context recall's attribution prompt (ContextRecallOutput)."""
    item = (
        f"Question: {_one_line(data.question)}\nContext: {_one_line(data.context)}\n"
        f"Answer: {_one_line(data.answer)}"
    )
    text = _shots(_RAGAS_RECALL, _RAGAS_RECALL_EXAMPLES[variant], item, "Reply")
    most, longest = _statement_limits(_one_line(data.answer))
    classification = _object(
        statement=_string(longest, 3), reason=_string(_REASON_CHARS), attributed=_BINARY
    )
    schema = _object(classifications=_list(classification, most))
    check = _reject_copies("classifications", item)
    return CompletionPrompt(text, schema, check, _retry(ragas_recall, variant, data))


class RagasCompletionPrompt:
    """Stands in for a ragas metric prompt: ``to_string(input)`` gives the few-shot text."""

    def __init__(self, render: Callable[[Any], CompletionPrompt]) -> None:
        self.render = render

    def to_string(self, data: Any) -> CompletionPrompt:
        """Returns the completion prompt for ragas' typed prompt input ``data``."""
        return self.render(data)


#: ragas metric -> {prompt attribute: renderer}; the attributes ragas 0.4.3 reads.
RAGAS_PROMPTS: dict[str, dict[str, Callable[[Any], CompletionPrompt]]] = {
    "faithfulness": {
        "statement_generator_prompt": ragas_statements,
        "nli_statement_prompt": ragas_nli,
    },
    "answer_relevancy": {"prompt": ragas_question},
    "context_precision": {"prompt": ragas_precision},
    "context_recall": {"prompt": ragas_recall},
}


def use_ragas_completion_prompts(metric: Any, name: str) -> Any:
    """Returns ragas ``metric`` with its prompts replaced by the few-shot renderings."""
    for attribute, render in RAGAS_PROMPTS[name].items():
        if not hasattr(metric, attribute):
            raise AttributeError(f"ragas {name} has no prompt {attribute!r} (ragas changed?)")
        setattr(metric, attribute, RagasCompletionPrompt(render))
    return metric


# ---------------------------------------------------------------- deepeval 4.3

_GEVAL_STEPS = "Write 3 or 4 short evaluation steps for the criteria."
_GEVAL_STEPS_EXAMPLES = (
    [
        (
            "Criteria: Does the actual output give the right ferry time?\n"
            "Judge: Input and Actual Output",
            {
                "steps": [
                    "Read the question in the input.",
                    "Find the time in the actual output.",
                    "Check that the time answers the question.",
                ]
            },
        ),
    ],
    [
        (
            "Criteria: Does the actual output give the price of a sourdough loaf?\n"
            "Judge: Input and Actual Output",
            {
                "steps": [
                    "Read what the input asks for.",
                    "Find the price in the actual output.",
                    "Check that the price is the one asked for.",
                ]
            },
        ),
    ],
)


def geval_steps(criteria: str, parameters: str, *, variant: int = 0) -> CompletionPrompt:
    """Returns G-Eval's evaluation-steps prompt (Steps)."""
    item = f"Criteria: {_one_line(criteria)}\nJudge: {_one_line(parameters)}"
    text = _shots(_GEVAL_STEPS, _GEVAL_STEPS_EXAMPLES[variant], item, "Steps")
    example = {
        _one_line(step).lower()
        for examples in _GEVAL_STEPS_EXAMPLES
        for _, reply in examples
        for step in reply["steps"]
    }

    def check(reply: Any) -> Any:
        steps = reply.get("steps") if isinstance(reply, dict) else None
        copied = [x for x in steps or () if _one_line(str(x)).lower() in example]
        if steps and 2 * len(copied) >= len(steps):
            raise ValueError(
                "the judge copied the few-shot example's evaluation steps; give the "
                "metric evaluation_steps"
            )
        return reply

    schema = _object(steps=_list(_string(100, 10), 4, least=3))
    return CompletionPrompt(text, schema, check, _retry(geval_steps, variant, criteria, parameters))


_GEVAL_RESULTS = (
    "Score from {low} to {high}: {high} if the test case fully meets the evaluation steps, "
    "{low} if not at all."
)
#: (evaluation steps, [(test case, reason, score as a share of the range)]) per variant.
_GEVAL_EXAMPLES = (
    (
        "Evaluation steps:\n1. Check that the ferry time answers the input.",
        [
            (
                "Input: When does the ferry leave?\nActual Output: At 8 am.",
                "It gives the time.",
                0.9,
            ),
            (
                "Input: When does the ferry leave?\nActual Output: The island has a lighthouse.",
                "No time given.",
                0.1,
            ),
        ],
    ),
    (
        "Evaluation steps:\n1. Check that the price answers the input.",
        [
            (
                "Input: How much is a sourdough loaf?\nActual Output: The bakery has a blue door.",
                "No price given.",
                0.1,
            ),
            (
                "Input: How much is a sourdough loaf?\nActual Output: 5 euros.",
                "It gives the price.",
                0.9,
            ),
        ],
    ),
)
_TEST_CASE_FIELD = re.compile(r"(?ms)^([A-Z][A-Za-z ]*):\n(.*?)\s*(?=^[A-Z][A-Za-z ]*:\n|\Z)")


def _test_case_lines(content: str) -> str:
    """Returns deepeval's test-case text ("Input:\\nvalue \\n\\n...") one field a line."""
    fields = _TEST_CASE_FIELD.findall(content)
    if not fields:
        return _one_line(content)
    return "\n".join(f"{label}: {_one_line(value)}" for label, value in fields)


def geval_results(
    evaluation_steps: str,
    test_case_content: str,
    score_range: Sequence[int],
    rubric: str | None = None,
    _additional_context: str | None = None,
    *,
    variant: int = 0,
) -> CompletionPrompt:
    """Returns G-Eval's scoring prompt (ReasonScore), the score an integer in the range."""
    low, high = int(score_range[0]), int(score_range[1])
    instruction = _GEVAL_RESULTS.format(low=low, high=high)
    example_steps, cases = _GEVAL_EXAMPLES[variant]
    examples = [
        (
            f"{example_steps}\n{case}",
            {"reason": reason, "score": low + round(share * (high - low))},
        )
        for case, reason, share in cases
    ]
    item = f"Evaluation steps:\n{evaluation_steps.strip()}\n"
    if rubric:
        item += f"Rubric:\n{rubric.strip()}\n"
    item += _test_case_lines(test_case_content)
    if _additional_context:
        item += f"\nAdditional context: {_one_line(_additional_context)}"
    text = _shots(instruction, examples, item, "Reply")
    score = {"type": "integer", "enum": list(range(low, high + 1))}
    retry = _retry(
        geval_results,
        variant,
        evaluation_steps,
        test_case_content,
        score_range,
        rubric,
        _additional_context,
    )
    return CompletionPrompt(text, _object(reason=_string(_REASON_CHARS), score=score), retry=retry)


_DEEPEVAL_STATEMENTS = (
    "Break the text into short statements, each one fact from the text as a full sentence."
)
_DEEPEVAL_STATEMENTS_EXAMPLES = (
    [
        (
            "Text: The ferry leaves at 8 am. Tickets cost 12 euros.",
            {"statements": ["The ferry leaves at 8 am.", "Tickets cost 12 euros."]},
        ),
    ],
    [
        (
            "Text: A sourdough loaf costs 5 euros, and the bakery opens at 7 am.",
            {"statements": ["A sourdough loaf costs 5 euros.", "The bakery opens at 7 am."]},
        ),
    ],
)


def deepeval_statements(actual_output: str, *, variant: int = 0) -> CompletionPrompt:
    """Returns deepeval answer relevancy's statements prompt (Statements)."""
    text = _shots(
        _DEEPEVAL_STATEMENTS,
        _DEEPEVAL_STATEMENTS_EXAMPLES[variant],
        f"Text: {_one_line(actual_output)}",
        "Statements",
    )
    check = _reject_copies("statements", actual_output)
    retry = _retry(deepeval_statements, variant, actual_output)
    return CompletionPrompt(text, _statements_schema(actual_output), check, retry)


_DEEPEVAL_VERDICTS = (
    'One verdict per statement: "yes" if it is relevant to the input, "no" if not, '
    '"borderline" if it only supports.'
)
_DEEPEVAL_VERDICTS_EXAMPLES = (
    [
        (
            "Input: When does the ferry leave?\n"
            'Statements: ["The ferry leaves at 8 am.", "The island has a lighthouse."]',
            {"verdicts": [{"verdict": "yes"}, {"verdict": "no"}]},
        ),
    ],
    [
        (
            "Input: How much is a sourdough loaf?\n"
            'Statements: ["The bakery has a blue door.", "A sourdough loaf costs 5 euros."]',
            {"verdicts": [{"verdict": "no"}, {"verdict": "yes"}]},
        ),
    ],
)


def deepeval_verdicts(
    input: str, statements: Sequence[str], *, variant: int = 0
) -> CompletionPrompt:
    """Returns deepeval answer relevancy's verdicts prompt (Verdicts), one per statement."""
    listed = [str(s) for s in statements]
    item = f"Input: {_one_line(input)}\nStatements: {json.dumps(listed, ensure_ascii=False)}"
    text = _shots(_DEEPEVAL_VERDICTS, _DEEPEVAL_VERDICTS_EXAMPLES[variant], item, "Verdicts")
    verdict = _object(verdict={"type": "string", "enum": ["yes", "no", "borderline"]})
    schema = _object(verdicts=_tuple([verdict] * len(listed)))
    return CompletionPrompt(
        text, schema, retry=_retry(deepeval_verdicts, variant, input, statements)
    )


_DEEPEVAL_REASON = (
    "Explain the answer relevancy score in one sentence: why it is not higher, and why it "
    "is as high as it is."
)
_DEEPEVAL_REASON_EXAMPLES = (
    [
        (
            'Score: 0.50\nIrrelevant statements: ["The island has a lighthouse."]\n'
            "Input: When does the ferry leave?",
            {"reason": "The score is 0.50 because half of the output is about the lighthouse."},
        ),
    ],
    [
        (
            'Score: 0.50\nIrrelevant statements: ["The bakery has a blue door."]\n'
            "Input: How much is a sourdough loaf?",
            {"reason": "The score is 0.50 because half of the output is about the door."},
        ),
    ],
)


def deepeval_reason(
    irrelevant_statements: Sequence[Any], input: str, score: str, *, variant: int = 0
) -> CompletionPrompt:
    """Returns deepeval answer relevancy's reason prompt (AnswerRelevancyScoreReason)."""
    listed = json.dumps([str(s) for s in irrelevant_statements], ensure_ascii=False)
    item = f"Score: {score}\nIrrelevant statements: {listed}\nInput: {_one_line(input)}"
    text = _shots(_DEEPEVAL_REASON, _DEEPEVAL_REASON_EXAMPLES[variant], item, "Reply")
    retry = _retry(deepeval_reason, variant, irrelevant_statements, input, score)
    return CompletionPrompt(text, _object(reason=_string(200)), retry=retry)


@functools.cache
def geval_template() -> type[Any]:
    """Returns a deepeval GEvalTemplate subclass that renders the few-shot prompts."""
    from deepeval.metrics.g_eval.g_eval import GEvalTemplate

    class EvalkitGEvalTemplate(GEvalTemplate):  # type: ignore[misc]
        generate_evaluation_steps = staticmethod(geval_steps)
        generate_evaluation_results = staticmethod(geval_results)

    return EvalkitGEvalTemplate


@functools.cache
def answer_relevancy_template() -> type[Any]:
    """Returns a deepeval AnswerRelevancyTemplate subclass with the few-shot prompts."""
    from deepeval.metrics.answer_relevancy.answer_relevancy import AnswerRelevancyTemplate

    class EvalkitAnswerRelevancyTemplate(AnswerRelevancyTemplate):  # type: ignore[misc]
        generate_statements = staticmethod(deepeval_statements)
        generate_verdicts = staticmethod(deepeval_verdicts)
        generate_reason = staticmethod(deepeval_reason)

    return EvalkitAnswerRelevancyTemplate


@functools.cache
def prompts_fingerprint() -> str:
    """Returns a short hash of this module's source: every prompt, example and schema rule."""
    digest = hashlib.sha256(Path(__file__).read_bytes())
    return digest.hexdigest()[:16]
