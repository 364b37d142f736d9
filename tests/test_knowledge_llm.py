"""The optional generated answer, wired with langchain's fake chat models (no network): a reply
that keeps the citation is used; one that drops it, or a model that fails, falls back to the
extractive answer. Runs the real KnowledgeBase on a real SQLite + Chroma index in a temp dir."""
from __future__ import annotations

import pytest
from langchain_core.language_models.fake_chat_models import FakeListChatModel, GenericFakeChatModel
from langchain_core.messages import AIMessage

from core.config import Settings
from tests.conftest import database_settings, knowledge_base

QUESTION = "以工代训补贴每人每月多少钱？"


@pytest.fixture(scope="module")
def kb(request, tmp_path_factory):
    return knowledge_base(database_settings(request.config, tmp_path_factory.mktemp("llm") / "data"))


def test_rewrite_that_keeps_the_citation_is_used(kb):
    extractive = kb.ask(QUESTION)
    title = extractive.sources[0].title
    kb.chat_model = FakeListChatModel(responses=[f"每人每月补贴500元，最长6个月。出处：《{title}》，适用地区：山东 聊城。"])
    try:
        generated = kb.ask(QUESTION)
    finally:
        kb.chat_model = None
    assert generated.answer.startswith("每人每月补贴500元")
    assert generated.sources == extractive.sources
    assert "到期" in generated.answer  # the expiry warning survives the rewrite


def test_rewrite_without_citation_falls_back(kb):
    extractive = kb.ask(QUESTION)
    kb.chat_model = GenericFakeChatModel(messages=iter([AIMessage(content="每月500元，放心领。")]))
    try:
        answer = kb.ask(QUESTION)
    finally:
        kb.chat_model = None
    assert answer.answer == extractive.answer


def test_failing_model_falls_back(kb):
    class Broken(FakeListChatModel):
        def _call(self, *a, **kw):
            raise TimeoutError("model timed out")

    extractive = kb.ask(QUESTION)
    kb.chat_model = Broken(responses=["x"])
    try:
        answer = kb.ask(QUESTION)
    finally:
        kb.chat_model = None
    assert answer.answer == extractive.answer and not answer.refused


def test_refusals_are_not_sent_to_the_model(kb):
    kb.chat_model = FakeListChatModel(responses=["编造的回答《某通知》"])
    try:
        answer = kb.ask("给我讲个笑话")
    finally:
        kb.chat_model = None
    assert answer.refused and "编造" not in answer.answer


def test_model_is_built_from_settings_when_enabled(tmp_path):
    from langchain_openai import ChatOpenAI

    from knowledge.generate import make_chat_model

    s = Settings(data_dir=tmp_path, llm={"base_url": "http://127.0.0.1:9/v1", "model": "qwen2.5-7b", "timeout": 3})
    assert s.llm.enabled
    model = make_chat_model(s)
    assert isinstance(model, ChatOpenAI) and model.model_name == "qwen2.5-7b"
    assert model.request_timeout == 3
