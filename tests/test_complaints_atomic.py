"""A complaint is filed exactly once, whatever dies when; and its personal data stays out of logs.

The ticket, the end of the complaint form and the de-dup record's reply commit as one
transaction (bot.dialog.handle, bot.complaint_dialog.file_from_form): a turn that dies after
writing the ticket must leave neither a ticket nor a finished form behind, so that the
follower's next "1" — after a SIGKILL and a restart — files exactly one ticket.
"""
from __future__ import annotations

import random
import re
import string

import pytest
from sqlmodel import select

from storage.db import session_scope
from storage.models import Ticket
from tests.conftest import ADMIN_PASSWORD, ADMIN_USER
from tests.console_helpers import server_settings
from tests.test_complaints_wechat import NUMBER_RE, file_complaint
from tests.wechat_util import WECHAT_ENV, new_openid, platform_for, server_engine

pytestmark = pytest.mark.db

ENV = dict(WECHAT_ENV, POLICYBOT_ADMIN_USER=ADMIN_USER, POLICYBOT_ADMIN_PASSWORD=ADMIN_PASSWORD)


def tickets_of(srv, openid: str) -> list[str]:
    with session_scope(server_settings(srv).db_url) as s:
        return list(s.exec(select(Ticket.number).where(Ticket.openid == openid)).all())


def fail_last_write_of(srv, openid: str) -> None:
    """Make every turn of `openid` die at its last write (the de-dup record's reply, after the
    ticket is written and the form state cleared): where a crash used to leave a committed
    ticket behind a form still waiting for "1". A database trigger, so the server is untouched."""
    with server_engine(srv).begin() as conn:
        if conn.dialect.name == "sqlite":
            conn.exec_driver_sql(
                "CREATE TRIGGER crash_turn BEFORE UPDATE ON processedmessage "
                f"WHEN NEW.openid = '{openid}' BEGIN SELECT RAISE(ABORT, 'injected crash'); END")
        else:
            conn.exec_driver_sql("CREATE FUNCTION crash_turn() RETURNS trigger AS $$ "
                                 "BEGIN RAISE EXCEPTION 'injected crash'; END $$ LANGUAGE plpgsql")
            conn.exec_driver_sql(
                "CREATE TRIGGER crash_turn BEFORE UPDATE ON processedmessage FOR EACH ROW "
                f"WHEN (NEW.openid = '{openid}') EXECUTE FUNCTION crash_turn()")


def heal(srv) -> None:
    with server_engine(srv).begin() as conn:
        conn.exec_driver_sql("DROP TRIGGER crash_turn" if conn.dialect.name == "sqlite"
                             else "DROP TRIGGER crash_turn ON processedmessage")


def test_ticket_and_form_end_commit_together(live_server, tmp_path_factory):
    env = dict(ENV)
    root = tmp_path_factory.mktemp("atomic")
    srv = live_server("atomic", data_dir=root, **env)
    openid = new_openid("oatomic")
    file_complaint(platform_for(srv), openid, confirm=False)
    fail_last_write_of(srv, openid)
    failed = platform_for(srv).say(openid, "1")
    assert "投诉编号" not in failed and "抱歉" in failed
    srv.kill()  # the crash
    heal(srv)
    assert tickets_of(srv, openid) == []  # nothing of the dead turn was committed
    if srv.env.get("DATABASE_URL"):
        env["DATABASE_URL"] = srv.env["DATABASE_URL"]
    again = live_server("atomic2", data_dir=root, **env)
    done = platform_for(again).say(openid, "1")  # the summary is still waiting for its confirm
    number = NUMBER_RE.search(done).group(1)
    assert "投诉编号" not in platform_for(again).say(openid, "1")  # the form is over now
    assert tickets_of(again, openid) == [number]


def test_logs_never_show_a_phone_number_or_a_full_openid(live_server):
    """With SQL logging on, the server logs every statement with its parameters — the phone
    number and the openid among them: every line must go out masked."""
    srv = live_server("logs", POLICYBOT_LOG_LEVEL="INFO,sqlalchemy.engine=INFO", **ENV)
    openid = "oLOGx" + "".join(random.choices(string.ascii_letters + string.digits, k=23))  # WeChat's 28
    number = NUMBER_RE.search(file_complaint(platform_for(srv), openid, phone="13912345678")).group(1)
    assert tickets_of(srv, openid) == [number]
    log = srv.log()
    assert "139****5678" in log  # the parameter did reach the log — masked
    assert "13912345678" not in log
    assert openid[:6] + "…" in log and openid not in log
    assert not re.search(r"(?<!\d)1[3-9]\d{9}(?!\d)", log)  # no mobile number of any follower
