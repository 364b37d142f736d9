"""The dense half of the index: chunk vectors in Chroma (embedded, or a server at CHROMA_URL).

Why vectors are always passed explicitly: a Chroma collection without an embedding function
falls back to a default model that it downloads; we never give it text to embed — every add and
every query carries its own vectors from our embedder (embeddings.py), and telemetry is off.
Why `reopen()`: an embedded Chroma caches its client per path; when another process (a second
worker, `policybot ingest`) has written, the reader drops the cached system and opens it again.
"""
from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)
COLLECTION = "policy_chunks"


class VectorStore:
    def __init__(self, path: Path, url: str | None, embedder_name: str):
        self.path = path
        self.url = url
        # one collection per embedder: vectors of different models never mix
        self.collection_name = f"{COLLECTION}_{''.join(c if c.isalnum() else '_' for c in embedder_name)}"[:60]
        self._client = None
        self._collection = None
        self._count: int | None = None

    def _open(self):
        import chromadb
        from chromadb.config import Settings as ChromaSettings

        settings = ChromaSettings(anonymized_telemetry=False, allow_reset=False)
        if self.url:
            from urllib.parse import urlparse

            u = urlparse(self.url)
            self._client = chromadb.HttpClient(host=u.hostname or "localhost", port=u.port or 8000,
                                               ssl=u.scheme == "https", settings=settings)
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
        for start in range(0, len(ids), 2000):
            sl = slice(start, start + 2000)
            self.collection.upsert(ids=[str(i) for i in ids[sl]], embeddings=vectors[sl],
                                   metadatas=[{"file": f} for f in files[sl]])

    def delete_file(self, file: str) -> None:
        self._count = None
        self.collection.delete(where={"file": file})

    def count(self) -> int:
        if self._count is None:
            self._count = self.collection.count()
        return self._count

    def query(self, vector: np.ndarray, k: int) -> list[tuple[int, float]]:
        """[(chunk id, cosine similarity)] best first."""
        n = min(k, self.count())
        if n <= 0:
            return []
        res = self.collection.query(query_embeddings=vector.reshape(1, -1), n_results=n,
                                    include=["distances"])
        return [(int(i), 1.0 - float(d)) for i, d in zip(res["ids"][0], res["distances"][0])]
