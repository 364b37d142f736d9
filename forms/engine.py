"""The generic form engine: one follower, one active form, state in the database.

A form is data (forms/defs/*.yaml, or a dict given to `register_form`): its triggers (phrases
and menu keys), its slots — each with a question, a parser, optional numbered choices and an
optional `when` condition — whether to confirm a summary, and the completion action. The
engine knows nothing about 以工代训 or complaints; it walks slots, parses answers, handles
取消 / 上一步 / side questions / three misses / 24-hour expiry / summary-and-correct, and at the
end calls the form's action with the collected answers.

The dialog router calls three functions:
  match_trigger(text_or_event_key) -> form name | None
  start(turn, name) -> first reply
  handle(turn) -> reply | None   (None: no active form, the router handles the message)
State lives in `turn.follower.form_state` (a JSON column); the engine assigns a new dict on
every change and the router commits, so a restart or a second worker picks up where it left.
"""
from __future__ import annotations

import copy
import threading
import importlib
import logging
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

import yaml

from core import clock
from forms import parsers
from forms.conditions import holds
from forms.parsers import Context, Invalid, Parsed, clean, has_question_word, looks_like_question
from storage.models import utcnow

if TYPE_CHECKING:
    from core.turn import Turn

log = logging.getLogger("policybot.forms")

DEFS_DIR = Path(__file__).parent / "defs"
MAX_BYTES = 2048
IDLE_LIMIT = timedelta(hours=24)
MAX_MISSES = 3

CANCEL_WORDS = {"取消", "退出", "算了", "算了吧", "不填了", "不测了", "不要了", "结束", "取消自测", "退出自测", "不弄了"}
LEAVE_WORDS = {"菜单", "主菜单", "目录"}
BACK_WORDS = {"上一步", "上一题", "上一个", "返回", "后退", "返回上一步", "回到上一步"}
CONFIRM_WORDS = {"1", "确认", "确定", "对", "对的", "是", "是的", "没问题", "正确", "没错", "好", "好的"}
CORRECT_WORDS = {"2", "修改", "改", "改一下", "不对", "有错", "更正"}
CONTINUE_WORDS = {"1", "继续", "继续填写", "继续填", "好", "好的"}
FILLERS = ("我要", "我想", "我想要", "帮我", "请", "开始", "做", "做个", "做一下", "进行", "一下", "测一测", "测测")

CONFIRM, FIX = "_confirm", "_fix"
FREE_TEXT_PARSERS = {"text"}


# ------------------------------------------------------------------ registry

@dataclass
class Filled:
    """The active form, its answers and how they were shown (see `filled(turn)`)."""

    form: dict
    values: dict[str, Any]
    labels: dict[str, str]


# fn(slots, turn) -> reply: slots are the answers that apply ({name: value}); the follower's
# form_state still holds the whole form state while the action runs (see `filled(turn)`).
ActionFn = Callable[[dict, "Turn"], str]
FORMS: dict[str, dict] = {}
ACTIONS: dict[str, ActionFn] = {}
_loaded = False
_load_lock = threading.RLock()  # a form file may ask for the registry while it loads


def action(name: str):
    """Register a completion action: fn(slots, turn) -> reply text."""
    def deco(fn: ActionFn) -> ActionFn:
        ACTIONS[name] = fn
        return fn
    return deco


def register_form(definition: dict) -> None:
    """Add (or replace) a form given as data; see forms/defs/*.yaml for the shape."""
    for key in ("name", "title", "slots", "on_complete"):
        if key not in definition:
            raise ValueError(f"form definition without {key!r}: {definition.get('name')}")
    names = [s["name"] for s in definition["slots"]]
    if len(set(names)) != len(names):
        raise ValueError(f"form {definition['name']}: duplicate slot names")
    for slot in definition["slots"]:
        if slot.get("parser", "text") not in parsers.PARSERS:
            raise ValueError(f"form {definition['name']}: unknown parser {slot.get('parser')}")
    FORMS[definition["name"]] = definition


def register_form_file(path: Path | str) -> dict:
    definition = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    register_form(definition)
    return definition


def _ensure_loaded() -> None:
    """Register the shipped forms once; a message arriving meanwhile waits for all of them (a
    flag set before loading let early messages find no triggers)."""
    global _loaded
    if _loaded:
        return
    with _load_lock:
        if _loaded:
            return
        from forms import actions  # noqa: F401  (registers the eligibility and guide actions)
        for path in sorted(DEFS_DIR.glob("*.yaml")):
            register_form_file(path)
        _loaded = True


def forms() -> dict[str, dict]:
    _ensure_loaded()
    return FORMS


def get_form(name: str) -> dict | None:
    return forms().get(name)


def _strip_fillers(text: str) -> str:
    t = clean(text)
    changed = True
    while changed:
        changed = False
        for f in FILLERS:
            if t.startswith(f) and len(t) > len(f):
                t, changed = t[len(f):], True
    return t


def match_trigger(text_or_event_key: str | None) -> str | None:
    """The form a phrase ('以工代训自测', '我要做补贴自测') or a menu key ('FORM_YIGONG') starts."""
    if not text_or_event_key:
        return None
    raw = text_or_event_key.strip()
    t = clean(raw)
    bare = _strip_fillers(raw)
    for name, form in forms().items():
        triggers = form.get("triggers") or {}
        if raw in triggers.get("menu_keys", []):
            return name
        phrases = triggers.get("phrases", [])
        if t in phrases or bare in phrases:
            return name
    return None


# ------------------------------------------------------------------ state helpers

def today_for(turn: "Turn") -> date:
    return clock.today(turn.settings)


def _slot(form: dict, name: str) -> dict | None:
    return next((s for s in form["slots"] if s["name"] == name), None)


def _applies(slot: dict, values: dict) -> bool:
    return holds(slot.get("when"), values)


def _active_slots(form: dict, values: dict) -> list[dict]:
    return [s for s in form["slots"] if _applies(s, values)]


def _save(turn: "Turn", state: dict | None) -> None:
    if state:
        state["updated_at"] = utcnow().isoformat()
    turn.follower.form_state = copy.deepcopy(state) if state else {}


def fit(text: str, budget: int = MAX_BYTES) -> str:
    raw = text.encode()
    if len(raw) <= budget:
        return text
    return raw[: budget - 3].decode(errors="ignore") + "…"


# ------------------------------------------------------------------ rendering

HELP_LINE = "（回复序号或文字；“上一步”返回，“取消”退出）"
HELP_LINE_FREE = "（“上一步”返回，“取消”退出）"


def render_question(slot: dict, prefix: str = "") -> str:
    lines = [prefix + slot["question"]] if prefix else [slot["question"]]
    choices = parsers.numbered(parsers.choice_options(slot))
    if slot.get("parser") == "yes_no" and not choices:
        choices = [{"label": label} for label in parsers.yes_no_labels(slot)]
    for i, choice in enumerate(choices, 1):
        lines.append(f"{i}. {choice['label']}")
    lines.append(slot.get("help", HELP_LINE if choices else HELP_LINE_FREE))
    return "\n".join(lines)


def _summary(form: dict, state: dict) -> str:
    lines = ["请核对您的回答："]
    for i, slot in enumerate(_summary_slots(form, state), 1):
        lines.append(f"{i}. {slot.get('label', slot['name'])}：{state['labels'].get(slot['name'], '')}")
    lines += ["", "1. " + form.get("confirm_label", "确认，查看结果"), "2. 修改某一项"]
    return "\n".join(lines)


def _summary_slots(form: dict, state: dict) -> list[dict]:
    return [s for s in _active_slots(form, state["slots"]) if s["name"] in state["slots"]
            and not s.get("no_summary")]


# ------------------------------------------------------------------ the public entry points

def start(turn: "Turn", name: str) -> str:
    """Begin form `name` for this follower (replacing any active form); returns the first reply."""
    form = get_form(name)
    if form is None:
        raise KeyError(name)
    now = utcnow().isoformat()
    state = {"form": name, "slots": {}, "labels": {}, "history": [], "pending": None,
             "misses": 0, "offer_cancel": False, "started_at": now, "updated_at": now}
    for slot in form["slots"]:
        if slot.get("prefill") == "follower_region" and turn.follower.region:
            try:
                parsed = parsers.PARSERS[slot.get("parser", "text")](turn.follower.region, slot, _ctx(turn))
            except Invalid:
                continue
            state["slots"][slot["name"]], state["labels"][slot["name"]] = parsed.value, parsed.display
    intro = form.get("intro", "")
    reply = _advance(turn, form, state)
    return fit(f"{intro}\n\n{reply}" if intro else reply)


def handle(turn: "Turn") -> str | None:
    """Process one inbound for the active form; None when there is none (or it is not ours)."""
    state = copy.deepcopy(turn.follower.form_state or {})
    if not state.get("form"):
        return None
    form = get_form(state["form"])
    if form is None:  # a form that no longer exists: forget it quietly
        _save(turn, None)
        return None
    for key, empty in (("slots", {}), ("labels", {}), ("history", [])):
        if not isinstance(state.get(key), type(empty)):  # damaged state: start the walk again
            state[key] = empty
    inbound = turn.inbound

    # menu clicks and other events
    if inbound.kind == "event":
        name = match_trigger(inbound.event_key) if (inbound.event or "").lower() == "click" else None
        if name:
            return start(turn, name)
        return None

    if _expired(state):
        return _expire(turn, form, state)

    text = inbound.text or ""
    t = clean(text)
    pending = state.get("pending")
    slot = _slot(form, pending) if pending not in (CONFIRM, FIX) else None

    if inbound.kind not in ("text", "voice") and not (slot and slot.get("parser") == "images"):
        _save(turn, state)
        return fit("这一步需要您回复文字。\n\n" + _ask_again(form, state))
    if inbound.kind == "voice" and not t:
        _save(turn, state)
        return fit("没听清您的语音，请再说一遍或打字回复。\n\n" + _ask_again(form, state))

    if inbound.kind in ("text", "voice"):
        if t in CANCEL_WORDS:
            return _cancel(turn, form)
        if t in LEAVE_WORDS:  # the follower navigates away: drop the form, the router answers
            _save(turn, None)
            return None
        if t in BACK_WORDS:
            return _back(turn, form, state)
        other = match_trigger(text)
        if other:
            return start(turn, other)

    if state.get("offer_cancel"):
        if t in CONTINUE_WORDS:
            state["offer_cancel"], state["misses"] = False, 0
            _save(turn, state)
            return fit(_ask_again(form, state))
        if t in {"2", "取消", "取消自测"}:
            return _cancel(turn, form)

    if pending == CONFIRM:
        return _on_confirm(turn, form, state, t, text)
    if pending == FIX:
        return _on_fix(turn, form, state, t, text)
    if slot is None:  # state points at a slot that is gone: re-walk the form
        return fit(_advance(turn, form, state))
    return _on_answer(turn, form, state, slot, text)


# ------------------------------------------------------------------ steps

def _ctx(turn: "Turn") -> Context:
    inbound = turn.inbound
    return Context(today=today_for(turn), kind=inbound.kind, media_id=inbound.media_id, pic_url=inbound.pic_url)


def _advance(turn: "Turn", form: dict, state: dict) -> str:
    """Ask the next unanswered question that applies; then the summary; then complete."""
    state["misses"], state["offer_cancel"] = 0, False
    for slot in form["slots"]:
        if slot.get("only_by_goto"):
            continue
        if slot["name"] not in state["slots"] and _applies(slot, state["slots"]):
            state["pending"] = slot["name"]
            _save(turn, state)
            return render_question(slot)
    if form.get("confirm", True):
        state["pending"] = CONFIRM
        _save(turn, state)
        return _summary(form, state)
    return _complete(turn, form, state)


def _ask_again(form: dict, state: dict) -> str:
    pending = state.get("pending")
    if pending == CONFIRM:
        return _summary(form, state)
    if pending == FIX:
        return _fix_menu(form, state)
    slot = _slot(form, pending)
    return render_question(slot) if slot else ""


def _on_answer(turn: "Turn", form: dict, state: dict, slot: dict, text: str) -> str:
    parse = parsers.PARSERS[slot.get("parser", "text")]
    try:
        parsed: Parsed | None = parse(text, slot, _ctx(turn))
    except Invalid as bad:
        parsed, hint = None, bad.hint
    # free-text answers (a complaint's description) may well contain "什么" or "？": they are
    # answers there, unless the slot opts in to side questions
    free_text = slot.get("parser", "text") in FREE_TEXT_PARSERS and not slot.get("side_questions")
    question = looks_like_question(text) and not free_text
    # a question-looking message is a side question, unless it is a clean answer with a '?'
    # ("2021年3月？"); "饭馆能申请吗？" is a question even though it names an industry
    if parsed is not None and (not question or (parsed.confident and not has_question_word(text))):
        if slot.get("parser") == "images":
            return _on_image(turn, form, state, slot, parsed)
        return _accept(turn, form, state, slot, parsed)
    if question:
        return _side_question(turn, form, state, text)
    return _answer_ahead(turn, form, state, slot, text) or _miss(turn, form, state, hint)


def _answer_ahead(turn: "Turn", form: dict, state: dict, slot: dict, text: str) -> str | None:
    """A choice may name the slot it leads to (`implies: phone`): "是否留下手机号？" answered
    with the number itself takes that choice and the number in one go."""
    for choice in parsers.choice_options(slot):
        target = _slot(form, choice.get("implies") or "")
        if target is None:
            continue
        try:
            implied = parsers.PARSERS[target.get("parser", "text")](text, target, _ctx(turn))
        except Invalid:
            continue
        _accept(turn, form, state, slot, Parsed(choice.get("value", choice["label"]), choice["label"]))
        return _accept(turn, form, state, target, implied)
    return None


def _goto(slot: dict, value: Any) -> str | None:
    """A choice may jump: `goto: <slot>` asks that slot next, `goto: _end` completes the form."""
    for choice in parsers.choice_options(slot):
        if choice.get("value", choice.get("label")) == value and choice.get("goto"):
            return choice["goto"]
    return None


def _accept(turn: "Turn", form: dict, state: dict, slot: dict, parsed: Parsed) -> str:
    name = slot["name"]
    state["slots"][name], state["labels"][name] = parsed.value, parsed.display
    if name in state["history"]:
        state["history"].remove(name)
    state["history"].append(name)
    # answers to questions that no longer apply (e.g. 行业 after changing to 小微企业) are dropped
    for other in form["slots"]:
        if other["name"] in state["slots"] and not _applies(other, state["slots"]):
            state["slots"].pop(other["name"])
            state["labels"].pop(other["name"], None)
            if other["name"] in state["history"]:
                state["history"].remove(other["name"])
    target = _goto(slot, parsed.value)
    if target == "_end":
        return _complete(turn, form, state)
    if target and _slot(form, target):
        state["slots"].pop(target, None)
        state["labels"].pop(target, None)
        state["pending"], state["misses"], state["offer_cancel"] = target, 0, False
        _save(turn, state)
        return fit(render_question(_slot(form, target)))
    return fit(_advance(turn, form, state))


def _on_image(turn: "Turn", form: dict, state: dict, slot: dict, parsed: Parsed) -> str:
    kind, item = parsed.value
    pics = state.setdefault("collecting", {}).setdefault(slot["name"], [])
    if kind == "add":
        limit = slot.get("max", 9)
        if len(pics) >= limit:
            _save(turn, state)
            return f"最多收{limit}张照片，已经够了。回复“好了”继续。"
        pics.append(item)
        _save(turn, state)
        return f"已收到第{len(pics)}张照片。可以继续发，发完回复“好了”。"
    state["collecting"].pop(slot["name"], None)
    shown = f"{len(pics)}张照片" if pics else "没有"
    return _accept(turn, form, state, slot, Parsed(pics, shown))


def _miss(turn: "Turn", form: dict, state: dict, hint: str) -> str:
    state["misses"] = state.get("misses", 0) + 1
    if state["misses"] >= MAX_MISSES:
        state["offer_cancel"] = True
        _save(turn, state)
        return fit(f"还是没能识别您的回答。{hint}\n\n要继续吗？\n1. 继续填写\n2. 取消{form['title']}")
    _save(turn, state)
    return fit(f"没能识别您的回答。{hint}\n\n{_ask_again(form, state)}")


def _side_question(turn: "Turn", form: dict, state: dict, text: str) -> str:
    """Answer a policy question asked in the middle, then repeat the pending question."""
    _save(turn, state)
    pending = _ask_again(form, state)
    tail = f"\n\n——\n继续{form['title']}：\n{pending}"
    try:
        answer = turn.kb.ask(text.strip(), region=turn.follower.region)
        body = answer.answer
        if not answer.refused and answer.sources and answer.sources[0].title not in body:
            from forms.rules import cite
            body += "\n依据：" + cite(answer.sources[0])
    except Exception:
        log.exception("side question failed")
        body = "抱歉，暂时没能查到这个问题的答案，请稍后再问。"
    budget = MAX_BYTES - len(tail.encode())
    return fit(body, budget) + tail


def _on_confirm(turn: "Turn", form: dict, state: dict, t: str, text: str) -> str:
    if t in CONFIRM_WORDS:
        return _complete(turn, form, state)
    if t in CORRECT_WORDS:
        state["pending"], state["misses"] = FIX, 0
        _save(turn, state)
        return _fix_menu(form, state)
    if looks_like_question(text):
        return _side_question(turn, form, state, text)
    return _miss(turn, form, state, "请回复“1”确认，或“2”修改。")


def _fix_menu(form: dict, state: dict) -> str:
    lines = ["要修改哪一项？回复序号："]
    for i, slot in enumerate(_summary_slots(form, state), 1):
        lines.append(f"{i}. {slot.get('label', slot['name'])}：{state['labels'].get(slot['name'], '')}")
    lines.append("回复“返回”回到核对页。")
    return "\n".join(lines)


def _on_fix(turn: "Turn", form: dict, state: dict, t: str, text: str) -> str:
    shown = _summary_slots(form, state)
    m = re.fullmatch(r"第?([0-9]+|[一二三四五六七八九十]+)(?:项|个|条)?", t)
    target = None
    if m:
        n = parsers.cn_number(m.group(1))
        if n and 1 <= n <= len(shown):
            target = shown[n - 1]
    else:
        target = next((s for s in shown if s.get("label") and len(t) >= 2 and (s["label"] in t or t in s["label"])), None)
    if target is None:
        return _miss(turn, form, state, f"请回复 1-{len(shown)} 之间的序号。")
    state["slots"].pop(target["name"], None)
    state["labels"].pop(target["name"], None)
    state["pending"], state["misses"] = target["name"], 0
    _save(turn, state)
    return fit(render_question(target, prefix="修改："))


def _back(turn: "Turn", form: dict, state: dict) -> str:
    pending = state.get("pending")
    if pending == FIX:  # from the correction menu back to the summary
        state["pending"] = CONFIRM
        _save(turn, state)
        return _summary(form, state)
    history = [h for h in state["history"] if h in state["slots"]]
    if not history:
        _save(turn, state)
        return fit("已经是第一个问题了。\n\n" + _ask_again(form, state))
    previous = history[-1]
    state["history"] = history[:-1]
    state["slots"].pop(previous, None)
    state["labels"].pop(previous, None)
    state.get("collecting", {}).pop(previous, None)
    state["pending"], state["misses"], state["offer_cancel"] = previous, 0, False
    _save(turn, state)
    return fit("好的，回到上一步。\n\n" + render_question(_slot(form, previous)))


def _cancel(turn: "Turn", form: dict) -> str:
    _save(turn, None)
    if form.get("cancel_message"):
        return form["cancel_message"]
    phrases = (form.get("triggers") or {}).get("phrases") or [form["title"]]
    return f"已取消{form['title']}，填写的内容没有保存。需要时回复“{phrases[0]}”重新开始。"


def filled(turn: "Turn") -> Filled:
    """The active form with the answers that apply and their shown labels."""
    state = turn.follower.form_state or {}
    form = get_form(state.get("form", "")) or {"slots": []}
    values = {k: v for k, v in (state.get("slots") or {}).items()
              if _slot(form, k) is not None and _applies(_slot(form, k), state["slots"])}
    labels = {k: v for k, v in (state.get("labels") or {}).items() if k in values}
    return Filled(form, values, labels)


def _complete(turn: "Turn", form: dict, state: dict) -> str:
    _save(turn, state)  # the action may read the final state through filled(turn)
    fn = resolve_action(form["on_complete"])
    try:
        reply = fn(filled(turn).values, turn)
    except Exception:
        log.exception("form %s: completion action failed", form["name"])
        _save(turn, state)  # keep the answers: the follower can confirm again
        return "抱歉，处理时出了点问题，您的回答还在。请稍后回复“1”再试一次，或回复“取消”。"
    _save(turn, None)
    return fit(reply)


def resolve_action(ref: str) -> ActionFn:
    """A registered action name, or 'package.module:function'."""
    if ref in ACTIONS:
        return ACTIONS[ref]
    module, _, attr = ref.partition(":")
    if not attr:
        raise KeyError(f"unknown form action {ref!r}")
    return getattr(importlib.import_module(module), attr)


# ------------------------------------------------------------------ expiry and questions

def _expired(state: dict) -> bool:
    try:
        updated = datetime.fromisoformat(state.get("updated_at", ""))
    except ValueError:
        return False
    return utcnow() - updated > IDLE_LIMIT


def _expire(turn: "Turn", form: dict, state: dict) -> str:
    """A form idle for more than 24 h ends; this message is then handled as a fresh one:
    a trigger starts its form, a question is answered, anything else gets the note and a hint."""
    _save(turn, None)
    phrases = (form.get("triggers") or {}).get("phrases") or [form["title"]]
    note = f"您之前的{form['title']}超过24小时没有继续，已自动结束（答过的内容没有保存）。"
    text = turn.inbound.text or ""
    name = match_trigger(text)
    if name:
        return fit(note + "\n\n" + start(turn, name))
    if turn.inbound.kind in ("text", "voice") and looks_like_question(text):
        try:
            answer = turn.kb.ask(text.strip(), region=turn.follower.region)
            return fit(note + "\n\n" + answer.answer)
        except Exception:
            log.exception("question after expiry failed")
    return f"{note}需要时回复“{phrases[0]}”重新开始；其他问题请直接发给我。"
