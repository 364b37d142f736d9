"""Ingest over HTTP against the real app and a real on-disk index: metadata read from all five
bundled files, the split of 003, table rows, and re-ingest (unchanged → nothing; changed → old
chunks gone, no stale answer) through POST /api/ingest and through `policybot ingest`."""
from __future__ import annotations

import io
import subprocess
import sys
import time

import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.db
ADMIN_TOKEN = "kb-admin-token-1"

NOTICE = """潍坊市人力资源和社会保障局文件

潍人社字〔2024〕9号

关于做好2024年低压电工培训补贴发放工作的通知

各县市区人力资源和社会保障局：

一、补贴标准

（一）取得低压电工特种作业操作证的学员，每人补贴{amount}元。

（二）补贴资金在审核通过后15个工作日内拨付到位。

潍坊市人力资源和社会保障局

2024年3月1日
"""


@pytest.fixture(scope="module")
def kb_server(live_server):
    return live_server("kb", POLICYBOT_ADMIN_TOKEN=ADMIN_TOKEN)


@pytest.fixture(scope="module")
def notices(kb_server):
    with kb_server.client() as c:
        r = c.get("/api/notices")
        assert r.status_code == 200
        return r.json()["notices"]


def _by_file(notices, prefix):
    return [n for n in notices if n["file"].startswith(prefix)]


def test_metadata_of_every_bundled_notice(notices):
    got = {(n["file"][:3], n["seq"]): n for n in notices}
    linyi = got[("000", 0)]
    assert linyi["doc_number"] == "临应急函字〔2020〕71号"
    assert linyi["issuer"] == "临沂市应急管理局"
    assert linyi["date"] == "2020-09-18"
    assert linyi["region"] == "山东 临沂"
    assert "中期绩效评估迎查工作的通知" in linyi["title"]

    jiyuan = got[("002", 0)]
    assert jiyuan["doc_number"] == "济管人社〔2021〕6号"
    assert jiyuan["date"] == "2021-05-08"
    assert jiyuan["region"] == "河南 济源"
    assert jiyuan["title"].endswith("职业技能提升行动工作方案》的通知")

    wenshui = got[("004", 0)]
    assert wenshui["doc_number"] == "文人社字〔2023〕51号"
    assert wenshui["issuer"] == "文水县人力资源和社会保障局"
    assert wenshui["date"] == "2023-12-07"
    assert wenshui["region"] == "山西 吕梁 文水"


def test_headerless_attachment_gets_region_from_content_and_unknowns_stay_unknown(notices):
    (plan,) = _by_file(notices, "001")
    assert plan["region"] == "山东 聊城"
    assert plan["doc_number"] is None and plan["issuer"] is None and plan["date"] is None
    assert "重点任务分工" in plan["title"]


def test_file_003_is_split_into_three_notices(notices):
    parts = sorted(_by_file(notices, "003"), key=lambda n: n["seq"])
    assert [n["doc_number"] for n in parts] == [None, "鲁人社字〔2021〕32号", "鲁人社字〔2021〕33号"]
    liaocheng, no32, no33 = parts
    assert liaocheng["issuer"] == "聊城市人力资源和社会保障局 聊城市财政局"
    assert liaocheng["date"] == "2021-05-10"
    assert liaocheng["region"] == "山东 聊城"
    assert no32["issuer"] == "山东省人力资源和社会保障厅" and no32["date"] == "2021-03-17"
    assert no33["issuer"] == "山东省人力资源和社会保障厅 山东省财政厅" and no33["date"] == "2021-03-18"
    assert no32["region"] == no33["region"] == "山东"
    assert all(n["chunks"] > 3 for n in parts)


def test_table_rows_are_chunks_with_header_labels(kb_server):
    with kb_server.client() as c:
        rows = [ch for ch in c.get("/api/chunks", params={"file": "000_8847731a03a64208"}).json()["chunks"]
                if ch["kind"] == "table_row"]
        jiyuan = c.get("/api/chunks", params={"file": "002_a412a878726be6d2"}).json()["chunks"]
    row26 = [r for r in rows if "序号: 26 |" in r["text"]]
    assert len(row26) == 1 and "三端" in row26[0]["text"] and "工作要求:" in row26[0]["text"]
    assert len({r["text"] for r in rows}) >= 50  # one chunk per row of the 评分表
    plan_rows = [r for r in jiyuan if r["kind"] == "table_row" and "济源技师学院" in r["text"]
                 and "新型学徒制培训" in r["text"]]
    assert any("250" in r["text"] for r in plan_rows)


def test_expiring_clause_carries_its_date(kb_server):
    with kb_server.client() as c:
        chunks = c.get("/api/chunks", params={"file": "003_a712d972baa709d7"}).json()["chunks"]
    expiring = [ch for ch in chunks if ch["valid_until"] == "2021-12-31"]
    assert expiring and all("以工代训" in ch["text"] for ch in expiring)
    assert any("2021年12月31日" in ch["text"] for ch in expiring)  # healed across the page break


def _upload(client, name, text, token=ADMIN_TOKEN):
    files = {"files": (name, io.BytesIO(text.encode("utf-8")), "text/plain")}
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return client.post("/api/ingest", files=files, headers=headers)


def test_ingest_requires_the_admin_token(kb_server):
    with kb_server.client() as c:
        assert _upload(c, "x.txt", NOTICE.format(amount=1), token=None).status_code == 401
        assert _upload(c, "x.txt", NOTICE.format(amount=1), token="wrong").status_code == 401
        r = c.post("/api/ingest", files={"files": ("a.exe", b"MZ", "application/octet-stream")},
                   headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
        assert r.status_code == 415


def test_upload_then_reupload_unchanged_then_changed_replaces_old_chunks(kb_server):
    with kb_server.client() as c:
        r = _upload(c, "weifang_dg.txt", NOTICE.format(amount=800))
        assert r.status_code == 200 and r.json()["report"] == {"weifang_dg": "added"}
        ans = c.post("/api/ask", json={"question": "潍坊考低压电工证能补贴多少钱？"}).json()
        assert not ans["refused"] and "800元" in ans["answer"]
        assert ans["sources"][0]["file"] == "weifang_dg"
        assert ans["sources"][0]["doc_number"] == "潍人社字〔2024〕9号"
        assert ans["sources"][0]["region"] == "山东 潍坊"
        chunks_before = c.get("/api/chunks", params={"file": "weifang_dg"}).json()["chunks"]

        r = _upload(c, "weifang_dg.txt", NOTICE.format(amount=800))
        assert r.json()["report"] == {"weifang_dg": "unchanged"}
        assert c.get("/api/chunks", params={"file": "weifang_dg"}).json()["chunks"] == chunks_before

        r = _upload(c, "weifang_dg.txt", NOTICE.format(amount=950))
        assert r.json()["report"] == {"weifang_dg": "updated"}
        chunks_after = c.get("/api/chunks", params={"file": "weifang_dg"}).json()["chunks"]
        assert all("800元" not in ch["text"] for ch in chunks_after)
        assert len(chunks_after) == len(chunks_before)  # replaced, not added to
        ans = c.post("/api/ask", json={"question": "潍坊考低压电工证能补贴多少钱？"}).json()
        assert "950元" in ans["answer"] and "800元" not in ans["answer"]
        listed = [n for n in c.get("/api/notices").json()["notices"] if n["file"] == "weifang_dg"]
        assert len(listed) == 1


def test_docx_upload_is_read(kb_server):
    import docx

    document = docx.Document()
    for line in NOTICE.format(amount=640).replace("低压电工", "焊工").splitlines():
        document.add_paragraph(line)
    buf = io.BytesIO()
    document.save(buf)
    with kb_server.client() as c:
        r = c.post("/api/ingest", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
                   files={"files": ("weifang_hg.docx", buf.getvalue(),
                                    "application/vnd.openxmlformats-officedocument.wordprocessingml.document")})
        assert r.json()["report"] == {"weifang_hg": "added"}
        ans = c.post("/api/ask", json={"question": "潍坊焊工证补贴多少"}).json()
        assert "640元" in ans["answer"] and ans["sources"][0]["file"] == "weifang_hg"


def test_text_pdf_upload_is_read(kb_server):
    """A text PDF (Chinese in a standard CID font, as office exports make them)."""
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.pdfgen import canvas

    pdfmetrics.registerFont(UnicodeCIDFont("STSong-Light"))
    buf = io.BytesIO()
    pdf = canvas.Canvas(buf)
    pdf.setFont("STSong-Light", 12)
    lines = [line for line in NOTICE.format(amount=580).replace("低压电工", "电梯安装维修工").splitlines() if line]
    for i, line in enumerate(lines):
        pdf.drawString(40, 800 - 22 * i, line)
    pdf.save()
    with kb_server.client() as c:
        r = c.post("/api/ingest", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
                   files={"files": ("weifang_dt.pdf", buf.getvalue(), "application/pdf")})
        assert r.json()["report"] == {"weifang_dt": "added"}
        notice = [n for n in c.get("/api/notices").json()["notices"] if n["file"] == "weifang_dt"][0]
        assert notice["doc_number"] == "潍人社字〔2024〕9号" and notice["date"] == "2024-03-01"
        ans = c.post("/api/ask", json={"question": "潍坊电梯安装维修工证补贴多少"}).json()
        assert "580元" in ans["answer"] and ans["sources"][0]["file"] == "weifang_dt"


def test_cli_ingest_while_serving_reaches_the_running_server(kb_server, tmp_path):
    notice = tmp_path / "weifang_cli.txt"
    notice.write_text(NOTICE.format(amount=720).replace("低压电工", "叉车司机"), encoding="utf-8")
    env = {k: v for k, v in kb_server.env.items()}
    env["PYTHONPATH"] = str(ROOT)
    out = subprocess.run([sys.executable, "-m", "bot.cli", "ingest", str(notice)], env=env,
                         cwd=str(kb_server.data_dir), capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert "added\tweifang_cli" in out.stdout
    out2 = subprocess.run([sys.executable, "-m", "bot.cli", "ingest", str(notice)], env=env,
                          cwd=str(kb_server.data_dir), capture_output=True, text=True, timeout=300)
    assert "unchanged\tweifang_cli" in out2.stdout
    with kb_server.client() as c:
        deadline = time.time() + 20
        while True:  # the server notices the new index version on its next question
            ans = c.post("/api/ask", json={"question": "潍坊叉车司机证补贴多少钱"}).json()
            if "720元" in ans["answer"] or time.time() > deadline:
                break
            time.sleep(1)
        assert "720元" in ans["answer"]
        assert ans["sources"][0]["file"] == "weifang_cli"


def test_restart_on_the_same_data_does_not_reindex(live_server, tmp_path_factory):
    data = tmp_path_factory.mktemp("restart")
    first = live_server("restart1", data_dir=data)
    with first.client() as c:
        ids = [ch["id"] for ch in c.get("/api/chunks").json()["chunks"]]
    first.stop()
    second = live_server("restart2", data_dir=data)
    with second.client() as c:
        assert [ch["id"] for ch in c.get("/api/chunks").json()["chunks"]] == ids
