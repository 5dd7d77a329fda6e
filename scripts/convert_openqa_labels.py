"""Convert people's judgments of QA answers (ehsk/OpenQA-eval, NQ301) into a labelled set.

Source (committed under ``judges/sources/openqa-eval/``, MIT licence, see its LICENSE):
Kamalloo, Dziri, Clarke, Rafiei, "Evaluating Open-Domain Question Answering in the Era
of Large Language Models", ACL 2023, https://github.com/ehsk/OpenQA-eval at commit
8b9317d0f0c92b52e1c71c0168dff74b5f76a5f4:

* ``NQ301_human.tsv``: 301 Natural Questions (open) test questions, each with the
  distinct answers of 12 open-domain QA systems and LLMs, and people's judgment of each
  answer ("Acceptable?": Yes/No), with the labels of ``annotator1``, ``annotator2`` and,
  for some answers, ``annotator3``;
* ``NQ301_text-davinci-003_zeroshot.jsonl``: the same 301 questions with their NQ gold
  answers (``answer``), used here as the reference; the file's predictions are not used.

Each TSV row becomes one item of ``judges/correctness.labels.jsonl``: the question as
``input``, the system's answer as ``output``, the gold answers as ``expected`` (a list:
any of them is right), one label per annotator who labelled the row (Yes = "pass",
No = "fail"; raters ``openqa-annotator1..3``), and ``metadata.group`` = the question, so
calibration folds keep a question's answers together. The script checks that evalkit's
consensus (the majority) equals the source's "Acceptable?" column on every row, and
drops a row that repeats an earlier row of the same question word for word (same answer,
same labels). Output is deterministic (source order, ``json.dumps`` with sorted keys).

    python scripts/convert_openqa_labels.py            # rewrite judges/correctness.labels.jsonl
    python scripts/convert_openqa_labels.py --check    # exit 1 if the committed file differs
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import sys
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ROOT / "judges" / "sources" / "openqa-eval"
OUTPUT = ROOT / "judges" / "correctness.labels.jsonl"
HUMAN = "NQ301_human.tsv"
REFERENCES = "NQ301_text-davinci-003_zeroshot.jsonl"
ANNOTATORS = ("annotator1", "annotator2", "annotator3")
VALUES = {"Yes": "pass", "No": "fail"}


def convert(source: Path) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """Returns the labelled items and counts (rows, items, duplicates dropped, raters)."""
    references: dict[str, list[str]] = {}
    for line in (source / REFERENCES).read_text(encoding="utf-8").splitlines():
        if line.strip():
            record = json.loads(line)
            references[record["question"]] = [str(answer) for answer in record["answer"]]
    text = (source / HUMAN).read_text(encoding="utf-8")
    rows = list(csv.DictReader(io.StringIO(text), delimiter="\t"))
    items: list[dict[str, Any]] = []
    seen: set[tuple[str, str, tuple[str, ...]]] = set()
    answer_number: Counter[str] = Counter()
    dropped = 0
    raters_per_item: Counter[int] = Counter()
    for line_number, row in enumerate(rows, start=2):
        question = row["Question"]
        if question not in references:
            raise SystemExit(f"{HUMAN}:{line_number}: no reference answers for {question!r}")
        labels = [
            {"rater": f"openqa-{name}", "value": VALUES[row[name]]}
            for name in ANNOTATORS
            if row[name]
        ]
        if not labels or any(row[name] not in ("", *VALUES) for name in ANNOTATORS):
            raise SystemExit(f"{HUMAN}:{line_number}: unexpected labels {row}")
        values = [label["value"] for label in labels]
        majority = Counter(values).most_common()
        if len(majority) > 1 and majority[0][1] == majority[1][1]:
            raise SystemExit(f"{HUMAN}:{line_number}: the annotators tie; no majority")
        if majority[0][0] != VALUES[row["Acceptable?"]]:
            raise SystemExit(f"{HUMAN}:{line_number}: the majority differs from 'Acceptable?'")
        key = (question, row["Model answer"], tuple(values))
        if key in seen:
            dropped += 1
            continue
        seen.add(key)
        question_id = f"nq301-q{int(row['id']):03d}"
        answer_number[question_id] += 1
        raters_per_item[len(labels)] += 1
        items.append(
            {
                "id": f"{question_id}-a{answer_number[question_id]:02d}",
                "input": question,
                "output": row["Model answer"],
                "expected": references[question],
                "labels": labels,
                "metadata": {"group": question_id, "source_line": line_number},
            }
        )
    counts = {
        "rows": len(rows),
        "items": len(items),
        "questions": len(answer_number),
        "duplicates_dropped": dropped,
        "pass": sum(1 for item in items if _consensus(item) == "pass"),
        "fail": sum(1 for item in items if _consensus(item) == "fail"),
        "two_raters": raters_per_item[2],
        "three_raters": raters_per_item[3],
    }
    return items, counts


def _consensus(item: dict[str, Any]) -> str:
    value: str = Counter(label["value"] for label in item["labels"]).most_common(1)[0][0]
    return value


def render(items: list[dict[str, Any]]) -> str:
    """Returns the items as JSONL text (one sorted-key object a line)."""
    return "".join(json.dumps(item, ensure_ascii=False, sort_keys=True) + "\n" for item in items)


def main(argv: list[str] | None = None) -> int:
    """Writes (or with --check compares) the labelled set; returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--source", type=Path, default=SOURCE, help="the source folder")
    parser.add_argument("--output", type=Path, default=OUTPUT, help="the labelled set to write")
    parser.add_argument(
        "--check", action="store_true", help="compare with --output instead of writing it"
    )
    args = parser.parse_args(argv)
    items, counts = convert(args.source)
    text = render(items)
    summary = ", ".join(f"{name} {count}" for name, count in counts.items())
    if args.check:
        current = args.output.read_text(encoding="utf-8") if args.output.is_file() else ""
        if current != text:
            print(f"{args.output} is out of date: run {Path(__file__).name}", file=sys.stderr)
            return 1
        print(f"{args.output} is up to date ({summary})")
        return 0
    args.output.write_text(text, encoding="utf-8")
    print(f"wrote {args.output} ({summary})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
