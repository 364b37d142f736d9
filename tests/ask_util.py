"""Asking the live server and scoring a question set over HTTP, with the product's own rule
for a right answer (knowledge.evaluation.is_right)."""
from __future__ import annotations

from pathlib import Path

from knowledge.evaluation import is_right, read_jsonl
from knowledge.types import Answer

DATA = Path(__file__).parent / "data"


def ask(client, question, **kw) -> dict:
    r = client.post("/api/ask", json={"question": question, **kw})
    assert r.status_code == 200, r.text
    return r.json()


def score(client, qa_file: str, refuse_file: str) -> tuple[list, list]:
    """(the questions answered wrongly, the off-topic ones not refused)."""
    wrong = []
    for item in read_jsonl(DATA / qa_file):
        body = ask(client, item["q"])
        if not is_right(item, Answer.model_validate(body)):
            wrong.append((item["id"], item["q"], body["answer"][:120]))
    not_refused = [it["q"] for it in read_jsonl(DATA / refuse_file) if not ask(client, it["q"])["refused"]]
    return wrong, not_refused
