"""Compose the reply: quote the sentence(s) that answer, cite the notice, flag expiry, compare.

Why extractive: an official subsidy rule must be quoted, not paraphrased — the asker (and the
staff who read the logs) must see exactly what the notice says and where it says it. The reply
stays short for a phone: the best sentences of the best clause, one citation line, the region,
an expiry warning when the clause states an end date already past, and a one-line note when
other notices cover the same point (the same rule, or a different one).
"""
from __future__ import annotations

import re
from datetime import date

from knowledge.index import Hit
from knowledge.lexical import Query, tokenize
from knowledge.textutil import cn_date, sentences, squash
from knowledge.types import Answer, Source

REFUSAL = ("抱歉，现有的政策文件里没有找到能回答这个问题的内容。\n"
           "我可以回答职业技能提升行动的补贴政策问题，例如：以工代训补贴标准、培训补贴申领条件、"
           "培训机构开班和考核要求、证书与补贴等。也可以发送“我在聊城”设定地区，或回复“投诉”反映培训机构问题。")
EXPIRY = "该政策执行至{d}，目前可能已失效，请以最新通知为准"
MAX_QUOTE = 260
MAX_ANSWER = 580  # characters: one phone screen, well inside a 2048-byte WeChat message


def book_title(title: str) -> str:
    """《title》, with a title nested inside it in 〈〉 as Chinese usage wants."""
    return "《" + title.replace("《", "〈").replace("》", "〉") + "》"


def citation(hit_notice) -> str:
    parts = [book_title(hit_notice.title)]
    if hit_notice.doc_number:
        parts[0] += hit_notice.doc_number
    if hit_notice.issuer:
        parts.append(hit_notice.issuer)
    if hit_notice.date:
        parts.append(cn_date(hit_notice.date))
    return "，".join(parts)


def is_expired(valid_until: date | None, today: date) -> bool:
    return bool(valid_until and valid_until < today)


def _sentence_score(query: Query, sentence: str) -> float:
    toks = set(tokenize(sentence))
    total = hit = 0.0
    for tok, alts in query.concepts:
        w = 1.0 + min(len(tok), 4) * 0.25
        total += w
        if alts & toks or any(a in sentence for a in alts if len(a) >= 2):
            hit += w
    return hit / total if total else 0.0


def best_quote(query: Query, text: str, limit: int = MAX_QUOTE,
               scored: list[tuple[str, float]] | None = None) -> str:
    """The sentence(s) of a clause that answer: the best-scoring sentence, widened to its
    neighbours while they also match and the quote stays short; a short clause is quoted whole."""
    if len(text) <= 120 or " | " in text:
        return text if len(text) <= limit else text[: limit - 1] + "…"
    if scored and len(scored) > 1:
        sents = [s for s, _ in scored]
        scores = [sc for _, sc in scored]
    else:
        sents = sentences(text)
        if len(sents) <= 1:
            return text[: limit - 1] + "…" if len(text) > limit else text
        scores = [_sentence_score(query, s) for s in sents]
    best = max(range(len(sents)), key=lambda i: (scores[i], -i))
    chosen = {best}
    length = len(sents[best])
    for i in sorted(range(len(sents)), key=lambda i: (-scores[i], abs(i - best))):
        if i in chosen or scores[i] < max(0.3, 0.6 * scores[best]):
            continue
        if length + len(sents[i]) > limit:
            continue
        chosen.add(i)
        length += len(sents[i])
    if length < 40 and best + 1 < len(sents) and length + len(sents[best + 1]) <= limit:
        chosen.add(best + 1)  # a very short sentence needs the one after it
    quote = "".join(sents[i] for i in sorted(chosen))
    return quote if len(quote) <= limit else quote[: limit - 1] + "…"


def _bigrams(text: str) -> set[str]:
    t = squash(text)
    return {t[i:i + 2] for i in range(len(t) - 1)}


_NUMBER = re.compile(r"\d+(?:\.\d+)?")


def same_rule(a: str, b: str) -> bool:
    """Mostly the same words, and no figure in one that the other lacks (500元 vs 640元 differ;
    a shortened quote may state fewer of the same figures)."""
    x, y = _bigrams(a), _bigrams(b)
    if not (x and y) or len(x & y) / min(len(x), len(y)) < 0.5:
        return False
    na, nb = set(_NUMBER.findall(a)), set(_NUMBER.findall(b))
    return na <= nb or nb <= na


def to_source(hit: Hit, excerpt: str, today: date) -> Source:
    n = hit.notice
    valid = hit.chunk.valid_until or n.valid_until
    return Source(file=n.file, title=n.title, doc_number=n.doc_number, issuer=n.issuer,
                  date=n.date.isoformat() if n.date else None, region=n.region, excerpt=excerpt,
                  expired=is_expired(valid, today))


def _heading_label(path: str, quote: str) -> str:
    """The clause's own heading ("落实新吸纳劳动者以工代训补贴："), when the quote starts
    mid-clause and so does not say what it is about."""
    last = path.rsplit(" > ", 1)[-1] if path else ""
    label = re.sub(r"^(?:[一二三四五六七八九十]+、|[（(][一二三四五六七八九十\d]+[)）]|\d+\s*[.．、]|第\S+?条)\s*", "", last)
    if not label or len(label) > 30 or label in quote or "：" in label or ":" in label:
        return ""
    return label.rstrip("。") + "："


def compose(query: Query, hits: list[Hit], today: date, lead: str = "", tail: list[str] | None = None) -> Answer:
    """`lead`: a first line said before the quote (whose region's rule this is, when it is not
    the asker's); `tail`: last lines (a next step, e.g. how to complain)."""
    primary = hits[0]
    quote = best_quote(query, primary.chunk.text, scored=primary.sentence_scores)
    n = primary.notice
    heading = _heading_label(primary.chunk.heading_path, quote)
    tail = tail or []
    lines = [lead] if lead else []
    lines += [f"{heading}「{quote}」", f"——{citation(n)}", f"适用地区：{n.region or '未注明'}"]
    budget = MAX_ANSWER - sum(len(t) + 1 for t in tail)
    valid = primary.chunk.valid_until or n.valid_until
    if is_expired(valid, today):
        lines.append("⚠️" + EXPIRY.format(d=cn_date(valid)))
    sources = [to_source(primary, quote, today)]
    seen_notices = {n.id}
    best = primary.best_sentence_coverage
    for other in hits[1:]:
        if other.notice.id in seen_notices or len(sources) >= 3:
            continue
        # only a notice that answers nearly as well is worth a line (agreeing or differing)
        if other.score < 0.85 * primary.score or other.best_sentence_coverage < max(0.5, 0.8 * best):
            continue
        seen_notices.add(other.notice.id)
        other_quote = best_quote(query, other.chunk.text, limit=90, scored=other.sentence_scores)
        where = other.notice.region or "未注明地区"
        title = book_title(other.notice.title)
        if same_rule(quote, other_quote):
            line = f"另：{where}{title}也有相同规定。"
        else:
            line = f"另：{where}{title}的规定：「{other_quote}」"
        if sum(len(x) for x in lines) + len(line) > budget:
            line = f"另：{where}{title}也有相关规定。"
            if sum(len(x) for x in lines) + len(line) > budget:
                break
        lines.append(line)
        sources.append(to_source(other, other_quote, today))
    return Answer(answer="\n".join(lines + tail), refused=False, sources=sources)


def refusal(note: str = "", tail: list[str] | None = None) -> Answer:
    """The plain refusal; `note` says what else is known (e.g. the asker's region has no
    notice, and which regions do), `tail` adds next steps."""
    text = REFUSAL
    if note:
        head, rest = REFUSAL.split("\n", 1)
        text = f"{head}{note}\n{rest}"
    return Answer(answer="\n".join([text, *(tail or [])]), refused=True, sources=[])
