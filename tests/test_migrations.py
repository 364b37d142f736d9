"""Schema migrations (storage.migrate) on real databases — SQLite here, PostgreSQL again under
`--db=postgres`: a database at the baseline, filled with rows, keeps every one through the
upgrade and gets the migrated column right (and bootstrap_admin still honours a changed
password); a database that an older release made with create_all is adopted on start; a
start with POLICYBOT_MIGRATE_ON_START off refuses an old schema; `policybot migrate` reaches
head and then has nothing to do; workers starting together migrate once; and the head schema is
exactly the models', so a model change without a revision fails here."""
from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import date, datetime, timedelta, timezone

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlmodel import SQLModel, select

from core.config import Settings
from storage import db, migrate
from storage.models import (Chunk, Follower, KeyValue, Notice, StaffEvent, StaffSession, StaffUser,
                            Ticket, TicketEvent)
from tests.conftest import ROOT, fresh_database_url

pytestmark = pytest.mark.db

HEAD = "0008_institutions"
LIFECYCLE_COLUMNS = ("extracted", "overrides", "withdrawn_at", "withdrawn_by", "withdrawn_reason", "superseded_by")
LATER_TABLES = ("noticeevent", "noticeversion", "asklog", "unansweredquestion", "taughtanswer",  # revisions 3 and 4
                "apitoken",  # revision 7
                "institution", "institutionevent")  # revision 8
LATER_COLUMNS = (("follower", "thread"), ("ticket", "supplemented_at"),  # revision 5
                 ("ticket", "progress_token"), ("pendingpush", "ticket_id"),  # revision 6
                 ("ticket", "source"), ("ticket", "external_id"),  # revision 7
                 ("ticket", "institution_id"))  # revision 8
T0 = datetime(2026, 11, 20, 8, 30, tzinfo=timezone.utc)


@pytest.fixture
def url(request, tmp_path):
    """An empty database of the run's backend: a new SQLite file, or a new PostgreSQL database."""
    value = fresh_database_url(request.config) or f"sqlite:///{tmp_path / 'data' / 'policybot.db'}"
    yield value
    engine = db._engines.pop(value, None)
    if engine is not None:
        engine.dispose()


def schema_diffs(url: str) -> list:
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            ctx = MigrationContext.configure(conn, opts={"compare_type": True, "compare_server_default": True})
            return compare_metadata(ctx, SQLModel.metadata)
    finally:
        engine.dispose()


def insert(conn, name: str, *rows: dict) -> None:
    """Rows through the models' column types (as the release that wrote them did), limited to
    the columns the table has in the database now."""
    present = {c["name"] for c in sa.inspect(conn).get_columns(name)}
    table = sa.table(name, *(sa.column(c.name, c.type) for c in SQLModel.metadata.tables[name].c
                             if c.name in present))
    conn.execute(sa.insert(table), list(rows))


def one(conn, sql: str):
    return conn.execute(sa.text(sql)).scalar_one()


def fill(conn, *, audit: bool = True) -> None:
    """A follower mid-form, a notice with a chunk, a ticket with events, three staff accounts (the
    first changed its password, the second only logged in, the third has no events), a session, a
    cached token. No explicit ids: PostgreSQL's sequences must stay right for the rows to come."""
    insert(conn, "follower", dict(openid="o-follower-1", region="山东 聊城", subscribed=True,
                                  form_state={"name": "subsidy", "slots": {"age": 30}}, more_pages=["第二页"],
                                  created_at=T0, last_seen_at=T0))
    insert(conn, "notice", dict(file="003_a712", seq=0, title="关于以工代训的通知", doc_number="鲁人社字〔2020〕1号",
                                date=date(2020, 5, 1), valid_until=date(2021, 12, 31), meta={"k": "v"}))
    insert(conn, "chunk", dict(notice_id=one(conn, "SELECT id FROM notice WHERE file = '003_a712'"), file="003_a712",
                               seq=0, kind="clause", heading_path="一", text="以工代训补贴每人每月500元。",
                               tokens="以工代训 补贴", text_hash="h1"))
    insert(conn, "ticket", dict(number="TS20261120-000001", openid="o-follower-1", institution="某某学校",
                                category="虚假宣传", happened="十月", region="聊城", region_text="聊城市",
                                description="包分配工作是假的。", phone="13800138000", status="处理中", team="liaocheng",
                                accept_due=date(2026, 11, 23), answer_due=date(2026, 12, 9), created_at=T0,
                                updated_at=T0, intake_key="o-follower-1:1"))
    ticket_id = one(conn, "SELECT id FROM ticket WHERE number = 'TS20261120-000001'")
    insert(conn, "ticketevent",
           dict(ticket_id=ticket_id, at=T0, actor="follower", action="created", detail="", public=True),
           dict(ticket_id=ticket_id, at=T0 + timedelta(hours=1), actor="chief", action="accepted", detail="已受理",
                public=True))
    insert(conn, "staffuser", *(dict(username=name, password_hash=f"hash-{name}", role=role, regions=regions,
                                     active=True, created_at=T0)
                                for name, role, regions in [("chief", "admin", []), ("clerk", "staff", ["聊城"]),
                                                            ("new", "staff", ["济源"])]))
    insert(conn, "staffsession", dict(token_hash="t1", user_id=one(conn, "SELECT id FROM staffuser WHERE username = 'clerk'"),
                                      csrf_token="c1", created_at=T0, expires_at=T0 + timedelta(hours=12)))
    insert(conn, "keyvalue", dict(key="wechat:access_token", value="tok", expires_at=T0 + timedelta(hours=2),
                                  updated_at=T0))
    if audit:
        insert(conn, "staffevent",
               dict(at=T0, actor="chief", action="login", ip="10.0.0.1", detail=""),
               dict(at=T0, actor="chief", action="password_changed", ip="10.0.0.1", detail="其他登录已退出 0 个"),
               dict(at=T0, actor="clerk", action="login", ip="10.0.0.2", detail=""),
               dict(at=T0, actor="clerk", action="password_failed", ip="10.0.0.2", detail=""))


def check_rows(url: str, *, audit: bool = True) -> None:
    with db.session_scope(url) as s:
        follower = s.get(Follower, "o-follower-1")
        assert follower.form_state == {"name": "subsidy", "slots": {"age": 30}} and follower.more_pages == ["第二页"]
        assert follower.last_seen_at == T0
        notice = s.exec(select(Notice).where(Notice.file == "003_a712")).one()
        assert (notice.doc_number, notice.valid_until, notice.meta) == ("鲁人社字〔2020〕1号", date(2021, 12, 31), {"k": "v"})
        assert s.exec(select(Chunk).where(Chunk.notice_id == notice.id)).one().text == "以工代训补贴每人每月500元。"
        # revision 3: what the extractor read is kept apart from the admin's edits (none yet)
        assert notice.extracted["doc_number"] == "鲁人社字〔2020〕1号" and notice.extracted["valid_until"] == "2021-12-31"
        assert notice.overrides == {} and notice.withdrawn_at is None and notice.superseded_by is None
        ticket = s.exec(select(Ticket).where(Ticket.number == "TS20261120-000001")).one()
        assert (ticket.phone, ticket.status, ticket.answer_due) == ("13800138000", "处理中", date(2026, 12, 9))
        assert len(ticket.progress_token) >= 32  # revision 6: an existing ticket gets its progress page's token
        trail = s.exec(select(TicketEvent).where(TicketEvent.ticket_id == ticket.id).order_by(TicketEvent.at)).all()
        assert [(e.actor, e.action) for e in trail] == [("follower", "created"), ("chief", "accepted")]
        users = {u.username: u for u in s.exec(select(StaffUser))}
        assert {name: u.password_changed for name, u in users.items()} == {"chief": audit, "clerk": False, "new": False}
        assert users["clerk"].regions == ["聊城"] and users["chief"].password_hash == "hash-chief"
        assert s.exec(select(StaffSession)).one().user_id == users["clerk"].id
        assert s.get(KeyValue, "wechat:access_token").expires_at == T0 + timedelta(hours=2)
        if audit:  # the audit trail is kept as it was
            assert len(s.exec(select(StaffEvent)).all()) == 4


def test_rows_written_at_the_baseline_survive_the_upgrade(url):
    result = migrate.upgrade(url, migrate.BASELINE)
    assert (result.before, result.after) == (None, migrate.BASELINE)
    # the baseline is the schema create_all made before migrations: the models less the columns
    # and tables of revisions 2 to 7
    diffs = schema_diffs(url)
    added = sorted((d[2], d[3].name) for d in diffs if isinstance(d, tuple) and d[0] == "add_column")
    assert added == sorted([("staffuser", "password_changed"), *(("notice", c) for c in LIFECYCLE_COLUMNS),
                            *LATER_COLUMNS]), added
    tables = {d[1].name for d in diffs if isinstance(d, tuple) and d[0] == "add_table"}
    assert tables == set(LATER_TABLES), diffs
    kinds = {d[0] if isinstance(d, tuple) else d[0][0] for d in diffs}
    assert kinds <= {"add_column", "add_table", "add_index"}, diffs

    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    with engine.begin() as conn:
        fill(conn)
    engine.dispose()

    result = migrate.upgrade(url)
    assert (result.before, result.after, result.adopted) == (migrate.BASELINE, HEAD, False)
    check_rows(url)
    assert schema_diffs(url) == []
    # a new account gets the server default, not NULL
    with db.session_scope(url) as s:
        s.add(StaffUser(username="later", password_hash="x"))
    with db.get_engine(url).connect() as conn:
        assert conn.execute(sa.text("SELECT password_changed FROM staffuser WHERE username='later'")).scalar() in (False, 0)


def test_bootstrap_admin_keeps_a_password_changed_before_the_upgrade(url, tmp_path):
    from bot.console.auth import bootstrap_admin, hash_password, verify_password

    migrate.upgrade(url, migrate.BASELINE)
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    with engine.begin() as conn:
        fill(conn)
        for name in ("chief", "clerk"):
            conn.execute(sa.text("UPDATE staffuser SET password_hash = :h WHERE username = :u"),
                         {"h": hash_password(f"own-{name}-password"), "u": name})
    engine.dispose()
    for name in ("chief", "clerk"):  # start-up with the env password set, as on every restart
        settings = Settings(_env_file=None, data_dir=tmp_path / "data", database_url=url,
                            console={"admin_user": name, "admin_password": "env-password-123"})
        db.init_db(settings.db_url, upgrade=settings.migrate_on_start)
        bootstrap_admin(settings)
    with db.session_scope(url) as s:
        users = {u.username: u for u in s.exec(select(StaffUser))}
    # chief changed it on the console (audited before the upgrade): the env password no longer wins
    assert verify_password("own-chief-password", users["chief"].password_hash)
    # clerk never did: the env password is the way back in, and the account is an admin now
    assert verify_password("env-password-123", users["clerk"].password_hash) and users["clerk"].role == "admin"


def legacy_database(url: str, *, drop_tables: tuple[str, ...] = (), drop_column: str = "") -> None:
    """What an older release left: create_all of its models (the baseline, i.e. today's models
    without the later revisions' columns, maybe without the tables it did not have yet), no alembic_version."""
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    db.ensure_sqlite_dir(url)
    with engine.begin() as conn:
        SQLModel.metadata.create_all(conn)
        conn.execute(sa.text("ALTER TABLE staffuser DROP COLUMN password_changed"))
        for name in LATER_TABLES:  # no release before migrations had them
            conn.execute(sa.text(f"DROP TABLE {name}"))
        conn.execute(sa.text("DROP INDEX ix_notice_superseded_by"))
        for column in LIFECYCLE_COLUMNS:
            conn.execute(sa.text(f"ALTER TABLE notice DROP COLUMN {column}"))
        conn.execute(sa.text("DROP INDEX ix_ticket_progress_token"))
        conn.execute(sa.text("DROP INDEX ix_ticket_source_external_id"))
        conn.execute(sa.text("DROP INDEX ix_ticket_institution_id"))
        for table, column in LATER_COLUMNS:
            conn.execute(sa.text(f"ALTER TABLE {table} DROP COLUMN {column}"))
        for name in drop_tables:
            conn.execute(sa.text(f"DROP TABLE {name}"))
        if drop_column:
            table, column = drop_column.split(".")
            conn.execute(sa.text(f"ALTER TABLE {table} DROP COLUMN {column}"))
        fill(conn, audit="staffevent" not in drop_tables)
        assert not sa.inspect(conn).has_table("alembic_version")
    engine.dispose()


@pytest.mark.parametrize("drop_tables", [(), ("loginattempt", "staffevent")], ids=["head-release", "older-release"])
def test_a_create_all_database_is_adopted_on_start(url, drop_tables):
    legacy_database(url, drop_tables=drop_tables)
    assert migrate.current(url) is None
    db.init_db(url)  # what the server's start does with POLICYBOT_MIGRATE_ON_START on
    assert migrate.current(url) == HEAD
    check_rows(url, audit=not drop_tables)
    assert schema_diffs(url) == []  # the tables the older release lacked are there now
    again = migrate.upgrade(url)
    assert (again.before, again.after, again.adopted) == (HEAD, HEAD, False)


def test_a_server_starts_on_a_create_all_database(url, live_server):
    legacy_database(url)
    # the bootstrap admin changed its password before the upgrade: the restart must not reset it
    srv = live_server("legacy-start", DATABASE_URL=url, POLICYBOT_EMBEDDER="hash", POLICYBOT_BUNDLED_CORPUS="false",
                      POLICYBOT_ADMIN_USER="chief", POLICYBOT_ADMIN_PASSWORD="env-password-123")
    with srv.client() as c:
        assert c.get("/healthz").status_code == 200
    assert migrate.current(url) == HEAD
    check_rows(url)  # chief's hash is still its own


def test_a_database_older_than_the_baseline_is_refused_untouched(url):
    legacy_database(url, drop_tables=("staffevent",), drop_column="ticket.rating_asked_at")
    with pytest.raises(RuntimeError, match=r"ticket\.rating_asked_at"):
        migrate.upgrade(url)
    assert migrate.current(url) is None  # nothing stamped, nothing created: one transaction
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    with engine.connect() as conn:
        assert not sa.inspect(conn).has_table("staffevent")
    engine.dispose()


def test_start_without_migrating_refuses_an_old_schema(url, monkeypatch, tmp_path):
    monkeypatch.setenv("POLICYBOT_MIGRATE_ON_START", "false")
    settings = Settings(_env_file=None, data_dir=tmp_path / "data", database_url=url)
    assert settings.migrate_on_start is False and settings.db_url == url
    migrate.upgrade(url, migrate.BASELINE)
    with pytest.raises(RuntimeError, match="policybot migrate"):
        db.init_db(settings.db_url, upgrade=settings.migrate_on_start)
    assert migrate.current(url) == migrate.BASELINE  # not touched
    migrate.upgrade(url)
    db.init_db(settings.db_url, upgrade=settings.migrate_on_start)
    with pytest.raises(TypeError, match="db_url"):  # the old signature says what to pass
        db.get_engine(settings)


def run_cli(url: str, tmp_path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("POLICYBOT_", "DATABASE_URL"))}
    env.update(PYTHONPATH=str(ROOT), POLICYBOT_DATA_DIR=str(tmp_path / "data"), ANONYMIZED_TELEMETRY="False")
    if not url.startswith("sqlite"):
        env["DATABASE_URL"] = url
    return subprocess.run([sys.executable, "-m", "bot.cli", "migrate", *args], env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)


def test_policybot_migrate_reaches_head_then_has_nothing_to_do(url, tmp_path):
    # on SQLite, the default database: the file in POLICYBOT_DATA_DIR, not there yet
    first = run_cli(url, tmp_path)
    assert first.returncode == 0, first.stderr
    assert "数据库已升级" in first.stdout and f"（空） → {HEAD}" in first.stdout, first.stdout
    assert migrate.current(url) == HEAD and schema_diffs(url) == []
    second = run_cli(url, tmp_path)
    assert second.returncode == 0, second.stderr
    assert f"数据库已是最新版本 (already at) {HEAD}" in second.stdout, second.stdout


def test_downgrade_to_the_baseline_and_back(url):
    migrate.upgrade(url)
    with migrate.locked(url) as conn:
        command.downgrade(migrate.config(url, conn), migrate.BASELINE)
    assert migrate.current(url) == migrate.BASELINE
    assert migrate.upgrade(url).after == HEAD and schema_diffs(url) == []


WORKER = """
import sys
from storage import db, migrate
print("ready", flush=True)
result = migrate.upgrade(sys.argv[1])
db.init_db(sys.argv[1])
print("changed" if result.changed else "unchanged", result.after, flush=True)
"""


def test_workers_starting_together_migrate_once(url, tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "ANONYMIZED_TELEMETRY": "False"}
    with migrate.locked(url) as conn:  # hold the lock until both workers are queued on it
        workers = [subprocess.Popen([sys.executable, "-c", WORKER, url], env=env, cwd=tmp_path, text=True,
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE) for _ in range(2)]
        for w in workers:
            assert w.stdout.readline().strip() == "ready", w.stderr.read()
        if conn.dialect.name == "postgresql":
            deadline = time.time() + 30
            while time.time() < deadline and conn.execute(sa.text(
                    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted")).scalar() < 2:
                time.sleep(0.1)
        else:
            time.sleep(1.5)  # SQLite: both are in BEGIN IMMEDIATE's busy wait by now
    outputs = []
    for w in workers:
        out, err = w.communicate(timeout=120)
        assert w.returncode == 0, err
        outputs.append(out.split())
    assert sorted(outputs) == [["changed", HEAD], ["unchanged", HEAD]], outputs
    assert schema_diffs(url) == []


def test_the_head_schema_equals_the_models(url):
    """Fails when storage/models.py changes without a revision (python -m storage.migrate new ...)."""
    assert migrate.head() == HEAD
    migrate.upgrade(url)
    assert schema_diffs(url) == []
