"""Ingest refuses what is not a notice — binary files, empty or nearly empty text, a Word or PDF
file that is not one — with a Chinese reason the admin sees (POST /api/ingest and the console),
reads GB18030 as well as UTF-8, and takes the admin token only as `Authorization: Bearer …`.
A real server over HTTP; the CLI path (`policybot ingest`) reports the same reasons."""
from __future__ import annotations

import random
import re
import subprocess
import sys

import pytest

from tests.conftest import ADMIN_PASSWORD, ADMIN_USER, ROOT
from tests.console_helpers import login

pytestmark = pytest.mark.db
TOKEN = "refusals-admin-token"
CHINESE = re.compile(r"[\u4e00-\u9fff]")

NOTICE = """淄博市人力资源和社会保障局

淄人社字〔2025〕{n}号

关于做好{job}培训补贴发放工作的通知

一、取得{job}职业技能等级证书的学员，每人补贴{amount}元。

二、补贴资金在审核通过后15个工作日内拨付到位。

淄博市人力资源和社会保障局
2025年4月1日
"""

GARBAGE = {
    "random.txt": random.Random(7).randbytes(4096),
    "zeros.md": b"\x00" * 2048,
    "empty.txt": b"",
    "blank.txt": "\n \n\t\u3000\n".encode(),
    "short.txt": "通知\n\n补贴100元。".encode(),
    "fake.docx": random.Random(8).randbytes(2048),
    "fake.pdf": b"%PDF-1.4 not really a pdf" + random.Random(9).randbytes(512),
}


@pytest.fixture(scope="module")
def srv(live_server):
    return live_server("refusals", POLICYBOT_EMBEDDER="hash", POLICYBOT_ADMIN_TOKEN=TOKEN,
                       POLICYBOT_ADMIN_USER=ADMIN_USER, POLICYBOT_ADMIN_PASSWORD=ADMIN_PASSWORD)


def _post(client, name: str, data: bytes, authorization: str | None = f"Bearer {TOKEN}"):
    headers = {"Authorization": authorization} if authorization else {}
    return client.post("/api/ingest", files={"files": (name, data, "application/octet-stream")}, headers=headers)


def _files(client) -> set[str]:
    return {n["file"] for n in client.get("/api/notices").json()["notices"]}


@pytest.mark.parametrize("name", sorted(GARBAGE))
def test_garbage_is_refused_with_a_reason(srv, name):
    with srv.client() as c:
        r = _post(c, name, GARBAGE[name])
        assert r.status_code == 422, (r.status_code, r.text)
        detail = r.json()["detail"]
        assert name in detail and CHINESE.search(detail), detail
        assert r.json()["refused"][name]
        assert name.rsplit(".", 1)[0] not in _files(c)


def test_one_bad_file_stops_the_whole_upload_before_anything_is_indexed(srv):
    good = NOTICE.format(n=3, job="面点师", amount=600).encode()
    with srv.client() as c:
        r = c.post("/api/ingest", headers={"Authorization": f"Bearer {TOKEN}"},
                   files=[("files", ("zb_mds.txt", good, "text/plain")), ("files", ("empty.txt", b"", "text/plain"))])
        assert r.status_code == 422 and "empty.txt" in r.json()["detail"]
        assert "zb_mds" not in _files(c)


def test_gb18030_text_is_read(srv):
    data = NOTICE.format(n=5, job="茶艺师", amount=880).encode("gb18030")
    with srv.client() as c:
        r = _post(c, "zb_cys.txt", data)
        assert r.status_code == 200 and r.json()["report"] == {"zb_cys": "added"}, r.text
        answer = c.post("/api/ask", json={"question": "淄博茶艺师培训补贴多少钱"}).json()
        assert "880元" in answer["answer"]


def test_the_token_needs_the_bearer_prefix(srv):
    data = NOTICE.format(n=6, job="育婴员", amount=500).encode()
    with srv.client() as c:
        for authorization in (TOKEN, f"Token {TOKEN}", f"Bearer{TOKEN}", f"Bearer  {TOKEN}x", None):
            r = _post(c, "zb_yyy.txt", data, authorization)
            assert r.status_code == 401 and CHINESE.search(r.json()["detail"]), authorization
        assert _post(c, "zb_yyy.txt", data, f"Bearer {TOKEN}").status_code == 200


def test_the_console_shows_the_admin_what_was_refused(srv):
    with srv.client(follow_redirects=False) as c:
        csrf = login(c)
        r = c.post("/console/notices", data={"csrf_token": csrf},
                   files={"files": ("blank.txt", GARBAGE["blank.txt"], "text/plain")})
        assert r.status_code == 400 and "blank.txt" in r.text and "未收录" in r.text


def test_the_cli_reports_refused_files(srv, tmp_path):
    bad = tmp_path / "cli_garbage.txt"
    bad.write_bytes(GARBAGE["random.txt"])
    env = dict(srv.env, PYTHONPATH=str(ROOT))
    out = subprocess.run([sys.executable, "-m", "bot.cli", "ingest", str(bad)], env=env, cwd=str(srv.data_dir),
                         capture_output=True, text=True, timeout=300)
    assert "cli_garbage" in out.stdout and CHINESE.search(out.stdout), out.stdout + out.stderr
    assert "added" not in out.stdout
