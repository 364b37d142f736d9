"""没用 in conversation: the router (`bot.dialog.handle`, one database session per message) with a
scripted knowledge base on a real database. An answer ends with the one line inviting 没用 (a
refusal does not) and still fits 2048 bytes (it gives way when it would not); 没用 within 30 minutes records the question as
unhelpful (another worker sees the offer: it is in the database) and offers 1 complaint, 2 a
human; after 30 minutes, or after a refusal, nothing is recorded; any other message withdraws
the offer, so the digits select the menu again."""
from __future__ import annotations

from datetime import timedelta

import pytest

from bot import dialog, feedback
from bot.dialog import menu, paging
from core.turn import Inbound
from knowledge.types import Answer, Source
from storage import db
from storage.models import KeyValue, UnansweredQuestion, utcnow
from tests.dialog_util import ScriptedKB, openid, settings  # noqa: F401 (fixtures)

pytestmark = pytest.mark.db

PLAIN = Answer(answer="以工代训补贴按每人每月500元发放。", sources=[Source(file="a", title="关于做好以工代训工作的通知")],
               confidence=0.9)
LONG = Answer(answer="培训补贴按规定申领。" * 62, sources=[Source(file="b", title="聊城市职业技能提升行动实施方案")])
FULL = Answer(answer="培训补贴按规定申领。" * 66, sources=LONG.sources)  # fits one message, but not with the line
REFUSED = Answer(answer="抱歉，现有的政策文件里没有找到能回答这个问题的内容。", refused=True)


KB = {"以工代训补贴标准": PLAIN, "很长的问题": LONG, "满满一屏": FULL, "天气": REFUSED}


def say(settings, openid, text, kb=None):
    reply = dialog.handle(settings, kb or ScriptedKB(KB), Inbound(openid=openid, kind="text", text=text))
    assert len(reply.encode()) <= paging.MAX_REPLY_BYTES
    return reply


def unhelpful(settings) -> list[UnansweredQuestion]:
    feedback._log_for(type("T", (), {"kb": None, "settings": settings})()).flush()
    with db.session_scope(settings.db_url) as s:
        from sqlmodel import select

        return [g for g in s.exec(select(UnansweredQuestion)) if g.kind == "unhelpful"]


def test_an_answer_ends_with_the_line_and_a_refusal_does_not(settings, openid):
    assert say(settings, openid, "以工代训补贴标准").endswith("\n\n没帮上？回复“没用”")
    assert "没用" not in say(settings, openid, "天气")
    long = say(settings, openid, "很长的问题")  # near the limit: the line still fits the one message
    assert long.endswith(feedback.UNHELPFUL_LINE) and not long.endswith(paging.MORE_HINT)
    full = say(settings, openid, "满满一屏")  # the line gives way rather than cut the 来源 off
    assert full.endswith("《聊城市职业技能提升行动实施方案》")
    assert say(settings, openid, "没用") == feedback.RECORDED  # 没用 still works


def test_unhelpful_is_recorded_and_offers_two_ways_on(settings, openid):
    say(settings, openid, "以工代训补贴标准")
    reply = say(settings, openid, "没用")
    assert reply == feedback.RECORDED and reply.endswith("1 投诉/反映培训机构问题\n2 转人工")
    assert [g.question for g in unhelpful(settings)] == ["以工代训补贴标准"]
    # another worker (its own engine) takes the digit: the offer is in the database
    db._engines.pop(settings.db_url).dispose()
    assert say(settings, openid, "2") == feedback.HUMAN
    assert say(settings, openid, "没用") == feedback.NOTHING  # the answer was marked already
    assert say(settings, openid, "2") == feedback.HUMAN  # (the offer of that reply)
    assert len(unhelpful(settings)) == 1


def test_one_starts_the_complaint_form(settings, openid):
    say(settings, openid, "以工代训补贴标准")
    say(settings, openid, "没用")
    reply = say(settings, openid, "1")
    assert "投诉" in reply and "准备中" not in reply  # the complaint form itself, not a fallback
    assert say(settings, openid, "取消")  # leaves the form


def test_nothing_is_recorded_after_30_minutes_or_a_refusal(settings, openid):
    say(settings, openid, "以工代训补贴标准")
    with db.session_scope(settings.db_url) as s:
        s.get(KeyValue, f"answered:{openid}").expires_at = utcnow() - timedelta(seconds=1)
    assert say(settings, openid, "没用") == feedback.NOTHING
    say(settings, openid, "以工代训补贴标准")
    say(settings, openid, "天气")
    assert say(settings, openid, "没用") == feedback.NOTHING
    assert unhelpful(settings) == []


def test_any_other_message_withdraws_the_offer(settings, openid):
    say(settings, openid, "以工代训补贴标准")
    say(settings, openid, "没用")
    say(settings, openid, "帮助")
    assert say(settings, openid, "1") == menu.qa_howto_text()
