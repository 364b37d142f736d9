"""A follower's short-lived values (`KeyValue` rows "<prefix>:<openid>"), read once per turn.

Why: the chat keeps a few things per follower between messages in the database, so that any
worker can take the next message — the numbered choices on offer (bot/choices.py), the last
answer and the 没用 offer (bot/feedback.py). Each module looked its own rows up with a primary-key
SELECT, and a row that is absent (most of the time) cannot be remembered by the session, so a
question turn asked four times. Here every declared prefix is read in one SELECT when the
router loads the follower (`load`, bot/dialog/router.py), into `Turn.values`; `get`, `put` and
`drop` work on that, inside the turn's own session, so the writes still commit with the reply.
Nothing is kept beyond the turn.
"""
from __future__ import annotations

from datetime import timedelta
from typing import Optional

from sqlmodel import select

from core.turn import Turn
from storage.models import KeyValue, utcnow

PREFIXES: list[str] = []


def declare(prefix: str) -> str:
    """A per-follower value kind ("choices"), read with the follower from now on."""
    if prefix not in PREFIXES:
        PREFIXES.append(prefix)
    return prefix


def key(prefix: str, openid: str) -> str:
    return f"{prefix}:{openid}"


def load(session, openid: str) -> dict[str, Optional[KeyValue]]:
    """Every declared value of this follower (None for the absent ones), in one SELECT."""
    keys = [key(p, openid) for p in PREFIXES]
    found = {row.key: row for row in session.exec(select(KeyValue).where(KeyValue.key.in_(keys)))} if keys else {}
    return {k: found.get(k) for k in keys}


def get(turn: Turn, prefix: str) -> Optional[KeyValue]:
    """The row (expired or not), unless it is absent or was dropped earlier in this turn."""
    k = key(prefix, turn.follower.openid)
    row = turn.values[k] if k in turn.values else turn.session.get(KeyValue, k)
    return None if row is None or row in turn.session.deleted else row


def put(turn: Turn, prefix: str, value: str, ttl: timedelta) -> None:
    now = utcnow()
    row = get(turn, prefix)
    if row is None:
        row = KeyValue(key=key(prefix, turn.follower.openid), value=value, expires_at=now + ttl)
        turn.session.add(row)
        turn.values[row.key] = row
    else:
        row.value, row.expires_at, row.updated_at = value, now + ttl, now


def drop(turn: Turn, prefix: str) -> Optional[KeyValue]:
    """Delete the row (if any) with the turn; returns what it was."""
    row = get(turn, prefix)
    if row is not None:
        turn.session.delete(row)
    return row


def live(row: Optional[KeyValue]) -> bool:
    """The row is there and has not expired."""
    return row is not None and row.expires_at is not None and row.expires_at > utcnow()
