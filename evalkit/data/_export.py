"""Move cases and results between evalkit and Hugging Face ``datasets``."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from evalkit.data._golden import GoldenSet
from evalkit.data._records import Run

if TYPE_CHECKING:
    import datasets


def golden_to_dataset(golden: GoldenSet) -> datasets.Dataset:
    """Returns the golden set as a Dataset; nested fields (input, expected) are JSON text.

    ``input``, ``expected`` and ``metadata`` can be strings, objects or lists, which Arrow
    cannot hold in one column, so they are stored as JSON text in ``input_json``,
    ``expected_json`` and ``metadata_json``; :func:`evalkit.data._golden.load_hf_dataset` decodes
    such ``*_json`` columns, so the dataset loads back as the same golden set.
    """
    import datasets

    rows: dict[str, list[Any]] = {
        "id": [],
        "input_json": [],
        "expected_json": [],
        "contexts": [],
        "tags": [],
        "group": [],
        "metadata_json": [],
    }
    for case in golden.cases:
        data = case.model_dump(mode="json")
        rows["id"].append(case.id)
        rows["input_json"].append(json.dumps(data["input"], ensure_ascii=False))
        rows["expected_json"].append(json.dumps(data["expected"], ensure_ascii=False))
        rows["contexts"].append(list(case.contexts))
        rows["tags"].append(list(case.tags))
        rows["group"].append(case.group)
        rows["metadata_json"].append(json.dumps(case.metadata, ensure_ascii=False))
    features = datasets.Features(
        {
            "id": datasets.Value("string"),
            "input_json": datasets.Value("string"),
            "expected_json": datasets.Value("string"),
            "contexts": datasets.Sequence(datasets.Value("string")),
            "tags": datasets.Sequence(datasets.Value("string")),
            "group": datasets.Value("string"),
            "metadata_json": datasets.Value("string"),
        }
    )
    dataset = datasets.Dataset.from_dict(rows, features=features)
    dataset.info.description = f"evalkit golden set {golden.path} ({golden.fingerprint})"
    return dataset


def run_to_dataset(run: Run) -> datasets.Dataset:
    """Returns a run's score rows joined with its outputs, one row per case/sample/metric."""
    import datasets

    scores = run.scores
    outputs = run.outputs[["case_id", "sample", "text", "error"]].rename(
        columns={"text": "output", "error": "output_error"}
    )
    table = scores.merge(outputs, on=["case_id", "sample"], how="left")
    table.insert(0, "run_id", run.manifest.run_id)
    table.insert(1, "suite", run.manifest.suite)
    return datasets.Dataset.from_pandas(table, preserve_index=False)
