"""The learned ranking stage: which clause answers, and whether any does.

Why learned: single retrievers put the right clause first for about half the questions and in
their top three for three quarters; how much to trust BM25, the dense legs, sentence max-sim,
heading match, question-type match and region when they disagree is a question for data, not
for hand-set weights. Two small models, both over features that hold for any notice:
- a listwise scorer (softmax over a question's candidates, trained to put a right clause
  first), which orders the clauses;
- an answerability model (logistic, over the best candidate's features and its lead over the
  runner-up), whose probability one calibrated threshold turns into “the notices hold no
  answer”, for every notice, old or newly uploaded.
The weights live in ranker.json, written by `python -m knowledge.train_ranker` from question
sets that helpers wrote from the notices (never from the blind sets).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

MODEL_FILE = Path(__file__).with_name("ranker.json")

FEATURES = (
    "lex_rel", "lex_abs", "lex_rr", "char_rel", "char_abs", "char_rr",
    "dense_sim", "dense_rel", "dense_rr", "sent_sim", "sent_rel", "sent_rr",
    "coverage", "sent_coverage", "heading", "type_match", "type_miss",
    "region", "region_other", "year", "length", "table_row", "blank", "no_vector",
    "oov_words", "oov_chars", "missed", "sent_missed", "unknown_count", "neighbour", "figure_absent",
)
# the answerability model reads the best candidate's absolute evidence and its lead
# the quote picker reads each sentence of the chosen clause
UNIT_FEATURES = ("cov", "cov_rel", "sim", "sim_rel", "type", "first", "position", "length")
ANSWER_FEATURES = ("lead", "share", "lex_abs", "char_abs", "dense_sim", "sent_sim", "coverage",
                   "sent_coverage", "heading", "type_miss", "region_other", "oov_words", "oov_chars",
                   "missed", "sent_missed", "unknown_count", "neighbour", "figure_absent")


def _standardise(X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    mean, scale = X.mean(axis=0), X.std(axis=0)
    scale[scale < 1e-6] = 1.0
    return mean, scale


@dataclass
class Ranker:
    weights: np.ndarray
    mean: np.ndarray
    scale: np.ndarray
    answer_weights: np.ndarray
    answer_bias: float
    answer_mean: np.ndarray
    answer_scale: np.ndarray
    threshold: float = 0.5  # below it the best clause does not answer: refuse
    close: float = 0.5  # a runner-up with at least this share of the best one's weight is offered
    scope_margin: float = 1.0  # a question nearer a neighbouring service by this much is referred
    unit_weights: np.ndarray | None = None  # the quote picker (logistic), with its bias last
    unit_mean: np.ndarray | None = None
    unit_scale: np.ndarray | None = None

    def logits(self, X: np.ndarray) -> np.ndarray:
        return ((X - self.mean) / self.scale) @ self.weights

    def answerability(self, a: np.ndarray) -> float:
        z = float(((a - self.answer_mean) / self.answer_scale) @ self.answer_weights + self.answer_bias)
        return 1.0 / (1.0 + np.exp(-np.clip(z, -30, 30)))

    def unit_probabilities(self, U: np.ndarray) -> np.ndarray | None:
        if self.unit_weights is None or not len(U):
            return None
        z = ((U - self.unit_mean) / self.unit_scale) @ self.unit_weights[:-1] + self.unit_weights[-1]
        return 1.0 / (1.0 + np.exp(-np.clip(z, -30, 30)))

    def to_json(self) -> dict:
        r = lambda v: [round(float(x), 5) for x in v]  # noqa: E731
        units = {} if self.unit_weights is None else {
            "unit_features": list(UNIT_FEATURES), "unit_weights": r(self.unit_weights),
            "unit_mean": r(self.unit_mean), "unit_scale": r(self.unit_scale)}
        return {**units, "features": list(FEATURES), "weights": r(self.weights), "mean": r(self.mean), "scale": r(self.scale),
                "answer_features": list(ANSWER_FEATURES), "answer_weights": r(self.answer_weights),
                "answer_bias": round(self.answer_bias, 5), "answer_mean": r(self.answer_mean),
                "answer_scale": r(self.answer_scale), "threshold": round(self.threshold, 4), "scope_margin": round(self.scope_margin, 4),
                "close": round(self.close, 4)}


def answer_features(feats: list[dict[str, float]], logits: np.ndarray) -> np.ndarray:
    """Question-level evidence: the best candidate's features, its logit lead over the runner-up
    and its share of the softmax mass."""
    order = np.argsort(-logits)
    top = feats[int(order[0])]
    lead = float(logits[order[0]] - logits[order[1]]) if len(order) > 1 else 5.0
    e = np.exp(logits - logits.max())
    extra = {"lead": min(lead, 5.0), "share": float(e[order[0]] / e.sum())}
    return np.array([extra[f] if f in extra else top[f] for f in ANSWER_FEATURES])


def fit_listwise(groups: list[tuple[np.ndarray, np.ndarray]], l2: float = 0.5, iters: int = 400,
                 lr: float = 0.05) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Softmax cross-entropy over each question's candidates (target: its right clauses),
    by Adam on standardised features. Returns (weights, mean, scale)."""
    groups = [(X, y) for X, y in groups if len(X) and y.sum() > 0]
    allX = np.vstack([X for X, _ in groups])
    mean, scale = _standardise(allX)
    Z = (allX - mean) / scale
    target = np.concatenate([y / y.sum() for _, y in groups])
    starts = np.cumsum([0] + [len(X) for X, _ in groups[:-1]])
    owner = np.repeat(np.arange(len(groups)), [len(X) for X, _ in groups])
    w = np.zeros(Z.shape[1])
    m = np.zeros_like(w)
    v = np.zeros_like(w)
    for step in range(1, iters + 1):
        s = Z @ w
        s = s - np.maximum.reduceat(s, starts)[owner]
        e = np.exp(s)
        p = e / np.add.reduceat(e, starts)[owner]
        grad = Z.T @ (p - target) / len(groups) + l2 * w / len(groups)
        m = 0.9 * m + 0.1 * grad
        v = 0.999 * v + 0.001 * grad * grad
        w -= lr * (m / (1 - 0.9 ** step)) / (np.sqrt(v / (1 - 0.999 ** step)) + 1e-8)
    return w, mean, scale


def fit_logistic(A: np.ndarray, y: np.ndarray, l2: float = 1.0, iters: int = 50):
    """L2-regularised logistic regression by Newton's method. Returns (weights, bias, mean, scale)."""
    mean, scale = _standardise(A)
    Z = np.hstack([(A - mean) / scale, np.ones((len(A), 1))])
    w = np.zeros(Z.shape[1])
    reg = np.full(Z.shape[1], l2)
    reg[-1] = 0.0
    for _ in range(iters):
        p = 1.0 / (1.0 + np.exp(-np.clip(Z @ w, -30, 30)))
        H = (Z * (p * (1 - p))[:, None]).T @ Z + np.diag(reg + 1e-9)
        step = np.linalg.solve(H, Z.T @ (p - y) + reg * w)
        w -= step
        if float(np.abs(step).max()) < 1e-6:
            break
    return w[:-1], float(w[-1]), mean, scale


@lru_cache
def load(path: str | None = None) -> Ranker | None:
    p = Path(path) if path else MODEL_FILE
    if not p.exists():
        return None
    d = json.loads(p.read_text(encoding="utf-8"))

    def pick(names_key, values_key, wanted, default):
        idx = {n: i for i, n in enumerate(d[names_key])}
        # a feature the file does not know weighs nothing (an older model still loads)
        return np.array([d[values_key][idx[f]] if f in idx else default for f in wanted])

    units = {}
    if "unit_weights" in d and d.get("unit_features") == list(UNIT_FEATURES):
        units = {"unit_weights": np.array(d["unit_weights"]), "unit_mean": np.array(d["unit_mean"]),
                 "unit_scale": np.array(d["unit_scale"])}
    return Ranker(pick("features", "weights", FEATURES, 0.0), pick("features", "mean", FEATURES, 0.0),
                  pick("features", "scale", FEATURES, 1.0),
                  pick("answer_features", "answer_weights", ANSWER_FEATURES, 0.0), float(d["answer_bias"]),
                  pick("answer_features", "answer_mean", ANSWER_FEATURES, 0.0),
                  pick("answer_features", "answer_scale", ANSWER_FEATURES, 1.0),
                  float(d["threshold"]), float(d.get("close", 0.5)), float(d.get("scope_margin", 1.0)), **units)


def save(model: Ranker, path: Path = MODEL_FILE) -> None:
    path.write_text(json.dumps(model.to_json(), ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    load.cache_clear()


def fallback_logits(feats: list[dict[str, float]]) -> np.ndarray:
    """Without a trained model: a fixed blend of the same signals (coverage and both legs)."""
    return np.array([4.0 * f["sent_coverage"] + 2.0 * f["coverage"] + 3.0 * f["sent_sim"] for f in feats])
