"""A signed /wechat URL works once: old (or far-future) timestamps are refused in plain and safe
mode, a signature/nonce pair carries one message only — on every worker, since it is recorded
in the database — the access log never holds a signature, nonce or openid, and the optional
WECHAT_ALLOWED_IPS list (with X-Forwarded-For believed only from POLICYBOT_TRUSTED_PROXIES)
keeps everyone else out. Real servers over HTTP, signed and encrypted with wechatpy."""
from __future__ import annotations

import time

import httpx
import pytest

from tests.wechat_util import WECHAT_ENV, new_openid, platform_for, text_xml

pytestmark = pytest.mark.db

MAX_AGE = 60


@pytest.fixture(scope="module")
def workers(live_server):
    """Two workers on one database; the first writes uvicorn's access log."""
    first = live_server("wx-replay", WECHAT_MAX_AGE=str(MAX_AGE),
                        POLICYBOT_LOG_LEVEL="WARNING,uvicorn.access=INFO", **WECHAT_ENV)
    second = live_server("wx-replay-2", WECHAT_MAX_AGE=str(MAX_AGE), DATABASE_URL=first.database_url,
                         **WECHAT_ENV)
    return first, second


def _post(srv, params: dict, body: bytes, **kw) -> httpx.Response:
    return httpx.post(srv.base_url + "/wechat", params=params, content=body, timeout=30, **kw)


def _reply(wx, response: httpx.Response, mode: str):
    opened = wx.open(response, encrypted=(mode == "aes"))
    return opened["Content"] if opened else None


@pytest.mark.parametrize("mode", ["raw", "aes"])
def test_an_old_or_future_timestamp_is_refused(workers, mode):
    srv = workers[0]
    wx = platform_for(srv)
    for skew in (-(MAX_AGE + 30), MAX_AGE + 30):
        params, body = wx.request(text_xml(new_openid(), "帮助"), mode, timestamp=str(int(time.time()) + skew))
        r = _post(srv, params, body)
        assert r.status_code == 403 and "过期" in r.text, (skew, r.status_code, r.text)
    params, body = wx.request(text_xml(new_openid(), "帮助"), mode, timestamp=str(int(time.time()) - 5))
    assert "1" in _reply(wx, _post(srv, params, body), mode)  # within the window: answered
    bad = dict(params, timestamp="yesterday")
    assert _post(srv, bad, body).status_code == 403  # not a number (and so not signed either)


def test_a_logged_url_cannot_carry_new_messages(workers):
    """The attack: one URL from the log, reused with new bodies for new followers."""
    first, second = workers
    wx = platform_for(first)
    params, body = wx.request(text_xml(new_openid(), "帮助"), "raw")
    assert "1" in _reply(wx, _post(first, params, body), "raw")
    for srv in (first, second):  # the second worker knows from the database
        forged = text_xml(new_openid("ovictim"), "我在聊城").encode()
        r = _post(srv, params, forged)
        assert r.status_code == 403 and "已使用" in r.text, (r.status_code, r.text)


def test_the_identical_request_again_is_not_a_new_message(workers):
    """A platform retry (or a replay) of the very same request reaches the de-duplication and
    gets the stored reply — it is never handled a second time."""
    first, second = workers
    wx = platform_for(first)
    openid = new_openid()
    params, body = wx.request(text_xml(openid, "我在聊城"), "aes")
    reply = _reply(wx, _post(first, params, body), "aes")
    assert reply and "聊城" in reply
    again = _post(second, params, body)
    assert again.status_code == 200 and _reply(wx, again, "aes") in (None, reply)


def test_the_access_log_holds_no_signature_nonce_or_openid(workers):
    srv = workers[0]
    wx = platform_for(srv)
    params, body = wx.request(text_xml(new_openid(), "帮助"), "aes")
    params["openid"] = "oSecretOpenid1234567890abcd"
    assert _post(srv, params, body).status_code == 200
    lines = []
    deadline = time.monotonic() + 10
    while not lines and time.monotonic() < deadline:
        lines = [ln for ln in srv.log().splitlines() if "POST /wechat" in ln]
        time.sleep(0.1)
    assert lines, srv.log()[-2000:]
    log = srv.log()
    for secret in (params["signature"], params["msg_signature"], params["nonce"], params["openid"],
                   params["openid"][:6] + "…"):
        assert secret not in log, secret
    assert "signature=" in lines[-1]  # the line is still there, its values are not


@pytest.fixture(scope="module")
def allow_listed(live_server):
    """WeChat's addresses only; this one believes no proxy, the other believes loopback."""
    direct = live_server("wx-ips", WECHAT_ALLOWED_IPS="10.0.0.0/8, 192.168.5.0/24", **WECHAT_ENV)
    proxied = live_server("wx-ips-proxy", WECHAT_ALLOWED_IPS="10.0.0.0/8", DATABASE_URL=direct.database_url,
                          POLICYBOT_TRUSTED_PROXIES="127.0.0.1/32", **WECHAT_ENV)
    return direct, proxied


def test_the_allow_list_refuses_other_addresses(allow_listed):
    direct, _proxied = allow_listed
    wx = platform_for(direct)
    params, body = wx.request(text_xml(new_openid(), "帮助"), "aes")
    r = _post(direct, params, body)
    assert r.status_code == 403 and "允许" in r.text  # loopback is not WeChat
    # a forwarded-for header from an untrusted peer is ignored
    r = _post(direct, params, body, headers={"X-Forwarded-For": "10.1.2.3"})
    assert r.status_code == 403
    verify = {"signature": params["signature"], "timestamp": params["timestamp"], "nonce": params["nonce"],
              "echostr": "e"}
    assert httpx.get(direct.base_url + "/wechat", params=verify).status_code == 403  # the GET too


def test_a_trusted_proxy_passes_the_callers_address_on(allow_listed):
    _direct, proxied = allow_listed
    wx = platform_for(proxied)
    params, body = wx.request(text_xml(new_openid(), "帮助"), "aes")
    r = _post(proxied, params, body, headers={"X-Forwarded-For": "8.8.8.8"})
    assert r.status_code == 403
    r = _post(proxied, params, body, headers={"X-Forwarded-For": "8.8.8.8, 10.1.2.3"})
    assert r.status_code == 200 and "1" in _reply(wx, r, "aes")  # the proxy saw 10.1.2.3 connect
