"""An answer that clearly belongs to another question of the form is asked again, not stored
(issue 12): through the dialog's `handle()` on a real database, one transaction per message.
The complaint form answered out of order (the description as 发生时间, “2021年5月” as 发生地区,
a phone number as 被投诉机构), answers that only look alike kept, the same mechanism in another
form (以工代训's 行业 given a date) and in a form added as data, three in a row offering to stop,
and the kinds of forms/rules/looks_like.yaml checked when a form names one."""
from __future__ import annotations

import pytest

from forms import registry
from tests.test_dialog_polish import Follower_ as Chat, env  # noqa: F401  (env: a real database and knowledge base)

pytestmark = pytest.mark.db
DESCRIPTION = "他们收了我3000元培训费，说能拿补贴，结果一直没开课"


def test_the_description_given_as_the_time_is_asked_again(env):
    chat = Chat(env)
    chat.run("我要投诉", "阳光职业培训学校", "乱收费")
    reply = chat.say(DESCRIPTION)
    assert reply.startswith("这一步请回复发生时间，您发的内容像是情况描述，没有记下。\n\n大概什么时候发生的？"), reply
    assert "when" not in chat.form()["slots"] and chat.form()["pending"] == "when"
    assert "发生在哪个地区" in chat.say("2022年5月")
    assert chat.form()["labels"]["when"] == "2022年5月"


def test_a_date_given_as_the_region_is_asked_again(env):
    chat = Chat(env)
    chat.run("我要投诉", "阳光职业培训学校", "乱收费", "上个月")
    reply = chat.say("2021年5月")
    assert reply.startswith("这一步请回复发生地区，您发的内容像是发生时间，没有记下。\n\n发生在哪个地区？"), reply
    assert "region" not in chat.form()["slots"]
    assert "具体在哪里" in chat.say("临清")
    assert chat.form()["labels"]["region"] == "山东聊城临清"


def test_a_phone_number_given_as_the_institution_is_asked_again(env):
    chat = Chat(env)
    chat.say("我要投诉")
    reply = chat.say("13800138000")
    assert reply.startswith("这一步请回复被投诉机构，您发的内容像是手机号，没有记下。\n\n您要投诉哪家培训机构？"), reply
    assert chat.form()["slots"] == {}


def test_answers_that_only_look_alike_are_kept(env):
    """An institution named with its city, a time told with a sentence, an address with a number,
    a description with a date in it: each is its own question's answer."""
    chat = Chat(env)
    review = chat.run("我要投诉", "聊城阳光职业培训学校", "乱收费", "去年三月报名，交钱后一直没开课", "1",
                      "先锋路12号", "2021年5月在阳光职校交了3000元，至今没开课", "没有", "匿名")
    assert "• 被投诉机构：聊城阳光职业培训学校\n" in review, review
    assert "• 发生时间：去年三月报名，交钱后一直没开课\n" in review
    assert "• 具体地点：先锋路12号\n" in review and "• 情况描述：2021年5月在阳光职校交了3000元" in review


def test_the_same_check_in_another_form(env):
    """以工代训's 行业 keeps unknown words as 其他行业; a date is not one — it is 新吸纳时间's answer."""
    chat = Chat(env)
    chat.run("以工代训自测", "聊城", "大型")
    reply = chat.say("2021年3月")
    assert reply.startswith("这一步请回复所属行业，您发的内容像是新吸纳时间，没有记下。"), reply
    assert "industry" not in chat.form()["slots"]
    chat.say("饭馆")
    assert "饭馆" in chat.form()["labels"]["industry"]  # a real answer is taken as before


def test_a_form_added_as_data_names_what_its_slots_look_like(env):
    registry.register_form({
        "name": "test_misplaced", "title": "测试登记", "confirm": False, "on_complete": "guide_done",
        "triggers": {"phrases": ["测试登记"]},
        "cite": {"notice": "wenshui_2023", "quote": "凡参加职业技能培训的人员必须全部发放职业技能电子培训券"},
        "slots": [
            {"name": "who", "label": "姓名", "parser": "text", "question": "您怎么称呼？"},
            {"name": "mobile", "label": "联系电话", "parser": "phone", "question": "您的手机号？"},
            {"name": "town", "label": "所在地", "parser": "text", "looks_like": "place", "question": "您在哪里？"},
        ]})
    try:
        chat = Chat(env)
        chat.say("测试登记")
        assert chat.say("13800138000").startswith("这一步请回复姓名，您发的内容像是联系电话，没有记下。")
        assert chat.say("文水").startswith("这一步请回复姓名，您发的内容像是所在地，没有记下。")
        offer = chat.say("山东省聊城市")  # the third miss in a row: continue or stop
        assert "要继续吗？\n1. 继续填写\n2. 取消测试登记" in offer
        chat.say("1")
        assert "您的手机号" in chat.say("张三")
    finally:
        registry.FORMS.pop("test_misplaced", None)


def test_an_unknown_answer_kind_fails_the_form(env):
    with pytest.raises(ValueError, match="unknown answer kind 'weather'"):
        registry.register_form({"name": "test_bad_kind", "title": "坏表单", "on_complete": "guide_done",
                                "slots": [{"name": "x", "question": "？", "looks_like": "weather"}]})
    assert "test_bad_kind" not in registry.FORMS
