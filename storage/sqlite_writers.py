"""SQLite's writers of one process queue on a lock instead of polling the database file.

Why: SQLite lets one transaction write at a time; the others get SQLITE_BUSY and its busy
handler sleeps and tries again (busy_timeout), in ever longer naps and in no order. Under 50
concurrent followers on the embedded default (one worker, SQLite) the unlucky turns napped for
seconds, some past the 10 s timeout, and requests piled up behind them (measured with
benchmarks/bench_cluster.py: 5.5 requests/s, p99 30 s). A lock in the process that a write
transaction takes at its first INSERT/UPDATE/DELETE and gives back at its commit or rollback
lets the next writer in the moment the last one is done. Reads take nothing (WAL readers never
wait), and pysqlite begins a transaction only at its first write, so a writer that got the lock
starts from a fresh snapshot. Other processes (a CLI ingest) are still waited out by the busy
timeout; so is a write that waited here longer than WAIT (it then goes on unqueued). A second
connection writing on a thread that already holds the lock (a write nested in a turn) is let
through: SQLite's own lock decides, as it always did. The lock orders this process's writers
only; it holds no state a second worker would need.
"""
from __future__ import annotations

import logging
import threading
import weakref

from sqlalchemy import event
from sqlalchemy.engine import Engine

log = logging.getLogger("policybot.db")

WAIT = 10.0  # seconds, like the busy timeout
_WRITES = ("insert", "update", "delete", "replace")
HELD = "policybot_write_lock"  # key in the DBAPI connection's info: this connection holds the lock


class _WriteLock:
    """A lock that knows its owner thread (a nested write on that thread passes) and can be
    given back from wherever the connection's transaction ends."""

    def __init__(self):
        self._lock = threading.Lock()
        self.owner: int | None = None

    def take(self) -> bool:
        if self.owner == threading.get_ident():
            return False  # nested: the outer transaction holds it
        if not self._lock.acquire(timeout=WAIT):
            log.warning("SQLite: a write waited %.0f s for its turn; going on unqueued", WAIT)
            return False
        self.owner = threading.get_ident()
        return True

    def give_back(self) -> None:
        self.owner = None
        self._lock.release()


_locks: "weakref.WeakKeyDictionary[Engine, _WriteLock]" = weakref.WeakKeyDictionary()


def busy(engine: Engine) -> bool:
    """Whether a write transaction of this process holds the engine's turn now."""
    lock = _locks.get(engine)
    return lock is not None and lock.owner is not None


def watch(engine: Engine) -> None:
    lock = _locks[engine] = _WriteLock()

    @event.listens_for(engine, "before_cursor_execute")
    def _before(conn, _cursor, statement, _params, _context, _many):
        info = conn.connection.info
        if not info.get(HELD) and statement.lstrip()[:7].lower().startswith(_WRITES):
            info[HELD] = lock.take()

    def _end(info: dict) -> None:  # the pool record's info, shared with the connection's
        if info.pop(HELD, False):
            lock.give_back()

    @event.listens_for(engine, "commit")
    def _commit(conn):
        _end(conn.connection.info)

    @event.listens_for(engine, "rollback")
    def _rollback(conn):
        _end(conn.connection.info)

    @event.listens_for(engine.pool, "checkin")
    def _checkin(_dbapi_conn, record):  # returned without commit or rollback: the pool reset it
        _end(record.info)

    @event.listens_for(engine.pool, "invalidate")
    def _invalidate(_dbapi_conn, record, _exc):
        _end(record.info)
