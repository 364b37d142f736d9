"""/wechat speaks the platform's protocol: verification, plaintext / compatible / safe mode,
wechatpy's and the official sample's crypto vectors (2014 timestamps: those servers run with
WECHAT_MAX_AGE=0), and clear refusals (403 forged, 400 malformed, 413 too big) — never a 500.
The age limit and one-message-per-signature are tests/test_wechat_replay.py."""
from __future__ import annotations

import time

import httpx
import pytest
import xmltodict
from wechatpy.crypto import WeChatCrypto

from tests.conftest import TEST_AES_KEY, TEST_APPID, TEST_TOKEN
from tests.wechat_util import WECHAT_ENV, Platform, new_openid, sign, text_xml

pytestmark = pytest.mark.db

# The official WeChat sample (WXBizMsgCrypt demo), as quoted by many SDKs' tests.
SAMPLE = dict(token="spamtest", aes_key="abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG",
              appid="wx2c2769f8efd9abc2", timestamp="1409735669", nonce="1320562132",
              msg_signature="5d197aaffba7e9b25a30732f161a50dee96bd5fa")
SAMPLE_XML = (
    "<xml><ToUserName><![CDATA[gh_10f6c3c3ac5a]]></ToUserName><FromUserName><![CDATA[oyORnuP8q7ou2gfYjqLzSIWZf0rs]]>"
    "</FromUserName><CreateTime>1409735668</CreateTime><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[abcdteT]]>"
    "</Content><MsgId>6054768590064713728</MsgId><Encrypt><![CDATA[hyzAe4OzmOMbd6TvGdIOO6uBmdJoD0Fk53REIHvxYtJlE2B655HuD0m8KUePWB3+LrPXo87wzQ1QLvbeUgmBM4x6F8PGHQHFVAFmOD2LdJF9FrXpbUAh0B5GIItb52sn896wVsMSHGuPE328HnRGBcrS7C41IzDWyWNlZkyyXwon8T332jisa+h6tEDYsVticbSnyU8dKOIbgU6ux5VTjg3yt+WGzjlpKn6NPhRjpA912xMezR4kw6KWwMrCVKSVCZciVGCgavjIQ6X8tCOp3yZbGpy0VxpAe+77TszTfRd5RJSVO/HTnifJpXgCSUdUue1v6h0EIBYYI1BD1DlD+C0CR8e6OewpusjZ4uBl9FyJvnhvQl+q5rv1ixrcpCumEPo5MJSgM9ehVsNPfUM669WuMyVWQLCzpu9GhglF2PE=]]></Encrypt></xml>"
)

# wechatpy's tests/test_crypto.py vectors (token 123456, 2014 timestamp).
WECHATPY = dict(token="123456", aes_key="kWxPEV2UEDyxWpmPdKC3F4dgPDmOvfKX1HGnEUDS1aR",
                appid="wx49f0ab532d5d035a", timestamp="1411525903", nonce="461056294",
                msg_signature="74d92dfeb87ba7c714f89d98870ae5eb62dff26d")
WECHATPY_XML = (
    "<xml><ToUserName><![CDATA[wx49f0ab532d5d035a]]></ToUserName>\n<Encrypt><![CDATA[RgqEoJj5A4EMYlLvWO1F86ioRjZfaex/gePD0gOXTxpsq5Yj4GNglrBb8I2BAJVODGajiFnXBu7mCPatfjsu6IHCrsTyeDXzF6Bv283dGymzxh6ydJRvZsryDyZbLTE7rhnus50qGPMfp2wASFlzEgMW9z1ef/RD8XzaFYgm7iTdaXpXaG4+BiYyolBug/gYNx410cvkKR2/nPwBiT+P4hIiOAQqGp/TywZBtDh1yCF2KOd0gpiMZ5jSw3e29mTvmUHzkVQiMS6td7vXUaWOMZnYZlF3So2SjHnwh4jYFxdgpkHHqIrH/54SNdshoQgWYEvccTKe7FS709/5t6NMxuGhcUGAPOQipvWTT4dShyqio7mlsl5noTrb++x6En749zCpQVhDpbV6GDnTbcX2e8K9QaNWHp91eBdCRxthuL0=]]></Encrypt>\n"
    "<AgentID><![CDATA[1]]></AgentID>\n</xml>"
)


@pytest.fixture(scope="module")
def server(live_server):
    return live_server("wx-protocol", **WECHAT_ENV)


def _vector_roundtrip(srv, v: dict, body: str, to_user: str, from_user: str):
    params = {"timestamp": v["timestamp"], "nonce": v["nonce"], "encrypt_type": "aes",
              "msg_signature": v["msg_signature"],
              "signature": sign(v["token"], v["timestamp"], v["nonce"])}
    r = httpx.post(srv.base_url + "/wechat", params=params, content=body.encode(), timeout=30)
    assert r.status_code == 200, r.text
    outer = xmltodict.parse(r.text)["xml"]
    crypto = WeChatCrypto(v["token"], v["aes_key"], v["appid"])
    # the reply's own msg_signature must verify, and it must decrypt with the account's key
    reply = xmltodict.parse(crypto.decrypt_message(outer, outer["MsgSignature"], outer["TimeStamp"],
                                                   outer["Nonce"]))["xml"]
    assert reply["ToUserName"] == to_user and reply["FromUserName"] == from_user
    assert reply["MsgType"] == "text" and reply["Content"].strip()
    # a replay of the very same request is caught by its message id, not by its 2014 timestamp
    again = httpx.post(srv.base_url + "/wechat", params=params, content=body.encode(), timeout=30)
    assert again.status_code == 200
    if again.text != "success":
        outer2 = xmltodict.parse(again.text)["xml"]
        reply2 = xmltodict.parse(crypto.decrypt_message(outer2, outer2["MsgSignature"], outer2["TimeStamp"],
                                                        outer2["Nonce"]))["xml"]
        assert reply2["Content"] == reply["Content"]


def test_official_sample_vector_compatible_mode(live_server):
    v = SAMPLE
    srv = live_server("sample", WECHAT_TOKEN=v["token"], WECHAT_AES_KEY=v["aes_key"],
                      WECHAT_APPID=v["appid"], POLICYBOT_EMBEDDER="hash", WECHAT_MAX_AGE="0")
    _vector_roundtrip(srv, v, SAMPLE_XML, "oyORnuP8q7ou2gfYjqLzSIWZf0rs", "gh_10f6c3c3ac5a")
    # a wrong msg_signature on the same body is refused even though the URL signature holds
    params = {"timestamp": v["timestamp"], "nonce": v["nonce"], "encrypt_type": "aes",
              "msg_signature": "0" * 40, "signature": sign(v["token"], v["timestamp"], v["nonce"])}
    r = httpx.post(srv.base_url + "/wechat", params=params, content=SAMPLE_XML.encode(), timeout=30)
    assert r.status_code == 403


def test_wechatpy_vector_safe_mode(live_server):
    v = WECHATPY
    srv = live_server("wechatpy", WECHAT_TOKEN=v["token"], WECHAT_AES_KEY=v["aes_key"],
                      WECHAT_APPID=v["appid"], POLICYBOT_EMBEDDER="hash", WECHAT_MAX_AGE="0")
    _vector_roundtrip(srv, v, WECHATPY_XML, "messense", "wx49f0ab532d5d035a")


def test_get_verification(http):
    ts, nonce = str(int(time.time())), "123456"
    ok = http.get("/wechat", params={"signature": sign(TEST_TOKEN, ts, nonce), "timestamp": ts,
                                     "nonce": nonce, "echostr": "hello-echo"})
    assert ok.status_code == 200 and ok.text == "hello-echo"
    bad = http.get("/wechat", params={"signature": "f" * 40, "timestamp": ts, "nonce": nonce, "echostr": "x"})
    assert bad.status_code == 403
    assert http.get("/wechat").status_code == 403


def test_plaintext_mode(wx):
    reply = wx.say(new_openid(), "帮助", mode="raw")
    assert reply and "1" in reply


def test_safe_mode_reply_is_encrypted(wx):
    r = wx.post(text_xml(new_openid(), "帮助"))
    assert "<Encrypt>" in r.text and "帮助" not in r.text
    assert wx.open(r)["Content"]


def test_forged_signatures_are_refused(wx, http):
    xml = text_xml(new_openid(), "你好")
    params, body = wx.request(xml, "raw")
    params["signature"] = "0" * 40
    assert http.post("/wechat", params=params, content=body).status_code == 403
    params, body = wx.request(xml, "aes")
    params["msg_signature"] = "0" * 40
    assert http.post("/wechat", params=params, content=body).status_code == 403
    # signed with another token
    other = Platform(wx.base_url, "not-the-token", TEST_AES_KEY, TEST_APPID)
    params, body = other.request(xml, "aes")
    assert http.post("/wechat", params=params, content=body).status_code == 403


@pytest.mark.parametrize("body", [
    b"<xml><ToUserName>broken",
    b"not xml at all",
    b"<xml></xml>",
    b"<xml><FromUserName>a</FromUserName></xml>",
    "<?xml version='1.0'?><!DOCTYPE x [<!ENTITY a 'b'>]><xml><MsgType>text</MsgType></xml>".encode(),
    b"",
])
def test_malformed_xml_is_400(wx, http, body):
    params, _ = wx.request("<xml/>", "raw")
    r = http.post("/wechat", params=params, content=body)
    assert r.status_code == 400, (r.status_code, r.text)


def test_malformed_encrypted_payload_is_400(wx, http):
    params, _ = wx.request("<xml/>", "aes")
    for body in (b"<xml><Encrypt>", b"<xml><ToUserName>x</ToUserName></xml>"):
        r = http.post("/wechat", params=params, content=body)
        assert r.status_code in (400, 403), r.status_code  # unreadable or unsigned, never 500
    # well-formed and correctly signed, but not valid ciphertext
    junk = "AAAA" * 10
    params = dict(params)
    params["msg_signature"] = sign(TEST_TOKEN, params["timestamp"], params["nonce"], junk)
    r = http.post("/wechat", params=params, content=f"<xml><Encrypt><![CDATA[{junk}]]></Encrypt></xml>".encode())
    assert r.status_code == 400


def test_body_over_one_mib_is_413(wx, http):
    big = text_xml(new_openid(), "字" * (400 * 1024))  # ~1.2 MB of UTF-8
    params, body = wx.request(big, "raw")
    assert len(body) > 1 << 20
    assert http.post("/wechat", params=params, content=body).status_code == 413

    def chunks():  # no Content-Length: the limit holds on the stream too
        for i in range(0, len(body), 64 * 1024):
            yield body[i:i + 64 * 1024]

    r = http.post("/wechat", params=params, content=chunks())
    assert r.status_code == 413


def test_replies_fit_2048_bytes(wx):
    openid = new_openid()
    for text in ("帮助", "你好", "我在聊城", "职业技能培训补贴标准是多少", "更多", "👍👍"):
        reply = wx.say(openid, text)
        assert reply is not None and len(reply.encode()) <= 2048
