"""The dialog router: one inbound message in, one reply text out, per follower, state in the DB.

Why a router separate from the WeChat layer: the protocol (signatures, XML, retries, the
5-second deadline) and the conversation (menu, region, forms, Q&A, paging) change for different
reasons; the simulator and tests reach the same router through the real protocol.

Order of a text turn: an active form sees the message first (it handles its own 取消) → the
`BEFORE_MENU` hooks (a 回访 rating, a digit picking one of an answer's choices) → 更多 → a menu
digit → the command table (帮助/菜单, 取消, 地区…, and whatever other parts register) → a form
trigger phrase → Q&A with the follower's region. Commands are data: add one line to
`COMMANDS` (a pattern and a handler, or a "module:function" path to avoid import cycles).
A long reply is cut into ≤ 2048-byte parts; the rest waits in `Follower.more_pages` for "更多"
(an answer's `more` text always starts a part of its own, after a PAGE_BREAK).
"""
from __future__ import annotations

import importlib
import logging
import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from typing import Callable, Optional, Union

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.attributes import flag_modified
from sqlmodel import select

from bot import choices, complaint_dialog
from core import clock
from forms import engine as forms_engine, registry as forms_registry
from forms.state import FormState, UserInput
from core.config import Settings
from core.turn import Inbound, Turn
from knowledge.regions import resolve_place, within
from knowledge.types import Answer, Source
from storage.db import session_scope
from storage.models import Follower, Notice, ProcessedMessage, utcnow

log = logging.getLogger("policybot.dialog")

MAX_REPLY_BYTES = 2048
MORE_HINT = "\n\n回复“更多”查看下一部分"
PAGE_BREAK = "\f"  # in a reply: the next part starts here; stripped before sending

Handler = Callable[[Turn, "re.Match[str]"], Optional[str]]


# ---------------------------------------------------------------- the menu (data)

@dataclass(frozen=True)
class MenuItem:
    label: str
    key: str  # the same keys as the click events in deploy/wechat-menu.json


MENU = [
    MenuItem("政策问答（直接发问题）", "POLICY_QA"),
    MenuItem("个人培训补贴自测", "FORM_TRAINEE"),
    MenuItem("企业以工代训自测", "FORM_YIGONG"),
    MenuItem("电子培训券", "FORM_VOUCHER"),
    MenuItem("投诉举报", "FORM_COMPLAINT"),
    MenuItem("投诉进度查询", "QUERY_PROGRESS"),
    MenuItem("设置我的地区", "SET_REGION"),
]

QA_EXAMPLES = [
    "聊城职业技能培训补贴标准是多少？",
    "以工代训补贴怎么申请？",
    "济源电子培训券怎么领取？",
    "文水县培训机构绩效考核怎么评分？",
]


def menu_text(title: str = "请回复数字选择：") -> str:
    lines = [title] + [f"{i} {item.label}" for i, item in enumerate(MENU, 1)]
    return "\n".join(lines)


def welcome_text() -> str:
    return (
        "您好！我是技能政策助手，可以帮您：\n"
        "· 查职业技能提升行动的补贴政策（注明出处）\n"
        "· 自测能否领取培训补贴、以工代训补贴\n"
        "· 投诉举报培训机构并查询进度\n"
        "先告诉我您在哪里，例如发送“我在聊城”，回答会优先用当地政策。\n\n"
        + menu_text()
    )


def qa_howto_text() -> str:
    examples = "\n".join(f"· {q}" for q in QA_EXAMPLES)
    return ("直接用一句话发问题即可，语音也可以。例如：\n" + examples
            + "\n\n先发“我在聊城”这样的消息设置地区，回答会更准确。")


# ---------------------------------------------------------------- forms
# The forms engine is pure (forms.engine): here the follower's form state is loaded and saved,
# the message handed over, and a question asked inside a form answered with the knowledge base.

# the bot's completion actions, by the names forms/defs use (`on_complete`)
FORM_ACTIONS = {"file_complaint": complaint_dialog.file_from_form}
forms_registry.register_actions(FORM_ACTIONS)


def _form_input(turn: Turn) -> UserInput:
    inbound = turn.inbound
    return UserInput(today=clock.today(turn.settings), now=utcnow(), kind=inbound.kind, text=inbound.text or "",
                     media_id=inbound.media_id, pic_url=inbound.pic_url, event=inbound.event,
                     event_key=inbound.event_key, region=turn.follower.region, context=turn)


def _form_step(turn: Turn, run: Callable[[UserInput], forms_engine.Step]) -> Optional[str]:
    """Run one engine call and keep its state; a form that fails at run time ends, the follower
    is told so, and the traceback is logged."""
    try:
        step = run(_form_input(turn))
    except Exception:
        log.exception("forms engine failed")
        turn.follower.form_state = {}
        return "抱歉，办理过程中出了点问题，已退出当前事项。请稍后再试，或回复“菜单”。"
    turn.follower.form_state = step.new_state.dump() if step.new_state else {}
    if step.side_question is None:
        return step.reply
    try:
        answer = turn.kb.ask(step.side_question.text, region=turn.follower.region)
    except Exception:
        log.exception("side question failed")
        answer = None
    return step.side_question.render(answer)


def continue_form(turn: Turn) -> Optional[str]:
    """The active form's reply; None when there is none or the message is not the form's."""
    state = FormState.load(turn.follower.form_state)
    if state is None:
        return None

    def run(entry: UserInput) -> forms_engine.Step:
        definition = forms_registry.get_form(state.form)
        if definition is None:  # a form that no longer exists: forget it quietly
            return forms_engine.Step(None, None)
        return forms_engine.step(definition, state, entry)

    return _form_step(turn, run)


def match_form(turn: Turn, text_or_key: str) -> Optional[str]:
    try:
        return forms_registry.match_trigger(text_or_key)
    except Exception:
        log.exception("forms match_trigger failed")
        return None


def start_form(turn: Turn, name: str) -> str:
    reply = _form_step(turn, lambda entry: forms_engine.start(forms_registry.form(name), entry))
    return reply if reply is not None else "这项功能正在准备中，请稍后再试。\n\n" + menu_text()


# ---------------------------------------------------------------- menu keys

def _region_hint(turn: Turn) -> str:
    now = f"您当前的地区：{turn.follower.region}。\n" if turn.follower.region else ""
    return now + "发送“我在聊城”或“地区 济源”即可设置；发送“地区 全部”清除。\n" + covered_text(turn)


# key -> handler(turn); a key not here goes to the forms engine (match_trigger)
KEY_ACTIONS: dict[str, Union[Callable[[Turn], str], str]] = {
    "POLICY_QA": lambda turn: qa_howto_text(),
    "QUERY_PROGRESS": "bot.complaint_dialog:progress_key",
    "SET_REGION": _region_hint,
}


def _resolve(handler):
    if isinstance(handler, str):
        module, _, name = handler.partition(":")
        return getattr(importlib.import_module(module), name)
    return handler


def run_key(turn: Turn, key: str) -> str:
    """A menu key (click event or menu digit): a local action, else a form."""
    choices.offer(turn, [])  # a new request: digits select the menu again
    action = KEY_ACTIONS.get(key)
    if action is not None:
        return _resolve(action)(turn)
    name = match_form(turn, key)
    if name:
        return start_form(turn, name)
    return "这项功能正在准备中，请稍后再试。\n\n" + menu_text()


# ---------------------------------------------------------------- regions

def covered_regions(turn: Turn) -> list[str]:
    """The regions the loaded notices cover (from the knowledge tables)."""
    rows = turn.session.exec(select(Notice.province, Notice.city, Notice.county).distinct()).all()
    labels = {" ".join(p for p in row if p) for row in rows}
    return sorted(label for label in labels if label)


def covered_text(turn: Turn) -> str:
    regions = covered_regions(turn)
    if not regions:
        return "目前还没有载入任何地区的政策文件。"
    return "目前收录了这些地区的政策文件：" + "、".join(regions) + "。"


def _is_covered(turn: Turn, label: str) -> bool:
    return any(within(label, region) or within(region, label) for region in covered_regions(turn))


PLACE_TAIL = re.compile(r"(的|人|这边|那边|这里|地区|本地|工作|上班)+$")
SPLIT = re.compile(r"[,，。;；!！?？\s]")
PLACE_SUFFIX = re.compile(r"(省|市|县|区|镇|乡|村|州|旗)$")


def set_region(turn: Turn, match: "re.Match[str]") -> Optional[str]:
    """'我在聊城' / '地区 济源' / '我是文水的' — and '我在聊城，补贴标准是多少' (region + question)."""
    raw = match.group("place").strip(" :：")
    explicit = match.group("verb") in ("地区", "设置地区", "切换地区", "更换地区", "所在地区", "我的地区")
    if explicit and not raw:
        return _region_hint(turn)
    if explicit and raw in ("全部", "全国", "清除", "不限", "无"):
        turn.follower.region = None
        return "已清除地区，回答将不限地区。"
    head, question = raw, ""
    parts = SPLIT.split(raw, maxsplit=1)
    if len(parts) == 2:
        head, question = parts[0], parts[1].strip()
    head = PLACE_TAIL.sub("", head)
    label = resolve_place(head)
    if label is None:
        looks_like_place = len(head) <= 6 and not question and (
            match.group("verb") != "我是" or raw.endswith(("的", "人")) or PLACE_SUFFIX.search(head))
        if head and (explicit or looks_like_place):
            return f"抱歉，我不认识“{head}”这个地方。\n" + covered_text(turn) + "\n例如发送：我在聊城"
        return None  # "我是企业HR" or "我在哪里申请…" is not a place: let Q&A have it
    turn.follower.region = label
    note = f"好的，已记住您在：{label}。"
    if not _is_covered(turn, label):
        note += "\n注意：暂时没有该地区的政策文件，回答将以其他地区的文件为参考。\n" + covered_text(turn)
    if question:
        return note + "\n\n" + answer_question(turn, question)
    return note + "\n现在可以直接问我政策问题了。"


# ---------------------------------------------------------------- commands (data)

@dataclass
class Command:
    pattern: str
    handler: Union[Handler, str]  # a function, or "module:function"

    def __post_init__(self):
        self.regex = re.compile(self.pattern)


CANCEL_WORDS = r"取消|退出|算了|不办了|结束|停止"


def _show_menu(turn: Turn, m) -> str:
    return menu_text()


def _cancel_idle(turn: Turn, m) -> str:
    return "当前没有进行中的事项。\n\n" + menu_text()


def _greet(turn: Turn, m) -> str:
    return welcome_text()


def _thanks(turn: Turn, m) -> str:
    return "不客气！还有问题随时问我，回复“菜单”查看全部功能。"


COMMANDS: list[Command] = [
    Command(r"^(帮助|菜单|功能|help|menu|\?|？)$", _show_menu),
    Command(rf"^({CANCEL_WORDS})$", _cancel_idle),
    Command(r"^(你好|您好|hi|hello|嗨|在吗|在不在)$", _greet),
    Command(r"^(谢谢|谢谢你|多谢|感谢|好的谢谢|ok|好的)$", _thanks),
    Command(r"^(?P<verb>设置地区|切换地区|更换地区|所在地区|我的地区|地区)(?P<place>.*)$", set_region),
    Command(r"^(?P<verb>我在|我是|我住在|我来自|本人在)(?P<place>.+)$", set_region),
    # other parts add a line here, e.g. Command(r"^进度\s*(?P<number>\S+)$", "bot.tickets:progress_reply")
    Command(r"^(我的)?(身份证号?码?|身份证)?\s*[:：是]?\s*(?P<id>\d{17}[\dxX])$", "bot.id_number:reply"),
    Command(r"^(进度|查进度|查询进度|投诉进度|进度查询)\s*[:：]?\s*(?P<number>[a-z0-9-]*)$",
            "bot.complaint_dialog:progress_command"),
]


def register_command(pattern: str, handler: Union[Handler, str]) -> None:
    """For parts that prefer to register from their own module."""
    COMMANDS.append(Command(pattern, handler))


def normalise(text: str) -> str:
    """Full-width → half-width, trimmed, trailing punctuation dropped; for matching commands."""
    text = unicodedata.normalize("NFKC", text or "").strip().lower()
    return re.sub(r"[。.!！~～]+$", "", text).strip()


# ---------------------------------------------------------------- Q&A

def format_source(src: Source) -> str:
    bits = [f"《{src.title}》" if src.title else src.file]
    meta = "，".join(x for x in (src.doc_number, src.issuer, src.date) if x)
    if meta:
        bits.append(f"（{meta}）")
    if src.expired:
        bits.append("【已失效】")
    return "".join(bits)


def citations(sources: list[Source], text: str) -> str:
    """The 来源 lines for the sources `text` does not name already ("" when none)."""
    cites = []
    for src in sources[:3]:
        if (src.title and src.title in text) or (src.doc_number and src.doc_number in text):
            continue  # the answer already cites it
        line = format_source(src)
        if line not in cites:
            cites.append(line)
    return "\n\n来源：\n" + "\n".join(cites) if cites else ""


def format_answer(ans: Answer, region: Optional[str]) -> str:
    """The answer, its 来源, the numbered choices; `more` after a PAGE_BREAK (reached by 更多)."""
    text = (ans.answer or "").replace(PAGE_BREAK, "\n").strip()  # a PDF's form feed is no break
    if ans.refused:
        hint = "" if region else "\n发送“我在聊城”这样的消息设置地区，可优先查当地政策。"
        text += hint + "\n回复“菜单”查看我能做什么。"
    else:
        text += citations(ans.sources, text)
    more = (ans.more or "").replace(PAGE_BREAK, "\n").strip()
    if ans.choices:
        room = MAX_REPLY_BYTES - len(text.encode()) - (len(MORE_HINT.encode()) if more else 0)
        text += choices.numbered_list(ans.choices, room)
    return text + PAGE_BREAK + more if more else text


def answer_question(turn: Turn, question: str) -> str:
    try:
        ans = turn.kb.ask(question, region=turn.follower.region)
    except Exception:
        log.exception("kb.ask failed")
        return "抱歉，查询政策时出了点问题，请稍后再试。"
    choices.offer(turn, ans.choices)
    return format_answer(ans, turn.follower.region)


# ---------------------------------------------------------------- paging

def paginate(text: str, limit: int = MAX_REPLY_BYTES, hint: str = MORE_HINT) -> list[str]:
    """Cut `text` into parts that fit `limit` bytes together with the hint; "".join(parts) == text.

    A PAGE_BREAK ends a part (and stays at its end, so the joined rest pages the same way again).
    Cuts after a line break when one is near, else after a sentence end, else anywhere.
    """
    *heads, last = text.split(PAGE_BREAK)
    parts = []
    for head in heads:  # the hint follows each of these parts
        parts += _cut(head, limit - len(hint.encode()), "")
        parts[-1] += PAGE_BREAK
    return parts + _cut(last, limit, hint)


def _cut(text: str, limit: int, hint: str) -> list[str]:
    if len(text.encode()) <= limit:
        return [text]
    budget = limit - len(hint.encode())
    parts, rest = [], text
    while len(rest.encode()) > limit:
        cut, size = 0, 0
        for i, ch in enumerate(rest):  # the longest prefix within budget
            size += len(ch.encode())
            if size > budget:
                break
            cut = i + 1
        window = rest[:cut]
        for seps in ("\n", "。；;！？!?", "，,、 "):
            pos = max(window.rfind(s) for s in seps)
            if pos >= cut // 2:
                cut = pos + 1
                break
        parts.append(rest[:cut])
        rest = rest[cut:]
    parts.append(rest)
    return parts


def show_more(turn: Turn) -> str:
    if not turn.follower.more_pages:
        return "没有更多内容了。直接发问题即可继续提问。"
    return "".join(turn.follower.more_pages)


def page_reply(turn: Turn, text: str) -> str:
    """Send the first part now; keep the rest for '更多'."""
    parts = paginate(text)
    turn.follower.more_pages = parts[1:]
    if len(parts) == 1:
        return parts[0]
    return parts[0].rstrip() + MORE_HINT


# ---------------------------------------------------------------- the turn

MORE_WORDS = {"更多", "下一页", "继续", "more"}


def pick_choice(turn: Turn, text: str) -> Optional[str]:
    """A digit picking one of the last answer's numbered choices (bot/choices.py)."""
    if text in MORE_WORDS:
        return None  # the list may sit above a part not read yet
    picked = choices.pick(turn, text)
    return format_answer(picked, turn.follower.region) if isinstance(picked, Answer) else picked


# Checked before 更多 and the menu digits: (turn, normalised text) -> reply or None.
# A 回访 question ("回复 1–5") makes the next bare digit a rating, not a menu choice; else, while
# an answer's choices are on offer, a digit picks one of them (bot.choices).
BEFORE_MENU: list[Union[Callable[[Turn, str], Optional[str]], str]] = [
    "bot.complaint_dialog:rating_hook",
    pick_choice,
]


def route_text(turn: Turn, text: str) -> str:
    if turn.follower.form_state:
        reply = continue_form(turn)
        if reply is not None:
            return reply
    norm = normalise(text)
    if not norm:
        return "请用文字告诉我您的问题。\n\n" + menu_text()
    for hook in BEFORE_MENU:
        try:
            reply = _resolve(hook)(turn, norm)
        except Exception:  # a broken hook must not take every message down with it
            log.exception("dialog hook %s failed", hook)
            reply = None
        if reply is not None:
            return reply
    if norm in MORE_WORDS:
        return show_more(turn)
    if norm.isdigit():
        n = int(norm)
        if 1 <= n <= len(MENU):
            return run_key(turn, MENU[n - 1].key)
        return f"请回复 1 到 {len(MENU)} 之间的数字。\n\n" + menu_text()
    for command in COMMANDS:
        m = command.regex.match(norm)
        if m:
            reply = _resolve(command.handler)(turn, m)
            if reply is not None:
                return reply
    name = match_form(turn, text.strip())
    if name:
        return start_form(turn, name)
    if not re.search(r"[\w\u4e00-\u9fff]", norm):
        return "收到～ 有什么政策问题，请直接用文字问我。回复“菜单”查看我能做什么。"
    return answer_question(turn, text.strip())


UNSUPPORTED = {
    "video": "视频",
    "shortvideo": "小视频",
    "file": "文件",
    "link": "链接",
    "miniprogrampage": "小程序",
}


def route_event(turn: Turn) -> str:
    inbound = turn.inbound
    event = (inbound.event or "").lower()
    if event in ("subscribe", "subscribe_scan"):
        turn.follower.subscribed = True
        return welcome_text()
    if event == "unsubscribe":
        turn.follower.subscribed = False
        return ""
    if event == "click":
        return run_key(turn, inbound.event_key or "")
    return ""  # view, location reports, scans of a follower, job-finished notices: no reply


def route(turn: Turn) -> str:
    inbound = turn.inbound
    kind = inbound.kind
    if kind == "event":
        return route_event(turn)
    if kind == "text":
        return route_text(turn, inbound.text)
    if kind == "voice":
        if inbound.text.strip():
            return route_text(turn, inbound.text)
        return "抱歉，没能听清这段语音。请打字发给我，或说得慢一点再试一次。"
    if kind == "image":
        if turn.follower.form_state:
            reply = continue_form(turn)
            if reply is not None:
                return reply
        return ("图片已收到，不过我只能看懂文字。\n"
                "如需投诉举报并上传证据照片，请先发送“我要投诉”；有政策问题请直接打字问我。")
    if kind == "location":
        label = resolve_place(inbound.text) if inbound.text else None
        if label:
            turn.follower.region = label
            return f"已根据您的位置记住地区：{label}。现在可以直接问我政策问题了。"
        return "收到您的位置，但没能识别出所在地区。请发送“我在聊城”这样的消息设置地区。"
    what = UNSUPPORTED.get(kind, "这类消息")
    return f"收到{what}，不过我只能看懂文字。有政策问题请直接打字问我，回复“菜单”查看全部功能。"


# ---------------------------------------------------------------- entry point

def ensure_follower(settings: Settings, openid: str) -> None:
    """Create the follower row once (concurrent first messages race on the primary key)."""
    with session_scope(settings) as s:
        if s.get(Follower, openid) is not None:
            return
    try:
        with session_scope(settings) as s:
            s.add(Follower(openid=openid))
    except IntegrityError:
        pass


class ClaimLost(Exception):
    """The de-dup record no longer carries this handling's claim time: a retry took the message
    over (bot.wechat.inbox.take_over). The turn is rolled back so the message is applied once."""


def handle(settings: Settings, kb, inbound: Inbound, dedup_key: Optional[str] = None,
           claimed_at: Optional[datetime] = None) -> str:
    """Handle one message; returns the reply text ("" for none).

    The follower's new state (with whatever a form's completion action wrote, e.g. a ticket) and
    the de-dup record's stored reply commit in one transaction, so a retry never sees a state
    change without its reply or the reverse. The reply is stored by compare-and-set on the
    record's claim time (`claimed_at`, from the inbox): if another handling took the message
    over, ClaimLost rolls everything back. On PostgreSQL the follower row is locked for the
    turn, so two quick messages from one person are handled in order.
    """
    ensure_follower(settings, inbound.openid)
    with session_scope(settings) as session:
        follower = session.exec(
            select(Follower).where(Follower.openid == inbound.openid).with_for_update()
        ).one()
        turn = Turn(inbound=inbound, follower=follower, session=session, settings=settings, kb=kb)
        reply = route(turn) or ""
        if reply:
            reply = page_reply(turn, reply)
        follower.last_seen_at = utcnow()
        flag_modified(follower, "form_state")
        flag_modified(follower, "more_pages")
        if dedup_key:
            finish = update(ProcessedMessage).where(ProcessedMessage.key == dedup_key,
                                                    ProcessedMessage.status == "processing")
            if claimed_at is not None:
                finish = finish.where(ProcessedMessage.created_at == claimed_at)
            if session.exec(finish.values(status="done", reply=reply, finished_at=utcnow())).rowcount != 1:
                raise ClaimLost(dedup_key)
    return reply
