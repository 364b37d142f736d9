"""The work-order API: /api/tickets for other systems (the 12345 hotline platform, a case system).

Bearer: a staff API token (bot.api_tokens), acting with its account's role and regions, or
POLICYBOT_ADMIN_TOKEN, acting as an admin (bot.deps.ApiLogin). Why a module of its own: the
routes change with what other systems need, while the rules stay bot.tickets' — the same
functions the console calls (`tickets.act` through `tickets.STAFF_ACTIONS`), so the same
permissions, status rules, audit trail and follower notices apply, the notice handed to the
WeChat push after the commit (`tickets.commit_then_deliver`) exactly as the console does. A
forwarded complaint is checked by the complaint form's own slot parsers
(forms.checks.validate_answers) and filed like one from the chat (routing, due dates), once per
`source` + `external_id`. Phones are masked, and mobile / ID numbers in the description too;
`GET /api/tickets/{number}?reveal=phone` gives the full phone to an account that may reveal it
(`auth.Login.may_reveal`, the console's rule), logged as the console's reveal (`tickets.reveal_phone`).
Refusals: 401 (no or bad token), 403 (another region; not this role), 404 (no such number),
409 (not in this status), 422 `{detail, field}` (bad input).
"""
from __future__ import annotations

from datetime import date, datetime
from typing import Literal, Optional

from fastapi import APIRouter, HTTPException, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, field_validator
from sqlalchemy import func
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from bot import tickets, web
from bot.complaint_dialog import complaint_from_answers
from bot.console import auth
from bot.deps import ApiLogin, DbSession, SettingsDep, no_nul
from bot.routing import load_routing
from bot.wechat import push
from core.clock import CHINA
from core.config import Settings
from core.pii import mask_openid, redact
from forms import registry
from forms.checks import FactError, validate_answers
from storage.models import Rating, Ticket

router = APIRouter(tags=["work orders"])

Status = Literal[tuple(tickets.STATES)]
Category = Literal[tuple(tickets.CATEGORIES)]
ActionName = Literal["accept", "assign", "transfer", "reply", "return", "close", "note", "ask"]
NOT_YOURS = tickets.NOT_YOURS
FIELDS = {"when": "happened"}  # the complaint form's slot → this API's field, where they differ
REFUSED = {401: {"description": "没有令牌，或令牌不对、已撤销"}, 403: {"description": "其他地区的投诉，或角色不允许"}}


class ForwardedComplaint(BaseModel):
    """A complaint another system received; the limits are the complaint form's."""
    source: str = Field(..., min_length=1, max_length=40, description="the forwarding system, e.g. 12345")
    external_id: str = Field(..., min_length=1, max_length=100, description="its case number there")
    institution: str = Field(..., min_length=2, max_length=60, description="被投诉机构")
    category: Category = Field(..., description="问题类别")
    region: str = Field(..., min_length=1, max_length=30, description="发生地区: a region, city or county name")
    description: str = Field(..., min_length=10, max_length=1000, description="情况描述")
    happened: str = Field("", max_length=40, description="发生时间, as told")
    place: str = Field("", max_length=100, description="具体地点")
    phone: Optional[str] = Field(None, pattern=r"^1[3-9]\d{9}$", description="the complainant's mobile; none: anonymous")
    openid: Optional[str] = Field(None, max_length=64, description="the complainant's WeChat openid: replies are pushed there")

    _text = field_validator("*")(no_nul)


class ActionRequest(BaseModel):
    action: ActionName
    text: str = Field("", max_length=2000, description="the reply, 办结说明, note, reason")
    assignee: str = Field("", max_length=64, description="assign: a username")
    team: str = Field("", max_length=64, description="transfer: a team id of deploy/routing.yaml")

    _text = field_validator("*")(no_nul)


class TicketSummary(BaseModel):
    number: str
    status: str
    overdue: bool
    region: str
    category: str
    institution: str
    happened: str
    place: str
    phone: str = Field(..., description="masked: 138****8000, or 匿名 (GET /api/tickets/{number}?reveal=phone: in full, logged)")
    team: str
    team_name: str
    assignee: Optional[str] = None
    source: Optional[str] = Field(None, description="the forwarding system; null: filed in the chat")
    external_id: Optional[str] = None
    accept_due: date
    answer_due: date
    created_at: datetime
    updated_at: datetime
    closed_at: Optional[datetime] = None


class TimelineEntry(BaseModel):
    kind: str = Field(..., description="created | accepted | assigned | transferred | returned | note | reply | closed | delivery …")
    label: str
    text: str
    at: datetime
    actor: str
    public: bool = Field(..., description="shown to the complainant")


class TicketDetail(TicketSummary):
    description: str = Field(..., description="mobile and ID numbers masked")
    openid: str = Field("", description="masked; empty: no WeChat contact")
    rating: Optional[int] = None
    actions: list[str] = Field(..., description="what this token's account may do now")
    timeline: list[TimelineEntry]


class TicketList(BaseModel):
    items: list[TicketSummary]
    total: int
    page: int
    pages: int


def _refusal(status: int, detail: str, field: str) -> JSONResponse:
    return JSONResponse({"detail": detail, "field": field}, status_code=status)


def _summary(settings: Settings, t: Ticket) -> dict:
    return dict(number=t.number, status=t.status, overdue=tickets.is_overdue(t, tickets.local_today(settings)),
                region=t.region, category=t.category, institution=t.institution, happened=t.happened,
                place=t.region_text, phone=tickets.mask_phone(t.phone), team=t.team,
                team_name=load_routing(settings).team_name(t.team), assignee=t.assignee, source=t.source,
                external_id=t.external_id, accept_due=t.accept_due, answer_due=t.answer_due,
                created_at=t.created_at, updated_at=t.updated_at, closed_at=t.closed_at)


def _detail(s: Session, settings: Settings, login: auth.Login, t: Ticket) -> TicketDetail:
    events = tickets.timeline(s, t)
    rating = s.exec(select(Rating.score).where(Rating.ticket_id == t.id)).first()
    return TicketDetail(
        **_summary(settings, t), description=redact(t.description), openid=mask_openid(t.openid) if t.openid else "",
        rating=rating, actions=[a for a in tickets.allowed_actions(t.status, login.user.role) if a in tickets.STAFF_ACTIONS],
        timeline=[TimelineEntry(kind=e.action, label=tickets.ACTION_LABELS.get(e.action, e.action), text=e.detail or "",
                                at=e.at, actor=e.actor, public=e.public) for e in events])


def _ticket(s: Session, login: auth.Login, number: str, lock: bool = False) -> Ticket:
    try:
        return tickets.staff_ticket(s, number, login.can_see, lock)
    except tickets.TicketError as exc:  # no such number (404), another region (403)
        raise HTTPException(exc.status, str(exc)) from None


def _actor(login: auth.Login) -> str:
    return f"{login.user.username}（API）"


@router.post("/api/tickets", response_model=TicketDetail, status_code=201,
             responses={200: {"model": TicketDetail, "description": "already forwarded: the same ticket, nothing new"},
                        **REFUSED})
def forward_complaint(body: ForwardedComplaint, login: ApiLogin, settings: SettingsDep, s: DbSession,
                      response: Response):
    """A complaint forwarded from another system: checked like the chat's complaint form, routed
    and timed like one filed there. Idempotent on `source` + `external_id` (200, nothing new)."""
    existing = tickets.find_forwarded(s, body.source, body.external_id)
    if existing is not None:
        return _again(s, settings, login, existing, response)
    answers = {"institution": body.institution, "category": body.category, "region": body.region,
               "description": body.description}
    answers.update({k: v for k, v in (("when", body.happened), ("place", body.place), ("phone", body.phone)) if v})
    try:
        values, labels = validate_answers(registry.form("complaint"), answers, tickets.local_today(settings))
    except FactError as bad:
        return _refusal(422, bad.message, FIELDS.get(bad.field, bad.field))
    values["contact"] = "phone" if body.phone else "anonymous"
    complaint = complaint_from_answers(settings, values, labels)
    complaint.source, complaint.external_id = body.source, body.external_id
    try:
        ticket = tickets.file_complaint(s, settings, body.openid or "", complaint, actor=_actor(login))
        if not login.can_see(ticket.region):
            s.rollback()
            raise HTTPException(403, f"{NOT_YOURS}（{ticket.region}）：未创建")
        s.commit()
    except IntegrityError:  # the same case forwarded twice at once: the other request filed it
        s.rollback()
        existing = tickets.find_forwarded(s, body.source, body.external_id)
        if existing is None:
            raise
        return _again(s, settings, login, existing, response)
    return _detail(s, settings, login, ticket)


def _again(s: Session, settings: Settings, login: auth.Login, ticket: Ticket, response: Response) -> TicketDetail:
    if not login.can_see(ticket.region):
        raise HTTPException(403, NOT_YOURS)
    response.status_code = 200
    return _detail(s, settings, login, ticket)


@router.get("/api/tickets", response_model=TicketList, responses=REFUSED)
def list_tickets(login: ApiLogin, settings: SettingsDep, s: DbSession,
                 status: Optional[Status] = None, region: Optional[str] = Query(None, max_length=30),
                 overdue: bool = False,
                 since: Optional[datetime] = Query(None, description="changed at or after (ISO 8601; no zone: China time)"),
                 page: int = Query(1, ge=1, le=100_000), per_page: int = Query(50, ge=1, le=200)):
    """The tickets this token's account sees (its regions; supervisors and admins: all), newest first."""
    if since is not None and since.tzinfo is None:
        since = since.replace(tzinfo=CHINA)
    regions = login.visible_regions
    filters = {"status": status, "region": (region or "").strip(), "overdue": overdue, "since": since}
    query = tickets.queue_query(regions, filters, tickets.local_today(settings))
    total = s.exec(select(func.count()).select_from(query.subquery())).one()
    rows = s.exec(query.order_by(Ticket.created_at.desc(), Ticket.id.desc())
                  .offset((page - 1) * per_page).limit(per_page)).all()
    return TicketList(items=[TicketSummary(**_summary(settings, t)) for t in rows], total=total, page=page,
                      pages=max(1, -(-total // per_page)))


@router.get("/api/tickets/{number}", response_model=TicketDetail,
            responses={**REFUSED, 404: {"description": "没有这个投诉编号"}})
def get_ticket(number: str, login: ApiLogin, settings: SettingsDep, s: DbSession, request: Request,
               reveal: Optional[Literal["phone"]] = Query(
                   None, description="phone: the full phone number, for an account that may reveal it (logged, "
                                     "as the console's reveal); otherwise masked")):
    """The ticket with its timeline; `?reveal=phone` shows the full phone number (logged, on the timeline)."""
    ticket = _ticket(s, login, number)
    full = None
    if reveal == "phone" and login.may_reveal(ticket.region):
        full = tickets.reveal_phone(s, ticket, login.user.username, web.client_ip(request, settings), _actor(login))
        s.flush()
    detail = _detail(s, settings, login, ticket)
    return detail.model_copy(update={"phone": full}) if full else detail


@router.post("/api/tickets/{number}/actions", response_model=TicketDetail,
             responses={**REFUSED, 404: {"description": "没有这个投诉编号"}, 409: {"description": "当前状态不能执行此操作"}})
def ticket_action(number: str, body: ActionRequest, login: ApiLogin, settings: SettingsDep, s: DbSession):
    """One of the console's actions, by the same rules; a reply, a question or a 办结 reaches the
    follower (WeChat) after the commit, and the timeline says whether it did."""
    ticket = _ticket(s, login, number, lock=True)
    if body.action not in tickets.STAFF_ACTIONS:
        return _refusal(422, f"暂不支持该操作：{body.action}", "action")
    action = tickets.Action(body.action, body.text, body.assignee.strip(), body.team.strip())
    try:
        notice = tickets.act(s, settings, ticket, _actor(login), login.user.role, action)
    except tickets.TicketError as exc:
        s.rollback()
        return _refusal(exc.status, str(exc), exc.field)
    tickets.commit_then_deliver(s, settings, notice, push.push)  # a failed push never undoes the reply
    return _detail(s, settings, login, ticket)
