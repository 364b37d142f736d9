"""Complaints end to end over the real /wechat protocol (signed, AES): the form with its re-asks,
photos fetched through the fake media API, the ticket in the console, staff replies reaching the
follower (also outside the 48-hour window), progress only for the filer, the 回访 rating, and a
server killed with SIGKILL right after the confirm losing nothing."""
from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
import yaml
from sqlmodel import select

from bot import tickets
from bot.routing import load_routing
from core.config import Settings
from storage.db import session_scope
from storage.models import Evidence, Rating, Ticket
from tests.conftest import ADMIN_PASSWORD, ADMIN_USER, TEST_AES_KEY, TEST_APPID, TEST_SECRET, TEST_TOKEN
from tests.console_helpers import act, login, server_settings
from tests.wechat_util import Platform, event_xml, message_xml, new_openid, platform_for, wait_for

pytestmark = pytest.mark.db

NUMBER_RE = re.compile(r"投诉编号：(TS\d{8}-\d{6})")
FORM_FILE = Path(__file__).resolve().parents[1] / "forms" / "defs" / "complaint.yaml"


def image_xml(openid: str, media_id: str) -> str:
    return message_xml(openid, "image", {"PicUrl": f"http://mmbiz.qpic.cn/{media_id}", "MediaId": media_id})


def file_complaint(p: Platform, openid: str, *, institution="聊城市某某职业培训学校", photos=(),
                   phone="13800138000", confirm: bool = True) -> str:
    """Walk the form as a follower would (with a few wrong answers); returns the confirm reply
    (or, with confirm=False, the summary that asks for it)."""
    assert "哪家培训机构" in p.say(openid, "我要投诉")
    reply = p.say(openid, institution)
    assert "1. 虚假宣传" in reply and "7. 乱收费" in reply
    assert "什么时候" in p.say(openid, "7")
    assert "哪个地区" in p.say(openid, "2026年10月")
    assert "具体在哪里" in p.say(openid, "1")
    assert "描述" in p.say(openid, "东昌府区光岳路12号")
    assert "10" in p.say(openid, "乱收费")  # too short: re-asked with the minimum
    assert "照片" in p.say(openid, "报名时说免费培训，结业前每人收取八百元材料费，不给收据。")
    for i, media_id in enumerate(photos, 1):
        assert f"第{i}张" in p.send(image_xml(openid, media_id))
    assert "手机号" in p.say(openid, "好了" if photos else "没有")
    if phone:
        assert "11位手机号" in p.say(openid, "1")
        assert "11位手机号" in p.say(openid, "12345")  # wrong: re-asked
        summary = p.say(openid, phone)
        assert phone[:3] + "****" + phone[-4:] in summary and phone not in summary
    else:
        summary = p.say(openid, "2")
    assert "乱收费" in summary and "1. 确认" in summary
    return p.say(openid, "1") if confirm else summary


def test_form_data_agrees_with_the_lifecycle_and_routing():
    form = yaml.safe_load(FORM_FILE.read_text(encoding="utf-8"))
    slots = {s["name"]: s for s in form["slots"]}
    assert [c["value"] for c in slots["category"]["choices"]] == tickets.CATEGORIES
    routing = load_routing(Settings())
    regions = routing.region_names
    assert all(c["value"] in regions for c in slots["region"]["choices"])
    assert slots["region"]["other"]["value"] in regions
    # the place a choice names ("山东聊城") lies in that region's gazetteer path
    assert all(routing.match_region(c["label"]) == c["value"] for c in slots["region"]["choices"])


def test_complaint_end_to_end(server, fake_wechat):
    p = platform_for(server)
    openid = new_openid("ocomp")
    fake_wechat.media["MEDIA_RECEIPT"] = b"\x89PNG\r\n\x1a\nreceipt-photo"
    done = file_complaint(p, openid, photos=["MEDIA_RECEIPT", "MEDIA_FLYER"])
    number = NUMBER_RE.search(done).group(1)
    assert "前受理" in done and "前答复" in done and f"进度 {number}" in done

    settings = server_settings(server)
    with session_scope(settings.db_url) as s:  # written before the reply was sent
        t = s.exec(select(Ticket).where(Ticket.number == number)).one()
        assert (t.openid, t.region, t.team, t.category, t.phone) == (openid, "聊城", "lc-inspection", "乱收费", "13800138000")
    ev = wait_for(lambda: _stored_evidence(settings, t.id), timeout=15)
    assert len(ev) == 2 and all(e.file_path for e in ev)
    assert (settings.data_dir / ev[0].file_path).read_bytes() == b"\x89PNG\r\n\x1a\nreceipt-photo"

    # progress: the filer sees it, anyone else learns nothing
    progress = p.say(openid, f"进度 {number}")
    assert number in progress and "待受理" in progress and "暂无答复" in progress
    stranger = new_openid("ostranger")
    other = p.say(stranger, f"进度 {number}")
    assert "未找到该编号" in other and "待受理" not in other and "某某" not in other

    # the console: the ticket, masked phone, the photo
    with server.client(follow_redirects=False) as c:
        csrf = login(c, ADMIN_USER, ADMIN_PASSWORD)
        assert number in c.get("/console/").text
        page = c.get(f"/console/t/{number}").text
        assert "138****8000" in page and "13800138000" not in page and "光岳路12号" in page
        photo = c.get(f"/console/evidence/{ev[0].id}")
        assert photo.status_code == 200 and photo.content == b"\x89PNG\r\n\x1a\nreceipt-photo"
        assert act(c, csrf, number, "accept").status_code == 303
        assert act(c, csrf, number, "note", text="内部备注：已联系机构法人").status_code == 303
        assert act(c, csrf, number, "reply", text="经核查属实，已责令该校退还材料费。").status_code == 303
        sent = [m["text"]["content"] for m in fake_wechat.sent_messages(openid)]
        assert any("经核查属实，已责令该校退还材料费。" in x for x in sent)
        assert not any("内部备注" in x for x in sent)

        progress = p.say(openid, f"进度 {number.lower()}")
        assert "已答复" in progress and "经核查属实" in progress and "内部备注" not in progress

        assert act(c, csrf, number, "close").status_code == 303
        sent = [m["text"]["content"] for m in fake_wechat.sent_messages(openid)]
        assert any("已办结" in x and "回复数字" in x for x in sent)

        # 回访: the next bare digit is the rating, not a menu choice
        thanks = p.say(openid, "4")
        assert "感谢评价" in thanks and "4 分" in thanks
        assert "感谢评价" not in p.say(openid, "4")  # rated once; a digit is a menu choice again
        assert "4 分" in c.get(f"/console/t/{number}").text
    with session_scope(settings.db_url) as s:
        assert s.exec(select(Rating.score).where(Rating.ticket_id == t.id)).all() == [4]


def _stored_evidence(settings, ticket_id):
    with session_scope(settings.db_url) as s:
        rows = s.exec(select(Evidence).where(Evidence.ticket_id == ticket_id).order_by(Evidence.id)).all()
    return rows if rows and all(r.file_path for r in rows) else None


def test_anonymous_complaint_from_the_menu_and_own_list(server):
    p = platform_for(server)
    openid = new_openid("oanon")
    first = p.send(event_xml(openid, "CLICK", "FORM_COMPLAINT"))
    assert "哪家培训机构" in first
    p.say(openid, "取消")
    done = file_complaint(p, openid, institution="济源某培训中心", phone=None)
    number = NUMBER_RE.search(done).group(1)
    with session_scope(server_settings(server).db_url) as s:
        t = s.exec(select(Ticket).where(Ticket.number == number)).one()
        assert t.phone is None
    # events are de-duplicated by sender + CreateTime: give this click its own second
    listing = p.send(event_xml(openid, "CLICK", "QUERY_PROGRESS", create_time=int(time.time()) + 60))
    assert number in listing and "待受理" in listing
    assert number in p.say(openid, "进度")
    assert number not in p.say(new_openid("onew"), "进度")


def test_reply_outside_the_window_arrives_with_the_next_message(server, fake_wechat):
    p = platform_for(server)
    openid = new_openid("owindow")
    number = NUMBER_RE.search(file_complaint(p, openid)).group(1)
    with server.client(follow_redirects=False) as c:
        csrf = login(c)
        act(c, csrf, number, "accept")
        fake_wechat.fail_next("/cgi-bin/message/custom/send", 45015)
        assert act(c, csrf, number, "reply", text="窗口外答复：已立案调查。").status_code == 303
    assert not any("窗口外答复" in m["text"]["content"] for m in fake_wechat.sent_messages(openid))
    p.say(openid, "你好")  # the follower writes again: the window is open
    delivered = wait_for(lambda: [m for m in fake_wechat.sent_messages(openid) if "窗口外答复" in m["text"]["content"]])
    assert len(delivered) == 1


def test_sigkill_right_after_confirm_loses_no_ticket(live_server, tmp_path_factory):
    env = dict(WECHAT_TOKEN=TEST_TOKEN, WECHAT_AES_KEY=TEST_AES_KEY, WECHAT_APPID=TEST_APPID,
               WECHAT_SECRET=TEST_SECRET, POLICYBOT_ADMIN_USER=ADMIN_USER, POLICYBOT_ADMIN_PASSWORD=ADMIN_PASSWORD,
               POLICYBOT_EMBEDDER="hash")  # Q&A quality is not under test: start fast
    root = tmp_path_factory.mktemp("crash")
    srv = live_server("crash", data_dir=root, **env)
    openid = new_openid("ocrash")
    done = file_complaint(platform_for(srv), openid)
    srv.kill()
    number = NUMBER_RE.search(done).group(1)
    if srv.env.get("DATABASE_URL"):
        env["DATABASE_URL"] = srv.env["DATABASE_URL"]
    again = live_server("crash2", data_dir=root, **env)
    with again.client(follow_redirects=False) as c:
        login(c)
        assert number in c.get("/console/").text
        assert "聊城市某某职业培训学校" in c.get(f"/console/t/{number}").text
    assert "待受理" in platform_for(again).say(openid, f"进度 {number}")
    # the form ended with the ticket: a "1" now is a menu choice, not a second confirm
    assert "投诉编号" not in platform_for(again).say(openid, "1")
    with session_scope(server_settings(again).db_url) as s:
        assert s.exec(select(Ticket.number).where(Ticket.openid == openid)).all() == [number]


def test_a_phone_number_typed_at_the_contact_choice_is_taken(wx):
    """'是否留下手机号？' answered with the number itself: choice and number in one go."""
    openid = new_openid("ophone")
    for text in ("我要投诉", "某某培训学校", "1", "2026年10月", "聊城", "东昌府区", "宣传免费培训，后来收了八百元材料费。", "没有"):
        reply = wx.say(openid, text)
    assert "是否留下手机号" in reply
    summary = wx.say(openid, "13900139000")
    assert "139****9000" in summary and "1. 确认" in summary and "发生地区：山东聊城" in summary
    assert "投诉编号" in wx.say(openid, "1")
