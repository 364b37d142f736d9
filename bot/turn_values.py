"""A follower's short-lived values (`KeyValue` rows "<prefix>:<openid>"), read once per turn.

Why: the chat keeps a few things per follower between messages in the database, so that any
worker can take the next message — the numbered choices on offer (bot/choices.py), the last
answer and the 没用 offer (bot/feedback.py). Each module looked its own rows up with a primary-key
SELECT, and a row that is absent (most of the time) cannot be remembered by the session, so a
question turn asked four times. Here every declared prefix is read in one SELECT when the
router loads the follower (`load`, bot/dialog/router.py), into `Turn.values`; `get`, `put` and
`drop` work on that, and `save` (the router, at the end of the turn) writes what changed inside
the turn's own transaction, so the writes still commit with the reply. Core statements built
once, not ORM rows: the unit of work around three small rows was a measurable part of every
turn (py-spy under benchmarks/bench_cluster.py). Nothing is kept beyond the turn.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Optional

from sqlalchemy import bindparam, delete, or_, select

from core.turn import Turn
from storage.models import KeyValue, utcnow

PREFIXES: list[str] = []
_TABLE = KeyValue.__table__
_DELETE = delete(_TABLE).where(_TABLE.c.key == bindparam("k"))
_reads: dict[int, object] = {}  # the SELECT of n keys, by n
_upserts: dict[str, object] = {}  # by dialect


@dataclass
class Kept:
    """One value as the turn sees it."""
    value: str
    expires_at: Optional[datetime]


def declare(prefix: str) -> str:
    """A per-follower value kind ("choices"), read with the follower from now on."""
    if prefix not in PREFIXES:
        PREFIXES.append(prefix)
    return prefix


def key(prefix: str, openid: str) -> str:
    return f"{prefix}:{openid}"


def _read(n: int):
    stmt = _reads.get(n)
    if stmt is None:
        stmt = _reads[n] = (select(_TABLE.c.key, _TABLE.c.value, _TABLE.c.expires_at)
                            .where(or_(*(_TABLE.c.key == bindparam(f"k{i}") for i in range(n)))))
    return stmt


def load(session, openid: str) -> dict[str, Optional[Kept]]:
    """Every declared value of this follower (None for the absent ones), in one SELECT."""
    keys = [key(p, openid) for p in PREFIXES]
    found = {}
    if keys:
        rows = session.connection().execute(_read(len(keys)), {f"k{i}": k for i, k in enumerate(keys)})
        found = {k: Kept(v, at) for k, v, at in rows}
    return {k: found.get(k) for k in keys}


def get(turn: Turn, prefix: str) -> Optional[Kept]:
    """The value (expired or not), unless it is absent or was dropped earlier in this turn."""
    k = key(prefix, turn.follower.openid)
    if k not in turn.values:
        row = turn.session.connection().execute(_read(1), {"k0": k}).first()
        turn.values[k] = None if row is None else Kept(row.value, row.expires_at)
    return turn.values[k]


def put(turn: Turn, prefix: str, value: str, ttl: timedelta) -> None:
    k = key(prefix, turn.follower.openid)
    turn.values[k] = turn.written[k] = Kept(value, utcnow() + ttl)


def drop(turn: Turn, prefix: str) -> Optional[Kept]:
    """Delete the value (if any) with the turn; returns what it was."""
    row = get(turn, prefix)
    if row is not None:
        k = key(prefix, turn.follower.openid)
        turn.values[k] = turn.written[k] = None
    return row


def save(turn: Turn) -> None:
    """Write this turn's puts (an upsert each) and drops (a DELETE each) in its transaction."""
    if not turn.written:
        return
    conn = turn.session.connection()
    for k, row in turn.written.items():
        if row is None:
            conn.execute(_DELETE, {"k": k})
        else:
            conn.execute(_upsert(conn.dialect.name), {"key": k, "value": row.value, "expires_at": row.expires_at,
                                                      "updated_at": utcnow()})
    turn.written.clear()


def _upsert(dialect: str):
    stmt = _upserts.get(dialect)
    if stmt is None:
        from sqlalchemy.dialects import postgresql, sqlite

        insert = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}[dialect](_TABLE)
        stmt = _upserts[dialect] = insert.on_conflict_do_update(
            index_elements=[_TABLE.c.key],
            set_={"value": insert.excluded.value, "expires_at": insert.excluded.expires_at,
                  "updated_at": insert.excluded.updated_at})
    return stmt


def live(row: Optional[Kept]) -> bool:
    """The row is there and has not expired."""
    return row is not None and row.expires_at is not None and row.expires_at > utcnow()
