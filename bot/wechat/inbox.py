"""Handle each WeChat message once, within WeChat's 5-second window.

Why: WeChat retries a message it got no answer to in 5 s (up to three times, possibly to another
worker), and gives up on a passive reply after 5 s. So:
- a message is claimed by inserting its de-dup key (primary key) before any work — the one
  worker whose insert succeeds handles it; a duplicate waits briefly for the stored reply, else
  answers "success";
- a claim whose handling died (its worker killed mid-turn) is taken over by a retry: a
  compare-and-set moves the row's claim time (`created_at`) to now, so of several retries on
  several workers exactly one wins. On PostgreSQL a live handling holds the row's lock for its
  whole turn (`dialog.handle`), and a worker's death releases it with its connection: a claim
  older than LIVENESS_GRACE whose row is not locked is dead, and a duplicate that is waiting
  for its reply takes it over at once. On SQLite (one host) a claim counts as dead once it is
  POLICYBOT_CLAIM_STALE_SECONDS old. The claim time is the fence: `dialog.handle` stores its
  reply only where the row still carries its own claim time, else the whole turn rolls back —
  a worker that was slow rather than dead cannot apply the same message a second time;
- the answer is computed in a worker thread; if it is ready within POLICYBOT_REPLY_DEADLINE the
  reply is passive, otherwise the request answers "success" and the answer is pushed through the
  customer-service API when ready (bot.wechat.push keeps it if WeChat refuses);
- whenever a follower writes, their kept pushes are retried (the window is open again);
- a database that is busy (SQLite's write lock held by an ingest, PostgreSQL restarting) is
  waited out for up to BUSY_RETRY_SECONDS: the claim and the turn are retried (a turn is one
  transaction, so a retry never applies it twice), the request meanwhile answers "success", and
  the reply is pushed when it is ready. A turn that still fails gets the apology, never silence.
  The one exception is a database that cannot be reached at all (PostgreSQL down or restarting)
  before the message could even be claimed: then nothing of it is stored anywhere, so at the
  deadline the follower gets DB_DOWN_APOLOGY ("please send it again") passively and the handling
  is called off — it never applies the message later behind the follower's back. An apology
  always means "not taken"; a claimed message is always answered, passively or by a push.
"""
from __future__ import annotations

import asyncio
import logging
import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import NamedTuple, Optional

from sqlalchemy import delete, update
from sqlmodel import select
from sqlalchemy.exc import OperationalError

from bot import dialog
from core.config import Settings
from core.pii import mask_openid
from core.turn import Inbound
from bot.wechat import gate, push
from bot.wechat.protocol import Rejected
from storage.db import insert_row, session_scope, unreachable
from storage.models import ProcessedMessage, utcnow

log = logging.getLogger("policybot.wechat")

APOLOGY = "抱歉，系统开小差了，请稍后再试。回复“菜单”查看我能做什么。"
DB_DOWN_APOLOGY = "抱歉，系统正在维护，这条消息没有收到，请过一分钟再发一次。"
LIVENESS_GRACE = timedelta(seconds=2)  # a claim this young may not have reached its turn yet
KEEP_KEYS = timedelta(days=3)  # WeChat retries within seconds; old keys are only clutter
BUSY_RETRY_SECONDS = 60.0

_executor = ThreadPoolExecutor(max_workers=32, thread_name_prefix="wechat-turn")


@dataclass
class Job:
    """What the request and the worker thread agree on: who delivers the reply."""
    lock: threading.Lock = field(default_factory=threading.Lock)
    finished: bool = False
    reply: Optional[str] = None
    abandoned: bool = False  # the request gave up waiting: the worker must push
    owner: bool = False  # this request claimed the message (not a duplicate)
    unreachable: bool = False  # the database could not be reached while claiming
    called_off: bool = False  # the request answered DB_DOWN_APOLOGY: never handle this message
    refused: Optional[Rejected] = None  # a replay (bot.wechat.gate): the request answers 403


class CalledOff(Exception):
    """The request has told the follower to send the message again: stop trying to claim it."""


def shown(key: str) -> str:
    """The de-dup key for a log line: every key carries the sender's openid."""
    kind, _, rest = key.partition(":")
    if kind not in ("evt", "msg") or ":" not in rest:
        return key
    openid, _, tail = rest.partition(":")
    return f"{kind}:{mask_openid(openid)}:{tail}"


class Claimed(NamedTuple):
    """This request owns the message: its claim time (pass it on to `dialog.handle`) and the id
    of the follower's newest kept push (None: nothing kept), looked up in the claim's own
    transaction — the follower wrote, so the window is open again for those."""
    at: datetime
    kept: Optional[int]


def claim(settings: Settings, key: str, openid: str, signed: Optional[gate.Signed] = None) -> Optional[Claimed]:
    """Record the signed request (`signed`: bot.wechat.gate, whose Rejected refuses a replay) and
    insert the de-dup key in one transaction, or take over a stale claim; None for a duplicate.
    The key goes in with ON CONFLICT DO NOTHING, so a duplicate's signed request is kept too."""
    now = utcnow()
    with session_scope(settings.db_url) as s:
        if signed is not None:
            gate.record(s, signed)
        fresh = insert_row(s, ProcessedMessage, skip_duplicate=True, key=key, openid=openid, created_at=now)
        kept = push.newest_kept(s, openid) if fresh else None
    if signed is not None:
        gate.forget_now_and_then(settings)
    if not fresh:
        claimed_at = take_over(settings, key)
        return None if claimed_at is None else Claimed(claimed_at, _kept(settings, openid))
    if random.random() < 0.002:
        with session_scope(settings.db_url) as s:
            s.exec(delete(ProcessedMessage).where(ProcessedMessage.created_at < utcnow() - KEEP_KEYS))
    return Claimed(now, kept)


def _kept(settings: Settings, openid: str) -> Optional[int]:
    """The newest kept push for a handling that took a message over (its own look-up)."""
    try:
        return push.last_pending(settings, openid)
    except Exception:
        log.exception("looking up kept pushes failed")
        return None


def take_over(settings: Settings, key: str) -> Optional[datetime]:
    """Compare-and-set: claim a message whose first handling died. The UPDATE's WHERE (still
    processing, claimed before the limit) is checked by the database per row, so of concurrent
    retries on any number of workers only one sees rowcount 1. On PostgreSQL the limit is
    LIVENESS_GRACE when no live handling holds the row's lock (SKIP LOCKED finds it free), and
    a locked row is never taken: its handling is alive, however slow."""
    now = utcnow()
    stale_before = now - timedelta(seconds=settings.claim_stale_after)
    with session_scope(settings.db_url) as s:
        if s.get_bind().dialect.name == "postgresql":
            free = s.exec(select(ProcessedMessage.key)
                          .where(ProcessedMessage.key == key, ProcessedMessage.status == "processing")
                          .with_for_update(skip_locked=True)).first()
            if free is None:  # done, or its handling is alive inside its turn
                return None
            stale_before = now - LIVENESS_GRACE
        moved = s.exec(
            update(ProcessedMessage)
            .where(ProcessedMessage.key == key, ProcessedMessage.status == "processing",
                   ProcessedMessage.created_at < stale_before)
            .values(created_at=now, delivery=None)
        ).rowcount
    if moved != 1:
        return None
    log.warning("message %s: its first handling never finished; a retry takes it over", shown(key))
    return now


def stored_reply(settings: Settings, key: str, wait: float) -> tuple[Optional[str], Optional[datetime]]:
    """For a duplicate: (the first handling's reply once stored — None if pushed —, None); or
    (None, the claim time) when that handling is found dead meanwhile and this one takes the
    message over; (None, None) when neither happened in `wait` seconds."""
    until = time.monotonic() + wait
    while True:
        with session_scope(settings.db_url) as s:
            row = s.get(ProcessedMessage, key)
            if row is not None and row.status == "done":
                return (None if row.delivery == "push" else row.reply), None
        claimed_at = take_over(settings, key)
        if claimed_at is not None:
            return None, claimed_at
        if time.monotonic() >= until:
            return None, None
        time.sleep(0.2)


def own_reply(settings: Settings, key: str, claimed_at: datetime) -> Optional[str]:
    """The reply this handling stored itself, when its commit went through although the
    connection broke before it was confirmed (a retried turn then finds the row done)."""
    with session_scope(settings.db_url) as s:
        row = s.get(ProcessedMessage, key)
        if row is not None and row.status == "done" and row.created_at == claimed_at:
            return row.reply
    return None


def mark_pushed(settings: Settings, key: str) -> None:
    with session_scope(settings.db_url) as s:
        s.exec(update(ProcessedMessage).where(ProcessedMessage.key == key).values(delivery="push"))


def _store_apology(settings: Settings, key: str, claimed_at: datetime, text: str = APOLOGY) -> None:
    """The failed turn's answer, stored for retries (only while the claim is still ours)."""
    try:
        with session_scope(settings.db_url) as s:
            s.exec(update(ProcessedMessage)
                   .where(ProcessedMessage.key == key, ProcessedMessage.status == "processing",
                          ProcessedMessage.created_at == claimed_at)
                   .values(status="done", reply=text, finished_at=utcnow()))
    except Exception:
        log.exception("storing the apology for %s failed", shown(key))


def _while_busy(call, *args, job: Optional[Job] = None, **kwargs):
    """`call(*args, **kwargs)`, retried with backoff while the database is busy or unreachable.
    With `job` (the claim): an unreachable database is noted on it, and a request that has
    called the message off stops the retries (CalledOff)."""
    deadline = time.monotonic() + BUSY_RETRY_SECONDS
    pause = 0.05
    while True:
        try:
            return call(*args, **kwargs)
        except OperationalError as exc:
            if job is not None:
                with job.lock:
                    job.unreachable = job.unreachable or unreachable(exc)
                    if job.called_off:
                        raise CalledOff() from exc
            if time.monotonic() + pause > deadline:
                raise
            log.warning("database busy (%s); retrying in %.2f s", type(exc.orig).__name__, pause)
            time.sleep(pause)
            pause = min(pause * 2, 2.0)


def _work(settings: Settings, kb, inbound: Inbound, key: str, job: Job,
          signed: Optional[gate.Signed] = None) -> Optional[str]:
    """The whole handling of one message in a worker thread; never raises (a failure is logged
    and answered with the apology; a replay is noted on the job and never handled)."""
    try:
        return _handle_claimed(settings, kb, inbound, key, job, signed)
    except Rejected as r:
        with job.lock:
            job.finished, job.refused = True, r
        return None
    except CalledOff:
        log.warning("message %s: database unreachable; the follower was asked to send it again", shown(key))
        return DB_DOWN_APOLOGY
    except Exception:
        log.exception("handling %s failed", shown(key))
        with job.lock:
            job.finished, job.reply = True, APOLOGY
            abandoned = job.abandoned
        if abandoned:
            try:
                push.push(settings, inbound.openid, APOLOGY)
            except Exception:
                log.exception("pushing the apology to %s failed", shown(key))
        return APOLOGY


def _handle_claimed(settings: Settings, kb, inbound: Inbound, key: str, job: Job,
                    signed: Optional[gate.Signed]) -> Optional[str]:
    claimed = _while_busy(claim, settings, key, inbound.openid, signed, job=job)
    if claimed is None:
        reply, claimed_at = stored_reply(settings, key, settings.reply_deadline)
        if claimed_at is None:
            with job.lock:
                job.finished, job.reply = True, reply
            return reply
        claimed = Claimed(claimed_at, _kept(settings, inbound.openid))
    claimed_at = claimed.at
    with job.lock:
        called_off = job.called_off
        job.owner = not called_off
        abandoned = job.abandoned
    if called_off:  # the claim got through after the follower was told to send it again
        _store_apology(settings, key, claimed_at, DB_DOWN_APOLOGY)
        return DB_DOWN_APOLOGY
    if abandoned:  # the request has already answered "success": retries must not get it passively
        _while_busy(mark_pushed, settings, key)
    if claimed.kept is not None:  # the follower wrote: the 48-hour window and the quota are open again
        _executor.submit(_deliver_pending, settings, inbound.openid, claimed.kept)
    try:
        reply = _while_busy(dialog.handle, settings, kb, inbound, dedup_key=key, claimed_at=claimed_at)
    except dialog.ClaimLost:  # a retry took this message over: its handling answers, not ours
        reply = own_reply(settings, key, claimed_at)  # ... unless our own commit did go through
        if reply is None:
            log.warning("message %s: taken over by a retry; this handling is dropped", shown(key))
            with job.lock:
                job.finished, job.reply = True, None
            return None
    except Exception:
        log.exception("dialog failed for %s", shown(key))
        reply = APOLOGY
        _store_apology(settings, key, claimed_at)
    with job.lock:
        job.finished, job.reply = True, reply
        abandoned = job.abandoned
    if abandoned and reply:
        try:
            _while_busy(mark_pushed, settings, key)
            push.push(settings, inbound.openid, reply)
        except Exception:
            log.exception("pushing the reply to %s failed", shown(key))
    return reply


def _deliver_pending(settings: Settings, openid: str, up_to: int) -> None:
    try:
        push.deliver_pending(settings, openid, up_to)
    except Exception:
        log.exception("delivering kept pushes failed")


async def respond(settings: Settings, kb, inbound: Inbound, key: str,
                  signed: Optional[gate.Signed] = None) -> Optional[str]:
    """The passive reply text, or None for "success" (duplicate, or pushed later). Raises
    Rejected for a replay found while the request waits (one found later is dropped unhandled)."""
    loop = asyncio.get_running_loop()
    job = Job()
    if settings.reply_deadline <= 0:  # no passive replies at all: everything is pushed
        job.abandoned = True
        loop.run_in_executor(_executor, _work, settings, kb, inbound, key, job, signed)
        return None
    future = loop.run_in_executor(_executor, _work, settings, kb, inbound, key, job, signed)
    try:
        reply = await asyncio.wait_for(asyncio.shield(future), timeout=settings.reply_deadline)
    except asyncio.TimeoutError:
        with job.lock:
            if job.finished:
                if job.refused is not None:
                    raise job.refused
                return job.reply
            if not job.owner and job.unreachable:  # nothing stored: ask for the message again
                job.called_off = True
                return DB_DOWN_APOLOGY
            job.abandoned = True
            owner = job.owner
        if owner:  # tell retries now that this one goes out as a push
            loop.run_in_executor(_executor, mark_pushed, settings, key)
        return None
    if job.refused is not None:
        raise job.refused
    return reply
