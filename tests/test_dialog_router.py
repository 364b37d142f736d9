"""The dialog router on a real SQLite database: long answers are paged with '更多' (every part
≤ 2048 bytes, nothing lost), commands are data others can extend, region phrases are parsed."""
from __future__ import annotations

import pytest

from bot import dialog
from bot.dialog import paging, wiring
from core.config import Settings
from core.turn import Inbound
from knowledge.types import Answer, Source
from storage.db import init_db, session_scope
from storage.models import Follower
from tests.dialog_util import ScriptedKB


def scripted(text: str) -> ScriptedKB:
    """A knowledge base whose every answer is `text`, cited to one notice."""
    return ScriptedKB(Answer(answer=text, sources=[Source(file="f", title="某某通知", doc_number="鲁人社字〔2021〕1号")]))


@pytest.fixture
def settings(tmp_path):
    s = Settings(data_dir=tmp_path / "data", database_url=None)
    s.ensure_dirs()
    init_db(s.db_url)
    return s


def say(settings, kb, openid, text):
    return dialog.handle(settings, kb, Inbound(openid=openid, kind="text", text=text))


LONG = "\n".join(f"第{i}条：职业技能培训补贴按规定申领，培训合格后凭证书和发票申请补贴，资金直接拨付到个人账户。" for i in range(1, 80))


def test_long_answer_is_paged_with_more(settings):
    kb = scripted(LONG)
    parts = [say(settings, kb, "u1", "培训补贴怎么申领")]
    while parts[-1].endswith(paging.MORE_HINT):
        parts.append(say(settings, kb, "u1", "更多"))
        assert len(parts) < 20
    assert len(parts) >= 3
    assert all(len(p.encode()) <= 2048 for p in parts)
    body = "".join(p.removesuffix(paging.MORE_HINT).rstrip() + "\n" for p in parts)
    for i in (1, 40, 79):
        assert f"第{i}条" in body
    assert "某某通知" in parts[-1]  # the citation comes with the last part
    assert "没有更多" in say(settings, kb, "u1", "更多")
    assert len(kb.asked) == 1  # '更多' does not ask again


def test_paginate_keeps_every_character():
    for text in (LONG, "字" * 5000, "a" * 3000, "🙂" * 1000, "短"):
        parts = paging.paginate(text)
        assert "".join(parts) == text
        assert all(len(p.encode()) + len(paging.MORE_HINT.encode()) <= 2048 for p in parts[:-1])
        assert len(parts[-1].encode()) <= 2048


def test_region_phrases(settings):
    kb = scripted("答复")
    assert "山东 聊城" in say(settings, kb, "u2", "我在聊城市")
    say(settings, kb, "u2", "补贴标准")
    assert kb.regions_asked[-1] == "山东 聊城"  # the follower's stored region is passed as the region
    assert "河南 济源" in say(settings, kb, "u2", "地区：济源")
    assert "山西 吕梁 文水" in say(settings, kb, "u2", "我是文水人")
    # not places: questions go to Q&A unchanged
    say(settings, kb, "u2", "我是企业HR，以工代训怎么申请")
    assert kb.asked[-1] == "我是企业HR，以工代训怎么申请"
    say(settings, kb, "u2", "我在哪里可以领取补贴")
    assert kb.asked[-1] == "我在哪里可以领取补贴"
    with session_scope(settings.db_url) as s:
        assert s.get(Follower, "u2").region == "山西 吕梁 文水"


def lookup_for_test(turn, match):
    return f"查询编号：{match.group('number')}（{turn.follower.openid}）"


def test_commands_are_data(settings, monkeypatch):
    registry = wiring.wire()
    monkeypatch.setattr(registry, "commands", list(registry.commands))
    registry.command(r"^查编号\s*(?P<number>\d+)$", lookup_for_test)
    kb = scripted("答复")
    assert say(settings, kb, "u3", "查编号 12") == "查询编号：12（u3）"
    assert say(settings, kb, "u3", "查编号１２") == "查询编号：12（u3）"  # full-width digits
    assert kb.asked == []
