"""Helpers for the complaint/console tests: log in over HTTP, add staff through the admin page,
file a ticket straight into a live server's database through the lifecycle module, and open the
console in Chromium at a given width, logged in, collecting CSP refusals and failed requests."""
from __future__ import annotations

import os
import re
import uuid
from contextlib import contextmanager

import httpx

from bot import tickets
from core.config import Settings
from storage.db import session_scope
from tests.conftest import ADMIN_PASSWORD, ADMIN_USER, LiveServer

CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')


def server_settings(srv: LiveServer) -> Settings:
    """Settings that reach the same database as the live server."""
    return Settings(data_dir=srv.data_dir / "data", database_url=srv.env.get("DATABASE_URL"))


def login(client: httpx.Client, username: str = ADMIN_USER, password: str = ADMIN_PASSWORD) -> str:
    """Log in; returns the session's CSRF token."""
    page = client.get("/console/login")
    token = re.search(r'name="login_csrf" value="([^"]+)"', page.text).group(1)
    r = client.post("/console/login", data={"username": username, "password": password, "login_csrf": token})
    assert r.status_code == 303, r.text
    queue = client.get("/console/")
    assert queue.status_code == 200
    return CSRF_RE.search(queue.text).group(1)


def add_staff(srv: LiveServer, role: str = "staff", regions: tuple[str, ...] = ("济源",)) -> tuple[str, str]:
    """Create an account through the admin page; returns (username, password)."""
    username, password = f"{role}-{uuid.uuid4().hex[:6]}", "pass-" + uuid.uuid4().hex[:8]
    with srv.client(follow_redirects=False) as c:
        csrf = login(c)
        r = c.post("/console/staff", data={"username": username, "password": password, "role": role,
                                           "regions": list(regions), "csrf_token": csrf})
        assert r.status_code == 200 and "已添加" in r.text, r.text
    return username, password


def file_ticket(srv: LiveServer, openid: str | None = None, **kw):
    base = dict(institution="某某职业培训学校", category="虚假宣传", happened="2026年10月", place="聊城",
                description="宣传说培训后包分配工作，实际没有任何安排。", phone="13800138000")
    base.update(kw)
    settings = server_settings(srv)
    with session_scope(settings.db_url) as s:
        return tickets.file_complaint(s, settings, openid or "o-" + uuid.uuid4().hex[:10], tickets.NewComplaint(**base))


def act(client: httpx.Client, csrf: str, number: str, action: str, **fields) -> httpx.Response:
    return client.post(f"/console/t/{number}/action", data={"csrf_token": csrf, "action": action, **fields})


SHOTS = os.environ.get("POLICYBOT_SCREENSHOTS")  # a directory: keep the pages' screenshots there


@contextmanager
def console_in_chromium(browser, base_url: str, width: int):
    """A page `width` px wide, logged in as the admin on the queue; `page.errors` collects CSP
    refusals (an inline style or script) and failed requests of the pages."""
    ctx = browser.new_context(viewport={"width": width, "height": 900}, is_mobile=width < 500, locale="zh-CN")
    page = ctx.new_page()
    page.errors = []
    page.on("console", lambda m: "Content Security Policy" in m.text and page.errors.append(m.text))
    page.on("response", lambda r: r.status >= 400 and not r.url.endswith("/favicon.ico") and page.errors.append(r.url))
    try:
        page.goto(base_url + "/console/login")
        page.fill("input[name=username]", ADMIN_USER)
        page.fill("input[name=password]", ADMIN_PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(base_url + "/console/")
        yield page
    finally:
        ctx.close()


def fits(page) -> bool:
    """Nothing scrolls sideways."""
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
