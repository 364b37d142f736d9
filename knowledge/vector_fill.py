"""The background filler of dense vectors: a fresh upload is searchable by BM25 at once, and its
chunk and sentence vectors are computed here, in one thread per process, a batch per
transaction. A chunk without a vector has an empty text_hash in the database, so any process
resumes the work after a restart; every batch ends with a version bump, so every worker
reopens the vector store and sees the vectors as they arrive.

Why apart from KnowledgeBase (service.py): filling vectors changes for reasons of its own
(batching, the ingest lock, outages of the vector store), not for answering.
"""
from __future__ import annotations

import logging
import threading
import time

from knowledge.index import HybridIndex
from knowledge.ingest import embed_pending, ingest_lock
from knowledge.records import bump_version
from storage.db import session_scope

log = logging.getLogger(__name__)


class VectorFiller:
    def __init__(self, kb):
        self.kb = kb
        self._guard = threading.Lock()
        self._thread: threading.Thread | None = None
        self._again = False

    def join(self, timeout: float) -> None:
        thread = self._thread
        if thread and thread.is_alive():
            thread.join(timeout=timeout)

    def kick(self) -> None:
        """Make sure this process's background filler runs (one thread; it stops when nothing
        is pending, and a kick that arrives meanwhile makes it look again)."""
        with self._guard:
            self._again = True
            if self._thread is None:
                self._thread = threading.Thread(target=self._fill, name="kb-vectors", daemon=True)
                self._thread.start()

    def _fill(self) -> None:
        """Embed chunks stored without vectors, a batch at a time, each batch committed under the
        ingest lock (so a re-ingest never races it) and announced by a version bump, so every
        worker reopens the vector store and sees the vectors as they arrive."""
        index = self.kb._components()
        while True:
            with self._guard:
                self._again = False
            try:
                while True:
                    with session_scope(self.kb.settings.db_url) as session, ingest_lock(session, self.kb.settings.data_dir):
                        done = embed_pending(session, index.embedder, index.vectors)
                    if not done:
                        break
                self.kb._reload(force=True)
                self._embed_sentences(index)
            except Exception:  # answers still come from BM25; the next kick (upload, start) retries
                log.exception("background embedding failed")
            with self._guard:
                if not self._again:
                    self._thread = None
                    return

    def _embed_sentences(self, index: HybridIndex, batch: int = 32) -> None:
        """Sentence vectors of clauses that have none yet (a fresh upload's): into the shared
        embedding cache, a batch per transaction, then a version bump so every worker reloads."""
        from knowledge.embeddings import embed_cached

        missing = list(index.missing_sentences)
        for start in range(0, len(missing), batch):
            with session_scope(self.kb.settings.db_url) as session:
                embed_cached(index.embedder, missing[start:start + batch], session)
        if missing:
            with session_scope(self.kb.settings.db_url) as session, ingest_lock(session, self.kb.settings.data_dir):
                bump_version(session)
            self.kb._reload(force=True)

    def wait(self, timeout: float = 60.0) -> bool:
        """Block until the filler is idle (CLI, tests)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._guard:
                if self._thread is None:
                    return True
            time.sleep(0.05)
        return False
