"""Test helpers that play the WeChat server: build message XML, sign (and encrypt) it with
wechatpy exactly as the platform does, POST it to /wechat, and open the reply."""
from __future__ import annotations

import itertools
import random
import time
from dataclasses import dataclass
from typing import Optional

import httpx
import xmltodict
from sqlalchemy import create_engine
from wechatpy.crypto import WeChatCrypto
from wechatpy.utils import WeChatSigner

from tests.conftest import TEST_AES_KEY, TEST_APPID, TEST_SECRET, TEST_TOKEN

# A server in safe (AES) mode with customer-service credentials (the fake WeChat API), on the
# fast hashing embedder: these tests are about the channel, not retrieval quality.
WECHAT_ENV = dict(WECHAT_TOKEN=TEST_TOKEN, WECHAT_AES_KEY=TEST_AES_KEY, WECHAT_APPID=TEST_APPID,
                  WECHAT_SECRET=TEST_SECRET, POLICYBOT_EMBEDDER="hash")

_ids = itertools.count(random.randint(10**15, 10**16))


def new_msg_id() -> str:
    return str(next(_ids))


def new_openid(prefix: str = "o") -> str:
    return f"{prefix}{random.randint(10**9, 10**10)}"


def cdata(v: str) -> str:
    return "<![CDATA[" + v + "]]>"


def message_xml(openid: str, kind: str, fields: dict[str, str] | None = None,
                msg_id: Optional[str] = "auto", create_time: Optional[int] = None) -> str:
    parts = {"ToUserName": cdata("gh_test"), "FromUserName": cdata(openid),
             "CreateTime": str(create_time or int(time.time())), "MsgType": cdata(kind)}
    for k, v in (fields or {}).items():
        parts[k] = v if v.isdigit() or v.startswith("<![CDATA[") else cdata(v)
    if kind != "event" and msg_id:
        parts["MsgId"] = new_msg_id() if msg_id == "auto" else msg_id
    return "<xml>" + "".join(f"<{k}>{v}</{k}>" for k, v in parts.items()) + "</xml>"


def text_xml(openid: str, content: str, msg_id: Optional[str] = "auto") -> str:
    return message_xml(openid, "text", {"Content": content}, msg_id=msg_id)


def event_xml(openid: str, event: str, key: str | None = None, create_time: int | None = None) -> str:
    fields = {"Event": event}
    if key:
        fields["EventKey"] = key
    return message_xml(openid, "event", fields, create_time=create_time)


def sign(token: str, timestamp: str, nonce: str, *extra: str) -> str:
    s = WeChatSigner()
    s.add_data(token, timestamp, nonce, *extra)
    return s.signature


@dataclass
class Platform:
    """Plays the WeChat server against one policybot server."""

    base_url: str
    token: str
    aes_key: str | None = None
    appid: str | None = None

    @property
    def crypto(self) -> WeChatCrypto:
        return WeChatCrypto(self.token, self.aes_key, self.appid)

    def request(self, xml: str | bytes, mode: str = "aes", timestamp: str | None = None,
                nonce: str | None = None) -> tuple[dict, bytes]:
        """(query params, body) for `xml` in mode raw | aes (safe); bytes go as they are (not
        even UTF-8, for the property tests)."""
        timestamp = timestamp or str(int(time.time()))
        nonce = nonce or str(random.randint(10**8, 10**9))
        params = {"timestamp": timestamp, "nonce": nonce, "signature": sign(self.token, timestamp, nonce),
                  "openid": "x"}
        if mode == "raw":
            return params, xml if isinstance(xml, bytes) else xml.encode()
        body = self.crypto.encrypt_message(xml, nonce, timestamp)
        params["encrypt_type"] = "aes"
        params["msg_signature"] = xmltodict.parse(body)["xml"]["MsgSignature"]
        return params, body.encode()

    def post(self, xml: str, mode: str = "aes", client: httpx.Client | None = None) -> httpx.Response:
        params, body = self.request(xml, mode)
        if client is not None:
            return client.post(self.base_url + "/wechat", params=params, content=body)
        return httpx.post(self.base_url + "/wechat", params=params, content=body, timeout=30)

    def open(self, response: httpx.Response, encrypted: bool = True) -> Optional[dict]:
        """The reply as a dict of its XML fields, or None for "success"."""
        assert response.status_code == 200, (response.status_code, response.text)
        if response.text == "success":
            return None
        xml = response.text
        if encrypted:
            outer = xmltodict.parse(xml)["xml"]
            xml = self.crypto.decrypt_message(outer, outer["MsgSignature"], outer["TimeStamp"], outer["Nonce"])
        return xmltodict.parse(xml)["xml"]

    def say(self, openid: str, text: str, mode: str = "aes") -> Optional[str]:
        """Send a text message; the reply's Content (None for "success")."""
        reply = self.open(self.post(text_xml(openid, text), mode), encrypted=(mode != "raw"))
        return reply["Content"] if reply else None

    def send(self, xml: str, mode: str = "aes") -> Optional[str]:
        reply = self.open(self.post(xml, mode), encrypted=(mode != "raw"))
        return reply["Content"] if reply else None


def platform_for(srv) -> "Platform":
    return Platform(srv.base_url, TEST_TOKEN, TEST_AES_KEY, TEST_APPID)


def server_engine(srv):
    """A SQLAlchemy engine on the server's own database (to check what it recorded)."""
    return create_engine(srv.database_url)


def wait_for(predicate, timeout: float = 15.0, interval: float = 0.1):
    """Poll until `predicate()` is truthy; return its value (or the last one on timeout)."""
    deadline = time.monotonic() + timeout
    value = predicate()
    while not value and time.monotonic() < deadline:
        time.sleep(interval)
        value = predicate()
    return value
