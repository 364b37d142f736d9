"""Load notice files into the database and the vector store, idempotently.

Why file hashes: the bundled corpus is re-checked on every start, and an admin may upload the
same file twice; an unchanged file costs one hash and one row read. A changed file replaces
all of its chunks in one transaction (and its vectors), so no stale clause can be answered; its
notices keep their rows, lifecycle and earlier versions. Every change bumps IndexState.version,
which tells every worker to reload.
"""
from __future__ import annotations

import hashlib
import logging
import os
import re
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path

from sqlalchemy import text as sql_text
from sqlmodel import Session, delete, select

from knowledge.chunking import chunk_notice
from knowledge.embeddings import Embedder, embed_cached
from knowledge.lexical import tokenize
from knowledge.lifecycle import apply_metadata
from knowledge.records import bump_version, lexical_text
from knowledge.loaders import SUPPORTED, load_text
from knowledge.structure import parse_notices
from knowledge.vectors import VectorStore
from knowledge.versions import record as record_version
from storage.models import Chunk, IndexState, Notice, SourceFile, utcnow

log = logging.getLogger(__name__)


PARSER_VERSION = "3"  # bump when parsing or chunking changes: every file is re-read on next start


@lru_cache
def pipeline_signature() -> str:
    """What else decides a file's chunks and tokens besides its bytes: the parser version and
    the tokeniser's word list. A change re-indexes the files on the next start."""
    from knowledge.lexical import SYNONYMS_FILE

    return PARSER_VERSION + ":" + hashlib.sha1(SYNONYMS_FILE.read_bytes()).hexdigest()[:12]


def file_key(path: Path) -> str:
    return path.stem


EMBED_CHARS = 256


def embed_text(heading_path: str, text: str) -> str:
    """What the dense model sees: the clause's own heading, then the clause (its head: the model
    reads 512 tokens at most and cost grows with length). Neither the notice title nor the outer
    headings, so the same clause in another notice reuses its cached vector."""
    heading = heading_path.rsplit(" > ", 1)[-1] if heading_path else ""
    return (f"{heading}｜{text}" if heading else text)[:EMBED_CHARS]


@contextmanager
def ingest_lock(session: Session, data_dir: Path):
    """One writer at a time across processes: a PostgreSQL advisory lock, or a file lock."""
    bind = session.get_bind()
    if bind.dialect.name == "postgresql":
        session.execute(sql_text("SELECT pg_advisory_xact_lock(7240211)"))
        yield
        return
    import fcntl

    data_dir.mkdir(parents=True, exist_ok=True)
    with open(data_dir / ".ingest.lock", "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def collect_files(paths: list[Path]) -> list[Path]:
    out: list[Path] = []
    for p in paths:
        if p.is_dir():
            out.extend(sorted(x for x in p.iterdir() if x.suffix.lower() in SUPPORTED and x.is_file()))
        else:
            out.append(p)
    return out


def ingest_file(session: Session, path: Path, embedder: Embedder, vectors: VectorStore | None,
                name: str | None = None, defer_vectors: bool = False, actor: str = "system") -> str:
    """'added' | 'updated' | 'unchanged' for one file (caller commits).

    `defer_vectors`: store the chunks (searchable by BM25 once committed) and leave their dense
    vectors to `embed_pending` — a chunk with an empty text_hash has no vector yet.
    A file that is not a notice (binary, neither UTF-8 nor GB18030, (nearly) empty, a corrupt
    Word/PDF file) raises `loaders.NotANotice` with the Chinese reason before anything is
    written, so a bad new version never replaces a good old one.
    A changed file keeps its notices' rows (by position in the file): their withdrawal,
    supersession and admin edits stay (knowledge/lifecycle.py), their chunks are replaced, and
    each notice's earlier version is kept with the difference and `actor` (knowledge/versions.py)."""
    data = path.read_bytes()
    digest = hashlib.sha256(data + pipeline_signature().encode()).hexdigest()
    name = name or file_key(path)
    existing = session.exec(select(SourceFile).where(SourceFile.name == name)).first()
    if existing and existing.sha256 == digest:
        return "unchanged"
    old_rows = {n.seq: n for n in session.exec(select(Notice).where(Notice.file == name))} if existing else {}
    old_texts: dict[int, list[str]] = {}
    for c in (session.exec(select(Chunk).where(Chunk.file == name).order_by(Chunk.seq)) if existing else ()):
        old_texts.setdefault(c.notice_id, []).append(c.text)
    # Parse, chunk and tokenise before the first write: on SQLite the first write takes the
    # database's write lock, and a 12 MB notice must not hold it while jieba works (every
    # WeChat message needs that lock for its de-dup claim).
    drafts = parse_notices(load_text(path))
    planned = []
    for draft in drafts:
        extracted = {"title": draft.title, "doc_number": draft.doc_number, "issuer": draft.issuer,
                     "date": draft.date.isoformat() if draft.date else None, "province": draft.region.province,
                     "city": draft.region.city, "county": draft.region.county,
                     "valid_until": draft.valid_until.isoformat() if draft.valid_until else None}
        row = old_rows.get(draft.seq)
        notice = Notice(file=name, seq=draft.seq, title="", meta={"header": draft.meta.get("header", [])},
                        overrides=dict(row.overrides or {}) if row else {})
        apply_metadata(notice, extracted)  # what answers use: the admin's edits over the file's values
        chunks = []
        for seq, c in enumerate(chunk_notice(draft)):
            lex = lexical_text(notice.title, notice.doc_number, c.path, c.text, notice.issuer, notice.region)
            chunks.append((Chunk(file=name, seq=seq, kind=c.kind, heading_path=c.path, text=c.text,
                                 valid_until=c.valid_until, tokens=" ".join(tokenize(lex))),
                           embed_text(c.path, c.text)))
        planned.append((notice, row, extracted, chunks))
    if not defer_vectors:  # the model runs before the cache rows are written, as above
        hashes, matrix = embed_cached(embedder, [t for *_n, chunks in planned for _c, t in chunks], session)
    old_at = existing.ingested_at if existing else None
    if existing:
        _remove_chunks(session, name, [n.id for n in old_rows.values()], vectors)
        existing.sha256, existing.path, existing.ingested_at = digest, str(path), utcnow()
        session.add(existing)
    else:
        session.add(SourceFile(name=name, path=str(path), sha256=digest))
    rows: list[tuple[Chunk, str]] = []
    for notice, row, extracted, chunks in planned:
        if row is not None:  # the same notice, new text: its lifecycle stays
            apply_metadata(row, extracted)
            row.meta = notice.meta
            notice = row
        session.add(notice)
        session.flush()
        for chunk, embedded in chunks:
            chunk.notice_id = notice.id
            rows.append((chunk, embedded))
        record_version(session, notice, actor, digest, old_texts.get(notice.id, []) if row is not None else None,
                       [c.text for c, _ in chunks], old_at)
    _drop_notices(session, [n.id for seq, n in old_rows.items() if seq not in {d.seq for d in drafts}])
    for chunk, _ in rows:
        session.add(chunk)
    session.flush()
    if defer_vectors:
        bump_version(session)
        return "updated" if existing else "added"
    for (chunk, _), h in zip(rows, hashes):
        chunk.text_hash = h
        session.add(chunk)
    if vectors is not None and rows:
        vectors.add([c.id for c, _ in rows], matrix, [name] * len(rows))
    bump_version(session)
    return "updated" if existing else "added"


def embed_pending(session: Session, embedder: Embedder, vectors: VectorStore | None, limit: int = 32) -> int:
    """Give up to `limit` chunks stored without a vector (deferred ingest) their vectors, in the
    cache and in the vector store; bump the version so every worker reopens the store. Returns
    how many were done (0: nothing pending). Caller holds the ingest lock and commits."""
    pending = list(session.exec(select(Chunk).where(Chunk.text_hash == "").order_by(Chunk.id).limit(limit)))
    if not pending:
        return 0
    _embed_chunks(session, embedder, vectors, pending)
    bump_version(session)
    return len(pending)


def _embed_chunks(session: Session, embedder: Embedder, vectors: VectorStore | None, chunks: list[Chunk]) -> None:
    """Vectors for these chunks (the cache's where it has them) into the cache and the store."""
    hashes, matrix = embed_cached(embedder, [embed_text(c.heading_path, c.text) for c in chunks], session)
    for chunk, h in zip(chunks, hashes):
        chunk.text_hash = h
        session.add(chunk)
    if vectors is not None:
        vectors.add([c.id for c in chunks], matrix, [c.file for c in chunks])


def reindex_vectors(session: Session, embedder: Embedder, vectors: VectorStore, batch: int = 256) -> int:
    """Every chunk's vector written again into an emptied store (a restore: the database is the
    truth, the store is rebuilt from it; cached vectors cost no model call). Returns the count."""
    vectors.clear()
    done, last = 0, 0
    while True:
        chunks = list(session.exec(select(Chunk).where(Chunk.id > last).order_by(Chunk.id).limit(batch)))
        if not chunks:
            break
        _embed_chunks(session, embedder, vectors, chunks)
        done, last = done + len(chunks), chunks[-1].id
    bump_version(session)
    return done


def _remove_chunks(session: Session, name: str, notice_ids: list[int], vectors: VectorStore | None) -> None:
    if notice_ids:
        session.exec(delete(Chunk).where(Chunk.notice_id.in_(notice_ids)))
    if vectors is not None:
        vectors.delete_file(name)


def _drop_notices(session: Session, notice_ids: list[int]) -> None:
    """Notices the new version of a file no longer holds (their chunks are gone already); a
    notice they replaced is no longer superseded. Their audit trail stays."""
    if not notice_ids:
        return
    for n in session.exec(select(Notice).where(Notice.superseded_by.in_(notice_ids))):
        n.superseded_by = None
        session.add(n)
    session.exec(delete(Notice).where(Notice.id.in_(notice_ids)))


def safe_name(filename: str) -> str:
    """An uploaded file's name reduced to a safe file name (keeps Chinese, digits, _-.)."""
    base = os.path.basename(filename or "upload.txt")
    base = re.sub(r"[^\w\u4e00-\u9fff.\-]", "_", base)
    return base[:120] or "upload.txt"
