"""The database engine: SQLite in the data dir by default, PostgreSQL via DATABASE_URL.

Every piece of state a second worker would need lives here (dialog state, de-dup keys, caches),
so the engine must be safe to share between processes: SQLite runs in WAL mode with a busy
timeout, PostgreSQL uses a pooled engine with pre-ping. This module takes a database URL, not
the settings (`Settings.db_url` is the one place that chooses it), so that tests, scripts and
migrations can open any database; one engine per URL per process. The schema is alembic's
(storage.migrate): `init_db` brings it to the newest revision, never `create_all`.
"""
from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError
from sqlmodel import Session, create_engine

from storage import sqlite_writers
from storage.urls import checked_url, ensure_sqlite_dir

_engines: dict[str, Engine] = {}
# (kept, extra) connections per process. A request's threads (the threadpool's 40, the inbox's
# turns, the question log's writer) each hold one, a turn sometimes two (a lookup inside its
# transaction): a pool smaller than that made requests wait 30 s for a connection under 50
# concurrent followers (SQLAlchemy's default 5 + 10). A SQLite connection is a file handle;
# PostgreSQL's cost the server memory, and scripts/cluster.sh allows 300 for its workers.
SQLITE_POOL = (16, 84)
PG_POOL = (10, 40)


def _sqlite_pragmas(dbapi_conn, _record) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA busy_timeout=10000")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()


def get_engine(url: str) -> Engine:
    url = checked_url(url)
    engine = _engines.get(url)
    if engine is None:
        if url.startswith("sqlite"):
            ensure_sqlite_dir(url)
            engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 10},
                                   pool_size=SQLITE_POOL[0], max_overflow=SQLITE_POOL[1])
            event.listen(engine, "connect", _sqlite_pragmas)
            sqlite_writers.watch(engine)
        else:
            engine = create_engine(url, pool_pre_ping=True, pool_size=PG_POOL[0], max_overflow=PG_POOL[1])
        _engines[url] = engine
    return engine


def unreachable(exc: BaseException) -> bool:
    """True when `exc` says the database server cannot be reached at all (refused, restarting,
    shutting down, the connection dropped) rather than busy (SQLite's write lock, a PostgreSQL
    serialization failure): nothing can be stored until it is back. The pool's pre-ping then
    replaces the dropped connections on their next checkout, so the process recovers by itself."""
    if not isinstance(exc, DBAPIError):
        return False
    if exc.connection_invalidated:
        return True
    orig = exc.orig
    module = type(orig).__module__ or ""
    if not module.startswith("psycopg"):
        return False  # sqlite3: "database is locked" is busy, never unreachable
    import psycopg

    # the plain OperationalError is what a failed or broken connection raises; 57P01/57P03
    # are the server shutting down or still starting up
    return type(orig) is psycopg.OperationalError or getattr(orig, "sqlstate", None) in ("57P01", "57P02", "57P03")


def init_db(url: str, *, upgrade: bool = True) -> Engine:
    """The engine on a database whose schema is the newest revision: upgraded to it (under a
    lock, so workers starting together migrate once; a database made by `create_all` before
    migrations existed is adopted), or with `upgrade=False` (POLICYBOT_MIGRATE_ON_START off)
    only checked, refusing an older schema with what to run."""
    from storage import migrate

    url = checked_url(url)
    if upgrade:
        migrate.upgrade(url)
    else:
        migrate.require_head(url)
    return get_engine(url)


@contextmanager
def session_scope(url: str) -> Iterator[Session]:
    """A session that commits on success and rolls back on error."""
    with Session(get_engine(checked_url(url)), expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except Exception:
            session.rollback()
            raise
