"""The built-in parsers: turn what people type on a phone into slot values.

Followers answer in every shape: "2021年3月15日", "21年3月", "去年三月", "六个月", "半年",
"嗯", "没有", "3", "饭馆". Each parser takes the cleaned text and the slot's data and returns a
`Parsed` (value + how to show it) or raises `Invalid` with a hint the engine puts in its re-ask.
Parsers are looked up by name from the form data, so a form (e.g. the complaint form) picks
them — or registers its own with `@parser("name")` — without touching the engine.

Why this module: it holds the parsers themselves; what they share (the types, the registry,
text clean-up) is forms/parsing.py and the choice matching is forms/choices.py, re-exported here
for the code that has always imported them from this module.
"""
from __future__ import annotations

import re
from datetime import date

from core.pii import MOBILE, mask_mobile
from core.regions import display, resolve_place, within
from forms import regions
from forms.choices import choice_options, choice_sets, match_choice, numbered  # noqa: F401  (re-exported)
from forms.parsing import (  # noqa: F401  (re-exported)
    NUM, PARSERS, Context, Invalid, Parsed, clean, cn_number, has_question_word, looks_like_question,
    parser, typed,
)


# ------------------------------------------------------------------ yes / no

YES_WORDS = {"是", "是的", "对", "对的", "有", "有的", "嗯", "嗯嗯", "恩", "好", "好的", "行", "可以",
             "没错", "对头", "yes", "y", "ok", "1"}
UNSURE_WORDS = ("不知道", "不清楚", "不确定", "不记得", "不晓得", "说不清", "没数", "忘了")
NO_WORDS = {"不是", "没有", "否", "不", "不对", "没", "无", "没呢", "还没有", "还没", "不行", "no", "n", "2"}


def yes_no(text: str, extra_yes=(), extra_no=()) -> bool | None:
    t = clean(text).lower()
    if not t:
        return None
    if t in NO_WORDS or t in extra_no:
        return False
    if t in YES_WORDS or t in extra_yes:
        return True
    if has_question_word(t) or any(w in t for w in UNSURE_WORDS):
        return None
    # longer answers: "没有领", "不是的", "是的我们有"
    if t[0] in "不没无未否" or any(t.startswith(w) for w in extra_no):
        return False
    if t[0] in "是对有嗯" or any(t.startswith(w) for w in extra_yes):
        return True
    return None


@parser("yes_no")
def parse_yes_no(text: str, slot: dict, ctx: Context) -> Parsed:
    answer = yes_no(text, slot.get("yes_words", ()), slot.get("no_words", ()))
    if answer is None:
        raise Invalid("请回复“1 是”或“2 否”（也可以直接回“是”“不是”“有”“没有”）。")
    return Parsed(answer, yes_no_labels(slot)[0 if answer else 1])


def yes_no_labels(slot: dict) -> tuple[str, str]:
    """How a yes/no slot shows its two answers (YAML may read the keys yes/no as booleans)."""
    labels = slot.get("labels") or {}
    return (labels.get("yes", labels.get(True, "是")), labels.get("no", labels.get(False, "否")))


# ------------------------------------------------------------------ numbers

@parser("number")
def parse_number(text: str, slot: dict, ctx: Context) -> Parsed:
    """'6' '六个月' '半年' '一年' '三次' '没有' → int, within slot['min']..slot['max']."""
    t = clean(text)
    unit = slot.get("unit", "")
    value: int | None = None
    zero_words = set(slot.get("zero_words", ())) | {"零", "0", "没有", "无", "一次也没有", "一次都没有", "没"}
    if t in zero_words:
        value = 0
    elif unit == "个月" and t in ("半年", "半年时间"):
        value = 6
    elif unit == "个月" and (m := re.fullmatch(rf"({NUM})年(?:半)?", t)):
        years = cn_number(m.group(1))
        value = None if years is None else years * 12 + (6 if t.endswith("半") else 0)
    else:
        m = re.search(rf"({NUM})", t)
        if m:
            rest = (t[:m.start()] + t[m.end():]).replace(unit, "").replace("个", "")
            # reject "3月15日"-like text or several numbers in a number slot
            if not re.search(r"[0-9零〇一二两三四五六七八九十]", rest):
                value = cn_number(m.group(1))
    lo, hi = slot.get("min", 0), slot.get("max", 10_000)
    if value is None or not lo <= value <= hi:
        example = slot.get("example", "6")
        raise Invalid(f"请回复一个{lo}到{hi}之间的数字，例如“{example}”。")
    return Parsed(value, f"{value}{unit}")


# ------------------------------------------------------------------ dates

def parse_date_text(text: str, today: date) -> tuple[date, str] | None:
    """Returns (date, how to show it) for the shapes followers type, or None.

    A missing day means the 1st of the month and is shown without a day ("2021年3月").
    """
    t = clean(text).replace(" ", "")
    t = t.replace("号", "日").replace("份", "")
    t = re.sub(r"(?<=\d)[./](?=\d)", "-", t)
    m = re.fullmatch(r"(\d{4})-(\d{1,2})(?:-(\d{1,2}))?", t)
    if m:
        return _mk(int(m.group(1)), int(m.group(2)), m.group(3) and int(m.group(3)))
    m = re.fullmatch(rf"(今年|去年|前年|({NUM})年)?({NUM})月(?:({NUM})日?)?", t)
    if not m:
        return None
    rel, year_token, month_token, day_token = m.group(1), m.group(2), m.group(3), m.group(4)
    if rel in (None, "今年"):
        year = today.year
    elif rel == "去年":
        year = today.year - 1
    elif rel == "前年":
        year = today.year - 2
    else:
        year = cn_number(year_token)
        if year is None:
            return None
        if year < 100:
            year += 2000
    month = cn_number(month_token)
    day = cn_number(day_token) if day_token else None
    if month is None or (day_token and day is None):
        return None
    return _mk(year, month, day)


def _mk(year: int, month: int, day: int | None) -> tuple[date, str] | None:
    try:
        value = date(year, month, day or 1)
    except ValueError:
        return None
    if not 1990 <= year <= 2100:
        return None
    shown = f"{year}年{month}月" + (f"{day}日" if day else "")
    return value, shown


@parser("date")
def parse_date(text: str, slot: dict, ctx: Context) -> Parsed:
    found = parse_date_text(text, ctx.today)
    if not found:
        raise Invalid("请回复日期，例如“2021年3月15日”“21年3月”“去年三月”。")
    value, shown = found
    return Parsed(value.isoformat(), shown)


# ------------------------------------------------------------------ choices

def _choice_hint(slot: dict) -> str:
    return f"请回复序号 1-{len(numbered(choice_options(slot)))}，或直接回复选项里的字。"


@parser("choice")
def parse_choice(text: str, slot: dict, ctx: Context) -> Parsed:
    """A numbered choice. A choice may list `aliases` (colloquial words) and, if the slot has
    `other`, unmatched free text is kept as that value with the typed word shown."""
    choice = match_choice(text, choice_options(slot))
    if choice is not None:
        value = choice.get("value", choice["label"])
        shown = choice["label"]
        word = typed(text)
        if word and not word.isdigit() and word != shown and choice.get("show_word", slot.get("show_word")):
            shown = f"{shown}（{word}）"
        return Parsed(value, shown)
    other = slot.get("other")
    t = clean(text)
    if slot.get("places") and t and not t.isdigit():
        placed = _place_choice(typed(text), slot)
        if placed is not None:
            return placed
    if other and t and not t.isdigit() and len(t) <= 30:
        return Parsed(other["value"], f"{other['label']}（{typed(text)}）", confident=False)
    raise Invalid(_choice_hint(slot))


def _place_choice(text: str, slot: dict) -> Parsed | None:
    """With `places: true`, a typed place the gazetteer knows is shown with its province and city
    ('临清' → 山东聊城临清) and takes the choice whose place contains it; a known place outside
    every choice is the `other` value, still shown by its full name ('郑州' → 河南郑州)."""
    path = resolve_place(text)
    if not path:
        return None
    shown = display(path)
    for choice in choice_options(slot):
        scope = resolve_place(choice["label"]) or resolve_place(str(choice.get("value", "")))
        if scope and within(path, scope):
            return Parsed(choice.get("value", choice["label"]), shown)
    other = slot.get("other")
    return Parsed(other["value"], shown, confident=False) if other else None


# ------------------------------------------------------------------ regions

@parser("region")
def parse_region(text: str, slot: dict, ctx: Context) -> Parsed:
    """A place: a numbered choice ('1'), a known place ('聊城', '山东聊城'), or any place name
    ('北京', '郑州市') — the rules then say which region's notice they come from."""
    t = clean(text)
    choice = match_choice(t, choice_options(slot)) if re.fullmatch(r"第?[0-9一二三四五六七八九十]+个?", t) else None
    if choice is not None and choice.get("value"):
        return Parsed(choice["value"], choice["label"])
    place = regions.parse_place(typed(text))  # a place elsewhere is kept as the follower typed it
    if place:
        full = resolve_place(typed(text))  # shown with its province and city: 临清 → 山东聊城临清
        return Parsed(place, display(full) if full and within(full, place) else display(place))
    raise Invalid("请回复序号，或直接回复您所在的省、市或县，例如“聊城”“济源”“文水”。")


# ------------------------------------------------------------------ free text, phone, images

@parser("text")
def parse_text(text: str, slot: dict, ctx: Context) -> Parsed:
    t = (text or "").strip()
    lo, hi = slot.get("min_len", 1), slot.get("max_len", 500)
    if len(t) < lo and t and slot.get("too_short"):  # the slot says what to add, with its real minimum
        raise Invalid(slot["too_short"].replace("{min_len}", str(lo)))
    if not lo <= len(t) <= hi:
        raise Invalid(f"请用{lo}到{hi}个字说明。")
    return Parsed(t, t if len(t) <= 40 else t[:40] + "…", confident=False)


@parser("phone")
def parse_phone(text: str, slot: dict, ctx: Context) -> Parsed:
    if clean(text) in slot.get("skip_words", ()):  # e.g. 匿名 / 不留 when a number is optional
        return Parsed("anonymous", slot.get("skip_label", "不留"))
    digits = re.sub(r"[\s\-－—]", "", clean(text))
    if not MOBILE.fullmatch(digits):
        raise Invalid("请回复11位手机号，例如 13800138000。")
    return Parsed(digits, mask_mobile(digits))


DONE_WORDS = {"没有", "没", "无", "好了", "完成", "完了", "发完了", "就这些", "没有了", "不用", "结束", "ok", "OK"}


@parser("images")
def parse_images(text: str, slot: dict, ctx: Context) -> Parsed:
    """Handled specially by the engine (it collects several messages); this parses one message:
    an image → ('add', {...}); a 'done' word → ('done', None)."""
    if ctx.kind == "image":
        return Parsed(("add", {"media_id": ctx.media_id, "pic_url": ctx.pic_url}), "图片")
    if clean(text) in DONE_WORDS or clean(text).lower() in DONE_WORDS:
        return Parsed(("done", None), "")
    raise Invalid("请直接发送照片（可以发多张），发完回复“好了”；没有照片回复“没有”。")
