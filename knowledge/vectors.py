"""The dense half of the index: chunk vectors in Chroma (embedded, or a server at CHROMA_URL).

Why vectors are always passed explicitly: a Chroma collection without an embedding function
falls back to a default model that it downloads; we never give it text to embed — every add and
every query carries its own vectors from our embedder (embeddings.py), and telemetry is off.
Why `reopen()`: an embedded Chroma caches its client per path; when another process (a second
worker, `policybot ingest`) has written, the reader drops the cached system and opens it again.
Why the health state: a Chroma server can go away. A query that fails marks the store down and
raises `VectorsUnavailable` (the index answers from its lexical legs); for a short, growing
pause (BACKOFF_START … BACKOFF_MAX seconds) queries do not even try, then the next one does, and
a success (or /healthz's `probe()`) ends the outage. Requests to a server carry timeouts, so a
hung server costs one slow query, not every query.
"""
from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)
COLLECTION = "policy_chunks"
BACKOFF_START = 2.0  # seconds without trying after the first failure, doubled per failure
BACKOFF_MAX = 15.0
CONNECT_TIMEOUT = 2.0
HTTP_TIMEOUT = 30.0  # an upsert of 2,000 vectors on a busy server takes seconds


class VectorsUnavailable(RuntimeError):
    """The vector store cannot be reached now (or is in its retry pause)."""


class VectorStore:
    def __init__(self, path: Path, url: str | None, embedder_name: str):
        self.path = path
        self.url = url
        # one collection per embedder: vectors of different models never mix
        self.collection_name = f"{COLLECTION}_{''.join(c if c.isalnum() else '_' for c in embedder_name)}"[:60]
        self._client = None
        self._collection = None
        self._count: int | None = None
        self.last_error: str | None = None  # None: healthy
        self._retry_at = 0.0
        self._backoff = BACKOFF_START
        self._health = threading.Lock()
        self.on_recover = None  # called once when an outage ends (the service resumes its vector filling)

    @property
    def healthy(self) -> bool:
        return self.last_error is None

    def _failed(self, exc: BaseException) -> None:
        with self._health:
            first = self.last_error is None
            self.last_error = f"{type(exc).__name__}: {exc}"[:200]
            self._retry_at = time.monotonic() + self._backoff
            pause, self._backoff = self._backoff, min(self._backoff * 2, BACKOFF_MAX)
        self._client = self._collection = self._count = None  # connect afresh next time
        if first:
            log.warning("vector store unavailable (%s): answering from the lexical legs, retrying in %.0f s",
                        self.last_error, pause)

    def _recovered(self) -> None:
        if self.last_error is None:
            return
        with self._health:
            self.last_error, self._retry_at, self._backoff = None, 0.0, BACKOFF_START
        log.warning("vector store reachable again")
        if self.on_recover is not None:
            try:
                self.on_recover()
            except Exception:
                log.exception("vector store recovery hook failed")

    def mark_down(self, exc: BaseException) -> None:
        """Another check (/healthz's heartbeat) found the server gone: stop trying for a while."""
        self._failed(exc)

    def probe(self) -> str | None:
        """Reach the collection now: None when it answers (ending an outage), else the error."""
        try:
            self._count = None
            self.count()
        except Exception as exc:
            self._failed(exc)
            return self.last_error
        self._recovered()
        return None

    def _open(self):
        import chromadb
        from chromadb.config import Settings as ChromaSettings

        settings = ChromaSettings(anonymized_telemetry=False, allow_reset=False)
        if self.url:
            from urllib.parse import urlparse

            u = urlparse(self.url)
            self._client = chromadb.HttpClient(host=u.hostname or "localhost", port=u.port or 8000,
                                               ssl=u.scheme == "https", settings=settings)
            _set_timeouts(self._client)
        else:
            self.path.mkdir(parents=True, exist_ok=True)
            self._client = chromadb.PersistentClient(path=str(self.path), settings=settings)
        self._collection = self._client.get_or_create_collection(
            self.collection_name, embedding_function=None, metadata={"hnsw:space": "cosine"})

    @property
    def collection(self):
        if self._collection is None:
            self._open()
        return self._collection

    def reopen(self) -> None:
        if not self.url:
            from chromadb.api.client import SharedSystemClient

            SharedSystemClient.clear_system_cache()
        self._client = self._collection = self._count = None

    def add(self, ids: list[int], vectors: np.ndarray, files: list[str]) -> None:
        self._count = None
        try:
            for start in range(0, len(ids), 2000):
                sl = slice(start, start + 2000)
                self.collection.upsert(ids=[str(i) for i in ids[sl]], embeddings=vectors[sl],
                                       metadatas=[{"file": f} for f in files[sl]])
        except Exception as exc:  # the caller's transaction fails with it; the health says why
            self._failed(exc)
            raise
        self._recovered()

    def delete_file(self, file: str) -> None:
        self._count = None
        try:
            self.collection.delete(where={"file": file})
        except Exception as exc:
            self._failed(exc)
            raise

    def clear(self) -> None:
        """Drop every vector of this embedder's collection (a restore rebuilds it)."""
        try:
            self.collection  # noqa: B018  (connects; the collection exists afterwards)
            self._client.delete_collection(self.collection_name)
        except Exception as exc:
            self._failed(exc)
            raise
        self._client = self._collection = self._count = None

    def count(self) -> int:
        if self._count is None:
            self._count = self.collection.count()
        return self._count

    def query(self, vector: np.ndarray, k: int) -> list[tuple[int, float]]:
        """[(chunk id, cosine similarity)] best first; VectorsUnavailable when the store is down."""
        error = self.last_error
        if error is not None and time.monotonic() < self._retry_at:
            raise VectorsUnavailable(error)
        try:
            n = min(k, self.count())
            res = self.collection.query(query_embeddings=vector.reshape(1, -1), n_results=n,
                                        include=["distances"]) if n > 0 else None
        except Exception as exc:
            self._failed(exc)
            raise VectorsUnavailable(self.last_error) from exc
        self._recovered()
        if res is None:
            return []
        return [(int(i), 1.0 - float(d)) for i, d in zip(res["ids"][0], res["distances"][0])]


def _set_timeouts(client) -> None:
    """chromadb's HTTP client waits forever by default; give its session finite timeouts."""
    session = getattr(getattr(client, "_server", None), "_session", None)
    if session is not None:
        import httpx

        session.timeout = httpx.Timeout(HTTP_TIMEOUT, connect=CONNECT_TIMEOUT)
