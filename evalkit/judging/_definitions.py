"""Judge definitions: ``judges/NAME.toml`` — model, Jinja2 rubric, scale, few-shot examples.

Example (the shipped ``judges/correctness.toml`` is a complete one)::

    model = "embedded"             # a LiteLLM model name, or the bundled Gemma
    mode = "text"                  # "text" completion (base models, few-shot) or "chat"
    type = "pointwise"             # or "pairwise" (compares two answers, A and B)
    scale = "pass/fail"            # or "1..5"
    structured = "auto"            # JSON schema for llama.cpp/vLLM servers, else JSON mode
    params = { temperature = 0.0, max_tokens = 32 }
    rubric = "Decide whether the answer is correct given the reference."
    template = "Question: {{ input }}\\nReference: {{ expected }}\\nAnswer: {{ output }}"

    [[examples]]
    input = "Capital of France?"
    expected = "Paris"
    output = "Paris."
    verdict = "pass"

Where the provider returns token log-probabilities (``probabilities = "auto"``: the
embedded model and self-hosted servers; ``"on"``: any model), a pass/fail judge also
records P(pass) at the verdict position and a 1..N judge the probability-weighted score
(as G-Eval does): :func:`verdict_soft_score`. A text-mode judge that reads them and gives
no reason first is asked for one token only, after its prompt and the fixed start of the
reply (``{"verdict": "``, :attr:`JudgeDefinition.verdict_prefix`): llama-cpp-python
sorts the whole 262k-token vocabulary in Python for every token it reports
log-probabilities for, so one token instead of a whole JSON reply is several times
faster (bench/bench_judge.py). A first token that begins no label is unparseable, and
the item unscored. A ``type = "similarity"`` judge needs no
LLM: it is the embedding cosine of the answer and the reference (``model = "minilm"``,
the bundled MiniLM), a pass when it reaches ``threshold`` (or the threshold fitted by
``evalkit calibrate``).

The judge replies with JSON — ``{"verdict": "pass"}``, ``{"score": 4}`` or, pairwise,
``{"verdict": "A"}`` — optionally with a ``"reason"`` first. Templates see ``input``,
``output`` (pairwise: ``output_a``, ``output_b``), ``expected``, ``answers``,
``contexts`` and ``metadata``.
"""

from __future__ import annotations

import json
import math
import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import jinja2
import jinja2.meta
from jinja2.sandbox import SandboxedEnvironment
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from evalkit.errors import ConfigError, NotFoundError, Problem, TemplateError
from evalkit.util._fingerprint import fingerprint_json

_SCALE = re.compile(r"^\s*(\d+)\s*(?:\.\.|-)\s*(\d+)\s*$")
PASS_FAIL = "pass/fail"
PAIRWISE_LABELS = ("A", "B", "tie")
Structured = Literal["auto", "schema", "json_object", "none"]
Probabilities = Literal["auto", "on", "off"]
#: Alternatives asked for at each position when a judge reads log-probabilities.
TOP_LOGPROBS = 20
#: Fields added after judges were first fingerprinted: left out of the fingerprint while
#: at these defaults, so a judge that does not use them keeps its fingerprint (and its
#: calibration record). Asking for log-probabilities does not change a verdict.
_LATER_DEFAULTS: dict[str, Any] = {"probabilities": "auto", "threshold": None}

_ENV = SandboxedEnvironment(
    undefined=jinja2.StrictUndefined, autoescape=False, keep_trailing_newline=False
)


@dataclass(frozen=True)
class JudgeModel:
    """A judge model: LiteLLM name, route, params and how replies are constrained to JSON."""

    model: str = "embedded"
    mode: Literal["chat", "text"] = "text"
    api_base: str | None = None
    params: Mapping[str, Any] = field(default_factory=dict)
    structured: Structured = "auto"
    timeout: float = 60.0
    max_retries: int = 4
    #: Top alternatives to ask for per generated token (0: no log-probabilities).
    logprobs: int = 0

    def request_params(self, schema: Mapping[str, Any] | None) -> dict[str, Any]:
        """Returns the call's params: temperature 0 unless set, plus the JSON constraint.

        "schema" constrains decoding to ``schema`` as llama.cpp does it (chat:
        ``response_format``; text: ``extra_body.response_format``, since LiteLLM rejects
        ``response_format`` on the text route); "json_object" asks for JSON mode only;
        "auto" is "schema" for the embedded model and self-hosted servers (an
        ``api_base``), else "json_object" (hosted APIs reject llama.cpp's schema key).
        """
        params = dict(self.params)
        params.setdefault("temperature", 0.0)
        if self.logprobs > 0:
            if self.mode == "chat":
                params.setdefault("logprobs", True)
                params.setdefault("top_logprobs", self.logprobs)
            else:
                params.setdefault("logprobs", self.logprobs)
        structured = self.resolved_structured
        if structured == "none":
            return params
        response_format: dict[str, Any] = {"type": "json_object"}
        if structured == "schema" and schema is not None:
            response_format["schema"] = dict(schema)
        if self.mode == "chat":
            params["response_format"] = response_format
        else:
            extra = dict(params.get("extra_body") or {})
            extra["response_format"] = response_format
            params["extra_body"] = extra
        return params

    @property
    def self_hosted(self) -> bool:
        """True for the embedded model and any server named by ``api_base``."""
        return self.model == "embedded" or self.api_base is not None

    @property
    def resolved_structured(self) -> Structured:
        """Returns how replies are constrained, with "auto" decided for this model."""
        if self.structured != "auto":
            return self.structured
        return "schema" if self.self_hosted else "json_object"

    def fingerprint(self) -> str:
        """Returns a hash of the model, route and params."""
        return fingerprint_json(
            {
                "model": self.model,
                "mode": self.mode,
                "api_base": self.api_base,
                "params": dict(self.params),
                "structured": self.structured,
            }
        )


class JudgeExample(BaseModel):
    """One few-shot example: the template's variables and the verdict to imitate."""

    model_config = ConfigDict(extra="allow", frozen=True)

    verdict: str | int
    reason: str | None = None


class JudgeDefinition(BaseModel):
    """A judge as defined in ``judges/NAME.toml``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    description: str = ""
    model: str = Field(default="embedded", description="LiteLLM model name or 'embedded'.")
    mode: Literal["chat", "text"] = "chat"
    api_base: str | None = None
    type: Literal["pointwise", "pairwise", "similarity"] = "pointwise"
    scale: str = Field(default=PASS_FAIL, description='"pass/fail" or "1..N".')
    probabilities: Probabilities = Field(
        default="auto",
        description='read token log-probabilities at the verdict: "on", "off", or "auto" '
        "(on for the embedded model and an api_base, whose servers return them)",
    )
    labels: str | None = Field(
        default=None,
        description="the judge's labelled set, relative to the judges folder "
        "(default NAME.labels.jsonl); judges of one question can share one set",
    )
    threshold: float | None = Field(
        default=None,
        description="similarity judges: the cosine from which an answer passes until "
        "`evalkit calibrate` fits one",
    )
    structured: Structured = Field(
        default="auto",
        description='"schema": JSON constrained to a schema (llama.cpp, vLLM); '
        '"json_object": JSON mode; "none": prompt-only (the reply is still parsed strictly); '
        '"auto": "schema" for the embedded model or an api_base, else "json_object".',
    )
    reasoning: bool = Field(default=False, description="Ask for a short reason before the verdict.")
    rubric: str = Field(default="", description="Jinja2: the instructions.")
    template: str = Field(default="", description="Jinja2: one item to judge.")
    answer_prefix: str = Field(default="Judgement:", description="Text mode: before the JSON.")
    examples: list[JudgeExample] = Field(default_factory=list)
    params: dict[str, Any] = Field(default_factory=dict)
    timeout: float = Field(default=60.0, gt=0)
    max_retries: int = Field(default=4, ge=0, le=20)

    @field_validator("scale")
    @classmethod
    def _scale_is_known(cls, value: str) -> str:
        if value.strip().lower() == PASS_FAIL:
            return PASS_FAIL
        match = _SCALE.match(value)
        if not match or int(match.group(1)) >= int(match.group(2)):
            raise ValueError('must be "pass/fail" or "LOW..HIGH" such as "1..5"')
        return f"{int(match.group(1))}..{int(match.group(2))}"

    @model_validator(mode="after")
    def _kind_has_its_fields(self) -> JudgeDefinition:
        if self.type == "similarity":
            if not self.pass_fail:
                raise ValueError('a similarity judge has scale = "pass/fail"')
            if self.threshold is None:
                raise ValueError(
                    "a similarity judge needs a threshold (the cosine from which an answer "
                    "passes before calibration), e.g. threshold = 0.8"
                )
            return self
        for key in ("rubric", "template"):
            if not getattr(self, key).strip():
                raise ValueError(f"{key}: an LLM judge needs a non-empty {key}")
        if self.threshold is not None:
            raise ValueError('threshold: only a type = "similarity" judge has a threshold')
        return self

    @field_validator("rubric", "template")
    @classmethod
    def _template_compiles(cls, value: str) -> str:
        try:
            _ENV.parse(value)
        except jinja2.TemplateSyntaxError as err:
            raise ValueError(f"Jinja2 syntax error on line {err.lineno}: {err.message}") from err
        return value

    # ------------------------------------------------------------ scale

    @property
    def pass_fail(self) -> bool:
        """True for a pass/fail scale (binary)."""
        return self.scale == PASS_FAIL

    @property
    def bounds(self) -> tuple[int, int]:
        """Returns the numeric scale's (low, high); (0, 1) for pass/fail."""
        if self.pass_fail:
            return 0, 1
        low, high = self.scale.split("..")
        return int(low), int(high)

    def verdict_schema(self) -> dict[str, Any]:
        """Returns the JSON schema of a reply (used to constrain decoding)."""
        verdict: dict[str, Any]
        if self.type == "pairwise":
            key, verdict = "verdict", {"type": "string", "enum": list(PAIRWISE_LABELS)}
        elif self.pass_fail:
            key, verdict = "verdict", {"type": "string", "enum": ["pass", "fail"]}
        else:
            low, high = self.bounds
            key, verdict = "score", {"type": "integer", "minimum": low, "maximum": high}
        properties: dict[str, Any] = {}
        if self.reasoning:
            properties["reason"] = {"type": "string", "maxLength": 300}
        properties[key] = verdict
        return {
            "type": "object",
            "properties": properties,
            "required": list(properties),
            "additionalProperties": False,
        }

    @property
    def verdict_key(self) -> str:
        """Returns the reply's verdict key: "score" for numeric scales, else "verdict"."""
        return "score" if self.type == "pointwise" and not self.pass_fail else "verdict"

    # ------------------------------------------------------------ identity

    def fingerprint(self) -> str:
        """Returns a hash of what determines the verdicts: model, rubric, scale, examples,
        params (and mode, template, type, structured output)."""
        data = self.model_dump(
            mode="json", exclude={"name", "description", "timeout", "max_retries", "labels"}
        )
        for key, default in _LATER_DEFAULTS.items():
            if data.get(key) == default:
                del data[key]
        if self.verdict_prefix is not None:
            # The verdict is read from one token after a fixed prefix: its probabilities
            # come from a differently tokenised context, so calibration must be redone.
            data["verdict_read"] = "one-token"
        return fingerprint_json(data)

    def variables(self) -> set[str]:
        """Returns the variables the rubric and template use."""
        names: set[str] = set()
        for source in (self.rubric, self.template):
            names |= jinja2.meta.find_undeclared_variables(_ENV.parse(source))
        return names

    # ------------------------------------------------------------ prompts

    def example_reply(self, example: JudgeExample) -> str:
        """Returns the JSON reply a few-shot example teaches."""
        reply: dict[str, Any] = {}
        if self.reasoning:
            reply["reason"] = example.reason or ""
        verdict = example.verdict
        reply[self.verdict_key] = int(verdict) if self.verdict_key == "score" else verdict
        return json.dumps(reply, ensure_ascii=False)

    def build_prompt(
        self, variables: Mapping[str, Any]
    ) -> tuple[str | None, tuple[dict[str, str], ...] | None]:
        """Returns (prompt, None) in text mode or (None, messages) in chat mode."""
        rubric = render(self.rubric, {**self._scale_vars(), **variables}, f"{self.name} rubric")
        shots = [
            (
                render(self.template, _example_vars(ex), f"{self.name} example {i + 1}"),
                self.example_reply(ex),
            )
            for i, ex in enumerate(self.examples)
        ]
        item = render(self.template, variables, f"{self.name} template")
        if self.mode == "text":
            parts = [rubric.strip(), ""]
            for text, reply in shots:
                parts += [text.strip(), f"{self.answer_prefix} {reply}", ""]
            parts += [item.strip(), self.answer_prefix]
            return "\n".join(parts), None
        messages = [{"role": "system", "content": rubric.strip()}]
        for text, reply in shots:
            messages += [{"role": "user", "content": text}, {"role": "assistant", "content": reply}]
        messages.append({"role": "user", "content": item})
        return None, tuple(messages)

    @property
    def judge_model(self) -> JudgeModel:
        """Returns the model this judge calls, with its route and params."""
        return JudgeModel(
            model=self.model,
            mode=self.mode,
            api_base=self.api_base,
            params=dict(self.params),
            structured=self.structured,
            timeout=self.timeout,
            max_retries=self.max_retries,
            logprobs=TOP_LOGPROBS if self.reads_probabilities else 0,
        )

    @property
    def verdict_prefix(self) -> str | None:
        """Returns the reply's fixed start before the verdict (``{"verdict": "``) when the
        verdict is read from one token, else None (the judge writes its whole reply).

        One token is enough for a text-mode pointwise judge that reads log-probabilities,
        gives no reason first and has single-token labels (pass/fail, or a scale up to 9).
        """
        if self.mode != "text" or not self.reads_probabilities or self.reasoning:
            return None
        if not self.pass_fail and not 0 <= self.bounds[0] <= self.bounds[1] <= 9:
            return None  # "10" spans two tokens
        opening = '"' if self.pass_fail else ""
        return f'{{"{self.verdict_key}": {opening}'

    @property
    def verdict_token_model(self) -> JudgeModel:
        """Returns the model call that reads the verdict from one token (verdict_prefix).

        One token, its top alternatives, and no JSON constraint: the prompt already
        holds the reply's start, which a grammar for a whole object would reject.
        """
        return replace(self.judge_model, params={**self.params, "max_tokens": 1}, structured="none")

    @property
    def reads_probabilities(self) -> bool:
        """True when this judge asks for token log-probabilities (pointwise judges only)."""
        if self.type != "pointwise" or self.probabilities == "off":
            return False
        if self.probabilities == "on":
            return True
        return self.model == "embedded" or self.api_base is not None

    def request_params(self) -> dict[str, Any]:
        """Returns the call's params: temperature 0 unless set, plus the JSON constraint."""
        return self.judge_model.request_params(self.verdict_schema())

    def _scale_vars(self) -> dict[str, Any]:
        low, high = self.bounds
        return {"scale": self.scale, "scale_low": low, "scale_high": high}


def _example_vars(example: JudgeExample) -> dict[str, Any]:
    data = dict(example.model_extra or {})
    return {
        **data,
        **template_variables(
            input=str(data.get("input", "")),
            expected=data.get("expected"),
            contexts=data.get("contexts") or [],
            metadata=data.get("metadata") or {},
        ),
    }


def template_variables(
    *,
    input: str,
    expected: Any,
    contexts: Sequence[str] = (),
    metadata: Mapping[str, Any] | None = None,
    **outputs: str,
) -> dict[str, Any]:
    """Returns a judge template's variables: ``expected`` as text (several acceptable
    answers joined with " OR "), ``answers`` as a list, and the output(s) given."""
    from evalkit.scorers._base import expected_answers

    answers = expected_answers(expected)
    return {
        "input": input,
        "expected": " OR ".join(answers) if answers else None,
        "answers": answers,
        "contexts": list(contexts),
        "metadata": dict(metadata or {}),
        **outputs,
    }


def render(source: str, variables: Mapping[str, Any], label: str) -> str:
    """Returns the Jinja2 template ``source`` rendered with ``variables``.

    Raises:
        TemplateError: the template uses a variable that is not given, or fails.
    """
    try:
        return _ENV.from_string(source).render(**variables)
    except jinja2.UndefinedError as err:
        raise TemplateError(f"{label}: {err.message}; available: {sorted(variables)}") from err
    except jinja2.TemplateError as err:
        raise TemplateError(f"{label}: {err}") from err


# ---------------------------------------------------------------- parsing


@dataclass(frozen=True)
class Verdict:
    """A parsed judge reply: the label ("pass", "A", "4"), its value, and the reason."""

    label: str
    value: float
    reason: str | None = None


class UnparseableVerdict(ValueError):
    """The judge's reply is not a verdict in the expected format."""


_LINE_VERDICT = re.compile(
    r"^\s*(?:verdict|score|judgement|judgment)\s*[:=]\s*\"?([A-Za-z0-9.]+)\"?\s*$",
    re.IGNORECASE | re.MULTILINE,
)


def parse_verdict(text: str, judge: JudgeDefinition) -> Verdict:
    """Returns the verdict in ``text``; raises UnparseableVerdict if there is none.

    Accepted: a JSON object with the verdict key (optionally fenced or surrounded by
    text), or one line such as ``Verdict: pass`` / ``Score: 4``. Values outside the scale
    are unparseable, never coerced.
    """
    from evalkit.scorers._exact import extract_json

    reason = None
    try:
        data = extract_json(text)
    except ValueError:
        data = None
    if isinstance(data, dict) and judge.verdict_key in data:
        raw = data[judge.verdict_key]
        reason = data.get("reason") if isinstance(data.get("reason"), str) else None
    else:
        match = _LINE_VERDICT.search(text)
        if match is None:
            raise UnparseableVerdict(f"no {judge.verdict_key!r} in the judge's reply")
        raw = match.group(1)
    return Verdict(*_verdict_value(raw, judge), reason=reason)


def parse_verdict_token(token: str, judge: JudgeDefinition) -> Verdict:
    """Returns the verdict whose label the token begins (``"pass"``, ``"Fa"``, ``"4"``).

    The one generated token after :attr:`JudgeDefinition.verdict_prefix`; raises
    UnparseableVerdict when it begins no label or more than one.
    """
    labels = _labels(judge)
    hits = _labels_begun(token, labels)
    if len(hits) != 1:
        raise UnparseableVerdict(f"the verdict's first token {token!r} begins no single label")
    return Verdict(*_verdict_value(hits[0], judge))


def _labels(judge: JudgeDefinition) -> dict[str, float]:
    if judge.pass_fail:
        return {"pass": 1.0, "fail": 0.0}
    low, high = judge.bounds
    return {str(k): float(k) for k in range(low, high + 1)}


def _labels_begun(text: str, labels: Mapping[str, float]) -> list[str]:
    """Returns the labels ``text`` (quotes and blanks stripped, any case) begins or spells."""
    rest = text.lstrip(" \t\"'").lower()
    if not rest:
        return []
    return [k for k in labels if k.startswith(rest) or rest.startswith(k)]


def _verdict_value(raw: Any, judge: JudgeDefinition) -> tuple[str, float]:
    if judge.type == "pairwise":
        label = str(raw).strip()
        canonical = {"a": "A", "b": "B", "tie": "tie"}.get(label.lower())
        if canonical is None:
            raise UnparseableVerdict(f"pairwise verdict {raw!r} is not A, B or tie")
        return canonical, {"A": 1.0, "B": 0.0, "tie": 0.5}[canonical]
    if judge.pass_fail:
        label = str(raw).strip().lower()
        if label not in ("pass", "fail"):
            raise UnparseableVerdict(f"verdict {raw!r} is not pass or fail")
        return label, 1.0 if label == "pass" else 0.0
    if isinstance(raw, bool):
        raise UnparseableVerdict(f"score {raw!r} is not a number")
    try:
        number = float(raw)
    except (TypeError, ValueError) as err:
        raise UnparseableVerdict(f"score {raw!r} is not a number") from err
    low, high = judge.bounds
    if not number.is_integer() or not low <= number <= high:
        raise UnparseableVerdict(f"score {raw!r} is not an integer in {low}..{high}")
    return str(int(number)), number


_JSON_VALUE = re.compile(r'"(?:verdict|score)"\s*:\s*"?', re.IGNORECASE)


def verdict_offset(text: str) -> int | None:
    """Returns where the verdict's value starts in a judge reply, or None.

    The value of the last ``"verdict"``/``"score"`` key of a JSON reply (after its
    opening quote), else the value of a ``Verdict: pass`` line.
    """
    matches = list(_JSON_VALUE.finditer(text))
    if matches:
        return matches[-1].end()
    line = _LINE_VERDICT.search(text)
    return line.start(1) if line else None


def verdict_soft_score(
    text: str, logprobs: Sequence[Any] | None, judge: JudgeDefinition
) -> float | None:
    """Returns P(pass) (pass/fail judges) or the probability-weighted score (1..N judges).

    Read from the token log-probabilities at the position where the verdict's value
    starts (``logprobs``: :class:`evalkit.models._llm.TokenLogprob` per generated token, whose
    texts join to ``text``, or to its end when the reply's start was part of the prompt:
    :attr:`JudgeDefinition.verdict_prefix`). Each alternative token at that position counts for the
    label it begins (``"p"``, ``"pass"`` and ``"Pass"`` for pass); probabilities are
    renormalised over the scale's labels, as G-Eval does for its weighted score (Liu et
    al. 2023, "G-Eval: NLG Evaluation using GPT-4 with Better Human Alignment").

    None when there are no log-probabilities, the tokens do not spell ``text``, the
    verdict cannot be located, or no alternative at that position is a label: the
    sampled verdict then stands alone. Pairwise judges: always None.
    """
    if not logprobs or judge.type != "pointwise":
        return None
    labels = _labels(judge)
    tokens = [str(entry.token) for entry in logprobs]
    joined = "".join(tokens)
    offset = verdict_offset(text)
    if not text or offset is None:
        return None
    if text in joined:
        shift = joined.find(text)
    elif joined and text.endswith(joined):
        # The reply's start was part of the prompt (verdict_prefix): the tokens cover its end.
        shift = len(joined) - len(text)
    else:
        return None
    offset += shift
    start = 0
    for entry, token in zip(logprobs, tokens, strict=True):
        end = start + len(token)
        if start <= offset < end:
            prefix = joined[start:offset]
            alternatives = dict(entry.top)
            alternatives.setdefault(token, entry.logprob)
            mass = {label: 0.0 for label in labels}
            for alternative, logprob in alternatives.items():
                if not alternative.startswith(prefix):
                    continue
                hits = _labels_begun(alternative[len(prefix) :], labels)
                if len(hits) == 1 and math.isfinite(logprob):
                    mass[hits[0]] += math.exp(logprob)
            total = sum(mass.values())
            if total <= 0:
                return None
            return sum(labels[k] * m for k, m in mass.items()) / total
        start = end
    return None


# ---------------------------------------------------------------- loading


def judge_names(folder: str | Path) -> list[str]:
    """Returns the names of the judges defined in ``folder`` (NAME.toml files)."""
    path = Path(folder)
    return sorted(p.stem for p in path.glob("*.toml")) if path.is_dir() else []


def load_judge(name_or_path: str | Path, folder: str | Path = "judges") -> JudgeDefinition:
    """Returns the judge ``folder/NAME.toml`` (or the .toml file at ``name_or_path``).

    Raises:
        NotFoundError: no such judge (the message lists the judges in ``folder``).
        ConfigError: the file is not valid TOML or has a bad field.
    """
    candidate = Path(name_or_path)
    path = candidate if candidate.suffix == ".toml" else Path(folder) / f"{name_or_path}.toml"
    if not path.exists():
        known = ", ".join(judge_names(folder)) or "none"
        raise NotFoundError(f"no judge {str(name_or_path)!r} ({path}); judges in {folder}: {known}")
    text = path.read_text(encoding="utf-8")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise ConfigError([Problem(str(path), None, f"not valid TOML: {err}")]) from err
    data.setdefault("name", path.stem)
    try:
        return JudgeDefinition.model_validate(data)
    except ValidationError as err:
        problems = []
        for item in err.errors():
            where = ".".join(str(p) for p in item["loc"])
            if item["type"] == "extra_forbidden":
                message = f"unknown key {where!r}; remove it or check its spelling"
            else:
                message = f"{where}: {item['msg']}"
            problems.append(Problem(str(path), None, message))
        raise ConfigError(problems) from err
