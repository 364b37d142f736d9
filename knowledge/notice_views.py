"""What an admin sees of the notices: the list (GET /api/notices, the console's notices page,
`policybot notices list`) and one notice whole (its chunks as the bot quotes them, its versions,
its audit trail), plus the supersessions its text suggests.

Why one module for three front ends: the console, the CLI and the JSON must show the same
status and the same suggestions; they only format these dictionaries differently.
Why suggestions are found on reading, not stored: a new notice that says “《…》同时废止” may
arrive before or after the one it names; one query for the few clauses that say 废止/停止执行
finds them against whatever is loaded now, and the admin confirms (lifecycle.supersede).
"""
from __future__ import annotations

import re
from datetime import date

from sqlalchemy import func, or_
from sqlmodel import Session, select

from knowledge.answer import readable
from knowledge.lifecycle import ACTION_LABELS, EDITABLE, LABELS, get, normal_doc_number, status_of
from core.text import squash
from knowledge.versions import versions
from storage.models import Chunk, Notice, NoticeEvent, SourceFile

REPEAL_WORDS = ("废止", "停止执行", "不再执行")
_REPEAL = re.compile("|".join(REPEAL_WORDS))
_SENTENCE = re.compile(r"[^。；;！？\n]+")
_QUOTED = re.compile(r"《([^《》]{4,150})》")
_DOC = re.compile(r"[\u4e00-\u9fff]{1,12}[〔\[［(（【]\s*\d{4}\s*[〕\]］)）】]\s*\d{1,4}\s*号")
EVENTS_SHOWN = 200


def _iso(value) -> str | None:
    return value.isoformat() if value is not None else None


def _edited(n: Notice) -> list[str]:
    keys = set(n.overrides or {})
    return [f for f in EDITABLE if f in keys or (f == "region" and keys & {"province", "city", "county"})]


def summary(n: Notice, today: date, chunks: int = 0, pending: int = 0, suggested: list[int] | None = None,
            ingested_at=None, known: set[int] | None = None) -> dict:
    """One notice in the list: today's /api/notices fields, then its lifecycle."""
    replacement_known = known is None or n.superseded_by in known
    return {"id": n.id, "file": n.file, "seq": n.seq, "title": n.title, "doc_number": n.doc_number,
            "issuer": n.issuer, "date": _iso(n.date), "region": n.region, "province": n.province,
            "city": n.city, "county": n.county, "valid_until": _iso(n.valid_until),
            "chunks": chunks, "vectors_pending": pending,
            "status": status_of(n, today, replacement_known), "superseded_by": n.superseded_by,
            "withdrawn_at": _iso(n.withdrawn_at), "withdrawn_reason": n.withdrawn_reason,
            "edited": _edited(n), "suggested_supersedes": suggested or [], "ingested_at": _iso(ingested_at)}


def listing(session: Session, today: date) -> list[dict]:
    """Every notice (withdrawn ones too, with their status), in file and position order."""
    counts = dict(session.exec(select(Chunk.notice_id, func.count(Chunk.id)).group_by(Chunk.notice_id)).all())
    pending = dict(session.exec(select(Chunk.notice_id, func.count(Chunk.id))
                                .where(Chunk.text_hash == "").group_by(Chunk.notice_id)).all())
    files = dict(session.exec(select(SourceFile.name, SourceFile.ingested_at)).all())
    rows = session.exec(select(Notice).order_by(Notice.file, Notice.seq)).all()
    suggested = suggestions(session, rows)
    known = {n.id for n in rows}
    return [summary(n, today, counts.get(n.id, 0), pending.get(n.id, 0),
                    [s["notice_id"] for s in suggested.get(n.id, [])], files.get(n.file), known) for n in rows]


def grouped(items: list[dict]) -> list[dict]:
    """The list by source file, the newest upload first (003 holds three notices)."""
    groups: dict[str, dict] = {}
    for item in items:
        g = groups.setdefault(item["file"], {"file": item["file"], "ingested_at": item["ingested_at"], "notices": []})
        g["notices"].append(item)
    newest = sorted(groups.values(), key=lambda g: max((n["date"] or "") for n in g["notices"]), reverse=True)
    return sorted(newest, key=lambda g: g["ingested_at"] or "", reverse=True)


def suggestions(session: Session, notices: list[Notice] | None = None) -> dict[int, list[dict]]:
    """{new notice id: [{notice_id, title, doc_number, quote}]}: notices whose title (in 《》)
    or 文号 a clause of the new one names in a sentence that says 废止 / 停止执行 / 不再执行.
    A notice already marked as replaced by it, and withdrawn notices, are left out."""
    notices = list(notices if notices is not None else session.exec(select(Notice)).all())
    live = [n for n in notices if n.withdrawn_at is None]
    by_doc = {normal_doc_number(n.doc_number): n for n in live if n.doc_number}
    by_title = [(squash(n.title), n) for n in live if len(squash(n.title)) >= 6]
    live_ids = {n.id for n in live}
    out: dict[int, list[dict]] = {}
    says_repeal = or_(*(Chunk.text.contains(w) for w in REPEAL_WORDS))
    clauses = session.exec(select(Chunk.notice_id, Chunk.text).where(says_repeal))
    for notice_id, text in clauses:
        if notice_id not in live_ids:
            continue
        for sentence in _SENTENCE.findall(text):
            if not _REPEAL.search(sentence):
                continue
            named: list[Notice] = []
            for quoted in _QUOTED.findall(sentence):
                q = squash(quoted).replace("〈", "《").replace("〉", "》")
                named += [n for t, n in by_title if t == q or (len(q) >= 10 and (q in t or t in q))]
            named += [by_doc[d] for m in _DOC.findall(sentence) if (d := normal_doc_number(m)) in by_doc]
            for old in named:
                found = out.setdefault(notice_id, [])
                known = old.id == notice_id or old.superseded_by == notice_id
                if known or any(s["notice_id"] == old.id for s in found):
                    continue
                found.append({"notice_id": old.id, "title": old.title, "doc_number": old.doc_number,
                              "quote": squash(sentence)[:160]})
    return {k: v for k, v in out.items() if v}


def _event(e: NoticeEvent) -> dict:
    return {"at": e.at.isoformat(), "actor": e.actor, "action": e.action,
            "action_label": ACTION_LABELS.get(e.action, e.action), "field": e.field,
            "field_label": LABELS.get(e.field or "", e.field), "old": e.old_value, "new": e.new_value,
            "reason": e.reason or ""}


def _brief(n: Notice | None) -> dict | None:
    return None if n is None else {"id": n.id, "title": n.title, "doc_number": n.doc_number}


def detail(session: Session, notice_id: int, today: date) -> dict:
    """One notice whole: GET /api/notices/{id} and the console's notice page."""
    n = get(session, notice_id)
    chunks = session.exec(select(Chunk).where(Chunk.notice_id == n.id).order_by(Chunk.seq)).all()
    pending = sum(1 for c in chunks if not c.text_hash)
    ingested = session.exec(select(SourceFile.ingested_at).where(SourceFile.name == n.file)).first()
    everything = session.exec(select(Notice)).all()
    found = suggestions(session, everything)
    replaced = session.get(Notice, n.superseded_by) if n.superseded_by is not None else None
    head = summary(n, today, len(chunks), pending, [s["notice_id"] for s in found.get(n.id, [])], ingested,
                   {m.id for m in everything})
    events = session.exec(select(NoticeEvent).where(NoticeEvent.notice_id == n.id)
                          .order_by(NoticeEvent.at.desc(), NoticeEvent.id.desc()).limit(EVENTS_SHOWN)).all()
    return {
        "notice": head,
        "extracted": dict(n.extracted or {}), "overrides": dict(n.overrides or {}),
        "withdrawn": ({"at": _iso(n.withdrawn_at), "by": n.withdrawn_by, "reason": n.withdrawn_reason}
                      if n.withdrawn_at is not None else None),
        "replaced_by": _brief(replaced),
        "replaces": [_brief(m) for m in everything if m.superseded_by == n.id],
        "suggestions": found.get(n.id, []),
        "suggested_by": [{**_brief(m), "quote": s["quote"]} for m in everything
                         for s in found.get(m.id, []) if s["notice_id"] == n.id],
        "chunks": [{"id": c.id, "seq": c.seq, "kind": c.kind, "heading_path": c.heading_path, "text": c.text,
                    "quoted": readable(c.text), "valid_until": _iso(c.valid_until),
                    "expired": bool(c.valid_until and c.valid_until < today)} for c in chunks],
        "versions": versions(session, n.id),
        "events": [_event(e) for e in events],
    }
