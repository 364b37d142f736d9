"""An ID number sent in the chat is not kept: the follower is told so, and a wrong checksum is
pointed out. Over the real /wechat protocol; the server log never shows the number."""
from __future__ import annotations

from bot.id_number import checksum_ok
from tests.wechat_util import new_openid, platform_for

VALID = "11010519491231002X"
WRONG = "110105194912310021"


def test_checksum():
    assert checksum_ok(VALID) and checksum_ok(VALID.lower())
    assert not checksum_ok(WRONG)
    assert not checksum_ok("12345") and not checksum_ok("1101051949123100XX")


def test_id_number_is_refused_politely(server):
    wx = platform_for(server)
    openid = new_openid()
    good = wx.say(openid, VALID)
    assert "不需要身份证号" in good and "校验位不对" not in good
    bad = wx.say(openid, f"身份证号：{WRONG}")
    assert "不需要身份证号" in bad and "校验位不对" in bad
    assert VALID not in server.log() and WRONG not in server.log()
