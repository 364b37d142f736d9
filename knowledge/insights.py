"""“What followers ask”: the figures of the insights page, from the question log (AskLog).

Why figures here and drawing in the console: the same numbers feed the page's charts and its CSV
export, and a later report (or a CLI) may want them without the web layer. Each question falls in
one of four outcomes: answered, answered with little confidence, refused, or answered and then
marked 没用 (unhelpful wins: the follower said so). Weeks start on Monday, China time. A topic
is the first policy area of the vocabulary (synonyms.yaml `areas`) whose words, or their everyday
words, the question holds (else 其他); the place is
the asker's (the question's own, else the follower's stored region).
"""
from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta, timezone
from functools import lru_cache

from sqlmodel import select

from core import clock
from core.clock import CHINA
from knowledge.lexical import load_synonyms
from knowledge.vocabulary import everyday_words
from storage.db import session_scope
from storage.models import AskLog

OTHER = "其他"
OUTCOMES = ("answered", "low_confidence", "refused", "unhelpful")
OUTCOME_LABELS = {"answered": "已回答", "low_confidence": "把握不大", "refused": "未能回答", "unhelpful": "没帮上"}
TOP = 8
MAX_WEEKS = 52


@lru_cache
def _topics() -> tuple[tuple[str, tuple[str, ...]], ...]:
    return tuple((name, tuple(dict.fromkeys(w for word in words for w in (word, *everyday_words(word)))))
                 for name, words in load_synonyms().areas)


def topic_of(question: str) -> str:
    for name, words in _topics():
        if any(w in (question or "") for w in words):
            return name
    return OTHER


def outcome(kind: str, unhelpful: bool) -> str:
    if unhelpful:
        return "unhelpful"
    return kind if kind in OUTCOMES else "answered"


def week_start(moment: datetime) -> str:
    """The Monday (China time) of the week a moment falls in, as YYYY-MM-DD (core.clock's week)."""
    return clock.week_start(moment).isoformat()


def _share(n: int, total: int) -> float:
    return round(100.0 * n / total, 1) if total else 0.0


def figures(settings, weeks: int = 12, now: datetime | None = None) -> dict:
    """{weeks: [{week, questions, answered, low_confidence, refused, unhelpful}], outcomes:
    [{outcome, label, count, share}], topics / regions / notices: [{label, count, share}], total}."""
    weeks = max(1, min(int(weeks), MAX_WEEKS))
    now = now or datetime.now(timezone.utc)
    first = datetime.fromisoformat(week_start(now)).replace(tzinfo=CHINA) - timedelta(weeks=weeks - 1)
    with session_scope(settings.db_url) as s:
        rows = s.exec(select(AskLog.at, AskLog.kind, AskLog.unhelpful, AskLog.region, AskLog.topic,
                             AskLog.notice_title).where(AskLog.at >= first.astimezone(timezone.utc))).all()
    labels = [(first + timedelta(weeks=i)).date().isoformat() for i in range(weeks)]
    per_week = {w: Counter() for w in labels}
    outcomes, topics, regions, notices = Counter(), Counter(), Counter(), Counter()
    for at, kind, unhelpful, region, topic, title in rows:
        o = outcome(kind, unhelpful)
        week = per_week.get(week_start(at))
        if week is not None:
            week[o] += 1
        outcomes[o] += 1
        topics[topic or OTHER] += 1
        regions[_place(region)] += 1
        if title and o != "refused":
            notices[title] += 1
    total = sum(outcomes.values())
    quoted = sum(notices.values())
    return {
        "total": total,
        "weeks": [{"week": w, "questions": sum(per_week[w].values()), **{o: per_week[w][o] for o in OUTCOMES}}
                  for w in labels],
        "outcomes": [{"outcome": o, "label": OUTCOME_LABELS[o], "count": outcomes[o], "share": _share(outcomes[o], total)}
                     for o in OUTCOMES],
        "topics": _top(topics, total),
        "regions": _top(regions, total),
        "notices": _top(notices, quoted),
    }


def _place(region: str | None) -> str:
    return region.split()[-1] if region and region.split() else "未注明"


def _top(counts: Counter, total: int) -> list[dict]:
    return [{"label": label, "count": n, "share": _share(n, total)} for label, n in counts.most_common(TOP)]


CSV_HEADER = ["图表", "项目", "分类", "数量", "占比(%)"]


def csv_rows(figs: dict) -> list[list]:
    """The same figures as the page, one row each: the weeks by outcome, the outcomes' shares,
    the top topics, places and quoted notices."""
    rows: list[list] = []
    for w in figs["weeks"]:
        rows.append(["每周提问", w["week"], "合计", w["questions"], ""])
        for o in OUTCOMES:
            rows.append(["每周提问", w["week"], OUTCOME_LABELS[o], w[o], _share(w[o], w["questions"])])
    for o in figs["outcomes"]:
        rows.append(["回答情况", o["label"], "", o["count"], o["share"]])
    for name, key in (("话题", "topics"), ("地区", "regions"), ("引用最多的通知", "notices")):
        for entry in figs[key]:
            rows.append([name, entry["label"], "", entry["count"], entry["share"]])
    return rows
