"""An answer's choices and `more` in conversation: the router (`bot.dialog.handle`, one database
session per message, as each worker runs it) with a scripted knowledge base on a real database.
Covers the numbered list, picking by digit (half- and full-width), an out-of-range digit, what
withdraws the offer, “更多” for `more`, the 2048-byte first page, two workers sharing one
follower, the 30-minute expiry and a pending 回访 rating taking the digit first."""
from __future__ import annotations

import json
from datetime import date, timedelta

import pytest

from bot import dialog
from bot.dialog import answers, menu, paging
from core.config import Settings
from bot.tickets import CLOSED
from core.turn import Inbound
from knowledge.types import Answer, Choice, Source
from storage import db
from storage.models import KeyValue, Ticket, utcnow
from tests.dialog_util import ScriptedKB, openid, settings  # noqa: F401 (fixtures)

pytestmark = pytest.mark.db

CHOICES = [
    Choice(label="查看：以工代训补贴的申领材料", answer="以工代训补贴申领材料：营业执照、职工花名册、工资发放记录。"),
    Choice(label="查看：培训补贴多久到账", answer="培训补贴在审核通过后30个工作日内拨付到个人银行账户。",
           sources=[Source(file="b", title="聊城市职业技能培训补贴资金管理办法", doc_number="聊人社发〔2021〕9号")]),
    Choice(label="查看：电子培训券怎么领取", answer="电子培训券在“爱山东”APP的职业技能提升专区领取。"),
]
OVERVIEW = Answer(answer="聊城职业技能培训补贴按培训合格人数申领。",
                  sources=[Source(file="a", title="聊城市职业技能提升行动实施方案")], choices=CHOICES)
PLAIN = Answer(answer="企业吸纳就业困难人员可申请社会保险补贴。", sources=[Source(file="c", title="就业补助资金管理办法")])
OTHER = Answer(answer="以工代训补贴按每人每月500元发放。",
               choices=[Choice(label="查看：以工代训的对象", answer="以工代训的对象是中小微企业新吸纳的人员。")])
NOTE = "另有《济源市电子培训券管理办法》也规定了培训券的领取方式，可回复“济源电子培训券”查看。"
LINE = "\n\n没帮上？回复“没用”"  # every answer's last line (bot/feedback.py)


KB = {"培训补贴怎么申领": OVERVIEW, "社保补贴": PLAIN, "以工代训补贴标准": OTHER}


def say(settings, kb, openid, text, kind="text", **fields):
    reply = dialog.handle(settings, kb, Inbound(openid=openid, kind=kind, text=text, **fields))
    assert len(reply.encode()) <= paging.MAX_REPLY_BYTES
    assert paging.PAGE_BREAK not in reply
    return reply


def picked(choice: Choice) -> str:
    """What the follower sees for a choice: its answer and its 来源, as any answer."""
    return answers.format_answer(Answer(answer=choice.answer, sources=choice.sources), None)


def test_choices_are_listed_and_picked_by_digit(settings, openid):
    kb = ScriptedKB(KB)
    reply = say(settings, kb, openid, "培训补贴怎么申领")
    assert reply.startswith(OVERVIEW.answer + "\n\n来源：\n《聊城市职业技能提升行动实施方案》")
    assert reply.endswith("\n\n回复数字查看：\n1 查看：以工代训补贴的申领材料\n2 查看：培训补贴多久到账\n"
                          "3 查看：电子培训券怎么领取" + LINE)
    second = say(settings, kb, openid, "2")
    assert second.startswith(CHOICES[1].answer) and "聊人社发〔2021〕9号" in second
    assert say(settings, kb, openid, "1。") == CHOICES[0].answer + LINE  # the offer stays: pick another
    assert say(settings, kb, openid, "２") == second  # full-width digit
    assert kb.asked == ["培训补贴怎么申领"]  # picks are not asked again


def test_out_of_range_digit_repeats_the_list(settings, openid):
    kb = ScriptedKB(KB)
    say(settings, kb, openid, "培训补贴怎么申领")
    for digit in ("4", "0"):
        reply = say(settings, kb, openid, digit)
        assert reply.startswith("请回复1到3之间的数字")
        assert reply.endswith("1 查看：以工代训补贴的申领材料\n2 查看：培训补贴多久到账\n3 查看：电子培训券怎么领取")
    assert say(settings, kb, openid, "3") == CHOICES[2].answer + LINE


def test_any_other_message_withdraws_the_offer(settings, openid):
    kb = ScriptedKB(KB)
    assert menu.MENU[0].key == "POLICY_QA"
    howto = menu.qa_howto_text()  # what the menu's item 1 (政策问答) answers

    say(settings, kb, openid, "培训补贴怎么申领")
    assert "查看：" not in say(settings, kb, openid, "社保补贴")  # a new question without choices
    assert say(settings, kb, openid, "1") == howto  # so a digit selects the menu again

    say(settings, kb, openid, "培训补贴怎么申领")
    assert say(settings, kb, openid, "菜单") == menu.menu_text()
    assert say(settings, kb, openid, "1") == howto

    say(settings, kb, openid, "培训补贴怎么申领")
    assert say(settings, kb, openid, "", kind="event", event="click", event_key="SET_REGION").startswith("发送")
    assert say(settings, kb, openid, "1") == howto  # a menu click is a new request too

    say(settings, kb, openid, "培训补贴怎么申领")  # a new answer's choices replace the old ones
    assert say(settings, kb, openid, "以工代训补贴标准").endswith("\n\n回复数字查看：\n1 查看：以工代训的对象" + LINE)
    assert say(settings, kb, openid, "1") == OTHER.choices[0].answer + LINE
    assert say(settings, kb, openid, "2").startswith("请回复1到1之间的数字")


def test_more_text_is_reached_with_more(settings, openid):
    kb = ScriptedKB({"济源培训券": Answer(answer="济源电子培训券在“豫事办”领取。", more=NOTE, choices=CHOICES[:1])})
    first = say(settings, kb, openid, "济源培训券")
    assert NOTE not in first  # `more` waits for 更多, even though everything would fit one message
    assert first.endswith("\n\n回复数字查看：\n1 查看：以工代训补贴的申领材料" + LINE + paging.MORE_HINT)
    assert say(settings, kb, openid, "更多") == NOTE
    assert say(settings, kb, openid, "1") == CHOICES[0].answer + LINE  # 更多 keeps the offer
    assert "没有更多" in say(settings, kb, openid, "更多")


def test_a_long_answer_pages_before_its_more_text(settings, openid):
    lines = "\n".join(f"第{i}条：培训合格后凭证书和发票申请补贴，资金直接拨付到个人账户。" for i in range(1, 60))
    kb = ScriptedKB({"补贴细则": Answer(answer=lines, more=NOTE)})
    parts = [say(settings, kb, openid, "补贴细则")]
    while parts[-1].endswith(paging.MORE_HINT):
        parts.append(say(settings, kb, openid, "更多"))
        assert len(parts) < 10
    assert len(parts) >= 3 and parts[-1] == NOTE  # the note is a part of its own, after the answer
    body = "".join(p.removesuffix(paging.MORE_HINT) for p in parts[:-1])
    assert all(f"第{i}条" in body for i in (1, 30, 59)) and NOTE not in body


def test_long_labels_are_shortened_to_keep_one_message(settings, openid):
    long_labels = [Choice(label=f"查看：{name}职业技能培训补贴的申领条件、申领材料、办理流程和补贴标准", answer=name)
                   for name in ("聊城市", "济源市", "文水县")]
    body = "培训补贴按规定申领。" * 58  # 1740 bytes: with the full list the reply would take two messages
    kb = ScriptedKB({"长": Answer(answer=body, choices=long_labels), "短": Answer(answer="短答复。", choices=long_labels)})
    reply = say(settings, kb, openid, "长")
    assert not reply.endswith(paging.MORE_HINT)
    assert reply.endswith(LINE)
    lines = reply.split("回复数字查看：\n")[1].removesuffix(LINE).split("\n")
    assert lines == [f"{i} " + c.label[:23] + "…" for i, c in enumerate(long_labels, 1)]
    assert all(len(line.split(" ", 1)[1]) == 24 for line in lines)
    assert say(settings, kb, openid, "短").endswith("3 " + long_labels[2].label + LINE)  # room enough: in full


def test_a_long_choice_is_paged(settings, openid):
    long_choice = Choice(label="查看：全部条款", answer="\n".join(f"第{i}条：按规定申领补贴。" for i in range(1, 150)))
    kb = ScriptedKB({"条款": Answer(answer="共149条。", choices=[long_choice])})
    say(settings, kb, openid, "条款")
    first = say(settings, kb, openid, "1")
    assert first.startswith("第1条") and first.endswith(paging.MORE_HINT)
    rest = say(settings, kb, openid, "更多")
    while rest.endswith(paging.MORE_HINT):
        rest = say(settings, kb, openid, "更多")
    assert rest.endswith("第149条：按规定申领补贴。" + LINE)


def test_two_workers_share_the_offer_through_the_database(settings, openid, monkeypatch):
    say(settings, ScriptedKB(KB), openid, "培训补贴怎么申领")
    with db.session_scope(settings.db_url) as s:
        row = s.get(KeyValue, f"choices:{openid}")
        stored = json.loads(row.value)
        assert [c["label"] for c in stored] == [c.label for c in CHOICES]
        assert stored[1]["answer"] == CHOICES[1].answer and stored[1]["sources"][0]["title"] == "聊城市职业技能培训补贴资金管理办法"
        assert timedelta(minutes=29) < row.expires_at - utcnow() <= timedelta(minutes=30)

    # another worker: its own settings, engine and knowledge base; nothing shared but the database
    monkeypatch.setattr(db, "_engines", {})
    other = Settings(data_dir=settings.data_dir, database_url=settings.database_url)
    other_kb = ScriptedKB({})
    assert say(other, other_kb, openid, "2").startswith(CHOICES[1].answer)
    assert say(other, ScriptedKB({}), openid, "3") == CHOICES[2].answer + LINE
    assert other_kb.asked == []


def test_expired_choices_are_ignored(settings, openid):
    kb = ScriptedKB(KB)
    say(settings, kb, openid, "培训补贴怎么申领")
    with db.session_scope(settings.db_url) as s:  # 30 minutes later
        s.get(KeyValue, f"choices:{openid}").expires_at = utcnow() - timedelta(seconds=1)
    assert say(settings, kb, openid, "1") == menu.qa_howto_text()
    with db.session_scope(settings.db_url) as s:
        assert s.get(KeyValue, f"choices:{openid}") is None  # and the stale offer is gone


def test_a_pending_rating_takes_the_digit_first(settings, openid):
    with db.session_scope(settings.db_url) as s:
        s.add(Ticket(number="TS20261120-000001", openid=openid, institution="某培训学校", category="其他",
                     region="聊城", description="未按约定开课", status=CLOSED, team="liaocheng",
                     accept_due=date(2026, 11, 23), answer_due=date(2026, 12, 4), rating_asked_at=utcnow()))
    kb = ScriptedKB(KB)
    say(settings, kb, openid, "培训补贴怎么申领")
    assert "感谢评价" in say(settings, kb, openid, "2")
    assert say(settings, kb, openid, "2").startswith(CHOICES[1].answer)  # rated: the digit picks again
