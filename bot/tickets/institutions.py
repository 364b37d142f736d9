"""The institutions complained about: one institution written many ways (“阳光职校”, “阳光职业培训学校”)
grouped, so that a regulator sees all its complaints together.

Why a key and not a list: followers and hotline operators write the name as they remember it —
with or without spaces and brackets, full-width, traditional characters, and with or without the
generic words every training institution's name ends in (职业培训学校, 培训中心, 职校, 有限公司 …).
`name_key` folds the text (core.text), drops bracketed parts, spaces and punctuation, then the
generic endings, so the distinctive part is what is compared; a ticket joins the Institution of its
key when it is filed (`file_complaint` calls `group_of`). What the rule cannot know (a nickname, a
renamed school) an admin merges by hand, and undoes by splitting; both are audited
(InstitutionEvent). A merge points the group, and every group already merged into it, at the
target, which is itself merged nowhere: any group's institution is one hop away,
`coalesce(merged_into, id)` (`ROOT`), in every query.

Tickets filed before revision 0008 have no group; `group_ungrouped` gives them theirs the first
time a page that counts by institution is read (lazily: the key is this module's rule, which a
data migration must not import).
"""
from __future__ import annotations

import re
from collections import Counter

from sqlalchemy import func
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, select

from bot.tickets.rules import CLOSED, DEADLINE_OUTCOMES, NotFound, WrongState, deadline_outcome
from core.text import fold, normalise
from storage.models import Institution, InstitutionEvent, Ticket

# Words that end the names of many different institutions: they tell none apart. Stripped from
# the end again and again (longest first), while at least MIN_KEY characters remain.
GENERIC_ENDINGS = sorted((
    "有限责任公司", "股份有限公司", "有限公司", "公司", "学校", "学院", "中心", "机构", "职校", "技校",
    "培训班", "培训部", "培训", "职业", "技能", "技术", "技工",
), key=len, reverse=True)
MIN_KEY = 2
KEY_MAX = 200
_BRACKETED = re.compile(r"[(\[【〔][^)\]】〕]*[)\]】〕]")
_NOT_WORD = re.compile(r"[\W_]+")
ROOT = func.coalesce(Institution.merged_into, Institution.id)  # a group's institution: one hop


def name_key(name: str) -> str:
    """阳光职业培训学校 / 阳光 职校 / 陽光職校（东昌府区） → 阳光."""
    text = _NOT_WORD.sub("", _BRACKETED.sub("", fold(name or "").lower()))
    stripped = True
    while stripped:
        stripped = False
        for ending in GENERIC_ENDINGS:
            if text.endswith(ending) and len(text) - len(ending) >= MIN_KEY:
                text, stripped = text[: -len(ending)], True
                break
    return text[:KEY_MAX] or "未注明"


def group_of(session: Session, name: str) -> int:
    """The id of the Institution group of `name`'s key, made when the key is new — in the
    caller's transaction, safe when two workers file the same new name at once (the second's
    insert does nothing and it reads the first's row)."""
    key = name_key(name)
    found = session.exec(select(Institution.id).where(Institution.key == key)).first()
    if found is not None:
        return found
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    session.execute(dialect.insert(Institution).values(key=key, name=normalise(name)[:KEY_MAX] or key)
                    .on_conflict_do_nothing(index_elements=["key"]))
    return session.exec(select(Institution.id).where(Institution.key == key)).one()


def group_ungrouped(session: Session, batch: int = 500) -> int:
    """Give tickets filed before revision 0008 their group; how many were grouped."""
    done = 0
    while rows := session.exec(select(Ticket).where(Ticket.institution_id.is_(None)).limit(batch)).all():
        for ticket in rows:
            ticket.institution_id = group_of(session, ticket.institution)
            session.add(ticket)
        session.flush()
        done += len(rows)
    return done


def _visible(query, regions):
    return query if regions is None else query.where(Ticket.region.in_(regions))


def tickets_of(root_id: int):
    """The query of an institution's tickets (its own group and those merged into it)."""
    return (select(Ticket).join(Institution, Ticket.institution_id == Institution.id)
            .where(ROOT == root_id))


def others(session: Session, rows: list[Ticket], regions: list[str] | None) -> dict[int, tuple[int, int]]:
    """For each ticket: (its institution's id, how many *other* tickets of that institution the
    viewer sees — `regions`, None for all): the queue's and the ticket page's “该机构已有N件投诉”."""
    if any(t.institution_id is None for t in rows):
        group_ungrouped(session)  # filed before revision 0008 (the rows are this session's: updated)
    ids = [t.id for t in rows if t.institution_id is not None]
    if not ids:
        return {}
    roots = dict(session.exec(select(Ticket.id, ROOT).join(Institution, Ticket.institution_id == Institution.id)
                              .where(Ticket.id.in_(ids))).all())
    counted = _visible(select(ROOT, func.count(Ticket.id)).join(Institution, Ticket.institution_id == Institution.id)
                       .where(ROOT.in_(sorted(set(roots.values())))), regions).group_by(ROOT)
    counts = dict(session.exec(counted).all())
    seen = {t.id for t in rows if regions is None or t.region in regions}
    return {tid: (root, counts.get(root, 0) - (tid in seen)) for tid, root in roots.items()}


def listing(session: Session, regions: list[str] | None, search: str = "") -> list[dict]:
    """The institutions the viewer sees a complaint about, most complaints first:
    [{id, name, count, last}] (`search`: part of the name, compared by key)."""
    group_ungrouped(session)
    query = (select(ROOT, func.count(Ticket.id), func.max(Ticket.created_at))
             .join(Institution, Ticket.institution_id == Institution.id))
    rows = session.exec(_visible(query, regions).group_by(ROOT)).all()
    names = dict(session.exec(select(Institution.id, Institution.name)
                              .where(Institution.id.in_([r[0] for r in rows]))).all()) if rows else {}
    keys = _keys_by_root(session, [r[0] for r in rows]) if search.strip() else {}
    wanted = name_key(search) if search.strip() else ""
    items = [{"id": root, "name": names.get(root, ""), "count": n, "last": last} for root, n, last in rows
             if not wanted or any(wanted in k for k in keys.get(root, ()))]
    return sorted(items, key=lambda i: (-i["count"], i["name"]))


def _keys_by_root(session: Session, roots: list[int]) -> dict[int, list[str]]:
    out: dict[int, list[str]] = {}
    for root, key in session.exec(select(ROOT, Institution.key).where(ROOT.in_(roots))).all():
        out.setdefault(root, []).append(key)
    return out


def candidates(session: Session, root_id: int) -> tuple[list[tuple[int, str]], list[tuple[int, str]]]:
    """The other institutions an admin may merge this one into, as (id, name): first those whose
    keys look alike (one holds the other, or they begin alike), then the rest, by name."""
    keys = _keys_by_root(session, list(session.exec(select(ROOT).distinct()).all()))
    names = dict(session.exec(select(Institution.id, Institution.name).where(Institution.merged_into.is_(None))).all())
    mine = keys.get(root_id, [])
    alike, rest = [], []
    for root, theirs in keys.items():
        if root == root_id or root not in names:
            continue
        near = any(a in b or b in a or a[:MIN_KEY] == b[:MIN_KEY] for a in mine for b in theirs)
        (alike if near else rest).append((root, names[root]))
    return sorted(alike, key=lambda r: r[1]), sorted(rest, key=lambda r: r[1])


def institution(session: Session, inst_id: int) -> Institution:
    """The institution a page shows: a group merged into another answers for that one."""
    inst = session.get(Institution, inst_id)
    if inst is None:
        raise NotFound("没有这个机构", "id")
    return session.get(Institution, inst.merged_into) if inst.merged_into else inst


def profile(session: Session, root_id: int, regions: list[str] | None, today) -> dict:
    """An institution's page, of the tickets the viewer sees: the names they wrote (with counts),
    the tickets (newest first), counts by category, by status and by deadline outcome."""
    rows = session.exec(_visible(tickets_of(root_id), regions)
                        .order_by(Ticket.created_at.desc(), Ticket.id.desc())).all()
    names, categories, statuses, deadline = Counter(), Counter(), Counter(), Counter()
    for t in rows:
        names[normalise(t.institution)] += 1
        categories[t.category] += 1
        statuses[t.status] += 1
        deadline[deadline_outcome(t, today)] += 1
    return {"tickets": rows, "total": len(rows), "names": names.most_common(),
            "categories": categories.most_common(), "statuses": statuses.most_common(),
            "closed": statuses[CLOSED],
            "deadline": [(DEADLINE_OUTCOMES[k], deadline[k]) for k in DEADLINE_OUTCOMES if deadline[k]]}


def members(session: Session, root_id: int) -> list[Institution]:
    """The groups merged into an institution (each can be split off again), by key."""
    return list(session.exec(select(Institution).where(Institution.merged_into == root_id)
                             .order_by(Institution.key)).all())


def events(session: Session, root_id: int) -> list[InstitutionEvent]:
    """The merge and split audit of an institution and of the groups merged into it."""
    ids = [root_id, *(m.id for m in members(session, root_id))]
    return list(session.exec(select(InstitutionEvent).where(
        (InstitutionEvent.institution_id.in_(ids)) | (InstitutionEvent.other_id.in_(ids)))
        .order_by(InstitutionEvent.at, InstitutionEvent.id)).all())


def merge(session: Session, source_id: int, into_id: int, actor: str) -> Institution:
    """Merge the institution `source_id` (with every group merged into it) into `into_id`'s
    institution; audited. Returns the institution they now form."""
    source, target = institution(session, source_id), institution(session, into_id)
    if source.id == target.id:
        raise WrongState("这两个名称已经是同一机构", "into")
    moved = [source, *members(session, source.id)]
    for group in moved:
        group.merged_into = target.id
        session.add(group)
    session.add(InstitutionEvent(actor=actor, action="merged", institution_id=source.id, other_id=target.id,
                                 detail=f"“{source.name}”并入“{target.name}”（{len(moved)} 个名称组）"))
    session.flush()
    return target


def split(session: Session, group_id: int, actor: str) -> Institution:
    """Undo a merge: the group `group_id` stands on its own again; audited. Returns it."""
    group = session.get(Institution, group_id)
    if group is None:
        raise NotFound("没有这个机构", "id")
    if group.merged_into is None:
        raise WrongState("该名称组没有并入其他机构，无需拆分", "id")
    root = session.get(Institution, group.merged_into)
    group.merged_into = None
    session.add(group)
    session.add(InstitutionEvent(actor=actor, action="split", institution_id=group.id, other_id=root.id,
                                 detail=f"“{group.name}”从“{root.name}”拆分出来"))
    session.flush()
    return group

