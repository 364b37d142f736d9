"""KnowledgeBase: the one object the app, the CLI and the forms use to reach the notices.

It owns the startup indexing (bundled corpus + POLICYBOT_CORPUS_DIR, idempotent by file hash,
in a background thread so the web server starts at once and /healthz says 503 until ready),
ingestion, retrieval and answering. Everything another worker needs is in the database and the
vector store; this process only keeps a rebuildable in-memory BM25, reloaded when
IndexState.version moves (another worker or `policybot ingest` changed the corpus).
An admin's upload is searchable by BM25 as soon as it is stored; its dense vectors are filled by a
background thread of the process that took the upload (vector_fill.py).
Questions are normalised first (normalise.py), and the answer says whose rule it quotes when it
is not the asker's place's (or that the place has no notice at all).
An admin's withdrawal, restore, supersession or edit (knowledge/lifecycle.py, through `change`)
is a database change with a version bump like an ingest: every worker reloads and answers by it;
a withdrawn notice is never a citation here either (`source_for`, `source_for_file`).
An admin's taught answer
(taught.py) comes before retrieval; the server's questions are logged after the answer
(unanswered.py), off the request path. What depends only on the loaded notices — a ranked
extractive answer, a form rule's citation — is remembered per version and day (per_version.py).
"""
from __future__ import annotations

import logging
import threading
import time
from datetime import date
from pathlib import Path

from sqlmodel import select

from core import clock
from core.config import Settings
from core.text import squash
from knowledge import answer as answering
from knowledge import responder
from knowledge.embeddings import QueryCache, make_embedder
from knowledge.index import HybridIndex
from knowledge.lifecycle import normal_doc_number
from knowledge.ingest import collect_files, ingest_file, ingest_lock
from knowledge.normalise import normalise_question
from knowledge.per_version import VersionMemo
from knowledge.types import Answer, Source
from knowledge.vector_fill import VectorFiller
from knowledge.vectors import VectorStore
from storage.db import session_scope

log = logging.getLogger(__name__)

BUNDLED_CORPUS = Path(__file__).parent / "corpus"
REFUSAL = answering.REFUSAL
RELOAD_CHECK_SECONDS = 1.0
# called with every Answer `ask` returns (bot/metrics.py counts refusals); knowledge imports no bot
ANSWER_HOOKS: list = []


class KnowledgeBase:
    def __init__(self, settings: Settings, chat_model=None, log_questions: bool = False):
        from knowledge.taught import TaughtAnswers
        from knowledge.unanswered import QuestionLog

        self.settings = settings
        # the question log (knowledge/unanswered.py): on for the server's channels (bot/app.py),
        # off for one-shot commands, benchmarks and evaluations, whose questions nobody asked
        self.log_questions = log_questions
        self.questions = QuestionLog(settings, self.question_vector, self.embedder_name)
        self.taught = TaughtAnswers(self)
        self.ready = False
        self.error: str | None = None
        self.use_synonyms = True
        self.chat_model = chat_model
        self._lock = threading.RLock()
        self._thread: threading.Thread | None = None
        self._index: HybridIndex | None = None
        self._last_check = 0.0
        self.memo = VersionMemo(lambda: (self._reload().version, self.today()))
        self.filler = VectorFiller(self)

    # ------------------------------------------------------------------ lifecycle
    @classmethod
    def opened(cls, settings: Settings) -> "KnowledgeBase":
        """A knowledge base with its tables created and its corpus indexed, for one-shot
        commands (CLI, training, benchmarks); the server uses start() instead."""
        from storage.db import init_db

        settings.ensure_dirs()
        init_db(settings.db_url, upgrade=settings.migrate_on_start)
        kb = cls(settings)
        kb.ensure_indexed()
        return kb

    def start(self) -> None:
        """Called on app start: index in the background; `ready` turns true when done."""
        self._thread = threading.Thread(target=self._startup, name="kb-startup", daemon=True)
        self._thread.start()

    def _startup(self) -> None:
        try:
            self.ensure_indexed()
        except Exception as exc:  # keep serving 503 with the reason rather than dying
            log.exception("indexing failed")
            self.error = f"{type(exc).__name__}: {exc}"

    def close(self) -> None:
        self.questions.flush(timeout=5)
        if self._thread and self._thread.is_alive():
            self._thread.join(timeout=5)
        self.filler.join(timeout=5)

    def _components(self) -> HybridIndex:
        with self._lock:
            if self._index is None:
                s = self.settings
                embedder = QueryCache(make_embedder(s.embedder, s.embedding_base_url, s.embedding_api_key))
                vectors = VectorStore(s.data_dir / "chroma", s.chroma_url, embedder.name)
                vectors.on_recover = self._kick_vectors  # vectors an outage held back
                self._index = HybridIndex(embedder, vectors)
            return self._index

    def corpus_files(self) -> list[Path]:
        dirs = []
        if self.settings.bundled_corpus:
            dirs.append(BUNDLED_CORPUS)
        if self.settings.corpus_dir:
            dirs.append(Path(self.settings.corpus_dir))
        return collect_files([d for d in dirs if d.exists()])

    def ensure_indexed(self) -> None:
        """Index the bundled corpus (and POLICYBOT_CORPUS_DIR) if any file is new or changed."""
        report = self._ingest_paths(self.corpus_files(), reload=False)
        changed = {k: v for k, v in report.items() if v != "unchanged"}
        if changed:
            log.info("corpus indexed: %s", changed)
        self._reload(force=True)
        self.ready = True
        self._kick_vectors()  # vectors an interrupted background fill left undone

    # ------------------------------------------------------------------ ingest
    def ingest(self, paths: list[Path], actor: str = "cli") -> dict:
        """Add or update notices from files; returns a report {file: 'added'|'updated'|'unchanged'}."""
        return self._ingest_paths(collect_files([Path(p) for p in paths]), reload=True, actor=actor)

    def ingest_upload(self, filename: str, data: bytes, actor: str = "api") -> dict:
        """Store an uploaded file under the data dir, then ingest it (`actor`: who, for the
        notice's versions)."""
        from knowledge.ingest import safe_name

        target_dir = self.settings.data_dir / "uploads"
        target_dir.mkdir(parents=True, exist_ok=True)
        target = target_dir / safe_name(filename)
        target.write_bytes(data)
        # searchable by BM25 as soon as this returns; the dense vectors follow in the background
        report = self._ingest_paths([target], reload=True, defer_vectors=True, actor=actor)
        self._kick_vectors()
        return report

    def vector_count(self) -> int:
        """Vectors in the store (what a restore checks is empty)."""
        return self._components().vectors.count()

    def rebuild_vectors(self) -> int:
        """The vector store emptied and filled again from the database's chunks (`policybot
        restore`); returns how many chunks it holds."""
        from knowledge.ingest import reindex_vectors

        index = self._components()
        with session_scope(self.settings.db_url) as session, ingest_lock(session, self.settings.data_dir):
            return reindex_vectors(session, index.embedder, index.vectors)

    def _kick_vectors(self) -> None:
        self.filler.kick()

    def wait_for_vectors(self, timeout: float = 60.0) -> bool:
        """Block until this process's background filler is idle (CLI, tests)."""
        return self.filler.wait(timeout)

    def _ingest_paths(self, files: list[Path], reload: bool, defer_vectors: bool = False,
                      actor: str = "system") -> dict:
        index = self._components()
        report: dict[str, str] = {}
        for path in files:
            name = path.stem
            try:
                with session_scope(self.settings.db_url) as session, ingest_lock(session, self.settings.data_dir):
                    report[name] = ingest_file(session, path, index.embedder, index.vectors,
                                               defer_vectors=defer_vectors, actor=actor)
            except Exception as exc:
                log.exception("ingest of %s failed", path)
                report[name] = f"failed: {exc}"
        if reload and any(v in ("added", "updated") for v in report.values()):
            self._reload(force=True)
        return report

    # ------------------------------------------------------------------ reading
    def _reload(self, force: bool = False) -> HybridIndex:
        index = self._components()
        now = time.monotonic()
        if not force and now - self._last_check < RELOAD_CHECK_SECONDS:
            return index
        with self._lock:
            self._last_check = now
            with session_scope(self.settings.db_url) as session:
                if force or HybridIndex.db_version(session) != index.version:
                    index.load(session)
        return index

    def today(self) -> date:
        return clock.today(self.settings)

    def retrieve(self, question: str, region: str | None = None, k: int = 8):
        """(query, hits best first): the ranked clauses for a question (benchmarks, tests)."""
        query, hits, _ctx = responder.retrieve(self, normalise_question(question or ""), region, k=k)
        return query, hits

    def covered_regions(self) -> list[str]:
        """The regions of the loaded notices, most notices first (from the index, not a list);
        asked several times per question, so worked out once per loaded version."""
        def count() -> tuple[str, ...]:
            counts: dict[str, int] = {}
            for n in self._reload().notices.values():
                if n.region:
                    counts[n.region] = counts.get(n.region, 0) + 1
            return tuple(sorted(counts, key=lambda r: (-counts[r], r)))

        return list(self._per_version("covered_regions", (), count))

    def ask(self, question: str, region: str | None = None) -> Answer:
        """`region`: the asker's place (the follower's stored region is the channel's to give).

        An admin's taught answer for this question or a close paraphrase comes first
        (knowledge/taught.py; skipped when its clause is gone or withdrawn), else the ranked
        answer (knowledge/responder.py). With `log_questions` the answer is logged after it is
        made (knowledge/unanswered.py, queued: it never delays or breaks the answer); the log's
        key is on the Answer (`log_key`) for a later 没用."""
        taught = None
        try:
            taught = self.taught.lookup(question, region)
        except Exception:  # a broken taught answer must not take the answer down
            log.exception("taught-answer lookup failed")
        ans, taught_id = taught if taught is not None else (self._ranked(question, region), None)
        # at INFO, with the request's id; the log filter masks phone and ID numbers in it
        log.info("asked %r: %s", (question or "")[:200], "refused" if ans.refused else "answered")
        for hook in ANSWER_HOOKS:
            try:
                hook(ans)
            except Exception:  # a counter never costs an answer
                log.exception("answer hook failed")
        if self.log_questions:
            try:
                place = responder.asker_place(normalise_question(question or ""), region, self.covered_regions())
                ans.log_key = self.questions.record(question, region, ans, threshold=responder.threshold(self),
                                                    place=place[0] if place else None, taught_id=taught_id)
            except Exception:
                log.exception("question log failed")
        return ans

    def _ranked(self, question: str, region: str | None) -> Answer:
        """The ranked answer (knowledge/responder.py); an extractive one is the same for every
        asker of this text and region until the version or the day moves, so it is remembered."""
        if self.chat_model is not None:  # a generated answer is the model's, each time
            return responder.ask(self, question, region)
        return self._per_version("answer", (question, region, self.use_synonyms),
                                 lambda: responder.ask(self, question, region))

    def embedder_name(self) -> str | None:
        index = self._index
        return index.embedder.name if index is not None else None

    def question_vector(self, question: str):
        """The raw query vector the search uses for this (single) question — through the
        embedder's query cache, so a lookup before the search costs one model call in all."""
        from knowledge.lexical import parse_query

        text = normalise_question(question or "")
        if not squash(text):
            return None
        query = parse_query(text, use_synonyms=self.use_synonyms)
        return self._components().embedder.queries([responder.dense_text(query)])[0]

    def vector_store(self):
        """The VectorStore once the index is built, else None (bot/health.py checks it)."""
        return self._index.vectors if self._index is not None else None

    # ------------------------------------------------------------------ citations
    def notices(self) -> list[dict]:
        """Every notice with its metadata, chunk count and lifecycle (admin listing)."""
        from knowledge.notice_views import listing

        with session_scope(self.settings.db_url) as session:
            return listing(session, self.today())

    def notice(self, notice_id: int) -> dict:
        """One notice whole: chunks as quoted, versions, audit trail (lifecycle.LifecycleError 404)."""
        from knowledge.notice_views import detail

        with session_scope(self.settings.db_url) as session:
            return detail(session, notice_id, self.today())

    def change(self, action: str, notice_id: int, actor: str, **args) -> dict:
        """withdraw(reason) | restore(reason) | supersede(by, reason) | edit(changes, reason), with
        its audit event, under the ingest lock (version bumps never race); this process reloads
        at once, the others within RELOAD_CHECK_SECONDS. Returns the notice as listed."""
        from knowledge import lifecycle

        op = {"withdraw": lifecycle.withdraw, "restore": lifecycle.restore, "supersede": lifecycle.supersede,
              "edit": lifecycle.edit}[action]
        with session_scope(self.settings.db_url) as session, ingest_lock(session, self.settings.data_dir):
            op(session, notice_id, actor=actor, **args)
        self._reload(force=True)
        return self.notice(notice_id)["notice"]

    def _per_version(self, what: str, args: tuple, make):
        """`make()` remembered for the loaded version and the day (knowledge/per_version.py);
        computed afresh until the first load."""
        return self.memo.get((what, *args), make) if self.ready else make()

    def is_withdrawn(self, doc_number: str | None = None, file: str | None = None) -> bool:
        """Whether the notice a form rule cites (by 文号, else by file) is withdrawn."""
        return self._per_version("withdrawn", (doc_number, file), lambda: self._is_withdrawn(doc_number, file))

    def _is_withdrawn(self, doc_number: str | None, file: str | None) -> bool:
        from storage.models import Notice

        with session_scope(self.settings.db_url) as session:
            n = self._cited(session, doc_number, file, Notice)
            return n is not None and n.withdrawn_at is not None

    def chunks(self, file: str | None = None) -> list[dict]:
        from storage.models import Chunk

        with session_scope(self.settings.db_url) as session:
            stmt = select(Chunk).order_by(Chunk.id)
            if file:
                stmt = stmt.where(Chunk.file == file)
            return [{"id": c.id, "notice_id": c.notice_id, "file": c.file, "kind": c.kind,
                     "heading_path": c.heading_path, "text": c.text,
                     "valid_until": c.valid_until.isoformat() if c.valid_until else None}
                    for c in session.exec(stmt)]

    def _source(self, notice, excerpt: str) -> Source:
        from storage.models import Chunk

        if notice.withdrawn_at is not None:  # no answer quotes a withdrawn notice (forms fall back)
            return Source(file="", title="", doc_number=None, excerpt="")
        expired = False
        valid = notice.valid_until
        if excerpt:
            key = squash(excerpt)[:40]
            with session_scope(self.settings.db_url) as session:
                for c in session.exec(select(Chunk).where(Chunk.notice_id == notice.id)):
                    if key and key in squash(c.text):
                        valid = c.valid_until or valid
                        break
        expired = answering.is_expired(valid, self.today())
        return answering.notice_source(notice, excerpt, expired)

    @staticmethod
    def _cited(session, doc_number, file, Notice):
        """The notice a citation means: the one with that 文号, else the file's first notice."""
        if doc_number:
            want = normal_doc_number(doc_number)
            for n in session.exec(select(Notice).where(Notice.doc_number.is_not(None))):
                if normal_doc_number(n.doc_number) == want:
                    return n
            return None
        if file:
            return session.exec(select(Notice).where(Notice.file == file).order_by(Notice.seq)).first()
        return None

    def source_for(self, doc_number: str, excerpt: str = "") -> Source:
        """A citation for a notice known by its 文号 (used by the forms' rules)."""
        return self._per_version("doc", (doc_number, excerpt), lambda: self._source_for(doc_number, excerpt))

    def _source_for(self, doc_number: str, excerpt: str) -> Source:
        from storage.models import Notice

        with session_scope(self.settings.db_url) as session:
            n = self._cited(session, doc_number, None, Notice)
            if n is not None:
                return self._source(n, excerpt)
        return Source(file="", title="", doc_number=doc_number, excerpt=excerpt)

    def source_for_file(self, file: str, excerpt: str = "") -> Source:
        """A citation for a notice without 文号, known by its file (e.g. 001_6600b079cd80ab91)."""
        return self._per_version("file", (file, excerpt), lambda: self._source_for_file(file, excerpt))

    def _source_for_file(self, file: str, excerpt: str) -> Source:
        from storage.models import Notice

        with session_scope(self.settings.db_url) as session:
            n = self._cited(session, None, file, Notice)
            if n is not None:
                return self._source(n, excerpt)
        return Source(file=file, title="", excerpt=excerpt)


_normal_doc_number = normal_doc_number  # the old name
