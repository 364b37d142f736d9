"""A notice's lifecycle: its status, the admin's edits, withdrawal, restore and supersession —
one set of rules behind the console, the CLI and the JSON API.

Why in the knowledge layer, on the database: the database is the truth every worker shares.
Each change here is written with its audit event (NoticeEvent: who, when, what, the old and
new value, why) and bumps IndexState.version, so every worker reloads its index and from then
on answers as the change says (knowledge/index.py leaves withdrawn notices out and drops a
superseded notice's clauses unless the question names it). The Notice columns title … valid_until
stay what answers use: the extractor's values (`extracted`, kept for audit and refreshed by
re-ingesting the file) with the admin's edits (`overrides`) laid over them, so an edit survives
a re-upload. Callers hold the ingest lock (KnowledgeBase.change) so version bumps never race.
"""
from __future__ import annotations

import re
from datetime import date
from typing import Any, Optional

from sqlmodel import Session, select

from core.text import squash
from knowledge.records import plain_value, bump_version, event, lexical_text
from storage.models import Chunk, Notice, utcnow

FIELDS = ("title", "doc_number", "issuer", "date", "province", "city", "county", "valid_until")
DATES = ("date", "valid_until")
EDITABLE = ("title", "doc_number", "issuer", "date", "region", "valid_until")
LABELS = {"title": "标题", "doc_number": "文号", "issuer": "发文单位", "date": "发文日期", "region": "地区",
          "valid_until": "有效期至", "superseded_by": "替代它的通知", "withdrawn": "撤回"}
ACTIVE, EXPIRED, SUPERSEDED, WITHDRAWN = "生效", "已过期", "已被替代", "已撤回"
STATUSES = (ACTIVE, EXPIRED, SUPERSEDED, WITHDRAWN)
ACTION_LABELS = {"ingested": "收录", "reingested": "重新上传", "edited": "修改信息", "withdrawn": "撤回",
                 "restored": "恢复", "superseded": "标记为已被替代"}
MAX_LENGTH = {"title": 200, "doc_number": 60, "issuer": 120, "region": 50, "reason": 500}
_DOC_TAIL = re.compile(r"〔\d{4}〕\d+号")


class LifecycleError(Exception):
    """A change refused: `status` 404 (no such notice), 409 (already so) or 422 (`field` wrong)."""

    def __init__(self, status: int, message: str, field: str | None = None):
        super().__init__(message)
        self.status, self.message, self.field = status, message, field


# ---------------------------------------------------------------- metadata and status

def _typed(field: str, value: Any) -> Any:
    if field in DATES and isinstance(value, str):
        return date.fromisoformat(value)
    return value


def file_values(notice: Notice) -> dict[str, Any]:
    """The metadata columns as JSON values (dates ISO)."""
    return {f: plain_value(getattr(notice, f)) for f in FIELDS}


def apply_metadata(notice: Notice, extracted: dict[str, Any]) -> None:
    """Set what the extractor read, and the columns answers use: the admin's edits win."""
    notice.extracted = dict(extracted)
    overrides = notice.overrides or {}
    for f in FIELDS:
        setattr(notice, f, _typed(f, overrides[f] if f in overrides else extracted.get(f)))
    notice.title = notice.title or extracted.get("title") or ""


def status_of(notice, today: date, replacement_known: bool = True) -> str:
    """已撤回 > 已被替代 > 已过期 (valid-until passed, China's today: core.clock) > 生效."""
    if getattr(notice, "withdrawn_at", None) is not None or getattr(notice, "withdrawn", False):
        return WITHDRAWN
    if notice.superseded_by is not None and replacement_known:
        return SUPERSEDED
    if notice.valid_until is not None and notice.valid_until < today:
        return EXPIRED
    return ACTIVE


def normal_doc_number(text: str | None) -> str:
    """A 文号 as compared: no spaces, every bracket kind as 〔〕."""
    t = squash(text or "")
    for a, b in (("[", "〔"), ("［", "〔"), ("(", "〔"), ("（", "〔"), ("【", "〔"),
                 ("]", "〕"), ("］", "〕"), (")", "〕"), ("）", "〕"), ("】", "〕")):
        t = t.replace(a, b)
    return t


def names_notice(question: str, notice, replacement=None) -> bool:
    """Is the question clearly about this (superseded) notice rather than its replacement? It
    names its 文号 (whole, or its “〔2021〕33号”), its full title, or its year when the
    replacement is of another year."""
    q = normal_doc_number(question)
    doc = normal_doc_number(notice.doc_number)
    if doc and (doc in q or any(t in q for t in _DOC_TAIL.findall(doc))):
        return True
    title = squash(notice.title or "")
    if len(title) >= 8 and title in q:
        return True
    year = notice.date.year if notice.date else None
    other = replacement.date.year if replacement is not None and replacement.date else None
    return bool(year and year != other and str(year) in question)


def region_parts(text: str | None) -> tuple[Optional[str], Optional[str], Optional[str]]:
    """A place as an admin types it ('聊城', '山东 聊城', '山东省聊城市') → (province, city, county)."""
    from core.regions import resolve_place

    text = (text or "").strip()
    if not text:
        return None, None, None
    label = resolve_place(text) or text
    parts = (label.split() + [None, None, None])[:3]
    return parts[0], parts[1], parts[2]


# ---------------------------------------------------------------- changes

def get(session: Session, notice_id: int) -> Notice:
    notice = session.get(Notice, notice_id) if 0 < notice_id <= 2**31 - 1 else None
    if notice is None:
        raise LifecycleError(404, f"没有编号为 {notice_id} 的通知")
    return notice


def _reason(reason: str | None, required: bool = False) -> str:
    reason = (reason or "").strip()
    if required and not reason:
        raise LifecycleError(422, "请填写撤回原因", "reason")
    if len(reason) > MAX_LENGTH["reason"]:
        raise LifecycleError(422, f"原因太长（最多 {MAX_LENGTH['reason']} 字）", "reason")
    return reason


def _changed(session: Session) -> None:

    bump_version(session)  # every worker reloads its index (knowledge/service.py, _reload)


def withdraw(session: Session, notice_id: int, reason: str, actor: str) -> Notice:
    notice = get(session, notice_id)
    why = _reason(reason, required=True)
    if notice.withdrawn_at is not None:
        raise LifecycleError(409, "该通知已经撤回")
    notice.withdrawn_at, notice.withdrawn_by, notice.withdrawn_reason = utcnow(), actor, why
    session.add(notice)
    event(session, notice.id, actor, "withdrawn", "withdrawn", None, "已撤回", why)
    _changed(session)
    return notice


def restore(session: Session, notice_id: int, actor: str, reason: str = "") -> Notice:
    """Back in force: a withdrawal is undone; a notice not withdrawn but superseded is no
    longer superseded."""
    notice = get(session, notice_id)
    why = _reason(reason)
    if notice.withdrawn_at is not None:
        old = notice.withdrawn_reason
        notice.withdrawn_at = notice.withdrawn_by = notice.withdrawn_reason = None
        event(session, notice.id, actor, "restored", "withdrawn", old, None, why)
    elif notice.superseded_by is not None:
        event(session, notice.id, actor, "restored", "superseded_by", notice.superseded_by, None, why)
        notice.superseded_by = None
    else:
        raise LifecycleError(409, "该通知没有被撤回或替代，无需恢复")
    session.add(notice)
    _changed(session)
    return notice


def supersede(session: Session, notice_id: int, by: int, actor: str, reason: str = "") -> Notice:
    """`notice_id` is replaced by `by`: answers quote `by`, and quote the old notice only to a
    question that names it, with the line that it was replaced."""
    notice = get(session, notice_id)
    why = _reason(reason)
    if by == notice_id:
        raise LifecycleError(422, "通知不能替代它自己", "by")
    try:
        new = get(session, by)
    except LifecycleError:
        raise LifecycleError(422, f"没有编号为 {by} 的通知", "by") from None
    if new.withdrawn_at is not None:
        raise LifecycleError(422, "替代它的通知已撤回", "by")
    step, seen = new, {notice_id}
    while step is not None and step.superseded_by is not None:  # no circle A → B → A
        if step.superseded_by in seen:
            raise LifecycleError(422, "这样会形成循环替代（新通知已被本通知替代）", "by")
        seen.add(step.id)
        step = session.get(Notice, step.superseded_by)
    if notice.superseded_by == by:
        raise LifecycleError(409, "该通知已标记为被这份通知替代")
    event(session, notice.id, actor, "superseded", "superseded_by", notice.superseded_by, by, why)
    notice.superseded_by = by
    session.add(notice)
    _changed(session)
    return notice


def _clean(field: str, value: Any) -> Any:
    """An edited value as stored (None: cleared), or 422 naming the field."""
    if isinstance(value, str):
        value = value.strip()
    if field in DATES:
        if value in (None, ""):
            return None
        if isinstance(value, date):
            return value
        try:
            return date.fromisoformat(str(value))
        except ValueError:
            raise LifecycleError(422, f"{LABELS[field]}的格式应为 YYYY-MM-DD", field) from None
    if value is not None and not isinstance(value, str):
        raise LifecycleError(422, f"{LABELS[field]}必须是文字", field)
    if value and len(value) > MAX_LENGTH[field]:
        raise LifecycleError(422, f"{LABELS[field]}太长（最多 {MAX_LENGTH[field]} 字）", field)
    if field == "title" and not value:
        raise LifecycleError(422, "标题不能为空", field)
    return value or None


def edit(session: Session, notice_id: int, changes: dict[str, Any], actor: str, reason: str = "") -> Notice:
    """Set metadata (EDITABLE; `region` as a place name). A value equal to the extractor's
    drops the override. Every changed field is one audit event; nothing changed is a 422."""
    notice = get(session, notice_id)
    why = _reason(reason)
    unknown = [k for k in changes if k not in EDITABLE]
    if unknown:
        raise LifecycleError(422, f"不能修改的字段：{unknown[0]}", unknown[0])
    wanted: dict[str, Any] = {}
    for field, value in changes.items():
        value = _clean(field, value)
        if field == "region":
            wanted.update(zip(("province", "city", "county"), region_parts(value)))
        else:
            wanted[field] = value
    extracted = notice.extracted or file_values(notice)
    overrides = dict(notice.overrides or {})
    touched = []
    for field, value in wanted.items():
        if plain_value(getattr(notice, field)) == plain_value(value):
            continue
        touched.append((field, getattr(notice, field), value))
        if plain_value(value) == extracted.get(field):
            overrides.pop(field, None)
        else:
            overrides[field] = plain_value(value)
    if not touched:
        raise LifecycleError(422, "没有要修改的内容（与现有信息相同）", next(iter(changes), "body"))
    old_region = notice.region
    notice.overrides = overrides
    apply_metadata(notice, extracted)
    session.add(notice)
    for field, old, new in touched:
        if field in ("province", "city", "county"):
            continue
        event(session, notice.id, actor, "edited", field, old, new, why)
    if any(f in ("province", "city", "county") for f, _o, _n in touched):
        event(session, notice.id, actor, "edited", "region", old_region, notice.region, why)
    retokenise(session, notice)
    _changed(session)
    return notice


def retokenise(session: Session, notice: Notice) -> None:
    """BM25 reads a clause with its notice's title, 文号, issuer and region: after an edit the
    words follow the new ones (“潍人社字〔2024〕9号的补贴” finds the edited 文号)."""
    from knowledge.lexical import tokenize

    for chunk in session.exec(select(Chunk).where(Chunk.notice_id == notice.id)):
        lex = lexical_text(notice.title, notice.doc_number, chunk.heading_path, chunk.text, notice.issuer,
                           notice.region)
        chunk.tokens = " ".join(tokenize(lex))
        session.add(chunk)
