"""What a follower still holds when an admin withdraws a notice — the numbered choices on offer
and the unsent 更多 part — quotes it no more (bot/notice_admin.forget_cached), through the real
dialog router on a real database; offers that do not quote it stay. Also the rule that decides
when a superseded notice may still be quoted (knowledge/lifecycle.names_notice)."""
from __future__ import annotations

import uuid
from datetime import date
from types import SimpleNamespace

import pytest

from bot import dialog
from bot.notice_admin import forget_cached
from core.turn import Inbound
from knowledge.lifecycle import names_notice
from knowledge.types import Answer, Choice, Source
from tests.dialog_util import ScriptedKB, settings  # noqa: F401 (a fixture)

pytestmark = pytest.mark.db
TITLE = "东营市职业技能培训补贴资金管理办法"
OFFER = Answer(answer="培训补贴按培训合格人数申领。", sources=[Source(file="a", title="另一份通知")],
               choices=[Choice(label="查看：补贴标准", answer="每人补贴900元。",
                               sources=[Source(file="dy", title=TITLE, excerpt="每人补贴900元。")]),
                        Choice(label="查看：申领材料", answer="身份证、证书。")],
               more=f"另：东营《{TITLE}》的规定：「每人补贴900元。」")


def say(settings, openid, text):
    return dialog.handle(settings, ScriptedKB(OFFER), Inbound(openid=openid, kind="text", text=text))


def test_offered_choices_and_more_quoting_a_withdrawn_notice_are_dropped(settings):
    one, other = "o" + uuid.uuid4().hex[:12], "o" + uuid.uuid4().hex[:12]
    for openid in (one, other):
        assert "回复数字查看" in say(settings, openid, "培训补贴怎么申领")
    assert forget_cached(settings, ["一份无关的通知"]) == 0
    assert say(settings, other, "1").startswith("每人补贴900元")  # (a pick sends no 更多 part)
    assert forget_cached(settings, [TITLE]) == 3  # both followers' offers, the 更多 part one had left
    assert "900元" not in say(settings, one, "1")  # the digit is the menu's again
    assert TITLE not in say(settings, one, "更多")
    assert "900元" not in say(settings, other, "1")


def _notice(doc, title, year):
    return SimpleNamespace(doc_number=doc, title=title, date=date(year, 3, 1) if year else None)


def test_a_question_names_a_superseded_notice_by_its_number_title_or_year():
    old = _notice("淄人社字〔2024〕9号", "关于做好2024年电工培训补贴发放工作的通知", 2024)
    new = _notice("淄人社字〔2025〕3号", "关于做好2025年电工培训补贴发放工作的通知", 2025)
    assert names_notice("淄人社字（2024）9号规定的补贴多少", old, new)  # any bracket kind
    assert names_notice("〔2024〕9号文件的电工补贴", old, new)
    assert names_notice("关于做好2024年电工培训补贴发放工作的通知 怎么申领", old, new)
    assert names_notice("2024年淄博电工补贴多少", old, new)
    assert not names_notice("淄博电工补贴多少", old, new)
    assert not names_notice("2024年淄博电工补贴多少", old, _notice(None, "另一份", 2024))  # same year: not telling
