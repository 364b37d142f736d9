"""A notice uploaded by an admin is searchable by BM25 at once; its dense vectors are filled in
the background. In-process with a gated embedder (to hold the vectors back and prove the upload
did not wait for them), and over HTTP against the real app and a real on-disk index."""
from __future__ import annotations

import threading
import time

import pytest

from tests.conftest import database_settings

pytestmark = pytest.mark.db
ADMIN_TOKEN = "kb-bg-admin-token"
NOTICE = """淄博市人力资源和社会保障局文件

淄人社字〔2024〕3号

关于做好2024年茶艺师培训补贴工作的通知

各区县人力资源和社会保障局：

一、补贴标准

取得茶艺师职业技能等级证书的学员，每人补贴{amount}元。

淄博市人力资源和社会保障局

2024年4月2日
"""


class GatedEmbedder:
    """The hash embedder, but passages wait until the test opens the gate."""

    def __init__(self):
        from knowledge.embeddings import HashEmbedder

        self._inner = HashEmbedder()
        self.name, self.dim = self._inner.name, self._inner.dim
        self.gate = threading.Event()

    def passages(self, texts):
        assert self.gate.wait(60), "gate never opened"
        return self._inner.passages(texts)

    def queries(self, texts):
        return self._inner.queries(texts)


def _pending(kb, file_prefix):
    return sum(n["vectors_pending"] for n in kb.notices() if n["file"].startswith(file_prefix))


def test_upload_is_searchable_before_its_vectors_exist(request, tmp_path):
    from knowledge.index import HybridIndex
    from knowledge.service import KnowledgeBase
    from knowledge.vectors import VectorStore

    settings = database_settings(request.config, tmp_path / "data", embedder="hash", bundled_corpus=False)
    kb = KnowledgeBase(settings)
    embedder = GatedEmbedder()
    vectors = VectorStore(settings.data_dir / "chroma", None, embedder.name)
    kb._index = HybridIndex(embedder, vectors)
    kb.ensure_indexed()

    report = kb.ingest_upload("zibo_tea.txt", NOTICE.format(amount=900).encode())  # returns: gate still shut
    assert report == {"zibo_tea": "added"}
    assert _pending(kb, "zibo_tea") > 0 and vectors.count() == 0
    answer = kb.ask("茶艺师培训补贴多少钱")
    assert not answer.refused and "900元" in answer.answer and answer.sources[0].file == "zibo_tea"

    embedder.gate.set()
    assert kb.wait_for_vectors(timeout=60)
    chunks = sum(n["chunks"] for n in kb.notices())
    assert _pending(kb, "zibo_tea") == 0
    kb._reload(force=True)
    assert vectors.count() == chunks
    assert "900元" in kb.ask("茶艺师培训补贴多少钱").answer
    kb.close()


def test_uploaded_notice_over_http_answers_at_once_and_gets_its_vectors(live_server):
    srv = live_server("kb-bg", POLICYBOT_ADMIN_TOKEN=ADMIN_TOKEN)
    with srv.client() as c:
        r = c.post("/api/ingest", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
                   files={"files": ("zibo_tea.txt", NOTICE.format(amount=700).encode(), "text/plain")})
        assert r.status_code == 200 and r.json()["report"] == {"zibo_tea": "added"}
        body = c.post("/api/ask", json={"question": "淄博茶艺师培训补贴多少钱"}).json()
        assert "700元" in body["answer"] and body["sources"][0]["file"] == "zibo_tea"
        deadline = time.monotonic() + 120
        while True:
            notices = c.get("/api/notices").json()["notices"]
            mine = [n for n in notices if n["file"] == "zibo_tea"]
            if mine and all(n["vectors_pending"] == 0 for n in mine):
                break
            assert time.monotonic() < deadline, mine
            time.sleep(0.5)
        assert all(n["vectors_pending"] == 0 for n in notices)
        body = c.post("/api/ask", json={"question": "淄博茶艺师培训补贴多少钱"}).json()
        assert "700元" in body["answer"]
