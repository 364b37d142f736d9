"""The simulator's server side: turn a chat-page message into the XML request WeChat would send.

Why server-side: the page must exercise the real protocol (signed, and AES-encrypted when an
EncodingAESKey is set) through the very /wechat route, and the token must never reach the
browser. The request goes through the application's own ASGI stack (httpx.ASGITransport), so
it passes the same size limit, signature check, de-dup and deadline as WeChat's requests.
"""
from __future__ import annotations

import secrets
import time

import httpx
import xmltodict
from wechatpy.utils import WeChatSigner

from core.config import Settings
from bot.wechat import protocol, push

ACCOUNT = "gh_policybot_sim"


def _cdata(value: str) -> str:
    return "<![CDATA[" + value.replace("]]>", "]]]]><![CDATA[>") + "]]>"


def build_xml(message, created: int) -> str:
    """The plaintext XML of one follower message, as the WeChat server would write it."""
    fields = [("ToUserName", _cdata(ACCOUNT)), ("FromUserName", _cdata(message.openid)),
              ("CreateTime", str(created)), ("MsgType", _cdata(message.kind))]
    content = message.content
    if message.kind == "text":
        fields.append(("Content", _cdata(content)))
    elif message.kind == "voice":
        fields += [("MediaId", _cdata("sim-voice-" + secrets.token_hex(4))), ("Format", _cdata("amr"))]
        if content:
            fields.append(("Recognition", _cdata(content)))
    elif message.kind == "image":
        media = "sim-image-" + secrets.token_hex(4)
        fields += [("PicUrl", _cdata("http://simulator.invalid/" + media + ".jpg")),
                   ("MediaId", _cdata(media))]
    elif message.kind == "location":
        fields += [("Location_X", "36.45"), ("Location_Y", "115.98"), ("Scale", "15"),
                   ("Label", _cdata(content))]
    elif message.kind == "link":
        fields += [("Title", _cdata(content or "链接")), ("Description", _cdata("")),
                   ("Url", _cdata("http://simulator.invalid/"))]
    elif message.kind in ("video", "file"):
        fields.append(("MediaId", _cdata("sim-" + secrets.token_hex(4))))
        if message.kind == "file":
            fields.append(("Title", _cdata(content or "文件.pdf")))
    elif message.kind == "event":
        fields.append(("Event", _cdata((message.event or "subscribe").upper()
                                       if message.event != "click" else "CLICK")))
        if message.key:
            fields.append(("EventKey", _cdata(message.key)))
    if message.kind != "event":
        fields.append(("MsgId", str(secrets.randbits(63))))
    return "<xml>" + "".join(f"<{k}>{v}</{k}>" for k, v in fields) + "</xml>"


async def exchange(app, settings: Settings, token: str, message) -> dict:
    """Send one message through /wechat exactly as WeChat would; return the bot's reply."""
    timestamp, nonce = str(int(time.time())), str(secrets.randbelow(10**9))
    xml = build_xml(message, int(timestamp))
    signer = WeChatSigner()
    signer.add_data(token, timestamp, nonce)
    params = {"signature": signer.signature, "timestamp": timestamp, "nonce": nonce,
              "openid": message.openid}
    crypto = protocol.crypto_for(settings, token)
    body = xml
    if crypto is not None:
        body = crypto.encrypt_message(xml, nonce, timestamp)
        params["encrypt_type"] = "aes"
        params["msg_signature"] = xmltodict.parse(body)["xml"]["MsgSignature"]
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://simulator", timeout=30) as c:
        r = await c.post("/wechat", params=params, content=body.encode("utf-8"),
                         headers={"Content-Type": "text/xml"})
    raw = r.text
    reply_xml, reply = "", None
    if r.status_code == 200 and raw != "success":
        reply_xml = raw
        if crypto is not None:
            outer = xmltodict.parse(raw)["xml"]
            reply_xml = crypto.decrypt_message(outer, outer["MsgSignature"], outer["TimeStamp"],
                                               outer["Nonce"])
        reply = xmltodict.parse(reply_xml)["xml"].get("Content")
    return {"status": r.status_code, "reply": reply, "mode": "aes" if crypto else "raw",
            "request_xml": xml, "response_xml": reply_xml or raw}


def take_pushes(settings: Settings, openid: str) -> list[str]:
    return push.take_pending(settings, openid)
