"""The complaint tables: tickets, their timeline and photos, the staff who handle them, their
sessions, API tokens, the audit of logins and reveals, and the institutions complained about.

Why apart from storage/models.py: the complaint case grew its own tables (the two-way thread,
the progress page, work orders from other systems) and together they outgrew one module.
storage/models.py re-exports every name, so `from storage.models import Ticket` keeps working
and SQLModel.metadata (the migrations' target) holds every table either way.
"""
from __future__ import annotations

from datetime import date as Date, datetime
from typing import Optional

from sqlalchemy import JSON, Column, Index, Text, false
from sqlmodel import Field, SQLModel

from storage.models_base import utcnow

# A complaint is a Ticket; all that happens to it a TicketEvent (the audit trail, also the source of
# the follower-visible replies). Staff accounts, sessions and API tokens: any worker checks them.

class Ticket(SQLModel, table=True):
    """One complaint. `number` is what the follower sees; progress queries also check `openid`."""

    __table_args__ = (Index("ix_ticket_source_external_id", "source", "external_id", unique=True),)

    id: Optional[int] = Field(default=None, primary_key=True)
    number: str = Field(index=True, unique=True, description="TS20261121-482913")
    openid: str = Field(index=True, description="the filer; only they may query progress ('' if forwarded without one)")
    institution: str
    category: str = Field(index=True)
    happened: str = Field("", description="when it happened, as the follower said it")
    region: str = Field(index=True, description="canonical region from deploy/routing.yaml, e.g. 聊城")
    region_text: str = Field("", description="the place as the follower typed it")
    description: str = Field(sa_column=Column(Text))
    phone: Optional[str] = Field(default=None, description="None when filed anonymously")
    status: str = Field("待受理", index=True)
    team: str = Field(index=True, description="team id from deploy/routing.yaml")
    assignee: Optional[str] = Field(default=None, index=True, description="StaffUser.username")
    accept_due: Date
    answer_due: Date
    created_at: datetime = Field(default_factory=utcnow, index=True)
    updated_at: datetime = Field(default_factory=utcnow)
    closed_at: Optional[datetime] = None
    rating_asked_at: Optional[datetime] = Field(default=None, description="回访 sent; the next 1–5 is the rating")
    supplemented_at: Optional[datetime] = Field(
        default=None, description="投诉人已补充: the follower's newest supplement, until a staff action on the ticket")
    intake_key: Optional[str] = Field(default=None, unique=True, description="openid:MsgId of the confirm: files nothing twice")
    progress_token: Optional[str] = Field(default=None, unique=True, index=True,
                                          description="the unguessable key of the read-only /progress/{token} page")
    source: Optional[str] = Field(default=None, max_length=40, description="the forwarding system (12345 …); None: the chat")
    external_id: Optional[str] = Field(default=None, max_length=100, description="its case number: a re-post files nothing")
    institution_id: Optional[int] = Field(
        default=None, index=True, description="the Institution of its name's key (bot.tickets.institutions); "
                                              "None until grouped (filed before revision 0008)")


class TicketEvent(SQLModel, table=True):
    """The audit trail: who did what to a ticket, when. `public` events are shown to the follower."""

    id: Optional[int] = Field(default=None, primary_key=True)
    ticket_id: int = Field(index=True, foreign_key="ticket.id")
    at: datetime = Field(default_factory=utcnow)
    actor: str = Field(description="'follower', 'system' or a staff username")
    action: str = Field(description="created | accepted | assigned | transferred | returned | note | reply | closed | revealed | rated | delivered …")
    detail: str = Field("", sa_column=Column(Text))
    public: bool = False


class Evidence(SQLModel, table=True):
    """A photo sent with a complaint: WeChat's MediaId/PicUrl, and the file once downloaded."""

    id: Optional[int] = Field(default=None, primary_key=True)
    ticket_id: int = Field(index=True, foreign_key="ticket.id")
    media_id: Optional[str] = None
    pic_url: Optional[str] = None
    file_path: Optional[str] = Field(default=None, description="relative to the data dir")
    created_at: datetime = Field(default_factory=utcnow)


class StaffUser(SQLModel, table=True):
    """A console account. role: staff (sees `regions` only) | supervisor | admin."""

    id: Optional[int] = Field(default=None, primary_key=True)
    username: str = Field(index=True, unique=True)
    password_hash: str
    role: str = "staff"
    regions: list[str] = Field(default_factory=list, sa_column=Column(JSON))
    active: bool = True
    created_at: datetime = Field(default_factory=utcnow)
    password_changed: bool = Field(
        False, sa_column_kwargs={"server_default": false()},
        description="changed on the password page: POLICYBOT_ADMIN_PASSWORD no longer resets it")


class StaffSession(SQLModel, table=True):
    """A console login. The cookie holds a random token; only its SHA-256 is stored."""

    id: Optional[int] = Field(default=None, primary_key=True)
    token_hash: str = Field(index=True, unique=True)
    user_id: int = Field(index=True, foreign_key="staffuser.id")
    csrf_token: str
    created_at: datetime = Field(default_factory=utcnow)
    expires_at: datetime


class ApiToken(SQLModel, table=True):
    """A staff account's bearer token for the work-order API (bot.api_tokens); only its SHA-256 is stored."""

    id: Optional[int] = Field(default=None, primary_key=True)
    token_hash: str = Field(index=True, unique=True, max_length=64)
    hint: str = Field(max_length=16, description="the token's first characters, to tell tokens apart in lists")
    user_id: int = Field(index=True, foreign_key="staffuser.id")
    name: str = Field("", max_length=100, description="what it is for, e.g. 12345 平台")
    created_by: str = Field("", max_length=100)
    created_at: datetime = Field(default_factory=utcnow)
    revoked_at: Optional[datetime] = None


class RevealLog(SQLModel, table=True):
    """Every time a staff member revealed a follower's full phone number."""

    id: Optional[int] = Field(default=None, primary_key=True)
    ticket_id: int = Field(index=True, foreign_key="ticket.id")
    username: str
    ip: str = ""
    at: datetime = Field(default_factory=utcnow)


class LoginAttempt(SQLModel, table=True):
    """One console password check (a login, or the current password on the password page), for
    the throttle (bot.console.throttle): recorded as a failure *before* the password is checked,
    so that parallel guesses on any worker count against each other; a success marks it and
    clears the account's failures. Rows older than the window plus the lockout are pruned."""

    id: Optional[int] = Field(default=None, primary_key=True)
    account: str = Field(index=True, max_length=64, description="the account name as typed, stripped and lowercased")
    ip: str = Field("", index=True, max_length=64, description="bot.web.client_ip")
    at: datetime = Field(default_factory=utcnow, index=True)
    success: bool = False


class StaffEvent(SQLModel, table=True):
    """The accounts' audit trail, kept like TicketEvent (which needs a ticket): logins, failed
    logins, lockouts, password changes — who (the account name as typed), from where, when.
    Never a password."""

    id: Optional[int] = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=utcnow, index=True)
    actor: str = Field(index=True, description="the account name as typed (an unknown name too)")
    action: str = Field(description="login | login_failed | locked | password_changed | password_failed")
    ip: str = ""
    detail: str = Field("", sa_column=Column(Text))


class Rating(SQLModel, table=True):
    """The follower's 1–5 satisfaction rating after 已办结 (回访); one per ticket."""

    id: Optional[int] = Field(default=None, primary_key=True)
    ticket_id: int = Field(index=True, unique=True, foreign_key="ticket.id")
    openid: str = Field(index=True)
    score: int
    created_at: datetime = Field(default_factory=utcnow)


class Institution(SQLModel, table=True):
    """One institution complained about, as a group of the ways it is written: every ticket whose
    name has this normalised `key` (bot.tickets.institutions.name_key) points here. An admin's
    merge sets `merged_into` to the group it joins (always a group that is merged nowhere, so one
    hop resolves any group); undoing it (拆分) clears it again."""

    id: Optional[int] = Field(default=None, primary_key=True)
    key: str = Field(index=True, unique=True, max_length=200, description="the name's normalised key: 阳光")
    name: str = Field(max_length=200, description="the name as first written, shown for the group")
    created_at: datetime = Field(default_factory=utcnow)
    merged_into: Optional[int] = Field(default=None, index=True, description="Institution.id it was merged into")


class InstitutionEvent(SQLModel, table=True):
    """The audit of the groups: who merged or split which, when (a merge's undo is a split)."""

    id: Optional[int] = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=utcnow, index=True)
    actor: str = Field(max_length=100)
    action: str = Field(max_length=20, description="merged | split")
    institution_id: int = Field(index=True, description="the group merged in, or split out")
    other_id: int = Field(description="the group it joined, or left")
    detail: str = Field("", sa_column=Column(Text))
