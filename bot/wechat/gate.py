"""Who may call /wechat, and how often one signed URL works.

Why: in plain mode the platform's signature covers only token, timestamp and nonce — not the
body. A signed URL that leaked (an access log, a proxy's log) would otherwise carry any message
as any follower. protocol.fresh bounds a URL's life to WECHAT_MAX_AGE seconds; this module makes
it carry one message only, and keeps out addresses that are not WeChat's:

- `allowed`: the caller (bot.web.client_ip: X-Forwarded-For only from POLICYBOT_TRUSTED_PROXIES)
  must be in WECHAT_ALLOWED_IPS when that list is set;
- `signed` + `record`: the first accepted request with a signature/timestamp/nonce records it,
  with its body's hash, in the database (`SignedRequest`), so every worker knows. The same
  request again — WeChat's own retry, or an identical replay — passes on to the de-duplication,
  which answers it with the stored reply and never handles it twice; a different body under a
  used signature is refused. Only a request that was fully opened (signatures, decryption, XML)
  is recorded, so a broken one does not use up the pair. The record is written inside the
  de-dup claim's transaction (bot.wechat.inbox.claim: one transaction and one worker-thread
  hop fewer on every request), so a message is never handled without its pair recorded: while
  the database is busy or down the claim is retried or the follower asked to send again, as for
  any message.
"""
from __future__ import annotations

import hashlib
import logging
import random
from datetime import timedelta
from typing import NamedTuple

from fastapi import Request
from sqlalchemy import bindparam, delete, select
from sqlmodel import Session

from bot import web
from bot.wechat.protocol import Rejected
from core.config import Settings
from storage.db import insert_row, session_scope
from storage.models import SignedRequest, utcnow

log = logging.getLogger("policybot.wechat")

KEEP_WITHOUT_MAX_AGE = timedelta(days=1)  # WECHAT_MAX_AGE=0: no bound, keep a day of pairs


def allowed(settings: Settings, request: Request) -> None:
    nets = settings.wechat.allowed_networks
    if nets and not web.ip_allowed(web.client_ip(request, settings), nets):
        raise Rejected(403, "来源地址不在 WECHAT_ALLOWED_IPS 允许的范围内")


def _digest(*parts: str | bytes) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(part if isinstance(part, bytes) else part.encode("utf-8", "replace"))
        h.update(b"\n")
    return h.hexdigest()


class Signed(NamedTuple):
    """A request's signature/timestamp/nonce (hashed: the key) and its body's hash."""
    key: str
    body_sha256: str


def signed(params: dict, body: bytes) -> Signed:
    signature = params.get("signature") or params.get("msg_signature") or ""
    return Signed(_digest(signature, params.get("timestamp", ""), params.get("nonce", "")), _digest(body))


_SEEN = select(SignedRequest.body_sha256).where(SignedRequest.key == bindparam("key"))


def record(session: Session, request: Signed) -> None:
    """Record this signed request in `session`'s transaction; refuse (Rejected 403) a different
    body under a signature already used. ON CONFLICT DO NOTHING: a racing first use of the same
    pair on another worker is waited for (PostgreSQL) and then compared like any earlier one."""
    if insert_row(session, SignedRequest, skip_duplicate=True, key=request.key,
                  body_sha256=request.body_sha256):
        return
    seen = session.connection().execute(_SEEN, {"key": request.key}).scalar()
    if seen is not None and seen != request.body_sha256:
        log.warning("/wechat: a used signature came back with another body (replay); refused")
        raise Rejected(403, "该签名已使用过：重放的请求不予受理")


def forget_now_and_then(settings: Settings) -> None:
    if random.random() < 0.01:
        _forget_old(settings)


def _forget_old(settings: Settings) -> None:
    """Pairs whose timestamp can no longer pass protocol.fresh need not be kept: a pair is
    recorded at the earliest max_age before its timestamp (clock skew) and fails the age check
    from max_age after it — so 2 × max_age after being recorded it is refused anyway."""
    keep = timedelta(seconds=2 * settings.wechat.max_age) if settings.wechat.max_age > 0 else KEEP_WITHOUT_MAX_AGE
    try:
        with session_scope(settings.db_url) as s:
            s.exec(delete(SignedRequest).where(SignedRequest.seen_at < utcnow() - keep))
    except Exception:  # clean-up only: the next request tries again
        log.exception("forgetting old signed requests failed")
