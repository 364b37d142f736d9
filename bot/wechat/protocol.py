"""The WeChat callback protocol, on wechatpy: signatures, AES envelopes, parsing, passive replies.

Why its own module: the route stays thin, and the simulator builds its requests with the same
token and crypto this module checks. A signature only counts with a fresh timestamp: within
WECHAT_MAX_AGE seconds of now, either way (0 turns the check off, for the official sample
vectors' 2014 timestamps). That a signed URL carries one message only is bot.wechat.gate's
business (it needs the database); retries of one message are caught by `dedup_key`, per follower.
Every refusal is a `Rejected` with an HTTP status and a Chinese reason, never a 500.
"""
from __future__ import annotations

import secrets
import time
from functools import lru_cache
from dataclasses import dataclass
from datetime import datetime
from typing import Optional

import xmltodict
from wechatpy import parse_message
from wechatpy.crypto import WeChatCrypto
from wechatpy.exceptions import InvalidAppIdException, InvalidSignatureException
from wechatpy.messages import BaseMessage
from wechatpy.replies import TextReply
from wechatpy.utils import check_signature

from core.config import Settings
from core.turn import Inbound
from bot.wechat.client import get_or_create_value

SIMULATOR_TOKEN_KEY = "simulator:token"


class Rejected(Exception):
    def __init__(self, status: int, detail: str):
        super().__init__(detail)
        self.status = status
        self.detail = detail


@dataclass
class Envelope:
    message: BaseMessage
    encrypted: bool
    nonce: str
    timestamp: str


def channel_token(settings: Settings) -> Optional[str]:
    """WECHAT_TOKEN; for a local trial without one, a random token kept in the database (the
    simulator signs with it, every worker checks with it); None when /wechat is not configured."""
    if settings.wechat.token:
        return settings.wechat.token
    if settings.simulator_enabled:
        return get_or_create_value(settings, SIMULATOR_TOKEN_KEY, lambda: secrets.token_hex(16))
    return None


def crypto_for(settings: Settings, token: str) -> Optional[WeChatCrypto]:
    if not settings.wechat.aes_key:
        return None
    return _crypto(token, settings.wechat.aes_key, settings.wechat.appid or "")


@lru_cache(maxsize=8)
def _crypto(token: str, aes_key: str, appid: str) -> WeChatCrypto:
    """One WeChatCrypto per key (it holds no per-message state), not one per request."""
    return WeChatCrypto(token, aes_key, appid)


def _signed(token: str, params: dict) -> None:
    try:
        check_signature(token, params.get("signature", ""), params.get("timestamp", ""),
                        params.get("nonce", ""))
    except InvalidSignatureException:
        raise Rejected(403, "签名无效") from None


def fresh(settings: Settings, timestamp: str, now: Optional[float] = None) -> None:
    """The signed timestamp is within WECHAT_MAX_AGE seconds of now (in the past or, for clock
    skew, the future); otherwise a signed URL read from a log would work forever."""
    if settings.wechat.max_age <= 0:
        return
    try:
        age = abs((time.time() if now is None else now) - int(timestamp))
    except (TypeError, ValueError):
        raise Rejected(403, "时间戳无效") from None
    if age > settings.wechat.max_age:
        raise Rejected(403, f"请求已过期：时间戳与服务器时间相差超过 {settings.wechat.max_age} 秒")


def verify_get(settings: Settings, token: str, params: dict) -> str:
    """GET server verification: the echostr back when the signature is right and fresh."""
    _signed(token, params)
    fresh(settings, params.get("timestamp", ""))
    return params.get("echostr", "")


def _parse(xml: str | bytes) -> BaseMessage:
    raw = xml if isinstance(xml, bytes) else xml.encode("utf-8")
    if b"<!DOCTYPE" in raw.upper() or b"<!ENTITY" in raw.upper():
        raise Rejected(400, "不接受带 DOCTYPE 的 XML")
    try:
        message = parse_message(raw)
        source = message.source
        ok = isinstance(source, str) and bool(source)
    except Exception:
        raise Rejected(400, "XML 格式错误") from None
    if message is None or not ok:
        raise Rejected(400, "XML 缺少必要字段")
    return message


def open_post(settings: Settings, token: str, params: dict, body: bytes) -> Envelope:
    """Check the signature(s) of a POST, decrypt it when `encrypt_type=aes`, parse it."""
    encrypt_type = (params.get("encrypt_type") or "raw").lower()
    nonce, timestamp = params.get("nonce", ""), params.get("timestamp", "")
    if encrypt_type == "raw":
        _signed(token, params)
        fresh(settings, timestamp)
        return Envelope(_parse(body), False, nonce, timestamp)
    if encrypt_type != "aes":
        raise Rejected(400, "不支持的 encrypt_type")
    if "signature" in params:  # WeChat sends both; the URL signature must hold too
        _signed(token, params)
    crypto = crypto_for(settings, token)
    if crypto is None:
        raise Rejected(400, "未配置 WECHAT_AES_KEY，无法解密")
    if not params.get("msg_signature"):
        raise Rejected(403, "缺少 msg_signature")
    if b"<!DOCTYPE" in body.upper() or b"<!ENTITY" in body.upper():
        raise Rejected(400, "不接受带 DOCTYPE 的 XML")
    try:
        outer = xmltodict.parse(body.decode("utf-8"))["xml"]
        if not isinstance(outer, dict) or not isinstance(outer.get("Encrypt"), str):
            raise ValueError("no Encrypt")
    except Exception:
        raise Rejected(400, "XML 格式错误") from None
    try:
        plain = crypto.decrypt_message(outer, params["msg_signature"], timestamp, nonce)
    except InvalidSignatureException:
        raise Rejected(403, "msg_signature 无效") from None
    except InvalidAppIdException:
        raise Rejected(403, "AppID 不符") from None
    except Exception:
        raise Rejected(400, "无法解密消息") from None
    fresh(settings, timestamp)  # msg_signature covered it
    return Envelope(_parse(plain), True, nonce, timestamp)


def seal(settings: Settings, token: str, envelope: Envelope, text: str) -> str:
    """The passive reply XML for `text` ("success" for none), encrypted if the request was."""
    if not text:
        return "success"
    xml = TextReply(message=envelope.message, content=text).render()
    if envelope.encrypted:
        return crypto_for(settings, token).encrypt_message(xml, envelope.nonce or secrets.token_hex(5))
    return xml


# ---------------------------------------------------------------- message → Inbound

def _raw(message: BaseMessage, name: str) -> str:
    value = message._data.get(name)
    return value if isinstance(value, str) else ""


def to_inbound(message: BaseMessage) -> Inbound:
    kind = (_raw(message, "MsgType") or "unknown").lower()
    text = ""
    if kind == "text":
        text = _raw(message, "Content")
    elif kind == "voice":
        text = _raw(message, "Recognition")
    elif kind == "location":
        text = _raw(message, "Label")
    elif kind == "link":
        text = _raw(message, "Title")
    try:
        created = datetime.fromtimestamp(int(_raw(message, "CreateTime")))
    except (ValueError, OverflowError, OSError):
        created = datetime.now()
    return Inbound(
        openid=message.source,
        kind=kind,
        text=text,
        media_id=_raw(message, "MediaId") or None,
        pic_url=_raw(message, "PicUrl") or None,
        event=(_raw(message, "Event").lower() or None) if kind == "event" else None,
        event_key=_raw(message, "EventKey") or None,
        msg_id=_raw(message, "MsgId") or None,
        created_at=created,
    )


def dedup_key(message: BaseMessage) -> str:
    """msg:<FromUserName>:<MsgId> (a MsgId is unique per follower only: two followers may send
    the same one, and each is owed an answer); events (which have none) by FromUserName +
    CreateTime + Event (+ EventKey: a retry repeats it, and two different menu clicks within one
    second stay two clicks), as the platform documents."""
    msg_id = _raw(message, "MsgId")
    if msg_id and msg_id != "0":
        return f"msg:{message.source}:{msg_id}"[:200]
    kind = _raw(message, "MsgType").lower()
    what = _raw(message, "Event") if kind == "event" else kind
    key = f"evt:{message.source}:{_raw(message, 'CreateTime')}:{what}"
    if _raw(message, "EventKey"):
        key += ":" + _raw(message, "EventKey")
    return key[:200]
