"""The dialog router: one inbound message in, one reply text out, per follower, state in the DB.

Why a router separate from the WeChat layer: the protocol (signatures, XML, retries, the
5-second deadline) and the conversation change for different reasons; the simulator and tests
reach the same router through the real protocol. This module holds only the order in which a
message is tried and the turn's transaction; what each step says lives in its own module.

Order of a text turn: an active form sees the message first (it handles its own 取消) → an
open thread (a registered one: the complaint thread takes texts and photos for a ticket until
取消, a menu word or click, another labelled command or a form trigger ends it) → the
hooks before the menu (the registered ones, e.g. a 回访 rating; then a digit picking one of an
answer's choices) → 更多 → a menu digit → the commands (`commands.COMMANDS`, then the
registered ones) → a form trigger phrase → Q&A with the follower's region. A long reply is cut
into ≤ 2048-byte parts (bot/dialog/paging.py); the rest waits in `Follower.more_pages`.
"""
from __future__ import annotations

import logging
import re
from datetime import datetime
from typing import Optional

from sqlalchemy import bindparam, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import select

from bot import choices, turn_values
from bot.dialog import commands, menu, region, wiring
from bot.dialog.answers import answer_question, pick_choice
from bot.dialog.formflow import NOT_READY, Replay, command_label, continue_form, match_form, start_form
from bot.dialog.paging import MORE_WORDS, page_reply, show_more
from bot.dialog.registry import REGISTRY, RunKey
from core.config import Settings
from core.turn import Inbound, Turn
from storage import follower_row
from storage.db import insert_row, session_scope
from storage.models import Follower, ProcessedMessage, utcnow

log = logging.getLogger("policybot.dialog")

CANCEL = re.compile(rf"^({commands.CANCEL_WORDS})$")
MENU_WORD = re.compile(rf"^({commands.MENU_WORDS})$")
UNSUPPORTED = {
    "video": "视频",
    "shortvideo": "小视频",
    "file": "文件",
    "link": "链接",
    "miniprogrampage": "小程序",
}


def run_key(turn: Turn, key: str) -> str:
    """A menu key (click event or menu digit): a key action, else a form."""
    choices.offer(turn, [])  # a new request: digits select the menu again
    action = menu.KEY_ACTIONS.get(key) or REGISTRY.keys.get(key)
    if action is not None:
        return action(turn)
    name = match_form(key)
    if name:
        return start_form(turn, name)
    return NOT_READY + menu.menu_text()


def before_menu(turn: Turn, norm: str) -> Optional[str]:
    """The hooks checked before 更多 and the menu digits: the registered ones (a 回访 question,
    "回复 1–5", makes the next bare digit a rating), then, while an answer's choices are on
    offer, a digit picking one of them (bot/choices.py). A hook may answer with a menu key
    to run (`RunKey`: 没用's "1" opens the complaint form)."""
    for hook in (*REGISTRY.hooks, pick_choice):
        try:
            reply = hook(turn, norm)
        except Exception:  # a broken hook must not take every message down with it
            log.exception("dialog hook %s failed", getattr(hook, "__qualname__", hook))
            reply = None
        if isinstance(reply, RunKey):
            return run_key(turn, reply.key)
        if reply is not None:
            return reply
    return None


def way_out(text: str) -> Optional[str]:
    """What a text says to an open thread: "cancel" (取消…), "exit" (a menu word, a labelled
    command such as 进度 or 补充, a form's trigger phrase), or None — the text may be the
    thread's (greetings, thanks, digits and 我在… too: they may answer the question asked)."""
    norm = commands.normalise(text)
    if CANCEL.match(norm):
        return "cancel"
    if MENU_WORD.match(norm) or command_label(text) or match_form(text.strip()):
        return "exit"
    return None


def in_thread(turn: Turn, way: Optional[str]) -> Optional[str]:
    """The open thread's reply to this message (registered threads, e.g. bot/complaint_thread.py),
    or None: no thread, or the message ended it and goes on."""
    for thread in REGISTRY.threads:
        try:
            reply = thread(turn, way)
        except Exception:  # a broken thread must not take every message down with it
            log.exception("dialog thread %s failed", getattr(thread, "__qualname__", thread))
            reply = None
        if reply is not None:
            return reply
    return None


def _in_form(turn: Turn):
    """The active form's reply; None when there is no form or the message is not the form's; a
    `Replay` when the follower dropped the form for another command."""
    return continue_form(turn) if turn.follower.form_state else None


def route_text(turn: Turn, text: str) -> str:
    reply = _in_form(turn)
    if isinstance(reply, Replay):  # the form was given up for the message kept when it asked
        return reply.note + "\n\n" + _route_free_text(turn, reply.text)
    if reply is not None:
        return reply
    reply = in_thread(turn, way_out(text))
    if reply is not None:
        return reply
    return _route_free_text(turn, text)


def _route_free_text(turn: Turn, text: str) -> str:
    """A text with no form active (any more)."""
    norm = commands.normalise(text)
    if not norm:
        return "请用文字告诉我您的问题。\n\n" + menu.menu_text()
    reply = before_menu(turn, norm)
    if reply is not None:
        return reply
    if norm in MORE_WORDS:
        return show_more(turn)
    if norm.isdigit():
        n = int(norm)
        if 1 <= n <= len(menu.MENU):
            return run_key(turn, menu.MENU[n - 1].key)
        return f"请回复 1 到 {len(menu.MENU)} 之间的数字。\n\n" + menu.menu_text()
    for command in (*commands.COMMANDS, *REGISTRY.commands):
        m = command.regex.match(norm)
        if m:
            reply = command.handler(turn, m)
            if reply is not None:
                return reply
    name = match_form(text.strip())
    if name:
        return start_form(turn, name)
    if not re.search(r"[\w\u4e00-\u9fff]", norm):
        return "收到～ 有什么政策问题，请直接用文字问我。回复“菜单”查看我能做什么。"
    return answer_question(turn, text.strip())


def route_event(turn: Turn) -> str:
    inbound = turn.inbound
    event = (inbound.event or "").lower()
    if event in ("subscribe", "subscribe_scan"):
        turn.follower.subscribed = True
        return menu.welcome_text()
    if event == "unsubscribe":
        turn.follower.subscribed = False
        return ""
    if event == "click":
        in_thread(turn, "exit")  # a menu click ends an open thread
        return run_key(turn, inbound.event_key or "")
    return ""  # view, location reports, scans of a follower, job-finished notices: no reply


def route(turn: Turn) -> str:
    inbound = turn.inbound
    kind = inbound.kind
    if kind == "event":
        return route_event(turn)
    if kind == "text":
        return route_text(turn, inbound.text)
    if kind == "voice":
        if inbound.text.strip():
            return route_text(turn, inbound.text)
        return "抱歉，没能听清这段语音。请打字发给我，或说得慢一点再试一次。"
    if kind == "image":
        reply = _in_form(turn)
        if isinstance(reply, str):
            return reply
        reply = in_thread(turn, None)
        if reply is not None:
            return reply
        return ("图片已收到，不过我只能看懂文字。\n"
                "如需投诉举报并上传证据照片，请先发送“我要投诉”；有政策问题请直接打字问我。")
    if kind == "location":
        return region.from_location(turn)
    what = UNSUPPORTED.get(kind, "这类消息")
    return f"收到{what}，不过我只能看懂文字。有政策问题请直接打字问我，回复“菜单”查看全部功能。"


# ---------------------------------------------------------------- entry point

def _follower(session, settings: Settings, openid: str) -> follower_row.FollowerState:
    """The follower's row, locked for the turn; a known follower costs this one SELECT. A first
    message creates the row (concurrent first messages race on the primary key) and reads it
    again, each statement seeing what is committed before it: on PostgreSQL inside the turn
    (ON CONFLICT DO NOTHING waits for a racing first message's turn; READ COMMITTED), on SQLite
    in a short transaction of its own — a write inside the turn would hold SQLite's one write
    lock for the whole turn (pysqlite reads outside a transaction until the first write). Core
    statements, no ORM object (storage/follower_row.py)."""
    follower = follower_row.lock(session, openid)
    if follower is not None:
        return follower
    if session.get_bind().dialect.name == "postgresql":
        insert_row(session, Follower, skip_duplicate=True, openid=openid)
        return follower_row.locked(session, openid)
    try:
        with session_scope(settings.db_url) as s:
            insert_row(s, Follower, openid=openid)
    except IntegrityError:
        pass
    return follower_row.locked(session, openid)


# the de-dup row locked for the turn: built once, run as Core (no ORM row is wanted back)
_LOCK_CLAIM = select(ProcessedMessage.key).where(ProcessedMessage.key == bindparam("key")).with_for_update()


class ClaimLost(Exception):
    """The de-dup record no longer carries this handling's claim time: a retry took the message
    over (bot.wechat.inbox.take_over). The turn is rolled back so the message is applied once."""


def handle(settings: Settings, kb, inbound: Inbound, dedup_key: Optional[str] = None,
           claimed_at: Optional[datetime] = None) -> str:
    """Handle one message; returns the reply text ("" for none).

    The follower's new state (with whatever a form's completion action wrote, e.g. a ticket) and
    the de-dup record's stored reply commit in one transaction, so a retry never sees a state
    change without its reply or the reverse. The reply is stored by compare-and-set on the
    record's claim time (`claimed_at`, from the inbox): if another handling took the message
    over, ClaimLost rolls everything back. On PostgreSQL the de-dup row and the follower row are
    locked for the turn: retries on other workers see the handling alive (bot.wechat.inbox
    take_over), and two quick messages from one person are handled in order.
    """
    wiring.wire()  # the parts' commands, keys, hooks and form actions (once per process)
    with session_scope(settings.db_url) as session:
        if dedup_key:  # held to the commit: on PostgreSQL the lock says "this handling is alive"
            session.connection().execute(_LOCK_CLAIM, {"key": dedup_key})
        follower = _follower(session, settings, inbound.openid)
        turn = Turn(inbound=inbound, follower=follower, session=session, settings=settings, kb=kb,
                    values=turn_values.load(session, inbound.openid))
        reply = route(turn) or ""
        if reply:
            reply = page_reply(turn, reply)
        turn_values.save(turn)
        follower.last_seen_at = utcnow()
        follower_row.save(session, follower)  # what the turn changed (JSON compared by value)
        if dedup_key:
            finish = update(ProcessedMessage).where(ProcessedMessage.key == dedup_key,
                                                    ProcessedMessage.status == "processing")
            if claimed_at is not None:
                finish = finish.where(ProcessedMessage.created_at == claimed_at)
            # a Core statement on the turn's connection: no ORM object stands for this row, so
            # the ORM's session synchronisation around the UPDATE was pure cost; the follower's
            # changes are flushed by the commit
            finish = finish.values(status="done", reply=reply, finished_at=utcnow())
            if session.connection().execute(finish).rowcount != 1:
                raise ClaimLost(dedup_key)
    return reply
