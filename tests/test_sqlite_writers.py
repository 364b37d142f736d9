"""SQLite's writers queue in the process (storage/sqlite_writers.py) and a burst of new questions
runs the embedder once per text (knowledge/embeddings.py QueryCache): both against real parts —
a SQLite file with many threads writing, and a counting embedder behind the real cache."""
from __future__ import annotations

import threading

import numpy as np
import pytest
from sqlalchemy import text

from knowledge.embeddings import QueryCache
from storage import db, sqlite_writers


@pytest.fixture
def url(tmp_path):
    url = f"sqlite:///{tmp_path / 'w.db'}"
    with db.get_engine(url).begin() as conn:
        conn.execute(text("CREATE TABLE t (who INTEGER, n INTEGER)"))
    return url


def test_concurrent_writers_all_commit_and_none_is_refused(url):
    errors: list[BaseException] = []

    def writer(who: int) -> None:
        try:
            for n in range(30):
                with db.session_scope(url) as s:  # read, write, read again: one turn's shape
                    s.connection().execute(text("SELECT count(*) FROM t")).scalar()
                    s.connection().execute(text("INSERT INTO t VALUES (:w, :n)"), {"w": who, "n": n})
                    s.connection().execute(text("SELECT count(*) FROM t WHERE who = :w"), {"w": who}).scalar()
        except BaseException as exc:  # noqa: BLE001  (reported below)
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with db.session_scope(url) as s:
        assert s.connection().execute(text("SELECT count(*) FROM t")).scalar() == 16 * 30


def test_a_rolled_back_or_abandoned_write_gives_its_turn_back(url):
    with pytest.raises(ValueError):
        with db.session_scope(url) as s:
            s.connection().execute(text("INSERT INTO t VALUES (1, 1)"))
            raise ValueError("the turn failed")
    with db.get_engine(url).connect() as conn:  # closed without commit: the pool resets it
        conn.execute(text("INSERT INTO t VALUES (2, 2)"))
    assert not sqlite_writers.busy(db.get_engine(url))
    with db.session_scope(url) as s:
        s.connection().execute(text("INSERT INTO t VALUES (3, 3)"))
        assert sqlite_writers.busy(db.get_engine(url))  # held from the first write to the commit
    assert not sqlite_writers.busy(db.get_engine(url))
    with db.session_scope(url) as s:
        assert s.connection().execute(text("SELECT who FROM t")).scalars().all() == [3]


class Counting:
    name, dim = "counting", 4

    def __init__(self):
        self.calls: list[list[str]] = []
        self.gate = threading.Event()

    def queries(self, texts):
        self.calls.append(list(texts))
        self.gate.wait(5)  # every thread asks while the first computation is still running
        return np.stack([np.full(4, len(t), np.float32) for t in texts])

    passages = queries


def test_a_burst_of_one_new_question_runs_the_model_once():
    inner = Counting()
    cache = QueryCache(inner)
    out: list[np.ndarray] = []
    threads = [threading.Thread(target=lambda: out.append(cache.queries(["培训补贴标准"]))) for _ in range(8)]
    for t in threads:
        t.start()
    while not inner.calls:
        threading.Event().wait(0.01)
    threading.Event().wait(0.2)  # the others are waiting on the first by now
    inner.gate.set()
    for t in threads:
        t.join()
    assert inner.calls == [["培训补贴标准"]]
    assert len(out) == 8 and all(float(v[0][0]) == 6.0 for v in out)
