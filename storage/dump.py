"""Every table of a database as portable JSON lines, and back: what `policybot backup` keeps.

Why not pg_dump or a copy of the SQLite file: one format an operator can restore on either
engine (SQLite → PostgreSQL when a city outgrows one process, or back for a test copy), read
with zcat, and check against the manifest's counts; and it needs no client binary of the
server's exact major version on the host. The price is speed on very large databases (then
`pg_dump -Fc` of the same database stays possible beside it, docs/operations.md).

Consistent while the server runs: SQLite is first copied with the sqlite3 backup API (a
snapshot, never a file copy of a live WAL database) and dumped from the copy; PostgreSQL is read
in one REPEATABLE READ, READ ONLY transaction (one snapshot for every table).

Tables are read by reflection, not from storage/models.py, so the dump is whatever schema the
database has (its alembic revision goes in the manifest), and a restore loads it into the schema
of that same revision before migrating to head (`load`). Values: datetimes as ISO 8601 in UTC,
dates ISO, bytes base64; decoded by the target column's type.
"""
from __future__ import annotations

import base64
import gzip
import json
import sqlite3
import tempfile
from datetime import date, datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import Iterator

import sqlalchemy as sa
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.pool import NullPool

from storage import migrate
from storage.urls import checked_url, ensure_sqlite_dir

VERSION_TABLE = "alembic_version"  # recorded as the manifest's revision, made again by the migration
BATCH = 500


def _engine(url: str) -> sa.Engine:
    if make_url(url).get_backend_name() == "sqlite":
        ensure_sqlite_dir(url)
    return sa.create_engine(url, poolclass=NullPool)


def _tables(conn: Connection) -> list[sa.Table]:
    """The database's own tables (reflected), parents before children."""
    meta = sa.MetaData()
    meta.reflect(conn)
    return [t for t in meta.sorted_tables if t.name != VERSION_TABLE]


def _encode(value):
    if isinstance(value, datetime):
        aware = value if value.tzinfo else value.replace(tzinfo=timezone.utc)  # SQLite keeps UTC, naive
        return aware.astimezone(timezone.utc).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, (bytes, bytearray, memoryview)):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, Decimal):
        return str(value)
    return value


def _decoder(kind: sa.types.TypeEngine):
    if isinstance(kind, sa.DateTime):
        return datetime.fromisoformat
    if isinstance(kind, sa.Date):
        return date.fromisoformat
    if isinstance(kind, sa.LargeBinary):
        return base64.b64decode
    return None


def _rows(conn: Connection, table: sa.Table) -> Iterator[dict]:
    order = list(table.primary_key.columns) or list(table.columns)
    for row in conn.execute(sa.select(table).order_by(*order)).mappings():
        yield {k: _encode(v) for k, v in row.items()}


def _dump_from(conn: Connection, out: Path) -> dict[str, int]:
    out.mkdir(parents=True, exist_ok=True)
    counts: dict[str, int] = {}
    for table in _tables(conn):
        n = 0
        with gzip.open(out / f"{table.name}.jsonl.gz", "wt", encoding="utf-8") as fh:
            for row in _rows(conn, table):
                fh.write(json.dumps(row, ensure_ascii=False) + "\n")
                n += 1
        counts[table.name] = n
    return counts


def dump(url: str, out: Path) -> tuple[str | None, dict[str, int]]:
    """Write `out/<table>.jsonl.gz` for every table; returns (alembic revision, rows per table)."""
    url = checked_url(url)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        with tempfile.TemporaryDirectory(prefix="policybot-backup-") as scratch:
            copy = Path(scratch) / "snapshot.db"
            src = sqlite3.connect(parsed.database, timeout=30)
            dst = sqlite3.connect(copy)
            try:
                src.backup(dst)  # the online backup API: a consistent copy while the server writes
            finally:
                dst.close()
                src.close()
            engine = _engine(f"sqlite:///{copy}")
            try:
                with engine.connect() as conn:
                    revision = MigrationContext.configure(conn).get_current_revision()
                    return revision, _dump_from(conn, out)
            finally:
                engine.dispose()
    engine = _engine(url)
    try:
        with engine.connect().execution_options(isolation_level="REPEATABLE READ") as conn, conn.begin():
            conn.exec_driver_sql("SET TRANSACTION READ ONLY")
            revision = MigrationContext.configure(conn).get_current_revision()
            return revision, _dump_from(conn, out)
    finally:
        engine.dispose()


def nonempty_tables(url: str) -> dict[str, int]:
    """{table: rows} of the tables holding rows (an empty or missing database: {})."""
    engine = _engine(checked_url(url))
    try:
        with engine.connect() as conn:
            counts = {t.name: conn.execute(sa.select(sa.func.count()).select_from(t)).scalar_one()
                      for t in _tables(conn)}
    finally:
        engine.dispose()
    return {k: v for k, v in counts.items() if v}


def wipe(url: str) -> None:
    """Drop every table, the migration's record too (restore --force)."""
    engine = _engine(checked_url(url))
    try:
        with engine.begin() as conn:
            meta = sa.MetaData()
            meta.reflect(conn)
            meta.drop_all(conn)
    finally:
        engine.dispose()


def _reset_sequences(conn: Connection, tables: list[sa.Table]) -> None:
    """PostgreSQL: rows came with their ids, so each id sequence continues after the largest."""
    for table in tables:
        for col in table.primary_key.columns:
            seq = conn.execute(sa.text("SELECT pg_get_serial_sequence(:t, :c)"),
                               {"t": table.name, "c": col.name}).scalar()
            if seq:
                top = conn.execute(sa.select(sa.func.max(col))).scalar()
                conn.execute(sa.text("SELECT setval(:s, :v, :called)"),
                             {"s": seq, "v": top or 1, "called": top is not None})


def load(url: str, src: Path, revision: str | None) -> dict[str, int]:
    """Create the schema at the dump's `revision`, load every table's rows, then migrate to head
    (an older backup comes out at this release's schema). The database must be empty."""
    url = checked_url(url)
    known = {s.revision for s in ScriptDirectory.from_config(migrate.config()).walk_revisions()}
    if revision is not None and revision not in known:
        raise RuntimeError(f"备份的数据库结构版本 {revision} 比本程序新（本程序最新为 {migrate.head()}）："
                           f"请用更新的版本恢复 (backup is from a newer release)")
    if revision is not None:
        migrate.upgrade(url, revision)
    counts: dict[str, int] = {}
    engine = _engine(url)
    try:
        with engine.begin() as conn:
            tables = _tables(conn)
            unknown = {p.name.split(".")[0] for p in src.glob("*.jsonl.gz")} - {t.name for t in tables}
            if unknown:
                raise RuntimeError(f"备份中的表在结构版本 {revision} 中不存在：{', '.join(sorted(unknown))}")
            for table in tables:
                path = src / f"{table.name}.jsonl.gz"
                if not path.exists():
                    continue
                decoders = {c.name: d for c in table.columns if (d := _decoder(c.type)) is not None}
                counts[table.name] = 0
                batch: list[dict] = []
                with gzip.open(path, "rt", encoding="utf-8") as fh:
                    for line in fh:
                        row = json.loads(line)
                        for name, decode in decoders.items():
                            if row.get(name) is not None:
                                row[name] = decode(row[name])
                        batch.append(row)
                        if len(batch) >= BATCH:
                            conn.execute(table.insert(), batch)
                            counts[table.name] += len(batch)
                            batch = []
                if batch:
                    conn.execute(table.insert(), batch)
                    counts[table.name] += len(batch)
            if conn.dialect.name == "postgresql":
                _reset_sequences(conn, tables)
    finally:
        engine.dispose()
    migrate.upgrade(url, "head")
    return counts
