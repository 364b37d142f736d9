"""The guided forms over the real /wechat webhook: messages signed (and encrypted) with wechatpy
exactly as the WeChat platform does, the real dialog router, the real database. Includes a
server killed in the middle of a form and a new one carrying on from the database."""
from __future__ import annotations

import pytest

from tests.test_forms_dialog import TRAINEE_CHATS, YIGONG_CHATS
from tests.wechat_util import WECHAT_ENV, event_xml, new_openid, platform_for, wait_for

pytestmark = pytest.mark.db


def test_yigong_self_check_over_wechat_plaintext(wx):
    who = new_openid("oyg")
    first = wx.say(who, "以工代训自测", mode="raw")
    assert "企业在哪个地区" in first and "1. 山东聊城" in first
    assert "企业规模" in wx.say(who, "1", mode="raw")
    assert "行业" in wx.say(who, "大企业", mode="raw")
    assert "没能识别" in wx.say(who, "9", mode="raw")          # no 9th choice: re-asked with a hint
    assert "企业性质" in wx.say(who, "开酒店的", mode="raw")
    assert "什么时候" in wx.say(who, "民营", mode="raw")
    assert "几个月" in wx.say(who, "2021年3月15日", mode="raw")
    assert "请核对" in wx.say(who, "六个月", mode="raw")
    verdict = wx.say(who, "1", mode="raw")
    # issue 12: the policy ended on 2021-12-31, which the result says first
    assert verdict.startswith("该政策已于2021年12月31日到期，以下按当时规定测算。\n【以工代训补贴自测结果】符合条件"), verdict
    assert "3000元" in verdict and "鲁人社字〔2021〕33号" in verdict
    assert len(verdict.encode()) <= 2048


@pytest.mark.parametrize("trigger,answers,outcome,fragment",
                         [("以工代训自测", *case) for case in YIGONG_CHATS]
                         + [("补贴自测", *case) for case in TRAINEE_CHATS])
def test_every_rule_in_a_wechat_conversation(wx, trigger, answers, outcome, fragment):
    who = new_openid("orule")
    assert "地区" in wx.say(who, trigger)
    for answer in answers:
        assert wx.say(who, answer)
    verdict = wx.say(who, "1")
    # issue 12: an expired policy's result may lead with the expiry line; the verdict line follows
    head = verdict.removeprefix("该政策已于2021年12月31日到期，以下按当时规定测算。\n").split("\n")[0]
    assert head.endswith("】" + outcome) and fragment in verdict, verdict
    assert len(verdict.encode()) <= 2048


def test_window_closed_over_wechat_safe_mode(wx):
    who = new_openid("oyg")
    assert "以工代训" in wx.send(event_xml(who, "CLICK", "FORM_YIGONG"))
    for answer in ("聊城", "小微", "1", "2022年2月1日", "3"):
        wx.say(who, answer)
    verdict = wx.say(who, "确认")
    assert "不符合条件" in verdict and "窗口已经结束" in verdict


def test_trainee_cancel_and_back_over_wechat(wx):
    who = new_openid("otr")
    assert "地区" in wx.say(who, "补贴自测")
    assert "几次" in wx.say(who, "济源")
    assert "地区" in wx.say(who, "上一步")
    wx.say(who, "济源")
    assert "以前享受过补贴吗" in wx.say(who, "1次")
    assert "已取消" in wx.say(who, "算了")
    again = wx.say(who, "补贴自测")
    assert "地区" in again                                    # a fresh start
    for answer in ("济源", "1", "没有", "合格证"):
        wx.say(who, answer)
    wx.say(who, "不是")
    verdict = wx.say(who, "1")
    assert "不符合条件" in verdict and "济源规定学员年度内不得重复培训" in verdict


def test_side_question_over_wechat(wx, http, fake_wechat):
    who = new_openid("osq")
    for message in ("以工代训自测", "聊城", "小微"):
        wx.say(who, message)
    question = "以工代训补贴标准是多少？"
    reply = wx.say(who, question)
    if reply is None:  # answered after the 5-second window: pushed as a customer-service message
        pushed = wait_for(lambda: fake_wechat.sent_messages(who), timeout=60)
        reply = pushed[-1]["text"]["content"]
    expected = http.post("/api/ask", json={"question": question, "region": "山东 聊城"}).json()["answer"]
    assert expected[:20] in reply
    assert "继续以工代训补贴自测" in reply and "企业性质是？" in reply
    assert "什么时候" in wx.say(who, "民营")                  # the form carries on


def test_voucher_guide_over_wechat(wx):
    who = new_openid("ovc")
    first = wx.say(who, "电子培训券")
    assert "第1步 发券" in first and "文人社字〔2023〕51号" in first
    assert "没有拿到电子培训券" in wx.say(who, "2")
    assert "第2步 培训" in wx.say(who, "1")


@pytest.fixture(scope="module")
def restart_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("forms-restart")


def test_a_form_survives_a_server_crash(live_server, restart_dir):
    env = dict(WECHAT_ENV)
    first = live_server("forms-restart-a", data_dir=restart_dir, **env)
    wx = platform_for(first)
    who = new_openid("ors")
    wx.say(who, "补贴自测")
    wx.say(who, "聊城")
    assert "以前享受过补贴吗" in wx.say(who, "0")
    first.kill()                                              # SIGKILL: no shutdown hooks
    if first.env.get("DATABASE_URL"):                         # PostgreSQL: the same database again
        env["DATABASE_URL"] = first.env["DATABASE_URL"]

    second = live_server("forms-restart-b", data_dir=restart_dir, **env)
    wx = platform_for(second)
    assert "哪种证书" in wx.say(who, "没有")                  # picks up at the pending question
    wx.say(who, "4")
    summary = wx.say(who, "否")
    assert "请核对" in summary and "今年已享受补贴次数：0次" in summary
    assert "符合条件" in wx.say(who, "1")
