"""The database engine: SQLite in the data dir by default, PostgreSQL via DATABASE_URL.

Every piece of state a second worker would need lives here (dialog state, de-dup keys, caches),
so the engine must be safe to share between processes: SQLite runs in WAL mode with a busy
timeout, PostgreSQL uses a pooled engine whose connections are trusted while they are in use
(no ping per checkout: under load that was one round trip in every few of a turn) and pinged
only after sitting idle (`_ping_if_idle`); a connection the server dropped meanwhile (a restart)
fails its statement, SQLAlchemy invalidates the whole pool, and the caller's retry (the /wechat
turn's, bot/wechat/inbox.py) runs on fresh connections — "optimistic" disconnect handling. This module takes a database URL, not
the settings (`Settings.db_url` is the one place that chooses it), so that tests, scripts and
migrations can open any database; one engine per URL per process. The schema is alembic's
(storage.migrate): `init_db` brings it to the newest revision, never `create_all`.
"""
from __future__ import annotations

import inspect
import time
from contextlib import contextmanager
from typing import Any, Iterator

from pydantic_core import PydanticUndefined
from sqlalchemy import event, insert, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError, InvalidatePoolError
from sqlmodel import Session, SQLModel, create_engine

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
PG_IDLE_PING_SECONDS = 10.0  # a pooled connection unused this long is pinged before it is handed out
PG_RECYCLE_SECONDS = 1800  # and replaced after this long (server or firewall idle limits)


def _sqlite_pragmas(dbapi_conn, _record) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA busy_timeout=10000")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()


def _idle_since(_dbapi_conn, record) -> None:
    if record is not None:
        record.info["idle_since"] = time.monotonic()


def _ping_if_idle(engine: Engine):
    """The pool's checkout hook: a connection that sat idle PG_IDLE_PING_SECONDS (the server may
    have restarted meanwhile) is pinged; a dead one is replaced before anyone uses it
    (InvalidatePoolError: the pool connects anew, for every connection older than this one too). A busy worker's connections come back
    within milliseconds and are never pinged."""
    def check(dbapi_conn, record, _proxy) -> None:
        since = record.info.get("idle_since")
        if since is None or time.monotonic() - since < PG_IDLE_PING_SECONDS:
            return
        try:
            engine.dialect.do_ping(dbapi_conn)
        except Exception as exc:
            raise InvalidatePoolError("an idle connection no longer answers") from exc
    return check


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
            engine = create_engine(url, pool_size=PG_POOL[0], max_overflow=PG_POOL[1],
                                   pool_recycle=PG_RECYCLE_SECONDS)
            event.listen(engine.pool, "checkin", _idle_since)
            event.listen(engine.pool, "checkout", _ping_if_idle(engine))
        _engines[url] = engine
    return engine


def unreachable(exc: BaseException) -> bool:
    """True when `exc` says the database server cannot be reached at all (refused, restarting,
    shutting down, the connection dropped) rather than busy (SQLite's write lock, a PostgreSQL
    serialization failure): nothing can be stored until it is back. The error has invalidated the pool's connections, so
    the next checkout connects anew and the process recovers by itself."""
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


def insert_row(session: Session, model: type[SQLModel], *, skip_duplicate: bool = False, **values: Any) -> int:
    """Insert one `model` row: the given values over the model's declared defaults (a default of
    None is the column's NULL). It goes straight to the database — no instance validated, no
    unit of work flushed, the statement built once per table — which the rows written on every
    /wechat request (the signed request, the de-dup claim, a new follower, the question log)
    measurably cost; a duplicate key raises IntegrityError here, as a flush would, or with
    `skip_duplicate` is left as it is (ON CONFLICT DO NOTHING: PostgreSQL and SQLite). Returns
    the rows inserted: 1, or 0 for a duplicate skipped."""
    for name, default in _defaults(model):
        if name not in values:
            value = default() if callable(default) else default
            if value is not None:
                values[name] = value
    dialect = session.get_bind().dialect.name
    key = (model.__tablename__, dialect if skip_duplicate else "")
    stmt = _inserts.get(key)
    if stmt is None:
        if skip_duplicate:
            from sqlalchemy.dialects import postgresql, sqlite

            stmt = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}[dialect](model.__table__)
            # RETURNING says whether the row went in: psycopg's rowcount for an INSERT is -1 here
            stmt = stmt.on_conflict_do_nothing().returning(*model.__table__.primary_key.columns)
        else:
            stmt = insert(model.__table__)
        _inserts[key] = stmt
    result = session.execute(stmt, values)
    return int(result.first() is not None) if skip_duplicate else 1


_inserts: dict[tuple[str, str], Any] = {}  # insert_row's statements, by table and dialect
_IMMUTABLE = (str, int, float, bool, bytes, tuple, frozenset, type(None))
_model_defaults: dict[type, list[tuple[str, Any]]] = {}


def _defaults(model: type[SQLModel]) -> list[tuple[str, Any]]:
    """The model's declared defaults, worked out once per model (pydantic's `get_default`, asked
    for every field on every insert, inspects each factory's signature: a third of insert_row's
    time): a factory (or a deep copy of a mutable default) is called per row, a plain value shared."""
    found = _model_defaults.get(model)
    if found is None:
        found = []
        for name, field in model.model_fields.items():
            if field.default_factory is not None:
                found.append((name, field.default_factory if _no_arguments(field.default_factory)
                              else lambda f=field: f.get_default(call_default_factory=True, validated_data={})))
            elif isinstance(field.default, _IMMUTABLE) or field.default is PydanticUndefined:
                if field.default is not PydanticUndefined and field.default is not None:
                    found.append((name, field.default))
            else:
                found.append((name, lambda f=field: f.get_default()))
        _model_defaults[model] = found
    return found


def _no_arguments(factory) -> bool:
    """A factory called with nothing (utcnow, dict), not one taking the validated data."""
    try:
        params = inspect.signature(factory).parameters.values()
    except (TypeError, ValueError):  # a builtin type such as dict or list
        return True
    return not any(p.default is p.empty and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) for p in params)


def xact_lock(session: Session, key: int) -> None:
    """Hold PostgreSQL's transaction-scoped advisory lock `key` until `session` commits or rolls
    back (taken once per session; sessions here are one transaction each: session_scope). It
    orders writers on several workers that would otherwise lock the same rows in different
    orders (a deadlock). SQLite has one writer at a time anyway: nothing to do."""
    if session.get_bind().dialect.name != "postgresql":
        return
    held = session.info.setdefault("xact_locks", set())
    if key not in held:
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})
        held.add(key)


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
