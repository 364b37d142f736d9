"""A follower's row for one dialog turn, read and written as Core statements.

Why not the ORM: every /wechat message reads its follower's row (locked for the turn) and writes
it back. Through the ORM's unit of work that was an identity-map entry and instrumented
attributes on the way in, and at the commit a flush sorting the session's objects to emit the one
UPDATE — about a seventh of a worker's CPU under load with the lock's SELECT (py-spy --gil,
benchmarks/bench_cluster.py). Here the row is read by one SELECT … FOR UPDATE built once, into a
plain object with the model's attribute names (`FollowerState`, what `Turn.follower` is), and
written back by one UPDATE of the columns whose values changed — compared by value, so that a
handler may change a JSON column in place as well as replace it. The staff side (bot/tickets)
still uses the ORM model: it is not on the request path.
"""
from __future__ import annotations

import json
from typing import Any, Optional

from sqlalchemy import JSON, bindparam, select

from storage.models import Follower

_TABLE = Follower.__table__
COLUMNS = tuple(c.name for c in _TABLE.columns)
_JSON = frozenset(c.name for c in _TABLE.columns if isinstance(c.type, JSON))
_LOCK = select(_TABLE).where(_TABLE.c.openid == bindparam("openid")).with_for_update()
_SAVE = _TABLE.update().where(_TABLE.c.openid == bindparam("row_openid"))


class FollowerState:
    """A follower row's values as attributes (openid, region, subscribed, form_state,
    more_pages, thread, created_at, last_seen_at), with what was read kept to compare."""

    __slots__ = (*COLUMNS, "_read")

    def __init__(self, values: dict[str, Any]):
        for name in COLUMNS:
            setattr(self, name, values.get(name))
        self._read = self._seen()

    def _seen(self) -> dict[str, Any]:
        """The values to compare with later; a JSON column as its text (cheaper than a deep copy)."""
        return {name: _text(getattr(self, name)) if name in _JSON else getattr(self, name)
                for name in COLUMNS}

    def changes(self) -> dict[str, Any]:
        """The columns whose value differs from what was read (the key never changes)."""
        return {name: getattr(self, name) for name in COLUMNS
                if name != "openid" and (_text(getattr(self, name)) if name in _JSON else getattr(self, name))
                != self._read[name]}


def _text(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)  # a reordered dict: one extra write, harmless


def lock(session, openid: str) -> Optional[FollowerState]:
    """The follower's row, locked until `session`'s transaction ends (PostgreSQL; SQLite has no
    row locks and one writer at a time), or None when there is none yet."""
    row = session.connection().execute(_LOCK, {"openid": openid}).mappings().first()
    return None if row is None else FollowerState(row)


def locked(session, openid: str) -> FollowerState:
    """`lock` for a row that must be there (just created): LookupError otherwise."""
    state = lock(session, openid)
    if state is None:
        raise LookupError("the follower row is missing after its insert")
    return state


def save(session, state: FollowerState) -> None:
    """Write what changed in `state` in `session`'s transaction (nothing when nothing did)."""
    changes = state.changes()
    if changes:
        session.connection().execute(_SAVE, {"row_openid": state.openid, **changes})
        state._read = state._seen()
