"""Customer-service pushes: answers that missed the 5-second passive-reply window.

WeChat refuses a push outside the 48-hour window after the follower's last message (45015) or
over the per-follower quota (45047); a network error or a missing AppSecret are no better. In
every such case the text is kept in `PendingPush` (the database, so any worker can deliver it)
and sent when the follower next writes, which reopens the window and resets the quota.
Besides, `retry_due` (run every POLICYBOT_PUSH_RETRY_SECONDS by `push_retry`) retries kept
pushes of followers whose 48-hour window is still open — a quota or network refusal is
temporary; a 45015 one is not, it waits for the follower's next message. Every send claims its
row first (compare-and-set on `claimed_at`), so two workers never send the same message twice.
Token expiry (40001/42001) is handled by the client (refresh once, retry once).
A ticket's notice (issue 12) may come with a template message: outside the window — known from
the follower's last message, or from WeChat's 45015 — that goes instead, and the text is kept
only if the template is refused too. A kept text names its ticket, whose timeline then says
when it finally went out.
"""
from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any, Callable, NamedTuple, Optional

from sqlalchemy import and_, bindparam, or_, update
from sqlmodel import select
from wechatpy.exceptions import WeChatClientException

from bot import metrics
from bot.tickets import delivery as ticket_delivery
from bot.wechat import client as wx
from core.config import Settings
from core.pii import mask_openid
from storage.db import session_scope
from storage.models import Follower, PendingPush, utcnow

log = logging.getLogger("policybot.wechat")

OUTSIDE_WINDOW = 45015
SIMULATOR_PREFIX = "sim_"  # the simulator page's followers (bot/wechat/routes.py)
CLAIM_TIMEOUT = timedelta(seconds=60)


WINDOW = timedelta(hours=48)  # customer-service messages are allowed this long after the follower's last message

mask = mask_openid


def _try_send(settings: Settings, openid: str, text: str) -> str | None:
    """Send now; None on success, else a short error label to keep with the pending text
    (counted in /metrics as policybot_push_failures_total{reason})."""
    return _attempt(settings, openid, lambda: wx.send_text(settings, openid, text))[1]


def _attempt(settings: Settings, openid: str, call: Callable[[], Any]) -> tuple[Any, str | None]:
    """(the call's result, None), or (None, a short error label) — never raises."""
    if not wx.configured(settings):
        log.warning("push to %s kept: WECHAT_APPID/WECHAT_SECRET not set", mask(openid))
        error = "no-credentials"
    else:
        try:
            return call(), None
        except WeChatClientException as exc:
            log.warning("push to %s refused: %s %s", mask(openid), exc.errcode, exc.errmsg)
            error = str(exc.errcode or "http")
        except Exception as exc:  # network errors: keep the message, never lose it
            log.warning("push to %s failed: %r", mask(openid), exc)
            error = type(exc).__name__
    metrics.push_failed(error)
    return None, error


class Pushed(NamedTuple):
    """What became of one push: `delivered` now, or kept with WeChat's `error` code ("45015"),
    "no-credentials" or the network error's name. True only when delivered (as `push` returned
    before it said why), so callers that only ask "delivered?" still read it as a bool."""

    delivered: bool
    error: Optional[str] = None
    kept: bool = False  # kept in PendingPush for the follower's next message
    via: str = "custom"  # "template": a template message went instead of the text
    msgid: Optional[str] = None  # the template message's id at WeChat
    template_error: Optional[str] = None  # the template message was refused too (its code)

    def __bool__(self) -> bool:
        return self.delivered


def outside_window(settings: Settings, openid: str) -> bool:
    """The follower's last message is older than 48 hours (unknown follower: not known to be)."""
    with session_scope(settings.db_url) as s:
        return s.exec(select(Follower.openid).where(
            Follower.openid == openid, Follower.last_seen_at < utcnow() - WINDOW)).first() is not None


def _send_template(settings: Settings, openid: str, template: Any) -> Pushed:
    msgid, error = _attempt(settings, openid, lambda: wx.send_template(
        settings, openid, template.template_id, template.data, template.url))
    return Pushed(True, via="template", msgid=msgid) if error is None else Pushed(False, error)


def push(settings: Settings, openid: str, text: str, *, ticket_id: Optional[int] = None,
         template: Any = None) -> Pushed:
    """Push `text` now, or keep it for the follower's next message; the outcome says which and
    why. Also the carrier of a ticket's `FollowerNotice` (`tickets.deliver(…, push)`, whose
    timeline then tells the real outcome): outside the 48-hour window its `template`
    (a bot.tickets.template.TemplateMessage) goes instead when one is configured.
    Synchronous (wechatpy): call it from a worker thread, never on the event loop."""
    template_error = None
    if template is not None and outside_window(settings, openid):
        error = str(OUTSIDE_WINDOW)  # known from the last message: no customer-service attempt
    else:
        error = _try_send(settings, openid, text)
        if error is None:
            return Pushed(True)
    if template is not None and error == str(OUTSIDE_WINDOW):
        sent = _send_template(settings, openid, template)
        if sent:
            return sent
        template_error = sent.error
    with session_scope(settings.db_url) as s:
        s.add(PendingPush(openid=openid, text=text, last_error=error, attempts=1, ticket_id=ticket_id))
    if error == "no-credentials" and settings.simulator_enabled and openid.startswith(SIMULATOR_PREFIX):
        error = "simulator"  # the simulator page fetches kept texts at once (take_pending)
    return Pushed(False, error, kept=True, template_error=template_error)


def _claim(settings: Settings, item_id: int) -> bool:
    """Mark a pending push as being sent by this worker; False if another worker has it."""
    now = utcnow()
    with session_scope(settings.db_url) as s:
        res = s.exec(
            update(PendingPush)
            .where(PendingPush.id == item_id, PendingPush.delivered_at.is_(None),
                   or_(PendingPush.claimed_at.is_(None), PendingPush.claimed_at < now - CLAIM_TIMEOUT))
            .values(claimed_at=now)
        )
        return res.rowcount == 1


_NEWEST_KEPT = select(PendingPush.id).where(
    and_(PendingPush.openid == bindparam("openid"), PendingPush.delivered_at.is_(None))
).order_by(PendingPush.id.desc()).limit(1)


def newest_kept(session, openid: str) -> int | None:
    """The id of this follower's newest kept message (None: nothing kept), in `session`'s
    transaction (the inbox runs it inside its claim's). One statement built once, run as Core
    on the session's connection: it is on every /wechat request."""
    return session.connection().execute(_NEWEST_KEPT, {"openid": openid}).scalar()


def last_pending(settings: Settings, openid: str) -> int | None:
    """The id of this follower's newest kept message, or None when nothing is kept."""
    with session_scope(settings.db_url) as s:
        return newest_kept(s, openid)


def deliver_pending(settings: Settings, openid: str, up_to: int | None = None, sweep: bool = False) -> int:
    """Send this follower's kept messages (up to id `up_to`), oldest first; returns how many
    went out. The bound keeps a push refused during this very turn for the next one.
    `sweep` (the periodic retry): stop at a message refused with 45015 — only the follower's
    next message reopens that window — and at one another worker is sending (keeps the order)."""
    with session_scope(settings.db_url) as s:
        query = select(PendingPush).where(PendingPush.openid == openid, PendingPush.delivered_at.is_(None))
        if up_to is not None:
            query = query.where(PendingPush.id <= up_to)
        items = s.exec(query.order_by(PendingPush.id)).all()
    sent = 0
    for item in items:
        if sweep and item.last_error == str(OUTSIDE_WINDOW):
            break
        if not _claim(settings, item.id):
            if sweep:
                break
            continue
        error = _try_send(settings, openid, item.text)
        with session_scope(settings.db_url) as s:
            row = s.get(PendingPush, item.id)
            row.attempts += 1
            row.claimed_at = None
            if error is None:
                row.delivered_at = utcnow()
                sent += 1
            else:
                row.last_error = error
        if error is not None:
            break  # keep the order: later ones wait behind the first that failed
        if item.ticket_id is not None:
            ticket_delivery.delivered_later(settings, item.ticket_id, on_next_message=not sweep)
    return sent


def retry_due(settings: Settings) -> int:
    """One sweep of the periodic retry: kept pushes of followers who wrote within 48 hours
    (the window is open, so WeChat may accept them now). Returns how many went out."""
    if not wx.configured(settings):
        return 0
    with session_scope(settings.db_url) as s:
        openids = s.exec(
            select(PendingPush.openid).join(Follower, Follower.openid == PendingPush.openid)
            .where(PendingPush.delivered_at.is_(None), Follower.last_seen_at > utcnow() - WINDOW)
            .distinct()
        ).all()
    return sum(deliver_pending(settings, openid, sweep=True) for openid in openids)


def take_pending(settings: Settings, openid: str) -> list[str]:
    """Hand over this follower's kept messages to another carrier (the simulator page)."""
    with session_scope(settings.db_url) as s:
        items = s.exec(select(PendingPush).where(
            PendingPush.openid == openid, PendingPush.delivered_at.is_(None)
        ).order_by(PendingPush.id)).all()
    texts = []
    for item in items:
        if _claim(settings, item.id):
            with session_scope(settings.db_url) as s:
                row = s.get(PendingPush, item.id)
                row.delivered_at = utcnow()
            texts.append(item.text)
    return texts
