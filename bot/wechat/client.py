"""The WeChat API client (wechatpy), pointed at WECHAT_API_BASE, with its token in the database.

Why a subclass: wechatpy builds API URLs from `API_BASE_URL` but fetches the access token from a
hard-coded https://api.weixin.qq.com address, and its default token storage is process memory.
Every worker fetching its own token would invalidate the others' (WeChat keeps one valid token
per account), so the token lives in the `KeyValue` table through a wechatpy `SessionStorage`.
wechatpy's own retry on 40001/42001 recurses without bound; we turn it off and refresh once.
The client is synchronous: call it from a worker thread, never on the event loop.
"""
from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from sqlalchemy.exc import IntegrityError
from wechatpy.client import WeChatClient
from wechatpy.exceptions import WeChatClientException
from wechatpy.session import SessionStorage

from bot.settings import Settings
from storage.db import session_scope
from storage.models import KeyValue, utcnow

log = logging.getLogger("policybot.wechat")

TOKEN_EXPIRED = {40001, 40014, 42001}
TOKEN_MARGIN = timedelta(seconds=120)  # refresh a little before WeChat's expiry


class DatabaseSessionStorage(SessionStorage):
    """wechatpy session storage backed by the KeyValue table (shared by all workers)."""

    def __init__(self, settings: Settings, prefix: str = "wechatpy:"):
        self.settings = settings
        self.prefix = prefix

    def get(self, key: str, default: Any = None) -> Any:
        with session_scope(self.settings) as s:
            row = s.get(KeyValue, self.prefix + key)
            if row is None or (row.expires_at and row.expires_at <= utcnow()):
                return default
            return row.value

    def set(self, key: str, value: Any, ttl: int | None = None) -> None:
        if value is None:
            return
        expires = utcnow() + timedelta(seconds=ttl) - TOKEN_MARGIN if ttl else None
        put_value(self.settings, self.prefix + key, str(value), expires)

    def delete(self, key: str) -> None:
        with session_scope(self.settings) as s:
            row = s.get(KeyValue, self.prefix + key)
            if row is not None:
                s.delete(row)


def put_value(settings: Settings, key: str, value: str, expires_at=None) -> None:
    """Upsert one KeyValue row (insert, or update when another worker inserted it first)."""
    for _ in range(3):
        try:
            with session_scope(settings) as s:
                row = s.get(KeyValue, key)
                if row is None:
                    s.add(KeyValue(key=key, value=value, expires_at=expires_at))
                else:
                    row.value, row.expires_at, row.updated_at = value, expires_at, utcnow()
            return
        except IntegrityError:
            continue


def get_or_create_value(settings: Settings, key: str, make) -> str:
    """The stored value for `key`, creating it with `make()` once across all workers."""
    with session_scope(settings) as s:
        row = s.get(KeyValue, key)
        if row is not None:
            return row.value
    try:
        with session_scope(settings) as s:
            s.add(KeyValue(key=key, value=make()))
    except IntegrityError:
        pass
    with session_scope(settings) as s:
        return s.get(KeyValue, key).value


class PolicybotWeChatClient(WeChatClient):
    """wechatpy's client with a configurable API base, DB token storage and one token refresh."""

    def __init__(self, settings: Settings):
        base = settings.wechat_api_base.rstrip("/")
        self.API_BASE_URL = f"{base}/cgi-bin/"
        self._token_url = f"{base}/cgi-bin/token"
        super().__init__(settings.wechat_appid, settings.wechat_secret,
                         session=DatabaseSessionStorage(settings), timeout=10, auto_retry=False)

    def fetch_access_token(self):
        return self._fetch_access_token(
            url=self._token_url,
            params={"grant_type": "client_credential", "appid": self.appid, "secret": self.secret},
        )

    def call(self, fn, *args, **kwargs):
        """Run one API call; on an expired/invalid token refresh it once and retry once."""
        try:
            return fn(*args, **kwargs)
        except WeChatClientException as exc:
            if exc.errcode not in TOKEN_EXPIRED:
                raise
            log.info("wechat token rejected (%s); refreshing once", exc.errcode)
            self.session.delete(self.access_token_key)
            self.fetch_access_token()
            return fn(*args, **kwargs)


def configured(settings: Settings) -> bool:
    return bool(settings.wechat_appid and settings.wechat_secret)


def make_client(settings: Settings) -> PolicybotWeChatClient:
    return PolicybotWeChatClient(settings)


def send_text(settings: Settings, openid: str, text: str) -> None:
    """Send one customer-service text message; raises WeChatClientException on refusal."""
    client = make_client(settings)
    client.call(client.message.send_text, openid, text)


def create_menu(settings: Settings, menu: dict) -> dict:
    client = make_client(settings)
    return client.call(client.menu.create, menu)


def download_media(settings: Settings, media_id: str) -> bytes:
    """The bytes of a follower's image/voice (for forms that keep evidence photos)."""
    client = make_client(settings)
    res = client.call(client.media.download, media_id)
    return res.content
