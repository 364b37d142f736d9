"""The inputs a hostile probe found 500s with now get a 4xx and a Chinese reason; pages carry
their security headers; the console cookie is Secure behind HTTPS; evidence photos come only
from this server's own copy. A real server over HTTP."""
from __future__ import annotations

import re

import pytest

from tests.conftest import ADMIN_PASSWORD, ADMIN_USER
from tests.console_helpers import file_ticket, login

pytestmark = pytest.mark.db

CHINESE = re.compile(r"[\u4e00-\u9fff]")


@pytest.fixture(scope="module")
def srv(live_server):
    return live_server("hardening", POLICYBOT_EMBEDDER="hash", POLICYBOT_SIMULATOR="1",
                       POLICYBOT_ADMIN_USER=ADMIN_USER, POLICYBOT_ADMIN_PASSWORD=ADMIN_PASSWORD)


@pytest.fixture
def admin(srv):
    with srv.client(follow_redirects=False) as c:
        login(c)
        yield c


def _json_4xx(r) -> str:
    assert 400 <= r.status_code < 500, (r.status_code, r.text[:300])
    detail = r.json()["detail"]
    assert isinstance(detail, str) and CHINESE.search(detail), detail
    return detail


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity"])
def test_ask_with_a_non_finite_number(srv, literal):
    with srv.client() as c:
        r = c.post("/api/ask", content=f'{{"question": {literal}}}', headers={"content-type": "application/json"})
        assert "question" in _json_4xx(r)
        r = c.post("/api/ask", content=f'{{"question": "补贴", "region": {literal}}}',
                   headers={"content-type": "application/json"})
        _json_4xx(r)


@pytest.mark.parametrize("path", ["/api/check/enterprise-yigong", "/api/check/trainee-subsidy", "/api/ask"])
def test_deeply_nested_json(srv, path):
    with srv.client() as c:
        for body in ("[" * 1200 + "]" * 1200, '{"a":' * 1200 + "1" + "}" * 1200):
            r = c.post(path, content=body, headers={"content-type": "application/json"})
            _json_4xx(r)


def test_console_page_numbers(admin):
    for page in ("²", "99999999999999999999", "0", "٣", "9" * 5000):
        r = admin.get("/console/", params={"page": page})
        assert 400 <= r.status_code < 500 and "页" in r.text, (page, r.status_code)
    for page in ("1", "", "abc", "-1"):  # not a number at all: the first page, as before
        assert admin.get("/console/", params={"page": page}).status_code == 200


def test_console_ids_out_of_range(admin):
    for path in ("/console/evidence/99999999999999999999999", "/console/evidence/-5", "/console/evidence/0"):
        r = admin.get(path)
        assert r.status_code == 404 and "没有这张图片" in r.text, (path, r.status_code)
    r = admin.get("/console/evidence/abc")
    _json_4xx(r)


def test_nul_characters_never_reach_the_database(srv, admin):
    """PostgreSQL refuses NUL in text; on it these were 500s."""
    _json_4xx(admin.get("/console/t/TS%00x"))
    _json_4xx(admin.get("/console/", params={"status": "待受理\x00"}))
    with srv.client(follow_redirects=False) as c:
        _json_4xx(c.post("/api/ask", json={"question": "补贴", "user": "o\x00x"}))
        token = re.search(r'name="login_csrf" value="([^"]+)"', c.get("/console/login").text).group(1)
        r = c.post("/console/login", data={"username": "ad\x00min", "password": "x", "login_csrf": token})
        assert r.status_code == 401 and "用户名或密码错误" in r.text


# ---------------------------------------------------------------- headers and cookies

def test_simulator_page_has_its_csp_and_nosniff(srv):
    with srv.client() as c:
        r = c.get("/simulator")
    assert r.status_code == 200
    csp = r.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in csp and "default-src 'none'" in csp
    assert "unsafe-inline" not in csp and "'sha256-" in csp  # the page's own script and style only
    assert r.headers["x-content-type-options"] == "nosniff"


def test_every_html_page_is_unframeable(srv):
    with srv.client() as c:
        for path in ("/console/login", "/docs"):
            r = c.get(path)
            assert "frame-ancestors 'none'" in r.headers.get("content-security-policy", ""), path
            assert r.headers["x-content-type-options"] == "nosniff"


def _set_cookie(response, name: str) -> str:
    return "; ".join(v for k, v in response.headers.multi_items() if k == "set-cookie" and v.startswith(name + "="))


def _login_cookie(client, **headers) -> str:
    """The console cookie's Set-Cookie line. The login-CSRF cookie goes back by hand: this client
    talks plain HTTP to the server, and a Secure cookie is not sent over plain HTTP."""
    page = client.get("/console/login", headers=headers)
    token = re.search(r'name="login_csrf" value="([^"]+)"', page.text).group(1)
    csrf_cookie = _set_cookie(page, "pb_login_csrf").split(";")[0]
    r = client.post("/console/login", headers={**headers, "Cookie": csrf_cookie},
                    data={"username": ADMIN_USER, "password": ADMIN_PASSWORD, "login_csrf": token})
    assert r.status_code == 303
    assert ("secure" in _set_cookie(page, "pb_login_csrf").lower()) == ("secure" in _set_cookie(r, "pb_console").lower())
    return _set_cookie(r, "pb_console")


def test_console_cookie_is_secure_behind_https(srv):
    with srv.client(follow_redirects=False) as c:
        assert "secure" in _login_cookie(c, **{"X-Forwarded-Proto": "https"}).lower()
    with srv.client(follow_redirects=False) as c:
        assert "secure" not in _login_cookie(c).lower()  # plain http on loopback: a Secure cookie would never come back


def test_console_cookie_secure_can_be_forced(live_server):
    forced = live_server("hardening-secure", POLICYBOT_EMBEDDER="hash", POLICYBOT_CONSOLE_SECURE_COOKIE="true",
                         POLICYBOT_ADMIN_USER=ADMIN_USER, POLICYBOT_ADMIN_PASSWORD=ADMIN_PASSWORD)
    with forced.client(follow_redirects=False) as c:
        assert "secure" in _login_cookie(c).lower()


def test_evidence_is_never_fetched_from_the_followers_url(srv, admin):
    tracker = "https://tracker.example/pixel.gif?who=staff"
    ticket = file_ticket(srv, evidence=[{"media_id": None, "pic_url": tracker}])
    page = admin.get(f"/console/t/{ticket.number}")
    assert page.status_code == 200 and "tracker.example" not in page.text
    img_src = page.headers["content-security-policy"].split("img-src", 1)[1].split(";")[0]
    assert img_src.strip() == "'self'"
    (photo,) = _evidence_paths(srv, ticket.id)
    r = admin.get(photo)
    assert r.status_code == 404 and "location" not in r.headers and "尚未" in r.text


def _evidence_paths(srv, ticket_id: int) -> list[str]:
    from sqlmodel import select

    from storage.db import session_scope
    from storage.models import Evidence
    from tests.console_helpers import server_settings

    with session_scope(server_settings(srv).db_url) as s:
        return [f"/console/evidence/{e.id}" for e in s.exec(select(Evidence).where(Evidence.ticket_id == ticket_id))]
