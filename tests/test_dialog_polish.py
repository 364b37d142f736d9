"""Issue 12's follower-side polish, through the dialog's `handle()` on a real database (one
transaction per message, as the WeChat inbox runs it), asserting the exact texts: 进度 on a
closed ticket, the delivery outcome on the timeline, the review screen's bullets and “改4”, the
region said when a form starts, a county labelled with its city, an expired policy's lead, the
too-short description, and another command inside a form asking first."""
from __future__ import annotations

import itertools
import uuid
from contextlib import contextmanager

import pytest
from sqlmodel import select

from bot import tickets
from bot.dialog import router
from bot.wechat.push import Pushed
from core.turn import Inbound
from storage.db import session_scope
from storage.models import Follower, Ticket, TicketEvent
from tests.conftest import database_settings, knowledge_base

pytestmark = pytest.mark.db
_ids = itertools.count(1)


@pytest.fixture(scope="module")
def env(request, tmp_path_factory):
    settings = database_settings(request.config, tmp_path_factory.mktemp("polish"), embedder="hash",
                                 today="2022-06-01")
    return settings, knowledge_base(settings)


class Follower_:
    def __init__(self, env):
        self.settings, self.kb = env
        self.openid = f"opolish{next(_ids)}-{uuid.uuid4().hex[:6]}"

    def say(self, text: str) -> str:
        reply = router.handle(self.settings, self.kb, Inbound(self.openid, "text", text))
        assert len(reply.encode()) <= 2048, reply
        return reply

    def run(self, *texts: str) -> str:
        return [self.say(t) for t in texts][-1]

    def form(self) -> dict:
        with session_scope(self.settings.db_url) as s:
            return s.get(Follower, self.openid).form_state


COMPLAINT = ["我要投诉", "阳光职业培训学校", "乱收费", "2022年5月"]


def file_one(chat: Follower_) -> str:
    done = chat.run(*COMPLAINT, "1", "东昌府区柳园路", "报名时说免费，结业后每人收了八百元材料费。", "没有", "匿名", "1")
    return done.split("投诉编号：")[1].split("\n")[0]


def test_progress_on_a_closed_ticket_shows_the_closing_note_and_the_rating_request(env):
    chat = Follower_(env)
    number = file_one(chat)
    settings = env[0]
    with session_scope(settings.db_url) as s:
        t = s.exec(select(Ticket).where(Ticket.number == number)).one()
        tickets.accept(s, settings, t, "wang", "staff")
        tickets.reply(s, settings, t, "wang", "staff", "已约谈机构。")
        tickets.close(s, settings, t, "wang", "staff", "机构已退还八百元材料费。")
    progress = chat.say(f"进度 {number}")
    assert "最新答复" not in progress and "已约谈机构" not in progress
    assert progress.endswith("：机构已退还八百元材料费。\n" + tickets.lifecycle.RATING_REQUEST), progress
    assert "\n办结说明（" in progress and "状态：已办结" in progress
    assert chat.say("4") == f"感谢评价！您为投诉 {number} 的处理打了 4 分。"
    assert chat.say(f"进度 {number}").endswith("：机构已退还八百元材料费。\n您的评价：4 分。")


@contextmanager
def accepted(chat: Follower_):
    """A complaint the follower filed, accepted by staff: (session, ticket) for the next action."""
    number = file_one(chat)
    with session_scope(chat.settings.db_url) as s:
        t = s.exec(select(Ticket).where(Ticket.number == number)).one()
        tickets.accept(s, chat.settings, t, "wang", "staff")
        yield s, t


def test_the_timeline_tells_the_real_delivery_outcome(env):
    settings = env[0]
    chat = Follower_(env)
    with accepted(chat) as (s, t):
        notice = tickets.reply(s, settings, t, "wang", "staff", "请补充收据。")
    for pushed in (Pushed(True), Pushed(False, "45015", kept=True), Pushed(False, "45047", kept=True),
                   Pushed(False, "no-credentials", kept=True), Pushed(False, "simulator", kept=True)):
        tickets.deliver(settings, notice, lambda *_a, p=pushed, **_kw: p)
    with session_scope(settings.db_url) as s:
        details = [e.detail for e in s.exec(select(TicketEvent).where(
            TicketEvent.ticket_id == notice.ticket_id, TicketEvent.action == "delivery").order_by(TicketEvent.id))]
    assert details == [
        "已通过客服消息送达投诉人",
        "暂未送达：超出48小时互动窗口（微信错误码45015），未配置模板消息（WECHAT_TEMPLATE_TICKET），投诉人下次发消息时自动补发",
        "暂未送达：发送失败（微信错误码45047），投诉人下次发消息时自动补发",
        "暂未送达：未配置微信 AppID/AppSecret，未能发出，投诉人下次发消息时自动补发",
        "已转给模拟器页面（本地试用，未配置微信 AppSecret），模拟器打开时立即显示",
    ]


def test_review_screen_uses_bullets_and_takes_gai4_and_4(env):
    chat = Follower_(env)
    review = chat.run(*COMPLAINT, "1", "东昌府区柳园路", "报名时说免费，结业后每人收了八百元材料费。", "没有", "匿名")
    assert review.startswith("请核对您的回答：\n• 被投诉机构：阳光职业培训学校\n• 问题类别：乱收费\n• 发生时间：2022年5月\n")
    assert review.endswith("\n\n1. 确认提交投诉\n2. 修改某一项\n（也可以直接回复“改”加第几项，如“改3”）")
    assert chat.say("改4").startswith("修改：发生在哪个地区？")
    assert chat.say("临清").startswith("请核对您的回答：")
    chat2 = Follower_(env)
    chat2.run(*COMPLAINT, "1", "东昌府区柳园路", "报名时说免费，结业后每人收了八百元材料费。", "没有", "匿名")
    assert chat2.say("4").startswith("修改：发生在哪个地区？")
    menu = chat2.run("临清", "2")
    assert menu.startswith("要修改哪一项？回复序号（如“3”或“改3”）：\n1. 被投诉机构：阳光职业培训学校\n")
    assert "4. 发生地区：山东聊城临清\n" in menu
    assert chat2.say("改3").startswith("修改：大概什么时候发生的？")


def test_a_county_is_labelled_with_its_city_and_routed_there(env):
    chat = Follower_(env)
    review = chat.run(*COMPLAINT, "临清", "先锋路12号", "报名时说免费，结业后每人收了八百元材料费。", "没有", "匿名")
    assert "• 发生地区：山东聊城临清\n" in review and "其他地区" not in review
    number = chat.say("1").split("投诉编号：")[1].split("\n")[0]
    with session_scope(env[0].db_url) as s:
        assert s.exec(select(Ticket.region).where(Ticket.number == number)).one() == "聊城"


def test_the_region_from_an_earlier_message_is_said_and_can_be_changed(env):
    chat = Follower_(env)
    chat.say("我在聊城")
    first = chat.say("以工代训自测")
    assert "\n\n地区：山东聊城（回复“改地区”修改）\n\n企业规模是？" in first
    assert chat.say("改地区").startswith("修改：企业在哪个地区？")
    assert chat.say("济源").startswith("企业规模是？")
    review = chat.run("小微", "民营", "2021年3月", "6")
    assert "• 企业所在地：河南济源\n" in review


def test_an_expired_policy_leads_with_its_expiry(env):
    chat = Follower_(env)
    verdict = chat.run("以工代训自测", "聊城", "小微", "民营", "2021年3月", "6", "1")
    assert verdict.startswith("该政策已于2021年12月31日到期，以下按当时规定测算。\n【以工代训补贴自测结果】符合条件\n"
                              "预计补贴：每人每月500元×6个月＝3000元"), verdict


def test_a_too_short_description_says_what_to_add(env):
    chat = Follower_(env)
    chat.run(*COMPLAINT, "1", "东昌府区柳园路")
    assert chat.say("乱收费").startswith("没能识别您的回答。请再多写几句：谁、做了什么、您有什么损失，至少10个字。\n\n请描述具体情况")


def test_another_command_inside_a_form_asks_first(env):
    chat = Follower_(env)
    chat.run("以工代训自测", "聊城")
    assert chat.say("进度") == "您正在填写以工代训补贴自测，要放弃并查询投诉进度吗？回复1放弃 / 2继续"
    assert chat.say("2").startswith("好的，继续以工代训补贴自测。\n\n企业规模是？")
    assert chat.form()["pending"] == "enterprise_size"
    assert chat.say("我要投诉") == "您正在填写以工代训补贴自测，要放弃并开始投诉举报吗？回复1放弃 / 2继续"
    started = chat.say("1")
    assert started.startswith("已放弃以工代训补贴自测，填写的内容没有保存。\n\n投诉举报培训机构：")
    assert chat.form()["form"] == "complaint"
    assert chat.say("菜单") == "您正在填写投诉举报，要放弃并返回菜单吗？回复1放弃 / 2继续"
    assert chat.say("进度") == "您正在填写投诉举报，要放弃并查询投诉进度吗？回复1放弃 / 2继续"
    left = chat.say("1")
    assert left == "已放弃投诉举报，填写的内容没有保存。\n\n您还没有提交过投诉。投诉请回复“投诉”。"
    assert chat.form() == {}


def test_progress_shows_an_open_staff_question_and_how_to_answer(env):
    chat = Follower_(env)
    with accepted(chat) as (s, t):
        tickets.ask(s, chat.settings, t, "wang", "staff", "是否保留了押金收据？")
        number = t.number
    progress = chat.say(f"进度 {number}")
    assert "\n工作人员的问题（" in progress and "）：是否保留了押金收据？\n" in progress, progress
    assert progress.endswith(f"回答请回复“补充 {number} 您的回答”，或先回复“补充 {number}”再发文字或照片。")
    # answered the way it says: the question is no longer open
    assert chat.say(f"补充 {number} 收据还在，是手写的。").startswith(f"已补充到投诉 {number}")
    chat.say("取消")
    after = chat.say(f"进度 {number}")
    assert "工作人员的问题" not in after and "补充 " not in after and "状态：已受理" in after


def test_the_voucher_guide_elsewhere_says_which_regions_have_a_voucher_notice(env):
    chat = Follower_(env)
    chat.say("我在聊城")
    first = chat.say("电子培训券")
    assert "\n注意：暂未收录山东聊城关于电子培训券的通知；目前有电子培训券通知的地区：山西吕梁文水。" in first, first
    assert "【第1步 发券】" in first
    chat.say("取消")
    at_home = Follower_(env)
    at_home.say("我在文水")
    assert "暂未收录" not in at_home.say("电子培训券")
    nowhere = Follower_(env)  # no region told: the intro says whose rules these are, nothing more
    assert "暂未收录" not in nowhere.say("电子培训券")


def test_which_notices_are_voucher_notices_is_data(monkeypatch):
    """The regions named come from rules/notices.yaml `topics`, not from a list in the code."""
    from forms import regions
    from forms.definition import Regional

    shipped = regions.notices()
    extra = {**shipped, "jiyuan_voucher": {**shipped["jiyuan_2021"], "topics": ["电子培训券"]}}
    monkeypatch.setattr(regions, "notices", lambda: extra)
    regional = Regional(topic="电子培训券", elsewhere="{region}没有；有：{regions}")
    assert regions.outside_note(regional, "山东 聊城") == "山东聊城没有；有：山西吕梁文水、河南济源"
    assert regions.outside_note(regional, "河南 济源") == ""
