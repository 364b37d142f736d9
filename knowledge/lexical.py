"""Words: jieba tokenising, the domain synonym list, and a sparse BM25 index.

Why our own BM25 over an inverted index (rank_bm25's formula, not its loop): rank_bm25 scores
every document for every query term in Python, which at 30,000 chunks costs more than the whole
latency budget; postings touch only the chunks that hold a query term.
Why synonyms as data (synonyms.yaml): people ask "饭馆新招了服务员能补多少钱", notices say
"住宿餐饮…新吸纳劳动者…以工代训补贴"; the bridge is domain knowledge an administrator can
extend without touching code. Its effect is measured by `policybot eval --no-synonyms`.
"""
from __future__ import annotations

import math
import re
import threading
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np
import yaml

from knowledge.wordlists import Vocabulary, parsed

SYNONYMS_FILE = Path(__file__).with_name("synonyms.yaml")
STOPWORDS = set("""的 了 是 在 有 和 与 或 及 等 也 都 就 吗 呢 吧 啊 呀 哦 嘛 么 我 我们 你 你们 他 她 它 咱 咱们 这 那 这个 那个
什么 怎么 怎样 怎么样 如何 哪 哪些 哪个 哪里 多少 几 多久 为什么 能 能不能 可以 可不可以 会 要 想 请问 问 一下 请 给
还 又 吗 呗 啥 咋 么 谁 个 真的 说 是不是 是否 有没有 刚 刚刚 对 把 被 让 从 到 向 于 以 之 其 该 各 每 并 将 为 由 按 按照 应 应当 不 没 没有 如果 自己 现在 今年 一个""".split())
_TOKEN_OK = re.compile(r"[\w\u3400-\u9fff]")
_NUMBER = re.compile(r"(\d+(?:\.\d+)?)")
_ASKS_WHEN = re.compile(r"什么时候|何时|哪天|几号|几月|哪一天|截止|最迟|最晚")
_DATE_IN_TEXT = re.compile(r"\d{1,2}月\d{1,2}日|\d{4}年\d{1,2}月")
DATE_CONCEPT = "<日期>"
_ASKS_SHARE = re.compile(r"比例|百分之几|百分比|占多少|多少%|几成")
_SHARE_IN_TEXT = re.compile(r"\d+(?:\.\d+)?\s*%|百分之")
SHARE_CONCEPT = "<比例>"
_ITEM = re.compile(r"第\s*(\d{1,3})\s*[项条号]")
_lock = threading.Lock()
_jieba_ready = False


@dataclass(frozen=True)
class Synonyms:
    terms: tuple[str, ...]
    rules: tuple[tuple[tuple[str, ...], tuple[str, ...]], ...]  # (triggers, expansions)
    fillers: tuple[str, ...] = ()  # spoken fillers dropped from a question (normalise.py)
    colloquial: tuple[tuple[str, str], ...] = ()  # dialect spelling → standard (normalise.py)
    areas: tuple[tuple[str, tuple[str, ...]], ...] = ()  # policy areas of the insights page (insights.py)


@lru_cache
def load_synonyms(path: str | None = None) -> Synonyms:
    file = Path(path or SYNONYMS_FILE)
    data = parsed(Vocabulary, yaml.safe_load(file.read_text(encoding="utf-8")), str(file))
    return Synonyms(terms=tuple(data.terms), rules=tuple((tuple(r.when), tuple(r.add)) for r in data.expand),
                    fillers=tuple(data.fillers), colloquial=tuple(data.colloquial.items()),
                    areas=tuple((a.name, tuple(a.words)) for a in data.areas))


def _init_jieba():
    global _jieba_ready
    if _jieba_ready:
        return
    with _lock:
        if _jieba_ready:
            return
        import logging

        import jieba

        jieba.setLogLevel(logging.WARNING)
        jieba.initialize()
        for term in load_synonyms().terms:
            jieba.add_word(term, freq=20000)
        _jieba_ready = True


def tokenize(text: str) -> list[str]:
    """Search-mode jieba tokens (whole words and their parts), lower-cased, no stopwords."""
    import jieba

    _init_jieba()
    out = []
    text = _NUMBER.sub(r" \1 ", text.lower())  # "26项" / "500元": the number is a word of its own
    for tok in jieba.cut_for_search(text):
        tok = tok.strip()
        if not tok or tok in STOPWORDS or not _TOKEN_OK.search(tok):
            continue
        out.append(tok)
    return out


@dataclass
class Query:
    """A tokenised question: its concepts (each with alternative spellings from the synonym
    list) and the weighted terms sent to BM25."""

    text: str
    concepts: list[tuple[str, frozenset[str]]] = field(default_factory=list)
    weights: dict[str, float] = field(default_factory=dict)
    expansions: list[str] = field(default_factory=list)


def parse_query(text: str, use_synonyms: bool = True) -> Query:
    q = Query(text=text)
    alternatives: dict[str, set[str]] = {}
    extra_terms: list[str] = []
    if use_synonyms:
        for triggers, adds in load_synonyms().rules:
            hit = [t for t in triggers if t in text]
            if not hit:
                continue
            add_tokens = [tok for a in adds for tok in tokenize(a)]
            q.expansions.extend(adds)
            extra_terms.extend(add_tokens)
            # a clause covers the asker's phrase when it has one of the added phrases whole
            # ("虚假宣传"), not merely a part of one ("宣传", "补贴" would match nearly anything)
            whole = {a.lower() for a in adds}
            for trigger in hit:
                for tok in tokenize(trigger) or [trigger]:
                    alternatives.setdefault(tok, set()).update(whole)
    seen = set()
    for tok in tokenize(text):
        if tok in seen:
            continue
        seen.add(tok)
        q.concepts.append((tok, frozenset(alternatives.get(tok, set()) | {tok})))
        q.weights[tok] = max(q.weights.get(tok, 0.0), 1.0)
    for tok in extra_terms:
        q.weights[tok] = max(q.weights.get(tok, 0.0), 0.6)
    if _ASKS_WHEN.search(text):
        # "什么时候报": a sentence that states a date answers it
        q.concepts.append((DATE_CONCEPT, frozenset({DATE_CONCEPT})))
    if _ASKS_SHARE.search(text):
        # "占多少比例": a sentence that states a percentage answers it
        q.concepts.append((SHARE_CONCEPT, frozenset({SHARE_CONCEPT})))
    for m in _ITEM.finditer(text):
        # "评分表第26项": the row whose 序号 is 26
        num = m.group(1)
        q.concepts.append((f"序号:{num}|", frozenset({f"序号:{num}|", f"第{num}项", f"第{num}条"})))
        q.weights[num] = max(q.weights.get(num, 0.0), 1.5)
    return q


class BM25:
    """Okapi BM25 over postings lists; documents are token lists."""

    def __init__(self, docs: list[list[str]], k1: float = 1.5, b: float = 0.75):
        self.n = len(docs)
        self.k1, self.b = k1, b
        self.doc_len = np.array([len(d) for d in docs], dtype=np.float32)
        self.avgdl = float(self.doc_len.mean()) if self.n else 1.0
        postings: dict[str, dict[int, int]] = {}
        for i, doc in enumerate(docs):
            for tok in doc:
                postings.setdefault(tok, {}).setdefault(i, 0)
                postings[tok][i] += 1
        self.postings = {t: (np.fromiter(p.keys(), np.int32, len(p)), np.fromiter(p.values(), np.float32, len(p)))
                         for t, p in postings.items()}
        self.idf = {t: math.log((self.n - len(p[0]) + 0.5) / (len(p[0]) + 0.5) + 1.0)
                    for t, p in self.postings.items()}
        self.max_idf = math.log((self.n + 0.5) / 1.5 + 1.0) if self.n else 1.0
        # a word no clause uses: weighs like a typical word (it may be the asker's phrasing,
        # "少于" for "不低于", or the sign of an off-topic question: coverage decides)
        self.unknown_idf = float(np.median(list(self.idf.values()))) if self.idf else 1.0
        self.norm = self.k1 * (1 - self.b + self.b * self.doc_len / self.avgdl)

    def term_weight(self, tok: str) -> float:
        """idf of a term; a term no document holds weighs as the rarest (it is what was asked)."""
        return self.idf.get(tok, self.unknown_idf)

    def scores(self, weights: dict[str, float]) -> np.ndarray:
        out = np.zeros(self.n, dtype=np.float32)
        for tok, w in weights.items():
            p = self.postings.get(tok)
            if p is None:
                continue
            ids, tf = p
            out[ids] += w * self.idf[tok] * tf * (self.k1 + 1) / (tf + self.norm[ids])
        return out


def _concept_matches(query: Query, doc_tokens: frozenset[str], bm25: BM25, haystack: str):
    """(concept, its idf weight, whether the document mentions it) for each concept of the
    question — as a token, or as a substring of its text (jieba may cut "服务期限" where the
    asker wrote "服务期")."""
    for tok, alts in query.concepts:
        w = max(bm25.term_weight(a) for a in alts) if len(alts) > 1 else bm25.term_weight(tok)
        if tok in (DATE_CONCEPT, SHARE_CONCEPT):
            yield tok, w, bool((_DATE_IN_TEXT if tok == DATE_CONCEPT else _SHARE_IN_TEXT).search(haystack))
            continue
        # one character matches as a substring only when the synonym list added it ("元" for
        # "多少钱"); the asker's own one-character words ("年", "交") would match anything
        yield tok, w, bool(alts & doc_tokens or any((len(a) >= 2 or a != tok) and a in haystack for a in alts))


def concept_fit(query: Query, doc_tokens: frozenset[str], bm25: BM25, haystack: str = "") -> tuple[float, float]:
    """(coverage, rarest missed) of a document, in one pass over the question's concepts: the
    ranker reads both for every candidate clause and each of its sentences. The second is how
    rare the rarest question word the document lacks is (0..1 of the corpus's largest idf; a
    word no clause uses counts as rarest): “创业担保贷款” missing from a clause about 创业培训 is
    what makes it not the answer."""
    total = matched = worst = 0.0
    for tok, w, hit in _concept_matches(query, doc_tokens, bm25, haystack):
        total += w
        if hit:
            matched += w
        elif tok not in (DATE_CONCEPT, SHARE_CONCEPT):
            worst = max(worst, bm25.max_idf if tok not in bm25.postings else w)
    return (matched / total if total else 0.0), (worst / bm25.max_idf if bm25.max_idf else 0.0)


def coverage(query: Query, doc_tokens: frozenset[str], bm25: BM25, haystack: str = "") -> float:
    """Share of the question's concepts (idf-weighted) that the document mentions."""
    return concept_fit(query, doc_tokens, bm25, haystack)[0]
