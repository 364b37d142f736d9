"""The WeChat API client (wechatpy), pointed at WECHAT_API_BASE, with its token in the database.

Why a subclass: wechatpy builds API URLs from `API_BASE_URL` but fetches the access token from a
hard-coded https://api.weixin.qq.com address, and its default token storage is process memory.
Every worker fetching its own token would invalidate the others' (WeChat keeps one valid token
per account), so the token lives in the `KeyValue` table through a wechatpy `SessionStorage`.
wechatpy's own retry on 40001/42001 recurses without bound; we turn it off and refresh once.
The refresh is single-flight across workers: fetching a token invalidates the previous one, so
two workers refreshing at the same moment would each kill the other's token. The refresher
holds a short lease (a compare-and-set on a KeyValue row, the same on SQLite and PostgreSQL);
the others wait for its token and re-read it, and a refresh after a rejection only happens when
the stored token is still the rejected one.
The client is synchronous: call it from a worker thread, never on the event loop.
"""
from __future__ import annotations

import logging
import time
import uuid
from datetime import timedelta
from typing import Any

from sqlalchemy import or_, update
from sqlalchemy.exc import IntegrityError
from wechatpy.client import WeChatClient
from wechatpy.exceptions import WeChatClientException
from wechatpy.session import SessionStorage

from core.config import Settings
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
        with session_scope(self.settings.db_url) as s:
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
        with session_scope(self.settings.db_url) as s:
            row = s.get(KeyValue, self.prefix + key)
            if row is not None:
                s.delete(row)


def put_value(settings: Settings, key: str, value: str, expires_at=None) -> None:
    """Upsert one KeyValue row (insert, or update when another worker inserted it first)."""
    for _ in range(3):
        try:
            with session_scope(settings.db_url) as s:
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
    with session_scope(settings.db_url) as s:
        row = s.get(KeyValue, key)
        if row is not None:
            return row.value
    try:
        with session_scope(settings.db_url) as s:
            s.add(KeyValue(key=key, value=make()))
    except IntegrityError:
        pass
    with session_scope(settings.db_url) as s:
        return s.get(KeyValue, key).value


REFRESH_LOCK = "wechatpy:refresh-lock"
LEASE = timedelta(seconds=30)  # longer than a token fetch (10 s timeout); a dead holder's lease lapses
WAIT_FOR_REFRESH = 20.0  # seconds a worker waits for another's refresh before giving up


def take_lease(settings: Settings, key: str, owner: str, ttl: timedelta = LEASE) -> bool:
    """Compare-and-set on one KeyValue row: True if `owner` now holds the lease `key`."""
    now = utcnow()
    with session_scope(settings.db_url) as s:
        taken = s.exec(update(KeyValue).where(
            KeyValue.key == key, or_(KeyValue.expires_at.is_(None), KeyValue.expires_at < now)
        ).values(value=owner, expires_at=now + ttl, updated_at=now)).rowcount
    if taken == 1:
        return True
    try:
        with session_scope(settings.db_url) as s:
            s.add(KeyValue(key=key, value=owner, expires_at=now + ttl))
        return True
    except IntegrityError:  # the row exists and its lease is still running
        return False


def release_lease(settings: Settings, key: str, owner: str) -> None:
    past = utcnow() - timedelta(seconds=1)
    with session_scope(settings.db_url) as s:
        s.exec(update(KeyValue).where(KeyValue.key == key, KeyValue.value == owner)
               .values(expires_at=past, updated_at=utcnow()))


class PolicybotWeChatClient(WeChatClient):
    """wechatpy's client with a configurable API base, DB token storage and one token refresh."""

    def __init__(self, settings: Settings):
        base = settings.wechat.api_base.rstrip("/")
        self.API_BASE_URL = f"{base}/cgi-bin/"
        self._token_url = f"{base}/cgi-bin/token"
        super().__init__(settings.wechat.appid, settings.wechat.secret,
                         session=DatabaseSessionStorage(settings), timeout=10, auto_retry=False)

    def fetch_access_token(self):
        """Fetch a new token from WeChat and store it (the caller holds the refresh lease)."""
        return self._fetch_access_token(
            url=self._token_url,
            params={"grant_type": "client_credential", "appid": self.appid, "secret": self.secret},
        )

    @property
    def access_token(self) -> str:
        """The shared token; when there is none (or it expired), one refresh across all workers."""
        return self.session.get(self.access_token_key) or self.refresh_token(rejected=None)

    def refresh_token(self, rejected: str | None) -> str:
        """Single-flight refresh: the lease holder fetches; everyone else waits for its token.
        `rejected`: the token WeChat just refused — a stored token other than it is fresh."""
        settings = self.session.settings
        owner = uuid.uuid4().hex
        give_up = time.monotonic() + WAIT_FOR_REFRESH
        while True:
            current = self.session.get(self.access_token_key)
            if current and current != rejected:
                return current
            if take_lease(settings, REFRESH_LOCK, owner):
                try:
                    current = self.session.get(self.access_token_key)  # refreshed meanwhile?
                    if current and current != rejected:
                        return current
                    self.fetch_access_token()
                    return self.session.get(self.access_token_key)
                finally:
                    release_lease(settings, REFRESH_LOCK, owner)
            if time.monotonic() > give_up:
                raise WeChatClientException(None, "access token refresh by another worker did not finish")
            time.sleep(0.05)

    def call(self, fn, *args, **kwargs):
        """Run one API call; on an expired/invalid token refresh it once and retry once."""
        used = self.access_token
        try:
            return fn(*args, **kwargs)
        except WeChatClientException as exc:
            if exc.errcode not in TOKEN_EXPIRED:
                raise
            log.info("wechat token rejected (%s); refreshing once", exc.errcode)
            self.refresh_token(rejected=used)
            return fn(*args, **kwargs)


def configured(settings: Settings) -> bool:
    return bool(settings.wechat.appid and settings.wechat.secret)


def make_client(settings: Settings) -> PolicybotWeChatClient:
    return PolicybotWeChatClient(settings)


def send_text(settings: Settings, openid: str, text: str) -> None:
    """Send one customer-service text message; raises WeChatClientException on refusal."""
    client = make_client(settings)
    client.call(client.message.send_text, openid, text)


def send_template(settings: Settings, openid: str, template_id: str, data: dict, url: str | None) -> str:
    """Send one template message; returns WeChat's msgid. Raises WeChatClientException on refusal."""
    client = make_client(settings)
    res = client.call(client.message.send_template, openid, template_id, data, url=url)
    return str(res.get("msgid", ""))


def create_menu(settings: Settings, menu: dict) -> dict:
    client = make_client(settings)
    return client.call(client.menu.create, menu)


def download_media(settings: Settings, media_id: str) -> bytes:
    """The bytes of a follower's image/voice (for forms that keep evidence photos)."""
    client = make_client(settings)
    res = client.call(client.media.download, media_id)
    return res.content
