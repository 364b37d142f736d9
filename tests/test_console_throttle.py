"""The console's login throttle, against real servers over HTTP: too many wrong passwords lock the
account name (429, Retry-After, a Chinese message saying when) and the right password is refused
while locked; the count lives in the database, so two workers on one database share it (and a
parallel burst gets no more guesses than a sequential one); one address is limited across
account names; the lock ends on time; a user changes their own password (a wrong current one
counts against the throttle, success logs their other sessions out); every login, failure,
lockout and password change is in the audit trail, never a password."""
from __future__ import annotations

import concurrent.futures as cf
import re
import time
import uuid

import httpx
import pytest
from sqlmodel import select

from storage.db import session_scope
from storage.models import LoginAttempt, StaffEvent
from tests.conftest import ADMIN_PASSWORD, ADMIN_USER
from tests.console_helpers import CSRF_RE, add_staff, login, server_settings

pytestmark = pytest.mark.db

MAX_FAILURES, PER_IP = 3, 6
THROTTLE = dict(POLICYBOT_CONSOLE_LOGIN_MAX_FAILURES=str(MAX_FAILURES), POLICYBOT_CONSOLE_LOGIN_WINDOW="300",
                POLICYBOT_CONSOLE_LOGIN_LOCKOUT="600", POLICYBOT_CONSOLE_LOGIN_MAX_FAILURES_PER_IP=str(PER_IP),
                # the tests speak for several addresses through X-Forwarded-For, believed from loopback
                POLICYBOT_TRUSTED_PROXIES="127.0.0.1/32",
                POLICYBOT_ADMIN_USER=ADMIN_USER, POLICYBOT_ADMIN_PASSWORD=ADMIN_PASSWORD, POLICYBOT_EMBEDDER="hash")
LOCKED = re.compile(r"登录失败次数过多，请于 (\d\d):(\d\d)（约 (\d+) 分钟后）再试。")


@pytest.fixture(scope="module")
def pair(live_server):
    """Two workers on one database."""
    first = live_server("throttle-1", **THROTTLE)
    second = live_server("throttle-2", DATABASE_URL=first.database_url, **THROTTLE)
    return first, second


def new_ip() -> str:
    return f"198.51.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250 + 1}"


def client(srv, ip: str) -> httpx.Client:
    return srv.client(follow_redirects=False, headers={"X-Forwarded-For": ip})


def try_login(c: httpx.Client, username: str, password: str) -> httpx.Response:
    token = re.search(r'name="login_csrf" value="([^"]+)"', c.get("/console/login").text).group(1)
    return c.post("/console/login", data={"username": username, "password": password, "login_csrf": token})


def attempt(srv, ip: str, username: str, password: str) -> httpx.Response:
    with client(srv, ip) as c:
        return try_login(c, username, password)


def assert_locked(r: httpx.Response, max_seconds: int = 600) -> None:
    assert r.status_code == 429, r.text
    assert 1 <= int(r.headers["retry-after"]) <= max_seconds
    m = LOCKED.search(r.text)
    assert m, r.text
    assert 1 <= int(m.group(3)) <= -(-max_seconds // 60)
    assert "pb_console" not in r.headers.get("set-cookie", "")


def events(srv, actor: str) -> list[StaffEvent]:
    with session_scope(server_settings(srv).db_url) as s:
        return list(s.exec(select(StaffEvent).where(StaffEvent.actor == actor).order_by(StaffEvent.id)))


def test_lockout_after_n_failures_refuses_even_the_right_password(pair):
    srv, _ = pair
    user, pw = add_staff(srv)
    ip = new_ip()
    for i in range(MAX_FAILURES):
        r = attempt(srv, ip, user, f"wrong-{i}")
        assert r.status_code == 401 and "用户名或密码错误" in r.text
    assert LOCKED.search(r.text)  # the failure that reached the limit already says until when
    assert_locked(attempt(srv, ip, user, "wrong-again"))
    assert_locked(attempt(srv, ip, user, pw))  # the right password: refused, no session
    assert_locked(attempt(srv, new_ip(), " " + user.upper(), pw))  # one name, however it is typed, from anywhere
    # other accounts are not affected; a huge or odd name is a 401, not a 500
    other, other_pw = add_staff(srv)
    assert attempt(srv, ip, other, other_pw).status_code == 303
    assert attempt(srv, new_ip(), "x" * 10_000, "whatever").status_code == 401


def test_failures_on_one_worker_lock_the_account_on_the_other(pair):
    first, second = pair
    user, pw = add_staff(first)
    ip = new_ip()
    for srv in (first, second, first)[:MAX_FAILURES]:
        assert attempt(srv, ip, user, "wrong").status_code == 401
    assert_locked(attempt(second, ip, user, pw))
    assert_locked(attempt(first, new_ip(), user, pw))


def test_a_parallel_burst_on_both_workers_gets_no_more_guesses(pair):
    first, second = pair
    user, pw = add_staff(first)
    ip = new_ip()

    def guess(i: int) -> int:
        return attempt((first, second)[i % 2], ip, user, f"guess-{i}").status_code

    with cf.ThreadPoolExecutor(12) as pool:
        codes = list(pool.map(guess, range(12)))
    assert sorted(codes) == [401] * MAX_FAILURES + [429] * (12 - MAX_FAILURES), codes
    assert_locked(attempt(second, ip, user, pw))


def test_one_address_is_limited_across_account_names(pair):
    first, second = pair
    user, pw = add_staff(first)
    ip = new_ip()
    for i in range(PER_IP):  # a different name each time: no account reaches its own limit
        r = attempt((first, second)[i % 2], ip, f"nobody-{uuid.uuid4().hex[:6]}", "wrong")
        assert r.status_code == 401
    assert LOCKED.search(r.text)
    assert_locked(attempt(first, ip, f"nobody-{uuid.uuid4().hex[:6]}", "wrong"))
    assert_locked(attempt(second, ip, user, pw))  # that address cannot log in at all now
    assert attempt(second, new_ip(), user, pw).status_code == 303  # the account itself is fine


def test_a_success_clears_the_accounts_failures(pair):
    srv, _ = pair
    user, pw = add_staff(srv)
    ip = new_ip()
    for _ in range(MAX_FAILURES - 1):
        assert attempt(srv, ip, user, "wrong").status_code == 401
    assert attempt(srv, ip, user, pw).status_code == 303
    for _ in range(MAX_FAILURES - 1):
        assert attempt(srv, ip, user, "wrong").status_code == 401
    assert attempt(srv, ip, user, pw).status_code == 303
    with session_scope(server_settings(srv).db_url) as s:
        rows = s.exec(select(LoginAttempt).where(LoginAttempt.account == user.lower())).all()
        assert all(r.success for r in rows) and len(rows) == 2


@pytest.fixture(scope="module")
def brief(live_server):
    """A worker whose locks last 2 seconds (failures count for a minute)."""
    return live_server("throttle-brief", **{**THROTTLE, "POLICYBOT_CONSOLE_LOGIN_LOCKOUT": "2",
                                            "POLICYBOT_CONSOLE_LOGIN_WINDOW": "60"})


def test_the_lock_ends_on_time_and_knocking_does_not_extend_it(brief):
    user, pw = add_staff(brief)
    ip = new_ip()
    for _ in range(MAX_FAILURES - 1):
        assert attempt(brief, ip, user, "wrong").status_code == 401
    sent = time.monotonic()  # the lock starts after this (and ends 2 s later) …
    assert attempt(brief, ip, user, "wrong").status_code == 401
    answered = time.monotonic()  # … and before this
    assert_locked(attempt(brief, ip, user, pw), max_seconds=2)
    while time.monotonic() < sent + 1.4:  # knock while surely locked
        assert attempt(brief, ip, user, "wrong").status_code == 429
    time.sleep(max(0.0, answered + 2.2 - time.monotonic()))
    assert attempt(brief, ip, user, pw).status_code == 303


def test_after_a_lock_one_more_failure_within_the_window_locks_again(brief):
    user, pw = add_staff(brief)
    ip = new_ip()
    for _ in range(MAX_FAILURES):
        attempt(brief, ip, user, "wrong")
    time.sleep(2.2)
    r = attempt(brief, ip, user, "wrong")
    assert r.status_code == 401 and LOCKED.search(r.text)
    assert_locked(attempt(brief, ip, user, pw), max_seconds=2)


def _password_form(c: httpx.Client) -> str:
    page = c.get("/console/password")
    assert page.status_code == 200 and 'name="current"' in page.text
    return CSRF_RE.search(page.text).group(1)


def change(c: httpx.Client, csrf: str, current: str, new: str, again: str | None = None) -> httpx.Response:
    return c.post("/console/password", data={"csrf_token": csrf, "current": current, "new": new,
                                              "again": new if again is None else again})


def test_password_change(pair):
    first, second = pair
    user, old = add_staff(first)
    new = "new-" + uuid.uuid4().hex[:10]
    ip = new_ip()
    with client(first, ip) as c1, client(second, ip) as c2:
        login(c1, user, old)
        login(c2, user, old)  # another session, on the other worker
        assert 'href="/console/password"' in c1.get("/console/").text  # in the navigation
        csrf = _password_form(c1)
        assert change(c1, "forged", old, new).status_code == 403
        r = change(c1, csrf, old, new, again=new + "x")
        assert r.status_code == 400 and "两次输入的新密码不一致" in r.text
        r = change(c1, csrf, old, "short")
        assert r.status_code == 400 and "新密码至少 8 位" in r.text
        r = change(c1, csrf, old, old)
        assert r.status_code == 400 and "不能与当前密码相同" in r.text
        r = change(c1, csrf, "not-the-password", new)
        assert r.status_code == 403 and "当前密码不正确" in r.text
        r = change(c1, csrf, old, new)
        assert r.status_code == 200 and "密码已修改" in r.text, r.text
        assert c1.get("/console/").status_code == 200  # this session stays
        r = c2.get("/console/")  # the other one is over
        assert r.status_code == 303 and r.headers["location"] == "/console/login"
    assert attempt(second, new_ip(), user, old).status_code == 401
    assert attempt(second, new_ip(), user, new).status_code == 303
    actions = [e.action for e in events(first, user)]
    assert actions[-4:] == ["password_failed", "password_changed", "login_failed", "login"], actions


def test_wrong_current_passwords_count_for_the_throttle(pair):
    first, second = pair
    user, pw = add_staff(first)
    with client(first, new_ip()) as c:
        login(c, user, pw)
        csrf = _password_form(c)
        for i in range(MAX_FAILURES):
            r = change(c, csrf, f"guess-{i}", "new-password-1")
            assert r.status_code == 403 and "当前密码不正确" in r.text
        assert LOCKED.search(r.text)
        assert_locked(change(c, csrf, pw, "new-password-1"))  # not even the right one now
    assert_locked(attempt(second, new_ip(), user, pw))  # and no new login anywhere


def test_logins_failures_and_lockouts_are_in_the_audit_trail(pair):
    first, second = pair
    user, pw = add_staff(first)
    ip = new_ip()
    assert attempt(first, ip, user, "secret-guess-1").status_code == 401
    assert attempt(second, ip, user, pw).status_code == 303
    for i in range(MAX_FAILURES):
        attempt(second, ip, user, f"secret-guess-{i + 2}")
    assert_locked(attempt(first, ip, user, pw))
    rows = events(first, user)
    assert [e.action for e in rows] == ["login_failed", "login"] + ["login_failed"] * MAX_FAILURES + ["locked"]
    assert all(e.ip == ip for e in rows)
    assert "锁定至" in rows[-1].detail
    stray = f"nobody-{uuid.uuid4().hex[:6]}"
    attempt(first, new_ip(), stray, "secret-guess-x")
    assert [(e.action, e.detail) for e in events(second, stray)] == [("login_failed", "无此账号")]
    with session_scope(server_settings(first).db_url) as s:  # no password anywhere in the trail
        text = " ".join(f"{e.actor} {e.detail}" for e in s.exec(select(StaffEvent)))
    assert "secret-guess" not in text and pw not in text
    with first.client(follow_redirects=False) as c:  # the admin sees it on the accounts page
        login(c)
        page = c.get("/console/staff").text
        audit = page[page.index('id="audit"'):]
        assert user in audit and "锁定" in audit and "登录失败" in audit and ip in audit


def test_a_restart_does_not_undo_the_bootstrap_admins_own_change(live_server):
    """POLICYBOT_ADMIN_PASSWORD creates the admin and recovers it, until the admin changes the
    password on the console: after that a restart keeps the audited change."""
    env = dict(THROTTLE, POLICYBOT_ADMIN_USER="boot-admin", POLICYBOT_ADMIN_PASSWORD="boot-password-1")
    srv = live_server("throttle-boot", **env)
    new = "changed-" + uuid.uuid4().hex[:8]
    with client(srv, new_ip()) as c:
        login(c, "boot-admin", "boot-password-1")
        page = c.get("/console/password").text
        assert "重启服务不会再恢复" in page
        assert change(c, _password_form(c), "boot-password-1", new).status_code == 200
    srv.stop()
    srv.start()
    assert attempt(srv, new_ip(), "boot-admin", "boot-password-1").status_code == 401
    assert attempt(srv, new_ip(), "boot-admin", new).status_code == 303
