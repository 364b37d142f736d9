"""The rows that ingest and the notice lifecycle both write: the index version every worker
watches, what BM25 sees of a clause, and a notice's audit event. Their own module so that
ingest (which applies an admin's metadata and records versions) and the lifecycle (which
re-tokenises edited clauses and bumps the version) do not import each other.
"""
from __future__ import annotations

from datetime import date
from typing import Any

from sqlmodel import Session

from storage.models import IndexState, NoticeEvent, utcnow


def lexical_text(title: str, doc_number: str | None, heading_path: str, text: str,
                 issuer: str | None = None, region: str | None = None) -> str:
    """What BM25 sees: the clause with its notice's title, 文号, issuer and region, so
    "临沂的…" or "鲁人社字〔2021〕33号…" finds every clause of that notice."""
    return " ".join(x for x in (title, doc_number or "", issuer or "", region or "", heading_path, text) if x)


def bump_version(session: Session) -> None:
    state = session.get(IndexState, 1)
    if state is None:
        state = IndexState(id=1, version=0)
    state.version += 1
    state.updated_at = utcnow()
    session.add(state)


def plain_value(value: Any) -> Any:
    return value.isoformat() if isinstance(value, date) else value


def event(session: Session, notice_id: int, actor: str, action: str, field: str | None = None,
          old: Any = None, new: Any = None, reason: str = "") -> None:
    session.add(NoticeEvent(notice_id=notice_id, actor=actor, action=action, field=field,
                            old_value=None if old is None else str(plain_value(old)),
                            new_value=None if new is None else str(plain_value(new)), reason=reason or ""))
