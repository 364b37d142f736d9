"""From a follower's message to an Answer: overview, parts, ranking, refusal, follow-up choices.

Why a module of its own: KnowledgeBase owns the index's lifecycle; this is the answering policy
that sits on it. A message that asks for a place's policies gets the list of that place's
notices; a message with several questions gets each part answered; a single question gets the
best clause when the ranker's probability reaches the calibrated threshold, and the runner-up
clauses as numbered choices when they score close. A refusal says so plainly, and points to
the neighbouring service the question means (knowledge/scope.py) when there is one.
"""
from __future__ import annotations

import re

from core.regions import find_places, short_name
from core.text import cn_date, squash
from knowledge import about_notice
from knowledge import answer as answering
from knowledge import ranker as ranking
from knowledge.families import QUOTE_LIMIT
from knowledge.index import Hit, SearchContext
from knowledge.lexical import parse_query
from knowledge.normalise import normalise_question
from knowledge.qtypes import FIGURE_WORDS, asked_types, fact_matches, fact_units, figures_asked
from knowledge.years import unmet_year
from knowledge.questions import is_overview, split_parts
from knowledge.regions import COVERS, covered_by, place_named, region_matches
from knowledge.scope import MARGIN as SCOPE_MARGIN
from knowledge.topics import hints_for
from knowledge.types import Answer, Choice

MAX_DENSE = 100  # characters the dense model reads: its cost grows with length
MAX_DENSE_PART = 60
MAX_CHOICES = 2
MAX_OVERVIEW = 9  # one digit each
PART_QUOTE = 160
LABEL = 22
NEAREST = 0.5  # a clause with this share of the refusal threshold is offered beside a refusal
NEAREST_LEAD = "没有找到确切的答案，最接近的规定如下，请自行判断："
FACT_LABEL = 40  # characters of a choice label that states its clause's fact


def threshold(kb) -> float:
    if kb.settings.refuse_threshold is not None:
        return kb.settings.refuse_threshold
    model = ranking.load()
    return model.threshold if model else 0.5


def asker_place(question: str, region: str | None, covered: list[str]) -> tuple[str, str] | None:
    """(region label, the name to say) of the place the answer is for: the place the
    question names, else the asker's region; None when neither is a known place."""
    for text in (question, region):
        p = place_named(text or "", covered)
        if p.path:
            return p.path, p.name or p.path
    return None


def retrieve(kb, text: str, region: str | None, context: str = "", k: int = 8):
    """(query, hits best first, search context). `context`: the rest of the message, which a
    part of a multi-part question leans on (“要交啥材料？” after “以工代训补贴多少钱？”)."""
    index = kb._reload()
    query = parse_query(text, use_synonyms=kb.use_synonyms)
    if context:
        for tok, w in parse_query(context, use_synonyms=kb.use_synonyms).weights.items():
            query.weights.setdefault(tok, 0.3 * w)
    named = place_named(text + context, kb.covered_regions()).path
    wanted = named or region
    if wanted and not named and not covered_by(wanted, kb.covered_regions()):
        wanted = None  # a stored place with no notice at all tells the ranker nothing
    fit = {nid: region_matches(wanted, n.region) for nid, n in index.notices.items()} if wanted else {}
    ctx = SearchContext(question=text, types=asked_types(text), figures=figures_asked(text), region_fit=fit,
                        asker_place=bool(wanted))
    if not query.concepts:
        return query, [], ctx
    # a part is read by the dense model alone: its cost grows with length, and the rest of the
    # message reaches the ranker through the lexical weights above
    hits = index.search(query, ctx, k=k, dense_text=dense_text(query, MAX_DENSE_PART if context else MAX_DENSE))
    return query, hits, ctx


def dense_text(query, limit: int = MAX_DENSE) -> str:
    """What the dense model reads for a question: its text and its synonym expansions (the
    taught-answer lookup embeds the same text, so the embedder's query cache serves both)."""
    dense = query.text + ("（" + "，".join(query.expansions) + "）" if query.expansions else "")
    return dense[:limit]


def region_lead(kb, place: tuple[str, str] | None, primary_region: str | None) -> str:
    """Say first when the quoted rule is not the asker's place's rule."""
    if place is None:
        return ""
    asked, name = place
    where = primary_region or "未注明地区"
    if not covered_by(asked, kb.covered_regions()):
        return f"现有文件中没有{name}的规定，以下是{where}的规定，仅供参考："
    if region_matches(asked, primary_region) < COVERS:
        return f"{name}的文件中没有找到相关规定，以下是{where}的规定："
    return ""


def refuse(kb, place: tuple[str, str] | None, ctx: SearchContext | None = None) -> Answer:
    tail = []
    if ctx is not None:
        scope, sim = ctx.nearest_scope  # the described neighbouring service nearest the question
        if scope is not None and scope.hint and sim > ctx.top_sentence_sim + SCOPE_MARGIN:
            tail.append(scope.hint)
    if place is None or covered_by(place[0], kb.covered_regions()):
        return answering.refusal(tail=tail)
    note = f"现有文件中也没有{place[1]}的政策文件，目前收录的地区：{'、'.join(kb.covered_regions())}。"
    return answering.refusal(note, tail=tail)


def _label(hit: Hit, answer: str = "") -> str:
    """A choice's label: the fact its clause states (its answer's plain first line, e.g.
    “实操培训每学时连续录像不低于15分钟”), so the follower sees it before picking; else the
    clause's heading. With the clause's place either way."""
    where = short_name(hit.notice.region) or ""
    fact = answering.plain_of(answer)
    if fact and len(fact) > FACT_LABEL and "：" in fact:
        fact = fact.split("：", 1)[1]  # the heading before the fact
    if fact and len(fact) <= FACT_LABEL:
        return f"{fact}（{where}）" if where else fact
    quote = answering.readable(hit.chunk.text)
    head = answering.heading_label(hit.chunk.heading_path, "").rstrip("：") or squash(quote)[:LABEL]
    text = f"{head}（{where}）" if where else head
    return text if len(text) <= LABEL + 6 else text[: LABEL + 5] + "…"


def _best_unit(hit: Hit) -> int:
    """The index of the clause's best sentence for the question (its `sentence_scores`)."""
    return max(range(len(hit.sentence_scores)), key=lambda j: hit.sentence_scores[j][1])


def referred(hit: Hit) -> bool:
    """The question means a neighbouring service (knowledge/scope.yaml) more than any clause:
    “社保怎么交” is for the 社保 office, even when a clause mentions 缴纳社会保险."""
    model = ranking.load()
    return model is not None and hit.features.get("neighbour", 0.0) > model.scope_margin


def elsewhere(kb, place, query, hits: list[Hit], ctx) -> Answer:
    """The asker's place has no notice at all: say so, and offer the best clause from another
    place as a choice (“仅供参考”), so the follower decides whether it helps."""
    ans = refuse(kb, place, ctx)
    if hits:
        h = hits[0]
        lead = f"以下是{h.notice.region or '未注明地区'}的规定，仅供参考："
        alt = answering.compose(query, [h], kb.today(), ctx.types, lead=lead)
        label = f"看看{short_name(h.notice.region) or '其他地区'}的相关规定（仅供参考）"
        ans.choices = [Choice(label=label, answer=alt.answer, sources=alt.sources)]
    return ans


def unstated(hit: Hit, ctx) -> bool:
    """The question asks a figure outright (“一个月补多少钱”, “电话是多少”) and the best clause,
    with the list it would be quoted with, states none: the notices do not answer it, however
    close the clause's words are (a near miss: the subject without the figure)."""
    return bool(ctx.figures) and hit.features.get("figure_absent", 0.0) >= 1.0


def not_stated(kb, place, query, hit: Hit, ctx, missing: str = "") -> Answer:
    """A refusal that says what the notices leave out (the figure asked, or the year asked), with
    the clause that comes nearest offered as a choice: the follower sees what the notice does
    say, never a guess."""
    ans = refuse(kb, place, ctx)
    missing = missing or "、".join(dict.fromkeys(FIGURE_WORDS[t.name] for t in ctx.figures))
    ans.answer = ans.answer.replace("没有找到能回答这个问题的内容", f"没有写明{missing}", 1)
    alt = answering.compose(query, [hit], kb.today(), ctx.types, lead=f"文件没有写明{missing}，相关规定如下：")
    ans.choices = [Choice(label=f"看看相关规定：{_label(hit)}", answer=alt.answer, sources=alt.sources)]
    return ans


def unsure(kb, place, query, hit: Hit, ctx) -> Answer:
    """Not confident enough to answer (or the question is nearer a neighbouring service), yet the
    best clause is not far off: refuse (with the referral), and offer that clause as a choice, so
    the evidence retrieval found is one digit away, never asserted."""
    ans = refuse(kb, place, ctx)
    ans.answer = ans.answer.replace("没有找到能回答", "没有找到能确切回答", 1)
    alt = answering.compose(query, [hit], kb.today(), ctx.types)
    ans.choices = [Choice(label=f"最接近的规定：{_label(hit, alt.answer)}", answer=f"{NEAREST_LEAD}\n{alt.answer}",
                          sources=alt.sources)]
    return ans


def answer_one(kb, question: str, region: str | None, place,
               focus: tuple[int, set[int], int] | None = None, retrieved=None) -> Answer:
    """`focus`: (chunk id, sentences, quote limit) — when the best clause is that chunk, those of
    its sentences are quoted (each part's best one, for a message whose parts one clause answers);
    `retrieved`: the question's retrieval, when the caller has made it already."""
    query, hits, ctx = retrieved or retrieve(kb, question, region)
    limit = threshold(kb)
    named = place_named(question, kb.covered_regions()).path  # a place the question itself names ("北京的…")
    if named and place is not None and not covered_by(place[0], kb.covered_regions()):
        return elsewhere(kb, place, query, hits, ctx)
    if not hits:
        return refuse(kb, place, ctx)
    if referred(hits[0]) or hits[0].score < limit:
        # referred, a confident clause is still offered (“档案存几年” may mean a 人事 file, or the
        # training's); too weak to answer, one at NEAREST of the threshold is
        offered = limit if referred(hits[0]) else NEAREST * limit
        return unsure(kb, place, query, hits[0], ctx) if hits[0].score >= offered else refuse(kb, place, ctx)
    if unstated(hits[0], ctx):
        return not_stated(kb, place, query, hits[0], ctx)
    year = unmet_year(question, ctx.types, hits[0].notice, hits[0].chunk.text)
    if year is not None:
        return not_stated(kb, place, query, hits[0], ctx, missing=f"{year}年的规定")
    lead = region_lead(kb, place, hits[0].notice.region)
    today = kb.today()
    include, quote_limit = None, answering.MAX_QUOTE
    if focus is not None and focus[0] == hits[0].chunk.id:
        include, quote_limit = focus[1], focus[2]
    ans = answering.compose(query, hits, today, ctx.types, lead=lead, tail=hints_for(question),
                            include=include, limit=quote_limit, figures=ctx.figures)
    model = ranking.load()
    close = model.close if model else 0.8
    quoted = {s.file + s.excerpt[:20] for s in ans.sources}
    runners = [h for h in hits[1:] if h.score >= max(limit, close * hits[0].score)
               and h.notice.file + answering.best_quote(h.chunk.text, h.sentence_scores)[:20] not in quoted]
    choices = []
    for h in runners[:MAX_CHOICES]:
        alt = answering.compose(query, [h], today, ctx.types)
        choices.append(Choice(label=_label(h, alt.answer), answer=alt.answer, sources=alt.sources))
    ans.choices = choices  # beside the text: the chat renders them as a numbered list (bot/choices.py)
    return ans


def answer_parts(kb, question: str, parts: list[str], region: str | None, place) -> Answer:
    """Each part answered by its own best clause; parts that one clause answers share one
    quote, which then holds the best sentence for each of them."""
    limit = threshold(kb)
    today = kb.today()
    retrieved = [(part, *retrieve(kb, part, region, context=question.replace(part, " "))[1:]) for part in parts]
    anchor, whole = None, retrieve(kb, question, region)
    if whole[1] and referred(whole[1][0]):
        # the message as a whole means a neighbouring service (“你是谁开发的？能陪我聊天吗？”):
        # refer it, rather than answer a part by the one policy word it happens to hold
        return refuse(kb, place, whole[2])
    if any(not hits or hits[0].score < limit or unstated(hits[0], ctx) for _p, hits, ctx in retrieved):
        # a part too short to stand alone (“一个班最多多少人？”), or whose best clause lacks the
        # figure it asks, is still answered by the clause the whole message, read at once, is
        # confidently about
        top = whole[1][0] if whole[1] else None
        if top is not None and top.score >= limit and not referred(top):
            anchor = top.chunk.id
    found: list[tuple[str, Hit | None, object]] = []
    for part, hits, ctx in retrieved:
        def usable(h: Hit, ctx=ctx) -> bool:
            return (h.score >= limit or h.chunk.id == anchor) and not referred(h) and not unstated(h, ctx)

        pick = hits[0] if hits and usable(hits[0]) else None
        if pick is None:
            # the clause the whole message is about, further down the part's candidates, when it
            # states the kind of fact the part asks (“最晚哪天交？” → its deadline) or holds most of
            # the part's own words (not “另外管不管住宿” after a question about the subsidy)
            pick = next((h for h in hits[1:] if h.chunk.id == anchor and usable(h)
                         and (fact_matches(ctx.types, h.chunk.text) or h.features["coverage"] >= 0.5)), None)
        found.append((part, pick, ctx))
    found = _cohere(found, [hits for _p, hits, _c in retrieved], kb.use_synonyms)
    answered = [(p, h, c) for p, h, c in found if h is not None]
    if not answered:
        return refuse(kb, place)
    if len({h.chunk.id for _p, h, _c in answered}) == 1 and len(answered) == len(found):
        best_units = {_best_unit(h) for _p, h, _c in answered if h.sentence_scores}
        quote_limit = max(answering.MAX_QUOTE, min(PART_QUOTE * len(parts), QUOTE_LIMIT))
        chosen = answered[0][1]
        query, hits, ctx = whole
        mine = next((h for h in hits if h.chunk.id == chosen.chunk.id), None)
        if mine is not None and mine.score >= limit:  # the clause every part chose leads
            hits = [mine] + [h for h in hits if h is not mine]
        return answer_one(kb, question, region, place, focus=(chosen.chunk.id, best_units, quote_limit),
                          retrieved=(query, hits, ctx))
    blocks, sources, first_for = [], [], {}
    for i, (part, hit, ctx) in enumerate(found, 1):
        if hit is None:
            blocks.append(f"{i}. {part}\n这一问在现有文件中没有找到答案。")
            continue
        if hit.chunk.id in first_for:
            blocks.append(f"{i}. {part}\n见第{first_for[hit.chunk.id]}问的答复。")
            continue
        first_for[hit.chunk.id] = i
        same = [h for _p, h, _c in answered if h.chunk.id == hit.chunk.id]
        include = {_best_unit(h) for h in same if h.sentence_scores}
        lines, source = answering.clause_block(hit, ctx.types, today, limit=PART_QUOTE * len(same), include=include,
                                               question=part)
        blocks.append(f"{i}. {part}\n" + "\n".join(lines))
        sources.append(source)
    head = region_lead(kb, place, sources[0].region if sources else None)
    text = "\n\n".join(([head] if head else []) + [f"您问了{len(parts)}个问题，分别回答："] + blocks)
    tail = hints_for(question)
    ans = Answer(answer=text + ("\n" + "\n".join(tail) if tail else ""), sources=sources[:5])
    ans.unanswered_parts = [part for part, hit, _c in found if hit is None]  # logged as refused
    return ans


def _cohere(found: list, candidates: list[list[Hit]], use_synonyms: bool) -> list:
    """A part of one word (“邮箱是多少？” after “…要报到市局哪个科室？”) leans on the rest of the
    message: it is answered from a notice that answers another part, by that notice's clause
    that states the kind of fact it asks, rather than by whichever notice has the word."""
    own = {i: len(parse_query(part, use_synonyms=use_synonyms).concepts) for i, (part, _h, _c) in enumerate(found)}
    out = list(found)
    for i, (part, pick, ctx) in enumerate(found):
        others = {h.notice.id for j, (_p, h, _c) in enumerate(found) if j != i and h is not None and own[j] > 1}
        if own[i] > 1 or not others or not ctx.types or (pick is not None and pick.notice.id in others):
            continue
        near = next((h for h in candidates[i] if h.notice.id in others and not referred(h) and not unstated(h, ctx)
                     and fact_matches(ctx.types, h.chunk.text)), None)
        if near is not None:
            out[i] = (part, near, ctx)
    for i, (part, pick, ctx) in enumerate(out):
        # a clause that answers another part and states, in another of its sentences, the kind
        # of fact this part asks (“一节课至少多少分钟？实操要占多少？”: 40分钟 and 65% in one clause)
        if pick is None or not ctx.types:
            continue
        theirs = {h.chunk.id: h for j, (_p, h, _c) in enumerate(out) if j != i and h is not None}
        if pick.chunk.id in theirs:
            continue
        for h in candidates[i]:
            other = theirs.get(h.chunk.id)
            if other is None or referred(h) or unstated(h, ctx) or not other.sentence_scores:
                continue
            used = _best_unit(other)
            units = [answering.readable(u) for u, _sc in h.sentence_scores or []]
            if any(j != used for j in fact_units(ctx.types, units)):
                out[i] = (part, h, ctx)
                break
    return out


def overview(kb, place: tuple[str, str] | None) -> Answer:
    """The place's notices (its own first, then its province's), as numbered choices."""
    index = kb._reload()
    today = kb.today()
    notices = [n for n in index.notices.values() if n.replaced_by is None]  # in force (withdrawn: not loaded)
    if place is not None:
        notices = [n for n in notices if region_matches(place[0], n.region) >= COVERS]
        if not notices:
            return refuse(kb, place)
        notices.sort(key=lambda n: (-region_matches(place[0], n.region), -(n.date.toordinal() if n.date else 0)))
    else:
        notices.sort(key=lambda n: -(n.date.toordinal() if n.date else 0))
    where = place[1] if place else "全部地区"
    choices = []
    for n in notices[:MAX_OVERVIEW]:
        when = cn_date(n.date) if n.date else "日期未注明"
        label = f"{answering.book_title(n.title)}（{n.region or '未注明地区'}，{when}，{answering.validity(n, today)}）"
        headings = _outline(index, n.id)
        body = "\n".join([f"{answering.citation(n)}", f"适用地区：{n.region or '未注明'}；{answering.validity(n, today)}",
                          "主要内容：" + ("；".join(headings) if headings else "见原文")])
        choices.append(Choice(label=label, answer=body, sources=[]))
    more = f"（另有{len(notices) - MAX_OVERVIEW}份未列出，请问得具体些）" if len(notices) > MAX_OVERVIEW else ""
    head = f"{where}收录了{len(notices)}份政策文件{more}，可以直接问具体问题，或查看某份文件的要点："
    return Answer(answer=head, sources=[], choices=choices)


def _outline(index, notice_id: int, limit: int = 8) -> list[str]:
    """The first-level headings of a notice, in order (what its clauses are about)."""
    out: list[str] = []
    for c in index.chunks:
        if c.notice_id != notice_id or not c.heading_path:
            continue
        first = c.heading_path.split(" > ")[0].strip()
        first = re.sub(r"^(?:[一二三四五六七八九十]+、|附件\s*\d*)\s*", "", first)
        if first and first not in out and len(first) <= 30:
            out.append(first)
        if len(out) >= limit:
            break
    return out


def ask(kb, question: str, region: str | None = None) -> Answer:
    question = normalise_question(question or "")
    if not squash(question):
        return answering.refusal()
    place = asker_place(question, region, kb.covered_regions())
    names = [part for _pos, p in find_places(question) for part in (p.province, p.city, p.county) if part]
    if is_overview(question, names):
        return overview(kb, place)
    parts = split_parts(question)
    about = about_notice.fields_asked(question)
    if about and about_notice.only_header(parts):
        index = kb._reload()
        notice = about_notice.named_notice([n for n in index.notices.values() if n.replaced_by is None], question)
        if notice is not None:
            return about_notice.answer(notice, about, kb.today())
    result = answer_parts(kb, question, parts, region, place) if len(parts) > 1 else \
        answer_one(kb, question, region, place)
    model = kb.chat_model
    if model is None and kb.settings.llm.enabled:
        from knowledge.generate import make_chat_model

        model = kb.chat_model = make_chat_model(kb.settings)
    if model is not None and not result.refused:
        from knowledge.generate import rewrite

        result = rewrite(model, question, result)
    return result
