"""`policybot backup` of a running server, restored into an empty data dir and an empty database
(SQLite, or PostgreSQL with --db=postgres): a new server on it shows every complaint with its
timeline and photo, every notice with its status (a withdrawn one too), answers from an
uploaded notice, and files new complaints after the restored ones. A second restore onto it is
refused; an older backup comes out at the newest schema; a broken backup is refused whole."""
from __future__ import annotations

import csv
import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

from storage import dump, migrate
from tests.conftest import (ADMIN_PASSWORD, ADMIN_USER, ROOT, TEST_AES_KEY, TEST_APPID, TEST_SECRET, TEST_TOKEN,
                            fresh_database_url)
from tests.console_helpers import act, login
from tests.test_chroma_server import chroma_server  # noqa: F401  (the fixture: a real `chroma run`)
from tests.test_complaints_wechat import NUMBER_RE, file_complaint
from tests.test_notice_lifecycle import everything_said, notice_text
from tests.wechat_util import new_openid, platform_for, server_engine, wait_for

pytestmark = pytest.mark.db
TOKEN = "backup-admin-token-1"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
QUESTION = "菏泽焊工证培训补贴多少钱？"
QUESTIONS = [QUESTION, "以工代训补贴多少钱", "职业技能提升行动的培训补贴怎么申请", "电子培训券怎么用"]
ENV = dict(POLICYBOT_ADMIN_TOKEN=TOKEN, POLICYBOT_EMBEDDER="hash", WECHAT_TOKEN=TEST_TOKEN,
           WECHAT_AES_KEY=TEST_AES_KEY, WECHAT_APPID=TEST_APPID, WECHAT_SECRET=TEST_SECRET,
           POLICYBOT_ADMIN_USER=ADMIN_USER, POLICYBOT_ADMIN_PASSWORD=ADMIN_PASSWORD)


def policybot(env: dict, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "bot.cli", *args], env={**env, "PYTHONPATH": str(ROOT)},
                          cwd=str(cwd), capture_output=True, text=True, timeout=600)


def everything_staff_see(srv) -> dict:
    """Every ticket as the console shows it (the CSV export, then each ticket's page with its
    timeline and photos), and every notice as the notices API lists it."""
    with srv.client(follow_redirects=False) as c:
        login(c)
        rows = list(csv.reader(io.StringIO(c.get("/console/export.csv").text.lstrip("\ufeff"))))
        pages, photos = {}, {}
        for row in rows[1:]:
            page = c.get(f"/console/t/{row[0]}")
            assert page.status_code == 200
            pages[row[0]] = re.sub(r'name="csrf_token" value="[^"]+"', "", page.text)
            for ev in re.findall(r"/console/evidence/(\d+)", page.text):
                photos[ev] = c.get(f"/console/evidence/{ev}").content
        notices = c.get("/api/notices", headers=AUTH).json()["notices"]
        answers = [c.post("/api/ask", json={"question": q}).json() for q in QUESTIONS]
    for ans in answers:
        ans.pop("log_key", None)
    return {"tickets": rows, "pages": pages, "photos": photos, "notices": notices, "answers": answers}


def test_a_live_backup_restores_into_an_empty_stack(live_server, fake_wechat, tmp_path, request):
    src = live_server("backup-src", **ENV)
    p = platform_for(src)
    fake_wechat.media["MEDIA_BACKUP"] = b"\x89PNG\r\n\x1a\nbackup-photo"
    openids = [new_openid("obak"), new_openid("obak")]
    numbers = [NUMBER_RE.search(file_complaint(p, openids[0], photos=["MEDIA_BACKUP"])).group(1),
               NUMBER_RE.search(file_complaint(p, openids[1], phone="")).group(1)]
    with src.client(follow_redirects=False) as c:
        csrf = login(c)
        assert act(c, csrf, numbers[0], "accept").status_code == 303
        assert act(c, csrf, numbers[0], "note", text="内部备注：备份前的处理记录").status_code == 303
        r = c.post("/api/ingest", headers=AUTH,
                   files={"files": ("hz_weld.txt", io.BytesIO(notice_text("菏泽", "焊工", 1700).encode()), "text/plain")})
        assert r.json()["report"] == {"hz_weld": "added"}
        bundled = next(n for n in c.get("/api/notices", headers=AUTH).json()["notices"] if n["file"] != "hz_weld")
        r = c.post(f"/api/notices/{bundled['id']}/withdraw", json={"reason": "备份测试：撤回"}, headers=AUTH)
        assert r.status_code == 200, r.text
        assert "1700元" in c.post("/api/ask", json={"question": QUESTION}).json()["answer"]
    photo_saved = wait_for(lambda: server_engine(src).connect().execute(
        sa.text("SELECT count(*) FROM evidence WHERE file_path IS NOT NULL")).scalar() == 1)
    assert photo_saved
    before = everything_staff_see(src)
    assert len(before["tickets"]) == 3 and set(numbers) <= {r[0] for r in before["tickets"]}
    assert "内部备注：备份前的处理记录" in before["pages"][numbers[0]]
    assert list(before["photos"].values()) == [b"\x89PNG\r\n\x1a\nbackup-photo"]
    assert {n["status"] for n in before["notices"] if n["id"] == bundled["id"]} == {"已撤回"}

    # the backup, taken while the server runs
    out = policybot(src.env, "backup", str(tmp_path / "bk"), cwd=src.data_dir)
    assert out.returncode == 0, out.stderr
    manifest = json.loads((tmp_path / "bk" / "manifest.json").read_text())
    assert manifest["revision"] == migrate.head()
    assert manifest["counts"]["tickets"] == 2 and manifest["counts"]["notices"] == len(before["notices"])
    paths = [f["path"] for f in manifest["files"]]
    assert len(paths) == 2 and "uploads/hz_weld.txt" in paths and any(p.startswith("evidence/") for p in paths)
    assert not (tmp_path / "bk" / "files" / "policybot.db").exists()

    # restored into an empty data dir and an empty database, then served
    fresh = tmp_path / "restored"
    env = {**src.env, "POLICYBOT_DATA_DIR": str(fresh / "data")}
    env.pop("DATABASE_URL", None)
    if (url := fresh_database_url(request.config)) is not None:
        env["DATABASE_URL"] = url
    fresh.mkdir()
    out = policybot(env, "restore", str(tmp_path / "bk"), cwd=fresh)
    assert out.returncode == 0, out.stderr
    assert "tickets 2" in out.stdout and f"notices {len(before['notices'])}" in out.stdout
    dst = live_server("backup-dst", data_dir=fresh, DATABASE_URL=env.get("DATABASE_URL"), **ENV)
    after = everything_staff_see(dst)
    assert after == before
    assert "1700元" in after["answers"][0]["answer"] and after["answers"][0]["sources"][0]["file"] == "hz_weld"
    assert not any(bundled["title"] in everything_said(a) for a in after["answers"])
    pd = platform_for(dst)
    assert numbers[0] in pd.say(openids[0], f"进度 {numbers[0]}")  # the filer still sees it
    newer = NUMBER_RE.search(file_complaint(pd, new_openid("obak"), phone="")).group(1)
    assert newer not in numbers  # new rows continue after the restored ones (PostgreSQL sequences)

    # a second restore onto the stack that now holds data is refused, and changes nothing
    again = policybot(env, "restore", str(tmp_path / "bk"), cwd=fresh)
    assert again.returncode == 1 and "不是空的" in again.stderr and "--force" in again.stderr
    assert len(everything_staff_see(dst)["tickets"]) == 4


def test_an_older_backup_is_migrated_to_head_and_a_damaged_one_is_refused(tmp_path, request):
    old = f"sqlite:///{tmp_path / 'old.db'}"
    earlier = "0002_password_changed"  # before the notice lifecycle, whose migration fills `extracted`
    migrate.upgrade(old, earlier)
    with sa.create_engine(old).begin() as conn:
        conn.execute(sa.text("INSERT INTO notice (id, file, seq, title, date, meta) "
                             "VALUES (7, 'old', 0, '旧通知', '2021-03-18', '{}')"))
        conn.execute(sa.text("INSERT INTO follower (openid, region, subscribed, form_state, more_pages, created_at, "
                             "last_seen_at) VALUES ('o-old', '聊城', 1, '{}', '[]', '2026-01-02 03:04:05.000000', "
                             "'2026-01-02 03:04:05.000000')"))
    revision, counts = dump.dump(old, tmp_path / "db")
    assert (revision, counts["notice"], counts["follower"]) == (earlier, 1, 1)
    target = fresh_database_url(request.config) or f"sqlite:///{tmp_path / 'new.db'}"
    assert dump.load(target, tmp_path / "db", revision) == {**{t: 0 for t in counts}, **counts}
    assert migrate.current(target) == migrate.head()
    with sa.create_engine(target).connect() as conn:
        extracted = conn.execute(sa.text("SELECT extracted FROM notice WHERE id = 7")).scalar()
        extracted = json.loads(extracted) if isinstance(extracted, str) else extracted  # SQLite: text
        assert extracted["title"] == "旧通知"
        seen = conn.execute(sa.text("SELECT last_seen_at FROM follower WHERE openid = 'o-old'")).scalar()
        assert str(seen).startswith("2026-01-02 03:04:05")
    # a backup whose file does not match its manifest is refused before anything is touched
    bk = tmp_path / "bk"
    (bk / "files" / "uploads").mkdir(parents=True)
    (bk / "files" / "uploads" / "a.txt").write_text("changed")
    (bk / "manifest.json").write_text(json.dumps({"kind": "policybot-backup", "format": 1, "files": [
        {"path": "uploads/a.txt", "bytes": 8, "sha256": "0" * 64}]}))
    data = tmp_path / "empty"
    env = {"POLICYBOT_DATA_DIR": str(data), "PATH": os.environ["PATH"], "ANONYMIZED_TELEMETRY": "False"}
    out = policybot(env, "restore", str(bk), cwd=tmp_path)
    assert out.returncode == 1 and "已损坏" in out.stderr
    assert not data.exists()


def test_the_index_is_rebuilt_on_a_chroma_server_and_force_empties_it_first(chroma_server, tmp_path, request):
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    base = {"PATH": os.environ["PATH"], "ANONYMIZED_TELEMETRY": "False", "POLICYBOT_EMBEDDER": "hash"}
    src = {**base, "POLICYBOT_DATA_DIR": str(tmp_path / "src")}
    if (url := fresh_database_url(request.config)) is not None:
        src["DATABASE_URL"] = url
    assert policybot(src, "ask", "以工代训补贴多少钱", cwd=tmp_path).returncode == 0  # indexes the bundled notices
    assert policybot(src, "backup", str(tmp_path / "bk"), cwd=tmp_path).returncode == 0
    chunks = json.loads((tmp_path / "bk" / "manifest.json").read_text())["counts"]["chunks"]

    dst = {**base, "POLICYBOT_DATA_DIR": str(tmp_path / "dst"), "CHROMA_URL": chroma_server}
    if (url := fresh_database_url(request.config)) is not None:
        dst["DATABASE_URL"] = url
    out = policybot(dst, "restore", str(tmp_path / "bk"), cwd=tmp_path)
    assert out.returncode == 0 and f"vectors {chunks}" in out.stdout, out.stderr
    port = int(chroma_server.rsplit(":", 1)[1])
    client = chromadb.HttpClient(host="127.0.0.1", port=port, settings=ChromaSettings(anonymized_telemetry=False))
    collection = client.get_collection("policy_chunks_hash")
    assert collection.count() == chunks
    collection.upsert(ids=["999999"], embeddings=[[0.1] * len(collection.get(limit=1, include=["embeddings"])
                                                               ["embeddings"][0])])  # a stale vector
    refused = policybot(dst, "restore", str(tmp_path / "bk"), cwd=tmp_path)
    assert refused.returncode == 1 and "向量库" in refused.stderr
    forced = policybot(dst, "restore", "--force", str(tmp_path / "bk"), cwd=tmp_path)
    assert forced.returncode == 0, forced.stderr
    collection = client.get_collection("policy_chunks_hash")
    assert collection.count() == chunks and not collection.get(ids=["999999"])["ids"]
    answer = policybot(dst, "ask", "以工代训补贴多少钱", cwd=tmp_path)
    assert "500元" in answer.stdout
