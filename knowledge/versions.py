"""The ingested versions of a notice: each ingest of its file records the chunk texts the notice
had and the difference from the version before (texts added, texts removed), with who and when.

Why: re-uploading a changed file replaces the clauses answers quote (knowledge/ingest.py), and
an admin asked “what changed, and who changed it?” must see the earlier text — it is kept here,
not in the chunk table, which only ever holds what the bot quotes now.
"""
from __future__ import annotations

from collections import Counter
from datetime import datetime

from sqlalchemy import func
from sqlmodel import Session, select

from knowledge.records import event
from storage.models import Notice, NoticeVersion


def diff(old: list[str], new: list[str]) -> tuple[list[str], list[str]]:
    """(added, removed): the texts of `new` not in `old` and those of `old` not in `new`, as
    multisets, each in its version's order."""
    before, after = Counter(old), Counter(new)
    added, removed = [], []
    for text in new:
        if before[text] > 0:
            before[text] -= 1
        else:
            added.append(text)
    for text in old:
        if after[text] > 0:
            after[text] -= 1
        else:
            removed.append(text)
    return added, removed


def record(session: Session, notice: Notice, actor: str, sha256: str, old_texts: list[str] | None,
           new_texts: list[str], old_at: datetime | None = None) -> NoticeVersion:
    """A version row for the notice's new chunks (`old_texts` None: the notice is new), and its
    audit event. A notice from before versions were kept gets its earlier texts recorded first."""
    last = session.exec(select(func.max(NoticeVersion.number)).where(NoticeVersion.notice_id == notice.id)).one()
    number = (last or 0) + 1
    if old_texts is not None and last is None:  # ingested before this table: keep that version too
        session.add(NoticeVersion(notice_id=notice.id, file=notice.file, number=1, actor="system",
                                  texts=list(old_texts), **({"at": old_at} if old_at else {})))
        number = 2
    added, removed = diff(old_texts, new_texts) if old_texts is not None else ([], [])
    version = NoticeVersion(notice_id=notice.id, file=notice.file, number=number, actor=actor, sha256=sha256,
                            texts=list(new_texts), added=added, removed=removed)
    session.add(version)
    if old_texts is None:
        event(session, notice.id, actor, "ingested", None, None, f"{len(new_texts)} 段")
    else:
        event(session, notice.id, actor, "reingested", None, f"{len(old_texts)} 段",
              f"{len(new_texts)} 段（新增 {len(added)}，删去 {len(removed)}）")
    return version


def versions(session: Session, notice_id: int) -> list[dict]:
    """The notice's versions, newest first, as shown on its page and by GET /api/notices/{id}."""
    rows = session.exec(select(NoticeVersion).where(NoticeVersion.notice_id == notice_id)
                        .order_by(NoticeVersion.number.desc())).all()
    return [{"number": v.number, "at": v.at.isoformat(), "actor": v.actor, "chunks": len(v.texts or []),
             "added": len(v.added or []), "removed": len(v.removed or []),
             "added_texts": list(v.added or []), "removed_texts": list(v.removed or []),
             "texts": list(v.texts or [])} for v in rows]
