"""Every kind of message a follower can send gets a helpful reply (or a recorded event), and the
dialog router's commands work through the real protocol: menu digits, region, cancel, 更多."""
from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from sqlalchemy import text as sql

from tests.wechat_util import WECHAT_ENV, event_xml, message_xml, new_openid, server_engine, text_xml

pytestmark = pytest.mark.db


@pytest.fixture(scope="module")
def server(live_server):
    return live_server("wx-messages", **WECHAT_ENV)


def follower_row(server, openid: str):
    with server_engine(server).connect() as c:
        return c.execute(sql("SELECT region, subscribed FROM follower WHERE openid = :o"), {"o": openid}).first()


def test_subscribe_welcome_and_unsubscribe_recorded(wx, server):
    openid = new_openid()
    welcome = wx.send(event_xml(openid, "subscribe"))
    assert "我在" in welcome  # how to set one's region
    assert "1 " in welcome and "投诉" in welcome  # the numbered menu
    assert wx.send(event_xml(openid, "unsubscribe")) is None  # "success"
    assert follower_row(server, openid).subscribed in (False, 0)
    # events are de-duplicated by sender + CreateTime + Event: a later re-subscribe is new
    wx.send(event_xml(openid, "subscribe", create_time=int(time.time()) + 5))
    assert follower_row(server, openid).subscribed in (True, 1)


def test_help_menu_is_numbered_and_answerable_by_digit(wx):
    openid = new_openid()
    menu = wx.say(openid, "帮助")
    assert wx.say(openid, "菜单") == menu
    lines = [ln for ln in menu.splitlines() if ln[:1].isdigit()]
    assert len(lines) >= 5
    policy_line = next(ln for ln in lines if "政策问答" in ln)
    digit = policy_line.split()[0]
    how_to = wx.say(openid, digit)
    assert "例如" in how_to  # how to ask, with examples
    assert wx.say(openid, "１") == wx.say(openid, "1")  # full-width digits too
    assert "数字" in wx.say(openid, "99")


def test_menu_click_events(wx):
    openid = new_openid()
    how_to = wx.send(event_xml(openid, "CLICK", "POLICY_QA"))
    assert "例如" in how_to
    for key in ("FORM_TRAINEE", "FORM_YIGONG", "FORM_VOUCHER", "FORM_COMPLAINT", "QUERY_PROGRESS", "NO_SUCH_KEY"):
        reply = wx.send(event_xml(new_openid(), "CLICK", key))
        assert reply and len(reply.encode()) <= 2048, key
    assert wx.send(event_xml(openid, "VIEW", "https://example.com/")) is None
    assert wx.send(event_xml(openid, "LOCATION")) is None  # periodic location reports: no reply


@pytest.mark.parametrize("said, region", [
    ("我在聊城", "山东 聊城"),
    ("地区 济源", "河南 济源"),
    ("我是文水的", "山西 吕梁 文水"),
    ("地区：临沂市", "山东 临沂"),
])
def test_region_is_set_and_remembered(wx, server, said, region):
    openid = new_openid()
    reply = wx.say(openid, said)
    assert region in reply
    assert follower_row(server, openid).region == region
    assert region in wx.say(openid, "地区")  # shows the current one


def test_unknown_place_lists_covered_regions(wx, server, http):
    openid = new_openid()
    reply = wx.say(openid, "我在火星")
    assert "火星" in reply and ("收录" in reply or "载入" in reply)
    assert follower_row(server, openid).region is None
    wx.say(openid, "我在聊城")
    wx.say(openid, "地区 全部")
    assert follower_row(server, openid).region is None


def test_question_uses_the_followers_region(wx, http):
    openid = new_openid()
    wx.say(openid, "我在聊城")
    question = "职业技能培训补贴标准是多少"
    reply = wx.say(openid, question)
    expected = http.post("/api/ask", json={"question": question, "region": "山东 聊城"}).json()["answer"]
    assert reply.startswith(expected.strip()[:40])


def test_region_and_question_in_one_message(wx, http):
    openid = new_openid()
    reply = wx.say(openid, "我在聊城，职业技能培训补贴标准是多少")
    assert "山东 聊城" in reply
    expected = http.post("/api/ask", json={"question": "职业技能培训补贴标准是多少", "region": "山东 聊城"}).json()["answer"]
    assert expected.strip()[:40] in reply


def test_voice_with_and_without_recognition(wx):
    openid = new_openid()
    menu = wx.say(openid, "帮助")
    heard = wx.send(message_xml(openid, "voice", {"MediaId": "m1", "Format": "amr", "Recognition": "帮助。"}))
    assert heard == menu
    unheard = wx.send(message_xml(openid, "voice", {"MediaId": "m2", "Format": "amr"}))
    assert "打字" in unheard


def test_image_outside_a_form_is_explained(wx):
    reply = wx.send(message_xml(new_openid(), "image", {"PicUrl": "http://x.invalid/a.jpg", "MediaId": "img1"}))
    assert "图片" in reply and "投诉" in reply


def test_location_message_sets_region_from_its_label(wx, server):
    openid = new_openid()
    reply = wx.send(message_xml(openid, "location", {
        "Location_X": "36.45", "Location_Y": "115.98", "Scale": "15", "Label": "山东省聊城市东昌府区柳园街道"}))
    assert "山东 聊城" in reply
    assert follower_row(server, openid).region.startswith("山东 聊城")
    unknown = wx.send(message_xml(new_openid(), "location", {
        "Location_X": "0", "Location_Y": "0", "Scale": "15", "Label": "某个未知的地方"}))
    assert "我在" in unknown


@pytest.mark.parametrize("kind, fields", [
    ("link", {"Title": "一篇文章", "Description": "d", "Url": "http://x.invalid/"}),
    ("video", {"MediaId": "v1", "ThumbMediaId": "t1"}),
    ("shortvideo", {"MediaId": "v2", "ThumbMediaId": "t2"}),
    ("file", {"Title": "材料.pdf", "MediaId": "f1"}),
    ("miniprogrampage", {"Title": "小程序"}),
    ("somethingnew", {}),
])
def test_other_message_kinds_get_a_helpful_reply(wx, kind, fields):
    reply = wx.send(message_xml(new_openid(), kind, fields))
    assert reply and "文字" in reply


def test_cancel_more_and_odd_input_outside_a_form(wx):
    openid = new_openid()
    for word in ("取消", "退出", "算了"):
        reply = wx.say(openid, word)
        assert "没有进行中" in reply and "1 " in reply
    assert "没有更多" in wx.say(openid, "更多")
    assert wx.say(openid, "👍🎉")  # emoji only: still an answer
    assert wx.say(openid, "   ")


def test_retry_storm_on_the_fast_path_gets_the_same_reply(wx):
    """Three concurrent copies of one MsgId and a late one: same reply (or "success"), and the
    follower's state moved once."""
    openid = new_openid()
    xml = text_xml(openid, "我在聊城")
    with httpx.Client(timeout=30) as client, ThreadPoolExecutor(3) as pool:
        replies = [wx.open(r) for r in pool.map(lambda _: wx.post(xml, client=client), range(3))]
    late = wx.open(wx.post(xml))
    contents = {r["Content"] for r in replies + [late] if r}
    assert len(contents) == 1 and "山东 聊城" in contents.pop()
    assert late is not None  # a later retry gets the stored reply again


def test_two_followers_with_the_same_msg_id_each_get_their_own_answer(wx, server):
    """MsgIds are only unique per follower: de-duplication keys on FromUserName + MsgId."""
    from tests.wechat_util import new_msg_id

    msg_id = new_msg_id()
    first, second = new_openid("ofirst"), new_openid("osecond")
    assert "山东 聊城" in wx.send(text_xml(first, "我在聊城", msg_id=msg_id))
    other = wx.send(text_xml(second, "我在济源", msg_id=msg_id))
    assert other and "河南 济源" in other and "聊城" not in other
    assert follower_row(server, second).region == "河南 济源"
    assert wx.send(text_xml(first, "我在济源", msg_id=msg_id)) == wx.send(text_xml(first, "我在聊城", msg_id=msg_id))
    assert follower_row(server, first).region == "山东 聊城"  # the first follower's retry: not again
