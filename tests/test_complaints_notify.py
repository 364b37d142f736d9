"""Issue 12, notifications that arrive: a staff reply reaches the follower inside the 48-hour
window as a customer-service message, outside it (the follower's last message older than 48 h,
or WeChat answering 45015) as a template message with the configured fields (each ≤ 20
characters) and a link to the ticket's read-only progress page; that page needs no login, masks
personal data, fits a 390 px phone and answers a wrong token with a Chinese 404. Without a
template the text is kept for the follower's next message and the timeline says so; when it
finally goes out, the timeline says that too. Real servers over HTTP, the fake WeChat API."""
from __future__ import annotations

import re
from datetime import timedelta

import pytest
from pydantic import ValidationError
from sqlmodel import select

from core.config import WeChatSettings

from storage.db import session_scope
from storage.models import Follower, PendingPush, Ticket, TicketEvent, utcnow
from tests.conftest import ADMIN_PASSWORD, ADMIN_USER
from tests.console_helpers import act, file_ticket, login, server_settings
from tests.fake_wechat import TEMPLATE_SEND
from tests.wechat_util import WECHAT_ENV, new_openid, platform_for, wait_for

pytestmark = pytest.mark.db

SEND = "/cgi-bin/message/custom/send"
TEMPLATE_ID = "TPL-ticket-progress-01"
PUBLIC_URL = "https://policy.example.gov.cn/bot"
FIELDS = "character_string1=编号,phrase2=状态,time3=时间,thing4=摘要"
ADMIN = dict(POLICYBOT_ADMIN_USER=ADMIN_USER, POLICYBOT_ADMIN_PASSWORD=ADMIN_PASSWORD)
LONG_REPLY = "经核查，该校确有违规收费，已责令其在十个工作日内退还八百元材料费；如有疑问请拨打13900139000联系经办人。"


@pytest.fixture(scope="module")
def srv(live_server):
    """A server with the ticket template configured."""
    return live_server("notify", WECHAT_TEMPLATE_TICKET=TEMPLATE_ID, WECHAT_TEMPLATE_TICKET_FIELDS=FIELDS,
                       POLICYBOT_PUBLIC_URL=PUBLIC_URL, **ADMIN, **WECHAT_ENV)


@pytest.fixture(scope="module")
def plain(live_server):
    """A server without a template: today's behaviour."""
    return live_server("notify-plain", **ADMIN, **WECHAT_ENV)


def follower_with_ticket(server, *, hours_ago: float = 0):
    """A follower who wrote over /wechat (`hours_ago` hours ago, set in the database) and a ticket
    of theirs, accepted by staff. Returns (openid, ticket)."""
    openid = new_openid("onotify")
    assert platform_for(server).say(openid, "你好")
    settings = server_settings(server)
    if hours_ago:
        with session_scope(settings.db_url) as s:
            s.get(Follower, openid).last_seen_at = utcnow() - timedelta(hours=hours_ago)
    ticket = file_ticket(server, openid=openid, institution="聊城某某职业培训学校")
    return openid, ticket


def deliveries(server, ticket_id: int) -> list[str]:
    with session_scope(server_settings(server).db_url) as s:
        return list(s.exec(select(TicketEvent.detail).where(
            TicketEvent.ticket_id == ticket_id, TicketEvent.action == "delivery").order_by(TicketEvent.id)))


def kept(server, openid: str) -> list[PendingPush]:
    with session_scope(server_settings(server).db_url) as s:
        return list(s.exec(select(PendingPush).where(PendingPush.openid == openid,
                                                     PendingPush.delivered_at.is_(None))))


def token_of(server, ticket_id: int) -> str:
    with session_scope(server_settings(server).db_url) as s:
        return s.get(Ticket, ticket_id).progress_token


def cs_attempts(fake, openid):
    return [c for c in fake.calls if c["path"] == SEND and (c["json"] or {}).get("touser") == openid]


def staff_reply(server, number: str, text: str, *, close: str | None = None) -> None:
    with server.client(follow_redirects=False) as c:
        csrf = login(c)
        if text:
            assert act(c, csrf, number, "accept").status_code == 303
            assert act(c, csrf, number, "note", text="内部备注：机构法人电话13700137000").status_code == 303
            assert act(c, csrf, number, "reply", text=text).status_code == 303
        if close is not None:
            assert act(c, csrf, number, "close", text=close).status_code == 303


def test_a_reply_inside_the_window_goes_as_a_customer_service_message(srv, fake_wechat):
    openid, t = follower_with_ticket(srv)
    staff_reply(srv, t.number, "已约谈该校负责人，三日内答复处理结果。")
    sent = [m["text"]["content"] for m in fake_wechat.sent_messages(openid)]
    assert any("已约谈该校负责人" in m and t.number in m for m in sent)
    assert fake_wechat.templates_sent(openid) == []
    assert deliveries(srv, t.id) == ["已通过客服消息送达投诉人"]


def test_a_reply_outside_the_window_goes_as_a_template_with_the_progress_link(srv, fake_wechat):
    openid, t = follower_with_ticket(srv, hours_ago=49)
    staff_reply(srv, t.number, LONG_REPLY)
    assert cs_attempts(fake_wechat, openid) == []  # known to be outside the window: not even tried
    [msg] = fake_wechat.templates_sent(openid)
    token = token_of(srv, t.id)
    assert len(token) >= 32
    assert (msg["template_id"], msg["url"]) == (TEMPLATE_ID, f"{PUBLIC_URL}/progress/{token}")
    values = {k: v["value"] for k, v in msg["data"].items()}
    assert set(values) == {"character_string1", "phrase2", "time3", "thing4"}
    assert all(len(v) <= 20 for v in values.values()), values
    assert (values["character_string1"], values["phrase2"]) == (t.number, "已答复")
    assert re.fullmatch(r"20\d\d-\d\d-\d\d \d\d:\d\d", values["time3"])
    assert values["thing4"].startswith("新答复：经核查，该校确有违规") and values["thing4"].endswith("…")
    assert deliveries(srv, t.id) == [f"已通过模板消息送达投诉人（超出48小时互动窗口；msgid {msg['msgid']}），附进度页链接"]
    assert kept(srv, openid) == []  # the template is the notice: nothing waits for the next message

    # the link opens the read-only page without logging in
    with srv.client() as anon:
        page = anon.get(msg["url"].removeprefix(PUBLIC_URL))
        assert page.status_code == 200 and page.headers["cache-control"] == "no-store"
        assert page.headers["referrer-policy"] == "no-referrer"
        html = page.text
        assert t.number in html and "已答复" in html and "聊城某某职业培训学校" in html
        assert "如有疑问请拨打139****9000联系经办人" in html and "13900139000" not in html
        assert "138****8000" in html and "13800138000" not in html
        assert "内部备注" not in html and "13700137000" not in html  # staff-only events stay inside
        assert "答复时限" not in html and "最新答复" in html
        wrong = anon.get("/progress/" + token[:-2] + ("AA" if not token.endswith("AA") else "BB"))
        assert wrong.status_code == 404 and "未找到该投诉的进度页" in wrong.text and t.number not in wrong.text
        assert anon.get("/progress/" + t.number).status_code == 404  # the number is not the key

    # 办结 outside the window: a second template, and the page ends with the 办结说明
    staff_reply(srv, t.number, "", close="机构已退还全部费用，投诉人确认收到。")
    closed = fake_wechat.templates_sent(openid)[-1]
    values = {k: v["value"] for k, v in closed["data"].items()}
    assert values["phrase2"] == "已办结" and values["thing4"].startswith("已办结：机构已退还全部费用")
    assert all(len(v) <= 20 for v in values.values()), values
    with srv.client() as anon:
        html = anon.get(closed["url"].removeprefix(PUBLIC_URL)).text
    assert "办结说明" in html and "机构已退还全部费用，投诉人确认收到。" in html and "已办结" in html


def test_a_45015_inside_the_known_window_falls_back_to_the_template(srv, fake_wechat):
    openid, t = follower_with_ticket(srv)  # wrote just now, as far as the server knows
    fake_wechat.fail_next(SEND, 45015)
    staff_reply(srv, t.number, "请补充缴费凭证的照片。")
    assert len(cs_attempts(fake_wechat, openid)) == 1 and fake_wechat.sent_messages(openid) == []  # refused
    [msg] = fake_wechat.templates_sent(openid)
    assert msg["data"]["thing4"]["value"] == "新答复：请补充缴费凭证的照片。"
    assert deliveries(srv, t.id)[-1].startswith("已通过模板消息送达投诉人（超出48小时互动窗口；msgid ")
    assert kept(srv, openid) == []


def test_a_refused_template_is_kept_and_its_late_delivery_is_on_the_timeline(srv, fake_wechat):
    openid, t = follower_with_ticket(srv, hours_ago=72)
    fake_wechat.fail_next(TEMPLATE_SEND, 43101)  # the follower refused template messages
    staff_reply(srv, t.number, "已立案调查，请耐心等待。")
    assert fake_wechat.templates_sent(openid) == []
    assert deliveries(srv, t.id) == ["暂未送达：超出48小时互动窗口，模板消息发送失败（微信错误码43101），投诉人下次发消息时自动补发"]
    [row] = kept(srv, openid)
    assert row.ticket_id == t.id and "已立案调查" in row.text
    platform_for(srv).say(openid, "在吗")  # the follower writes: the window is open again
    assert wait_for(lambda: any("已立案调查" in m["text"]["content"] for m in fake_wechat.sent_messages(openid)))
    assert wait_for(lambda: len(deliveries(srv, t.id)) == 2)
    assert deliveries(srv, t.id)[-1] == "此前暂未送达的消息已于投诉人再次发消息后通过客服消息补发送达投诉人"


def test_without_a_template_the_reply_waits_and_the_timeline_says_so(plain, fake_wechat):
    openid, t = follower_with_ticket(plain, hours_ago=49)
    fake_wechat.fail_next(SEND, 45015)
    staff_reply(plain, t.number, "窗口外答复：已责令退费。")
    assert fake_wechat.templates_sent(openid) == []
    assert not any("窗口外答复" in m["text"]["content"] for m in fake_wechat.sent_messages(openid))
    assert deliveries(plain, t.id) == [
        "暂未送达：超出48小时互动窗口（微信错误码45015），未配置模板消息（WECHAT_TEMPLATE_TICKET），投诉人下次发消息时自动补发"]
    with plain.client(follow_redirects=False) as c:
        login(c)
        assert "未配置模板消息" in c.get(f"/console/t/{t.number}").text
    # kept, then delivered on the follower's next message: the timeline no longer ends with 暂未送达
    platform_for(plain).say(openid, "你好")
    delivered = wait_for(lambda: [m for m in fake_wechat.sent_messages(openid) if "窗口外答复" in m["text"]["content"]])
    assert len(delivered) == 1
    assert wait_for(lambda: len(deliveries(plain, t.id)) == 2)
    assert deliveries(plain, t.id)[-1] == "此前暂未送达的消息已于投诉人再次发消息后通过客服消息补发送达投诉人"
    with plain.client(follow_redirects=False) as c:
        login(c)
        assert "补发送达投诉人" in c.get(f"/console/t/{t.number}").text


def test_a_bad_field_mapping_stops_the_start_with_its_reason():
    assert WeChatSettings(_env_file=None, template_ticket_fields=FIELDS).ticket_fields[3] == ("thing4", "摘要")
    for bad in ("keyword1=姓名", "keyword1", "1kw=编号", " , "):
        with pytest.raises(ValidationError, match="模板字段"):
            WeChatSettings(_env_file=None, template_ticket_fields=bad)


@pytest.mark.browser
def test_the_progress_page_on_a_phone(srv, browser):
    openid, t = follower_with_ticket(srv, hours_ago=50)
    staff_reply(srv, t.number, LONG_REPLY + "机构地址：聊城市东昌府区光岳路一百二十号院内北侧二楼培训中心办公室。")
    ctx = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True, locale="zh-CN")
    try:
        page = ctx.new_page()
        resp = page.goto(f"{srv.base_url}/progress/{token_of(srv, t.id)}")
        assert resp.status == 200
        assert page.locator("#number").inner_text() == t.number
        assert page.locator("#status").inner_text() == "已答复"
        assert "139****9000" in page.locator("#latest").inner_text()
        assert [x.strip() for x in page.locator("#timeline .what").all_inner_texts()] == ["提交投诉", "受理", "答复"]
        assert page.locator("#phone").inner_text() == "138****8000"
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")  # no sideways scrolling
        assert page.evaluate("getComputedStyle(document.body).backgroundColor") == "rgb(244, 245, 247)"  # styled
        missing = page.goto(f"{srv.base_url}/progress/not-a-real-token-at-all-0000")
        assert missing.status == 404 and "未找到该投诉的进度页" in page.locator("#error").inner_text()
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    finally:
        ctx.close()
