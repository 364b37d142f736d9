"""The simulator's server side: turn a chat-page message into the XML request WeChat would send.

Why server-side: the page must exercise the real protocol (signed, and AES-encrypted when an
EncodingAESKey is set) through the very /wechat route, and the token must never reach the
browser. The request goes through the application's own ASGI stack (httpx.ASGITransport), so
it passes the same size limit, signature check, de-dup and deadline as WeChat's requests.
The conversation a page shows is kept in the database (`KeyValue` "sim:history:<openid>", the
last HISTORY_KEEP bubbles), so a reload, another tab or another worker shows it again.
"""
from __future__ import annotations

import json
import secrets
import time
from datetime import timedelta

import httpx
import xmltodict
from wechatpy.utils import WeChatSigner

from sqlalchemy.exc import IntegrityError
from sqlmodel import select

from core.config import Settings
from bot.wechat import protocol, push
from storage.db import session_scope
from storage.models import KeyValue, utcnow

ACCOUNT = "gh_policybot_sim"
HISTORY_KEEP = 60  # bubbles a reload shows
HISTORY_DAYS = 7


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
    texts = push.take_pending(settings, openid)
    remember(settings, openid, [("bot", t) for t in texts])
    return texts


def _key(openid: str) -> str:
    return "sim:history:" + openid


def history(settings: Settings, openid: str) -> list[dict]:
    """The conversation the page showed this simulated follower, oldest first: [{who, text}]."""
    with session_scope(settings.db_url) as s:
        row = s.get(KeyValue, _key(openid))
        if row is None or (row.expires_at is not None and row.expires_at < utcnow()):
            return []
        try:
            return [m for m in json.loads(row.value) if isinstance(m, dict)]
        except ValueError:
            return []


def remember(settings: Settings, openid: str, bubbles: list[tuple[str, str]]) -> None:
    """Add bubbles ("me" | "bot", text) to the follower's kept conversation (row-locked, so two
    sends at once both stay)."""
    bubbles = [(who, text) for who, text in bubbles if text]
    if not bubbles:
        return
    key = _key(openid)
    with session_scope(settings.db_url) as s:
        query = select(KeyValue).where(KeyValue.key == key).with_for_update()
        row = s.exec(query).first()
        if row is None:
            try:
                with s.begin_nested():
                    s.add(KeyValue(key=key, value="[]"))
            except IntegrityError:  # another send made it meanwhile
                pass
            row = s.exec(query).one()
        try:
            kept = json.loads(row.value)
        except ValueError:
            kept = []
        kept = (kept + [{"who": who, "text": text} for who, text in bubbles])[-HISTORY_KEEP:]
        row.value, row.updated_at = json.dumps(kept, ensure_ascii=False), utcnow()
        row.expires_at = utcnow() + timedelta(days=HISTORY_DAYS)
        s.add(row)
