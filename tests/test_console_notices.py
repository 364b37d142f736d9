"""Admins load a new notice from the console; the bot answers from it without a restart,
and a changed version replaces the old one. Staff may read the list but not upload."""
from __future__ import annotations

import pytest

from tests.console_helpers import add_staff, login

pytestmark = pytest.mark.db

NOTICE_V1 = """郑州市人力资源和社会保障局

郑人社〔2026〕9号

关于开展2026年家政服务员技能提升培训的通知

各区县人社局：

一、补贴标准

参加家政服务员培训并取得职业技能等级证书的，每人补贴1800元。

郑州市人力资源和社会保障局
2026年3月2日
"""


def _upload(client, csrf, name, text):
    return client.post("/console/notices", data={"csrf_token": csrf},
                       files={"files": (name, text.encode("utf-8"), "text/plain")})


def _ask(client, q):
    return client.post("/api/ask", json={"question": q}).json()


def test_admin_uploads_a_notice_and_the_answer_follows(live_server):
    srv = live_server("notices", POLICYBOT_ADMIN_USER="admin", POLICYBOT_ADMIN_PASSWORD="admin-pass-123",
                      POLICYBOT_EMBEDDER="hash")
    with srv.client(follow_redirects=False) as c:
        csrf = login(c)
        page = c.get("/console/notices")
        assert page.status_code == 200 and "鲁人社字〔2021〕33号" in page.text

        r = _upload(c, csrf, "zz_zhengzhou.txt", NOTICE_V1)
        assert r.status_code == 200, r.text
        assert "zz_zhengzhou：新增" in r.text
        assert "郑人社〔2026〕9号" in r.text and "河南 郑州" in r.text

        body = _ask(c, "郑州家政服务员培训补贴多少钱")
        assert not body["refused"] and "1800元" in body["answer"]
        assert body["sources"][0]["file"] == "zz_zhengzhou"

        assert "未变化" in _upload(c, csrf, "zz_zhengzhou.txt", NOTICE_V1).text
        r = _upload(c, csrf, "zz_zhengzhou.txt", NOTICE_V1.replace("1800元", "2400元"))
        assert "已更新" in r.text
        body = _ask(c, "郑州家政服务员培训补贴多少钱")
        assert "2400元" in body["answer"] and "1800元" not in body["answer"]

        bad = _upload(c, csrf, "virus.exe", "MZ")
        assert bad.status_code == 400 and "只支持" in bad.text
        assert c.post("/console/notices", data={"csrf_token": "forged"},
                      files={"files": ("a.txt", b"x", "text/plain")}).status_code == 403


def test_staff_see_the_list_but_cannot_upload(server):
    username, password = add_staff(server, "staff", ("济源",))
    with server.client(follow_redirects=False) as c:
        csrf = login(c, username, password)
        page = c.get("/console/notices")
        assert page.status_code == 200 and "上传新通知" not in page.text
        assert _upload(c, csrf, "x.txt", NOTICE_V1).status_code == 403
