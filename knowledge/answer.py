"""Compose the reply: a short plain answer, the quoted clause, the citation, region and expiry.

Why extractive: an official subsidy rule must be quoted, not paraphrased — the asker (and the
staff who read the logs) must see exactly what the notice says and where it says it. Why a
plain first line: on a phone the asker wants the fact (the amount, the duration, yes or no, or
that the rule has ended) before a 200-character quote; the line is cut from the quoted clause
itself (knowledge/qtypes.py finds the fact asked for), so it never says more than the notice.
Table rows are read out as sentences, never as “a | b” with “____” blanks. A note about
another notice that does not fit the screen waits for “更多”.
"""
from __future__ import annotations

import re
from datetime import date

from core.text import cn_date, squash
from knowledge.families import QUOTE_LIMIT
from knowledge.index import Hit
from knowledge.lexical import Query
from knowledge.qtypes import QType, fact_matches, fact_units, first_fact
from knowledge.textutil import sentences
from knowledge.types import Answer, Source

REFUSAL = ("抱歉，现有的政策文件里没有找到能回答这个问题的内容。\n"
           "我可以回答职业技能提升行动的补贴政策问题，例如：以工代训补贴标准、培训补贴申领条件、"
           "培训机构开班和考核要求、证书与补贴等。也可以发送“我在聊城”设定地区，或回复“投诉”反映培训机构问题。")
EXPIRED = "该政策已于{d}到期，请以最新通知为准。"
MAX_QUOTE = 220
COMPLETE_QUOTE = 120  # characters of a second clause quoted for a figure the first leaves out
COMPLETE_FROM = 8  # candidates searched for a clause stating a figure the best one leaves out
NOTE_SHARE = 0.1  # another notice is noted when its clause has this share of the best's weight
MAX_ANSWER = 600  # characters: one phone screen, well inside a 2048-byte WeChat message
_BLANK = re.compile(r"_{2,}")
_FRAGMENT_SPLIT = re.compile(r"(?<=[，,；;。])|(?<=[：:])(?!\s*\d)")  # not inside a ratio (“1 : 20”) or before a figure
_NEGATIVE = re.compile(r"不得|不能|不予|禁止|严禁|不允许|不可")
_NOT_NEEDED = re.compile(r"无需|无须|不需|不再|不用|免于|可不")
_POSITIVE = re.compile(r"可以|可|给予|享受|纳入|允许|应当|按规定")


def book_title(title: str) -> str:
    """《title》, with a title nested inside it in 〈〉 as Chinese usage wants."""
    return "《" + title.replace("《", "〈").replace("》", "〉") + "》"


def citation(notice) -> str:
    parts = [book_title(notice.title)]
    if notice.doc_number:
        parts[0] += notice.doc_number
    if notice.issuer:
        parts.append(notice.issuer)
    if notice.date:
        parts.append(cn_date(notice.date))
    return "，".join(parts)


def is_expired(valid_until: date | None, today: date) -> bool:
    return bool(valid_until and valid_until < today)


def readable(text: str) -> str:
    """A table row (“序号: 8 | 工作要求: 开展线上培训_____人次”) as a sentence a follower reads:
    “序号：8；工作要求：开展线上培训××人次”. Blank form fields become ××."""
    text = _BLANK.sub("××", text)
    if " | " not in text:
        return text
    cells = [c.strip() for c in text.split(" | ") if c.strip()]
    out = []
    for c in cells:
        label, sep, value = c.partition(": ")
        out.append(f"{label}：{value}" if sep and value else c.rstrip(":："))
    return "；".join(out) + ("" if out and out[-1].endswith(("。", "；")) else "。")


def best_quote(text: str, unit_scores: list[tuple[str, float]] | None, limit: int = MAX_QUOTE,
               include: set[int] | None = None, question: str = "", types: list[QType] | None = None) -> str:
    """The clause whole when it is short; else its best unit (and the units in `include`: the
    best one for each part of a multi-part question), widened to the neighbours that also score
    well while the quote stays short. A quote still too long is cut to the stretch that holds
    the question's words and the fact asked (`window`)."""
    text = readable(text)
    if len(text) <= limit:
        return text
    units = [readable(u) for u, _ in unit_scores] if unit_scores and len(unit_scores) > 1 else sentences(text)
    scores = [sc for _, sc in unit_scores] if unit_scores and len(unit_scores) == len(units) else [0.0] * len(units)
    if len(units) <= 1:
        return window(text, limit, question, types or [])
    best = max(range(len(units)), key=lambda i: (scores[i], -i))
    chosen = {best} | {i for i in (include or set()) if i < len(units)}
    length = sum(len(units[i]) for i in chosen)
    for i in sorted(range(len(units)), key=lambda i: (-scores[i], abs(i - best))):
        if i in chosen or scores[i] < 0.6 * scores[best] or length + len(units[i]) > limit:
            continue
        chosen.add(i)
        length += len(units[i])
    if length < 60 and best + 1 < len(units) and length + len(units[best + 1]) <= limit:
        chosen.add(best + 1)  # a very short sentence needs the one after it
    quote = "".join(units[i] for i in sorted(chosen))
    return quote if len(quote) <= limit else window(quote, limit, question, types or [])


def window(text: str, limit: int, question: str = "", types: list[QType] | None = None) -> str:
    """`text` cut to `limit` characters at clause commas: the run of fragments that shares the
    most words with the question and states the fact asked, so a long sentence's cut never drops
    the very words asked about (“…由培训机构按照谁出钱补贴补给谁的原则…”). Without a
    question: the beginning."""
    frags = [f for f in _FRAGMENT_SPLIT.split(text) if f]
    if not question or len(frags) < 2:
        return text[: limit - 1] + "…"
    asked = _bigrams(question)
    grams = [_bigrams(f) & asked for f in frags]
    # a word of the question that runs through the whole clause (its subject, a place name)
    # says little about where the answer is: each shared word counts 1 / the fragments holding it
    spread: dict[str, int] = {}
    for g in grams:
        for x in g:
            spread[x] = spread.get(x, 0) + 1
    facts = [m.start() for m in fact_matches(types or [], text)]
    gain, pos = [], 0
    for f, g in zip(frags, grams):
        gain.append(sum(1 / spread[x] for x in g) + 2 * any(pos <= p < pos + len(f) for p in facts))
        pos += len(f)
    best, span = (-1.0, 0, 0), (0, -1)
    for a in range(len(frags)):
        size, total = 0, 0.0
        for b in range(a, len(frags)):
            size += len(frags[b])
            if size > limit - 2:
                break
            total += gain[b]
            if (round(total, 6), size, -a) > best:
                best, span = (round(total, 6), size, -a), (a, b)
    a, b = span
    if b < a:  # the first fragment alone is too long
        return text[: limit - 1] + "…"
    quote = "".join(frags[a:b + 1]).rstrip("，,；;：:")
    return ("…" if a > 0 else "") + quote + ("…" if b < len(frags) - 1 else "")


def family_quote(hit: Hit, types: list[QType]) -> str:
    """The whole short list a clause belongs to (its lead-in and items, knowledge/families.py),
    unless the clause itself states the concrete fact asked (then it alone is the answer)."""
    texts = [readable(c.text) for c in hit.family]
    if len(texts) < 2 or sum(len(t) for t in texts) > QUOTE_LIMIT:
        return ""
    if first_fact(types, readable(hit.chunk.text)) is not None:
        return ""
    return "\n".join(texts)


def plain_line(types: list[QType], quote: str, heading: str, question: str = "") -> str:
    """The short answer: the fragment of the quote that states the fact asked for (an amount,
    a duration, a date…), or for a yes/no question 可以/不可以/不需要 with its condition."""
    fragments = [f for f in _FRAGMENT_SPLIT.split(quote) if squash(f)]
    if not fragments:
        return ""
    starts = [m.start() for m in fact_matches(types, quote)]
    if not starts:
        return ""
    bounds, pos = [], 0
    for f in fragments:
        bounds.append((pos, pos + len(f)))
        pos += len(f)
    holding = [i for i, (a, b) in enumerate(bounds) if any(a <= s < b for s in starts)]
    # of the fragments stating the fact, the one nearest the question's own words
    # (“学徒制培训目标多少人” → “企业新型学徒制培训600人”, not the first count in the clause)
    asked = _bigrams(question)
    pick = max(holding, key=lambda i: (len(_bigrams(fragments[i]) & asked), -i))
    text = fragments[pick]
    if len(squash(text)) < 12 and pick > 0:
        text = fragments[pick - 1] + text
    if len(squash(text)) < 12 and pick + 1 < len(fragments):
        text = text + fragments[pick + 1]
    text = text.strip().rstrip("，,；;：:")
    if len(text) > 70:
        text = text[:69] + "…"
    subject = heading.rstrip("：") if heading and heading.rstrip("：") not in text else ""
    return (f"{subject}：" if subject else "") + text + ("" if text.endswith(("。", "…")) else "。")


def yes_no(types: list[QType], quote: str) -> str:
    if not any(t.name == "yesno" for t in types):
        return ""
    head = quote[:80]
    if _NOT_NEEDED.search(head):
        return "不需要。"
    if _NEGATIVE.search(head):
        return "不可以。"
    if _POSITIVE.search(head):
        return "可以。"
    return ""


def notice_source(notice, excerpt: str, expired: bool) -> Source:
    """The citation of a notice (a loaded NoticeInfo or a Notice row) as an answer carries it."""
    return Source(file=notice.file, title=notice.title, doc_number=notice.doc_number, issuer=notice.issuer,
                  date=notice.date.isoformat() if notice.date else None, region=notice.region, excerpt=excerpt,
                  expired=expired)


def to_source(hit: Hit, excerpt: str, today: date) -> Source:
    return notice_source(hit.notice, excerpt, is_expired(hit.chunk.valid_until or hit.notice.valid_until, today))


def validity(notice, today: date) -> str:
    """“有效期至2021年12月31日（已到期）”, or that the notice names no end."""
    if notice.valid_until:
        return f"有效期至{cn_date(notice.valid_until)}（{'已到期' if is_expired(notice.valid_until, today) else '有效'}）"
    return "未注明有效期"


def heading_label(path: str, quote: str) -> str:
    """The clause's own heading (“落实新吸纳劳动者以工代训补贴：”), when the quote does not
    say what it is about."""
    last = path.rsplit(" > ", 1)[-1] if path else ""
    label = re.sub(r"^(?:[一二三四五六七八九十]+、|[（(][一二三四五六七八九十\d]+[)）]|\d+\s*[.．、]|第\S+?条)\s*", "", last)
    label = label.strip().rstrip("。")
    if not label or len(label) > 30 or squash(label) in squash(quote) or "：" in label or ":" in label:
        return ""
    return label + "："


def _bigrams(text: str) -> set[str]:
    t = squash(text)
    return {t[i:i + 2] for i in range(len(t) - 1)}


_NUMBER = re.compile(r"\d+(?:\.\d+)?")


def same_rule(a: str, b: str) -> bool:
    """Mostly the same words, and no figure in one that the other lacks (500元 vs 640元 differ)."""
    x, y = _bigrams(a), _bigrams(b)
    if not (x and y) or len(x & y) / min(len(x), len(y)) < 0.5:
        return False
    na, nb = set(_NUMBER.findall(a)), set(_NUMBER.findall(b))
    return na <= nb or nb <= na


def quoted(hit: Hit, types: list[QType], limit: int = MAX_QUOTE, include: set[int] | None = None,
           question: str = "") -> tuple[str, str]:
    """(heading, quote) of a clause: the quote holds its best sentence that states the kind of
    fact asked, or the short list the clause is an item of."""
    quote = listed = family_quote(hit, types)
    if not listed:
        units = hit.sentence_scores or []
        typed = fact_units(types, [readable(u) for u, _sc in units])
        if typed and len(units) > 1:
            include = (include or set()) | {max(typed, key=lambda j: units[j][1])}
        quote = best_quote(hit.chunk.text, hit.sentence_scores, limit, include, question, types)
    return heading_label(hit.family[0].heading_path if listed else hit.chunk.heading_path, quote), quote


def completing(hits: list[Hit], figures: list[QType], shown: str) -> tuple[Hit, list[QType]] | None:
    """A question that asks two figures (“视频要多长，照片要几张”) of which the best clause's
    quote (`shown`) states only some: the next candidate clause of the same notice that states
    a missing one (its sibling item “图片资料。不少于5张”), with the figures it is quoted for."""
    primary = hits[0]
    missing = [t for t in figures if not t.states.search(shown)]
    if not missing or len(missing) == len(figures):
        return None  # all stated, or none (a near miss, refused before it gets here)
    for other in hits[1:COMPLETE_FROM]:
        if other.notice.id == primary.notice.id:  # the candidates are distinct clauses
            found = [t for t in missing if t.states.search(other.chunk.text)]
            if found:
                return other, found
    return None


def plain_of(answer: str) -> str:
    """The plain line that opens an answer (the fact, or yes/no), without its full stop; "" when
    the answer opens with its quote. An expired rule's line keeps only “已到期” before the fact."""
    first = answer.split("\n", 1)[0].strip()
    if not first or "「" in first:
        return ""
    if first.startswith("⚠️"):
        rest = first.split("原规定：", 1)
        first = "（已到期）" + rest[1] if len(rest) == 2 else ""
    return first.rstrip("。")


def clause_block(hit: Hit, types: list[QType], today: date, lead: str = "", limit: int = MAX_QUOTE,
                 include: set[int] | None = None, question: str = "") -> tuple[list[str], Source]:
    """The lines for one clause: plain answer (with expiry), quote, citation, region. The
    quote holds the best sentence that states the kind of fact asked (an amount, a date…)."""
    heading, quote = quoted(hit, types, limit, include, question)
    n = hit.notice
    valid = hit.chunk.valid_until or n.valid_until
    first = yes_no(types, quote) + plain_line(types, quote, heading, question)
    if is_expired(valid, today):
        asks_end = any(t.name in ("date", "deadline") for t in types)  # “到什么时候截止”: the end date is the answer
        first = "⚠️" + EXPIRED.format(d=cn_date(valid)) + ("" if asks_end or not first else "原规定：" + first)
    lines = [lead] if lead else []
    if n.replaced_by is not None:  # quoted only because the question names it (knowledge/index.py)
        lines.append(replaced_line(n))
    if first:
        lines.append(first)
    lines += [f"{heading}「{quote}」", f"——{citation(n)}", f"适用地区：{n.region or '未注明'}"]
    return lines, to_source(hit, quote, today)


def replaced_line(notice) -> str:
    """The line before a superseded notice's clause: which notice replaced it."""
    new = notice.replaced_by
    return f"⚠️该文件已被{book_title(new.title)}替代，以下是原规定，请以新文件为准。"


def compose(query: Query, hits: list[Hit], today: date, types: list[QType], lead: str = "",
            tail: list[str] | None = None, include: set[int] | None = None, limit: int = MAX_QUOTE,
            figures: list[QType] | None = None) -> Answer:
    """`lead`: a first line said before everything (whose region's rule this is, when it is
    not the asker's); `tail`: last lines (a next step, e.g. how to complain); `include`: the
    best clause's sentences that must be quoted (one per part of a several-question message),
    within `limit` characters; `figures`: the figures asked outright, a missing one of which
    another clause of the same notice may state (`completing`)."""
    primary = hits[0]
    tail = tail or []
    lines, source = clause_block(primary, types, today, lead, limit=limit, include=include, question=query.text)
    sources, more = [source], []
    extra = completing(hits, figures or [], "\n".join(lines))
    if extra is not None:
        other, found = extra
        heading, quote = quoted(other, found, COMPLETE_QUOTE, question=query.text)
        lines.insert(len(lines) - 2, f"{heading}「{quote}」")  # before the notice's citation, which both share
        sources.append(to_source(other, quote, today))
    seen_notices = {primary.notice.id}
    budget = MAX_ANSWER - sum(len(t) + 1 for t in tail)
    for other in hits[1:]:
        if other.notice.id in seen_notices or len(sources) >= 3:
            continue
        # only a notice that answers nearly as well is worth a line (agreeing or differing)
        mine, theirs = primary.features.get("sent_coverage", 0.0), other.features.get("sent_coverage", 0.0)
        if other.score < NOTE_SHARE * primary.score or theirs < 0.8 * mine:
            continue
        seen_notices.add(other.notice.id)
        other_quote = best_quote(other.chunk.text, other.sentence_scores, limit=90)
        where = other.notice.region or "未注明地区"
        title = book_title(other.notice.title)
        if other.notice.replaced_by is not None:
            title += f"（已被{book_title(other.notice.replaced_by.title)}替代）"
        if same_rule(source.excerpt, other_quote):
            line = f"另：{where}{title}也有相同规定。"
        else:
            line = f"另：{where}{title}的规定：「{other_quote}」"
        if sum(len(x) for x in lines) + len(line) > budget:
            more.append(line)  # the whole note, for “更多”; a short pointer stays on screen
            line = f"另：{where}{title}也有相关规定（回复“更多”查看）。"
        lines.append(line)
        sources.append(to_source(other, other_quote, today))
    return Answer(answer="\n".join(lines + tail), refused=False, sources=sources, more="\n".join(more),
                  confidence=round(primary.score, 3))


def refusal(note: str = "", tail: list[str] | None = None) -> Answer:
    """The plain refusal; `note` says what else is known (e.g. the asker's region has no
    notice, and which regions do), `tail` adds next steps."""
    text = REFUSAL
    if note:
        head, rest = REFUSAL.split("\n", 1)
        text = f"{head}{note}\n{rest}"
    return Answer(answer="\n".join([text, *(tail or [])]), refused=True, sources=[])
