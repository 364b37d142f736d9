"""The complaint lifecycle against a real database: filing, routing, the state machine, due dates
in working days, the overdue flag, the audit trail, progress only for the filer, the 回访 rating."""
from __future__ import annotations

import os
from datetime import date

import pytest
from sqlmodel import select

from bot import tickets
from bot.routing import Routing, load_routing
from core.config import Settings
from storage.db import session_scope
from storage.models import Evidence, Rating, Ticket, TicketEvent
from tests.conftest import database_settings

pytestmark = pytest.mark.db

FRIDAY = "2026-11-20"


@pytest.fixture
def settings(request, tmp_path):
    return database_settings(request.config, tmp_path / "data", today=FRIDAY, holidays="")


def complaint(**kw) -> tickets.NewComplaint:
    base = dict(institution="聊城某某职业培训学校", category="乱收费", happened="2026年10月",
                place="山东省聊城市东昌府区", description="报名时说免费，结业后每人收了八百元材料费。",
                phone="13800138000")
    base.update(kw)
    return tickets.NewComplaint(**base)


def file(settings, openid="follower-a", **kw) -> Ticket:
    with session_scope(settings.db_url) as s:
        return tickets.file_complaint(s, settings, openid, complaint(**kw))


def test_working_days_skip_weekends_and_holidays():
    fri = date(2026, 11, 20)
    assert tickets.add_working_days(fri, 1) == date(2026, 11, 23)  # Monday
    assert tickets.add_working_days(fri, 13) == date(2026, 12, 9)
    assert tickets.add_working_days(fri, 1, {date(2026, 11, 23)}) == date(2026, 11, 24)


def test_filing_routes_by_region_and_category_and_sets_due_dates(settings):
    t = file(settings)
    assert t.number.startswith("TS20261120-") and len(t.number) == len("TS20261120-123456")
    assert (t.region, t.team, t.status) == ("聊城", "lc-inspection", "待受理")
    assert t.accept_due == date(2026, 11, 23) and t.answer_due == date(2026, 12, 9)
    other = file(settings, category="管理混乱", place="聊城临清")
    assert (other.region, other.team) == ("聊城", "lc-skills")
    unknown = file(settings, place="火星基地")
    assert (unknown.region, unknown.team) == ("其他", "dispatch")
    with session_scope(settings.db_url) as s:
        events = s.exec(select(TicketEvent).where(TicketEvent.ticket_id == t.id)).all()
        assert [e.action for e in events] == ["created"]


def test_due_dates_follow_settings(settings):
    settings.ticket_accept_days, settings.ticket_answer_days = 2, 5
    settings.holidays = "2026-11-23"
    t = file(settings)
    assert t.accept_due == date(2026, 11, 25) and t.answer_due == date(2026, 11, 30)


def test_full_lifecycle_leaves_an_audit_trail(settings):
    t = file(settings, evidence=[{"media_id": "MEDIA1", "pic_url": "http://mmbiz/1"}])
    with session_scope(settings.db_url) as s:
        t = s.get(Ticket, t.id)
        with pytest.raises(tickets.TicketError):
            tickets.reply(s, settings, t, "wang", "staff", "还没受理不能答复")
        tickets.accept(s, settings, t, "wang", "staff")
        tickets.assign(s, settings, t, "wang", "staff", "li")
        tickets.add_note(s, t, "li", "staff", "已电话联系机构")
        notice = tickets.reply(s, settings, t, "li", "staff", "经查属实，已责令退费。")
        msg = notice.text
        assert t.number in msg and "已责令退费" in msg
        assert (notice.ticket_id, notice.openid, notice.kind) == (t.id, t.openid, "reply")  # emitted, not sent
        with pytest.raises(tickets.TicketError):
            tickets.return_for_rework(s, t, "li", "staff", "staff 不能退回")
        tickets.return_for_rework(s, t, "boss", "supervisor", "请附上退费凭证")
        assert t.status == "退回"
        tickets.reply(s, settings, t, "li", "staff", "退费凭证已核对，八百元已退还。")
        closed = tickets.close(s, settings, t, "li", "staff", "")
        ask = closed.text
        assert closed.kind == "closed" and closed.openid == t.openid
        assert "1" in ask and "5" in ask and t.status == "已办结"
        with pytest.raises(tickets.TicketError):
            tickets.accept(s, settings, t, "li", "staff")
    with session_scope(settings.db_url) as s:
        actions = [e.action for e in s.exec(select(TicketEvent).where(TicketEvent.ticket_id == t.id)
                                            .order_by(TicketEvent.id))]
        assert actions == ["created", "accepted", "assigned", "note", "reply", "returned", "reply", "closed"]
        internal = s.exec(select(TicketEvent).where(TicketEvent.ticket_id == t.id, TicketEvent.action == "note")).one()
        assert internal.public is False and internal.actor == "li"
        ev = s.exec(select(Evidence).where(Evidence.ticket_id == t.id)).one()
        assert (ev.media_id, ev.pic_url, ev.file_path) == ("MEDIA1", "http://mmbiz/1", None)


def test_transfer_changes_team_and_region_and_needs_a_new_accept(settings):
    t = file(settings, place="济源")
    with session_scope(settings.db_url) as s:
        t = s.get(Ticket, t.id)
        tickets.accept(s, settings, t, "zhang", "staff")
        with pytest.raises(tickets.TicketError):
            tickets.transfer(s, settings, t, "zhang", "staff", "lc-skills", "")
        tickets.transfer(s, settings, t, "zhang", "staff", "lc-skills", "机构实际在聊城")
        assert (t.status, t.team, t.region) == ("转办", "lc-skills", "聊城")
        tickets.accept(s, settings, t, "wang", "staff")
        assert t.status == "已受理"


def test_overdue_flag_and_sql_filter_agree(settings):
    t = file(settings)
    settings.today = "2026-11-24"  # past the accept due date (Mon 23rd)
    with session_scope(settings.db_url) as s:
        t = s.get(Ticket, t.id)
        assert tickets.is_overdue(t, date(2026, 11, 24))
        assert not tickets.is_overdue(t, date(2026, 11, 23))
        found = s.exec(select(Ticket).where(tickets.overdue_clause(date(2026, 11, 24)))).all()
        assert [x.id for x in found] == [t.id]
        tickets.accept(s, settings, t, "wang", "staff")
        assert not tickets.is_overdue(t, date(2026, 11, 24))  # answer due 12-09
        assert tickets.is_overdue(t, date(2026, 12, 10))
        assert s.exec(select(Ticket).where(tickets.overdue_clause(date(2026, 11, 24)))).all() == []


def test_progress_only_for_the_filer(settings):
    t = file(settings, openid="filer")
    with session_scope(settings.db_url) as s:
        mine = tickets.progress_text(s, settings, "filer", t.number.lower())
        assert t.number in mine and "待受理" in mine
        theirs = tickets.progress_text(s, settings, "someone-else", t.number)
        assert theirs.startswith("未找到该编号") and t.number not in theirs and "聊城" not in theirs
        assert t.number in tickets.own_tickets_text(s, "filer")
        assert t.number not in tickets.own_tickets_text(s, "someone-else")
        tt = s.get(Ticket, t.id)
        tickets.accept(s, settings, tt, "wang", "staff")
        tickets.reply(s, settings, tt, "wang", "staff", "已约谈该机构。")
    with session_scope(settings.db_url) as s:
        assert "已约谈该机构" in tickets.progress_text(s, settings, "filer", t.number)


def test_rating_only_after_close_and_once(settings):
    t = file(settings, openid="rater")
    with session_scope(settings.db_url) as s:
        assert tickets.rating_hook(s, "rater", "5") is None  # nothing was asked
        tt = s.get(Ticket, t.id)
        tickets.accept(s, settings, tt, "wang", "staff")
        tickets.reply(s, settings, tt, "wang", "staff", "已处理")
        tickets.close(s, settings, tt, "wang", "staff")
    with session_scope(settings.db_url) as s:
        assert tickets.rating_hook(s, "someone-else", "5") is None
        assert tickets.rating_hook(s, "rater", "你好") is None
        assert "4 分" in tickets.rating_hook(s, "rater", "4")
    with session_scope(settings.db_url) as s:
        assert tickets.rating_hook(s, "rater", "5") is None  # already rated
        assert s.exec(select(Rating.score).where(Rating.ticket_id == t.id)).all() == [4]


def test_same_confirm_files_one_ticket(settings):
    with session_scope(settings.db_url) as s:
        a = tickets.file_complaint(s, settings, "o", complaint(), intake_key="o:123")
        b = tickets.file_complaint(s, settings, "o", complaint(), intake_key="o:123")
    assert a.id == b.id


def test_phone_mask():
    assert tickets.mask_phone("13800138000") == "138****8000"
    assert tickets.mask_phone(None) == "匿名"


def test_routing_file_is_data(tmp_path):
    rules = tmp_path / "routing.yaml"
    rules.write_text(
        "regions:\n  - {name: 甲地, aliases: [甲]}\n  - {name: 乙地, path: 山东 临沂}\n  - {name: 其他}\n"
        "fallback_region: 其他\n"
        "teams:\n  t1: {name: 一组, region: 甲地}\n  t0: {name: 分派}\n"
        "rules:\n  - {region: 甲地, team: t1}\n  - {team: t0}\n", encoding="utf-8")
    r = load_routing(Settings(routing_file=rules))
    assert r.match_region("甲县城关") == "甲地" and r.team_for("甲地", "其他") == "t1"
    assert r.match_region("临沂市兰山区") == "乙地" and r.match_region("郑州") is None  # by gazetteer path
    assert r.team_for("其他", "其他") == "t0"
    with pytest.raises(ValueError):
        Routing({"teams": {"t": {"name": "x"}}, "rules": [{"team": "nope"}]})
    with pytest.raises(ValueError):  # a path the gazetteer does not know is a typo
        Routing({"regions": [{"name": "甲", "path": "山东 火星"}], "teams": {"t": {"name": "x"}}})
    # a broken edit keeps the last good rules; a broken file at start refuses to load
    good_mtime = rules.stat().st_mtime
    rules.write_text("rules: [{team: nope}]\n", encoding="utf-8")
    os.utime(rules, (good_mtime + 10, good_mtime + 10))
    assert load_routing(Settings(routing_file=rules)).team_for("甲地", "其他") == "t1"
    broken = tmp_path / "broken.yaml"
    broken.write_text("teams: {}\n", encoding="utf-8")
    with pytest.raises(ValueError):
        load_routing(Settings(routing_file=broken))


def test_public_texts_fit_one_message_and_the_close_note_reaches_the_follower(settings):
    t = file(settings)
    with session_scope(settings.db_url) as s:
        tt = s.get(Ticket, t.id)
        tickets.accept(s, settings, tt, "wang", "staff")
        with pytest.raises(tickets.TicketError):
            tickets.reply(s, settings, tt, "wang", "staff", "长" * (tickets.PUBLIC_TEXT_MAX + 1))
        msg = tickets.reply(s, settings, tt, "wang", "staff", "答" * tickets.PUBLIC_TEXT_MAX).text
        assert len(msg.encode()) <= 2048
        done = tickets.close(s, settings, tt, "wang", "staff", "机构已整改并退费").text
        assert "办结说明：机构已整改并退费" in done and len(done.encode()) <= 2048


def test_photos_are_kept_as_media_id_without_wechat_credentials(settings):
    from bot.evidence import fetch_missing

    settings.wechat.appid = settings.wechat.secret = None
    t = file(settings, evidence=[{"media_id": "M1", "pic_url": "http://mmbiz.qpic.cn/1"}])
    assert fetch_missing(settings, t.id) == 0  # no WECHAT_APPID/SECRET: nothing to call
    with session_scope(settings.db_url) as s:
        ev = s.exec(select(Evidence).where(Evidence.ticket_id == t.id)).one()
        assert (ev.media_id, ev.pic_url, ev.file_path) == ("M1", "http://mmbiz.qpic.cn/1", None)


def test_a_reply_is_delivered_by_the_carrier_it_is_given_after_the_commit(settings):
    """The ticket layer emits a FollowerNotice; whoever delivers it (the WeChat push, in the
    console) is handed in, and the outcome lands on the timeline either way."""
    t = file(settings, openid="follower-carried")
    with session_scope(settings.db_url) as s:
        tt = s.get(Ticket, t.id)
        tickets.accept(s, settings, tt, "wang", "staff")
        notice = tickets.reply(s, settings, tt, "wang", "staff", "已约谈机构。")
    carried = []

    def carrier(_settings, openid, text, **_ticket):  # ticket_id, template (None: none configured)
        with session_scope(settings.db_url) as s:  # called after the commit: the reply is there
            assert s.get(Ticket, t.id).status == "已答复"
        carried.append((openid, text))
        return len(carried) == 1  # delivered now the first time, kept the second

    assert tickets.deliver(settings, notice, carrier) is True
    assert tickets.deliver(settings, notice, carrier) is False
    assert carried == [("follower-carried", notice.text)] * 2
    with session_scope(settings.db_url) as s:
        details = [e.detail for e in s.exec(select(TicketEvent).where(
            TicketEvent.ticket_id == t.id, TicketEvent.action == "delivery").order_by(TicketEvent.id))]
    # issue 12: a carrier that only says "not now" gives no reason; no 48-hour window is guessed
    assert details == ["已通过客服消息送达投诉人", "暂未送达，投诉人下次发消息时自动补发"]


def test_the_ticket_rules_import_no_channel():
    """bot/tickets knows the follower's channel only as a carrier: no module of it imports bot.wechat."""
    import ast
    from pathlib import Path

    package = Path(tickets.__file__).parent
    for path in package.glob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        imported = [n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module]
        imported += [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
        assert not [m for m in imported if m.startswith(("bot.wechat", "wechatpy"))], path.name
        assert len(path.read_text(encoding="utf-8").splitlines()) <= 400, path.name
