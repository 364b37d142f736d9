"""The router hands an active form every message first (its own 取消 included), starts forms
from menu clicks and trigger phrases, and keeps the form's state in the database."""
from __future__ import annotations

import json

import pytest
from sqlalchemy import text as sql

from tests.wechat_util import WECHAT_ENV, event_xml, message_xml, new_openid, server_engine

pytestmark = pytest.mark.db


@pytest.fixture(scope="module")
def server(live_server):
    return live_server("wx-forms", **WECHAT_ENV)


def form_state(server, openid):
    with server_engine(server).connect() as c:
        raw = c.execute(sql("SELECT form_state FROM follower WHERE openid = :o"), {"o": openid}).scalar()
    return json.loads(raw) if isinstance(raw, str) else (raw or {})


def test_form_from_menu_click_cancelled_by_the_form(server, wx):
    openid = new_openid()
    first = wx.send(event_xml(openid, "CLICK", "FORM_COMPLAINT"))
    assert first and len(first.encode()) <= 2048
    assert form_state(server, openid)  # the form is active, in the database
    idle_cancel = wx.say(new_openid(), "取消")
    in_form_cancel = wx.say(openid, "取消")
    assert in_form_cancel != idle_cancel  # the form answered its own 取消
    assert not form_state(server, openid)
    assert wx.say(openid, "取消") == idle_cancel  # now nothing is in progress


def test_form_from_trigger_phrase_sees_digits_first(server, wx):
    openid = new_openid()
    menu = wx.say(openid, "菜单")
    started = wx.say(openid, "我要投诉")
    assert form_state(server, openid)
    wx.say(openid, "某某职业培训学校")
    reply = wx.say(openid, "1")  # a digit inside a form is the form's, not the main menu's
    assert reply != menu
    assert form_state(server, openid)
    assert started


def test_images_go_to_the_active_form(server, wx):
    image = {"PicUrl": "http://x.invalid/a.jpg", "MediaId": "img-form"}
    idle = wx.send(message_xml(new_openid(), "image", image))
    openid = new_openid()
    wx.send(event_xml(openid, "CLICK", "FORM_COMPLAINT"))
    in_form = wx.send(message_xml(openid, "image", image))
    assert in_form and in_form != idle  # the form answered, not the router's explanation
    assert form_state(server, openid)
