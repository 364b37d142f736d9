"""What a follower says about complaints: the form's completion action, "进度", the 回访 rating.

The complaint form itself is data on the forms engine; this module is the glue between the
dialog (a `Turn`) and the lifecycle in `bot.tickets`. `register` hands the dialog these
handlers at start-up (called from bot/dialog/wiring.py): `file_from_form` as the form's
completion action `file_complaint`, the 进度 command, the QUERY_PROGRESS menu key and the
回访 rating hook. This module does not import the router.
"""
from __future__ import annotations

import re
from typing import TYPE_CHECKING, Optional

from bot import tickets
from bot.evidence import fetch_after_commit
from bot.routing import load_routing
from core.config import Settings
from core.turn import Turn
from core.pii import MOBILE
from forms.state import Filled

if TYPE_CHECKING:
    from bot.dialog.registry import Registry


def file_from_form(done: Filled, turn: Turn) -> str:
    """The complaint form's completion action: write the ticket into the turn's transaction.

    The dialog (`bot.dialog.handle`) commits the ticket, the form state the engine clears after
    this returns, and the de-dup record's reply together, and only then is the reply sent: so
    the ticket is in the database before any reply, and a crash files either everything or
    nothing (the follower then confirms again and gets exactly one ticket). If writing fails the
    whole turn is rolled back, so no half-written ticket is committed with the kept answers.
    Photos are fetched only after the commit (the fetching thread must see the ticket).
    """
    complaint = complaint_from_answers(turn.settings, done.values, done.labels)
    msg_id = turn.inbound.msg_id
    key = f"{turn.follower.openid}:{msg_id}" if msg_id else None
    try:
        ticket = tickets.file_complaint(turn.session, turn.settings, turn.follower.openid, complaint,
                                        intake_key=key)
        reply = tickets.filed_message(turn.settings, ticket)
    except Exception:
        turn.session.rollback()  # the engine keeps the answers; nothing of this ticket survives
        raise
    if complaint.evidence:
        fetch_after_commit(turn.session, turn.settings, ticket.id)
    return reply


def complaint_from_answers(settings: Settings, values: dict, labels: dict) -> tickets.NewComplaint:
    """The complaint form's answers (`labels`: how they were shown, e.g. "其他地区（郑州）") as a
    NewComplaint, its region placed by the routing rules. The chat's form and the work-order API
    (bot.tickets_api, answers checked by the same slot parsers) both file through this."""
    routing = load_routing(settings)
    place = str(values.get("place", ""))
    chosen = values.get("region")
    region = chosen if chosen in routing.region_names and chosen != routing.fallback_region else (
        routing.match_region(place) or routing.match_region(labels.get("region", "")))
    phone = values.get("phone") if values.get("contact") == "phone" else None
    if phone and not MOBILE.fullmatch(str(phone)):
        phone = None
    return tickets.NewComplaint(
        institution=str(values.get("institution", "")),
        category=str(values.get("category", "其他")),
        happened=str(values.get("when", "")),
        place=f"{labels.get('region', '')} {place}".strip(),
        description=str(values.get("description", "")),
        phone=phone,
        evidence=[e for e in (values.get("evidence") or []) if isinstance(e, dict)],
        region=region,
    )


def progress_command(turn: Turn, match: "re.Match[str]") -> str:
    """'进度 TS20261121-123456' → status and last reply (the filer only); '进度' → own list."""
    number = (match.groupdict().get("number") or "").strip()
    if not number:
        return tickets.own_tickets_text(turn.session, turn.follower.openid)
    return tickets.progress_text(turn.session, turn.settings, turn.follower.openid, number)


def progress_key(turn: Turn) -> str:
    """Menu key QUERY_PROGRESS: the follower's own complaints, or how to file one."""
    return tickets.own_tickets_text(turn.session, turn.follower.openid)


def rating_hook(turn: Turn, text: str) -> Optional[str]:
    """Before the menu digits: a bare 1–5 after a 回访 question is the rating."""
    return tickets.rating_hook(turn.session, turn.follower.openid, text)


def register(dialog: "Registry") -> None:
    """The complaint desk's part of the dialog."""
    dialog.form_action("file_complaint", file_from_form)
    dialog.command(r"^(进度|查进度|查询进度|投诉进度|进度查询)\s*[:：]?\s*(?P<number>[a-z0-9-]*)$",
                   progress_command, label="查询投诉进度")
    dialog.key("QUERY_PROGRESS", progress_key)
    dialog.hook(rating_hook)
