"""The two-way complaint thread over the real /wechat protocol (signed, AES) and the console:
staff ask, the follower's text and photo are attached to the ticket, confirmed, shown in the
timeline and flagged as 投诉人已补充 until a staff action; “补充” with two open tickets asks
which; 取消, a menu click and a 办结 end the thread, and a lapsed thread lets go by itself."""
from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlmodel import select

from storage.db import session_scope
from storage.models import Evidence, Follower, Ticket, TicketEvent, utcnow
from playwright.sync_api import expect

from tests.conftest import ADMIN_PASSWORD, ADMIN_USER
from tests.console_helpers import act, file_ticket, login, server_settings
from tests.test_console_browser import log_in, phone  # noqa: F401  (phone: the 390 px Chromium page fixture)
from tests.test_complaints_wechat import NUMBER_RE, file_complaint, image_xml
from tests.wechat_util import event_xml, new_openid, platform_for, wait_for

pytestmark = pytest.mark.db

QUESTION = "是否保留了押金收据？"
REFUSED_PHOTO = "请先发送“我要投诉”"


def _events(settings, number: str, action: str) -> list[TicketEvent]:
    with session_scope(settings.db_url) as s:
        ticket = s.exec(select(Ticket).where(Ticket.number == number)).one()
        return list(s.exec(select(TicketEvent).where(TicketEvent.ticket_id == ticket.id, TicketEvent.action == action)
                           .order_by(TicketEvent.id)))


def _queue_row(client, number: str) -> str:
    """The queue's list item of one ticket."""
    page = client.get("/console/").text
    rows = [row for row in re.findall(r'<li class="ticket-row.*?</li>', page, re.S) if number in row]
    assert len(rows) == 1, page
    return rows[0]


def _stored_photos(settings, number: str):
    with session_scope(settings.db_url) as s:
        ticket = s.exec(select(Ticket).where(Ticket.number == number)).one()
        rows = list(s.exec(select(Evidence).where(Evidence.ticket_id == ticket.id)))
    return rows if rows and all(e.file_path for e in rows) else None


def test_staff_ask_and_the_follower_answers_with_text_and_a_photo(server, fake_wechat):
    p = platform_for(server)
    openid = new_openid("othread")
    number = NUMBER_RE.search(file_complaint(p, openid, phone=None)).group(1)
    settings = server_settings(server)
    fake_wechat.media["MEDIA_DEPOSIT"] = b"\x89PNG\r\n\x1a\ndeposit-receipt"
    with server.client(follow_redirects=False) as c:
        csrf = login(c)
        assert act(c, csrf, number, "accept").status_code == 303
        page = c.get(f"/console/t/{number}").text
        assert 'data-action="ask"' in page and "向投诉人提问" in page
        empty = act(c, csrf, number, "ask", text="  ")
        assert empty.status_code == 409 and "问题不能为空" in empty.text
        assert act(c, csrf, number, "ask", text=QUESTION).status_code == 303
        sent = [m["text"]["content"] for m in fake_wechat.sent_messages(openid)]
        assert any(QUESTION in x and number in x and "取消" in x for x in sent), sent
        assert "投诉人已补充" not in _queue_row(c, number)

        # the follower's answer is the ticket's, not a question for the Q&A
        done = p.say(openid, "有收据，押金交了五百元，收据在我这里")
        assert f"已补充到投诉 {number}" in done and "继续发送可再补充" in done and "取消" in done
        photo = p.send(image_xml(openid, "MEDIA_DEPOSIT"))
        assert f"已补充到投诉 {number}" in photo and REFUSED_PHOTO not in photo
        stored = wait_for(lambda: _stored_photos(settings, number))
        assert stored and len(stored) == 1
        assert (settings.data_dir / stored[0].file_path).read_bytes() == b"\x89PNG\r\n\x1a\ndeposit-receipt"

        supplements = _events(settings, number, "supplement")
        assert [(e.actor, e.public) for e in supplements] == [("follower", True), ("follower", True)]
        assert supplements[0].detail == "有收据，押金交了五百元，收据在我这里" and "照片" in supplements[1].detail
        assert "投诉人已补充" in _queue_row(c, number)
        assert number in c.get("/console/?supplemented=1").text
        page = c.get(f"/console/t/{number}").text
        assert 'id="supplemented"' in page and "投诉人补充" in page and "押金交了五百元" in page
        assert f'href="/console/evidence/{stored[0].id}"' in page
        assert "向投诉人提问" in page and QUESTION in page
        # opening the page leaves the flag for whoever handles it; a staff action clears it
        assert "投诉人已补充" in _queue_row(c, number)
        assert act(c, csrf, number, "reply", text="已收到收据照片，正在核查。").status_code == 303
        assert "投诉人已补充" not in _queue_row(c, number)
        assert 'id="supplemented"' not in c.get(f"/console/t/{number}").text
        assert number not in c.get("/console/?supplemented=1").text
    # the thread is still open after the reply (24 h): a later photo still reaches the ticket
    assert f"已补充到投诉 {number}" in p.send(image_xml(openid, "MEDIA_LATER"))


def test_supplement_with_two_open_tickets_asks_which(server):
    p = platform_for(server)
    openid = new_openid("otwo")
    p.say(openid, "你好")  # the follower row exists, as for anyone who filed in the chat
    first = file_ticket(server, openid, institution="阳光职业培训学校").number
    second = file_ticket(server, openid, institution="希望技能培训中心").number
    settings = server_settings(server)

    question = p.say(openid, "补充")
    assert "补充到哪一件" in question and first in question and second in question
    lines = question.splitlines()
    assert any(line.startswith("1 ") and second in line for line in lines)  # newest first
    assert any(line.startswith("2 ") and first in line for line in lines)
    again = p.send(image_xml(openid, "MEDIA_TOO_EARLY"))  # before choosing: asked again, not lost
    assert "请先回复数字" in again and first in again
    opened = p.say(openid, "2")
    assert first in opened and "请直接发送" in opened
    assert f"已补充到投诉 {first}" in p.say(openid, "培训时一直是代课老师，没有见过合同上的讲师")
    assert [e.detail for e in _events(settings, first, "supplement")] == ["培训时一直是代课老师，没有见过合同上的讲师"]
    assert _events(settings, second, "supplement") == []

    # “补充 编号 内容” goes straight to that ticket; an unknown number tells nothing
    direct = p.say(openid, f"补充 {second.lower()} 机构地址已经搬走了")
    assert f"已补充到投诉 {second}" in direct
    assert [e.detail for e in _events(settings, second, "supplement")] == ["机构地址已经搬走了"]
    assert "未找到该编号" in p.say(new_openid("ostranger"), f"补充 {second}")
    assert p.say(openid, "取消").startswith("已结束补充")


def test_cancel_or_a_menu_click_ends_the_thread(server):
    p = platform_for(server)
    openid = new_openid("ocancel")
    p.say(openid, "你好")
    number = file_ticket(server, openid).number
    settings = server_settings(server)

    opened = p.say(openid, "补充")  # one open ticket: no question which
    assert number in opened and "请直接发送" in opened
    ended = p.say(openid, "取消")
    assert "已结束补充" in ended and number in ended
    answer = p.say(openid, "以工代训补贴怎么申请？")
    assert answer and "已补充" not in answer
    assert REFUSED_PHOTO in p.send(image_xml(openid, "MEDIA_AFTER_CANCEL"))
    assert "当前没有进行中的事项" in p.say(openid, "取消")  # nothing open any more
    assert _events(settings, number, "supplement") == []

    # a question that merely begins with 补充 is a question, not the command
    assert "请直接发送" not in p.say(openid, "补充养老保险怎么交？")

    assert "请直接发送" in p.say(openid, "补充")
    howto = p.send(event_xml(openid, "CLICK", "POLICY_QA"))
    assert "直接用一句话发问题" in howto
    assert "已补充" not in p.say(openid, "聊城职业技能培训补贴标准是多少？")
    assert _events(settings, number, "supplement") == []


def test_close_and_time_end_the_thread(server, fake_wechat):
    p = platform_for(server)
    openid = new_openid("oclosed")
    p.say(openid, "你好")
    number = file_ticket(server, openid).number
    settings = server_settings(server)
    with server.client(follow_redirects=False) as c:
        csrf = login(c)
        act(c, csrf, number, "accept")
        assert act(c, csrf, number, "ask", text=QUESTION).status_code == 303
        assert f"已补充到投诉 {number}" in p.say(openid, "收据丢了")
        act(c, csrf, number, "reply", text="已核实，责令退费。")
        assert act(c, csrf, number, "close", text="机构已退还押金。").status_code == 303
        assert 'data-action="ask"' not in c.get(f"/console/t/{number}").text  # no question on a closed ticket
        refused = act(c, csrf, number, "ask", text="还有别的问题吗？")
        assert refused.status_code == 409 and "不能执行此操作" in refused.text
    after = p.say(openid, "押金已经收到了吗")
    assert "已补充" not in after
    assert REFUSED_PHOTO in p.send(image_xml(openid, "MEDIA_AFTER_CLOSE"))
    assert "已办结" in p.say(openid, f"补充 {number}")
    assert [e.detail for e in _events(settings, number, "supplement")] == ["收据丢了"]
    with session_scope(settings.db_url) as s:
        assert s.get(Follower, openid).thread == {}

    # a thread lapses 24 h after the last question or supplement
    other = file_ticket(server, openid).number
    assert other in p.say(openid, "补充")
    with session_scope(settings.db_url) as s:
        follower = s.get(Follower, openid)
        follower.thread = {**follower.thread, "until": (utcnow() - timedelta(minutes=1)).isoformat()}
        s.add(follower)
    assert "已补充" not in p.say(openid, "培训补贴什么时候发？")
    assert _events(settings, other, "supplement") == []


@pytest.mark.browser
def test_ask_in_the_browser_and_see_the_answer(server, phone, fake_wechat):  # noqa: F811
    p = platform_for(server)
    openid = new_openid("obrowser")
    p.say(openid, "你好")
    number = file_ticket(server, openid, institution="浏览器提问培训学校").number
    log_in(phone, server.base_url, ADMIN_USER, ADMIN_PASSWORD)
    phone.goto(f"{server.base_url}/console/t/{number}")
    phone.click("form[data-action=accept] button")
    expect(phone.locator("#status")).to_have_text("已受理")
    phone.fill("form[data-action=ask] textarea", QUESTION)
    phone.click("form[data-action=ask] button")
    expect(phone.locator("#timeline")).to_contain_text(QUESTION)
    assert any(QUESTION in m["text"]["content"] for m in fake_wechat.sent_messages(openid))
    assert f"已补充到投诉 {number}" in p.say(openid, "收据在，金额五百元")
    phone.goto(server.base_url + "/console/")
    expect(phone.locator(".ticket-row", has_text=number).locator(".badge.supplemented")).to_have_text("投诉人已补充")
    assert phone.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    phone.locator(".ticket-row", has_text=number).locator("a").click()
    expect(phone.locator("#supplemented")).to_have_text("投诉人已补充")
    expect(phone.locator("#timeline .ev-supplement")).to_contain_text("收据在，金额五百元")
    phone.fill("form[data-action=note] textarea", "已电话核实收据")
    phone.click("form[data-action=note] button")
    expect(phone.locator("#timeline")).to_contain_text("已电话核实收据")
    expect(phone.locator("#supplemented")).to_have_count(0)
