"""The question log writes what queued up in one transaction (knowledge/unanswered.py), and an
entry that cannot be written costs only itself: the batch is rolled back and written again one
entry at a time. Against the real database (SQLite here, PostgreSQL under `--db=postgres`),
the writer thread held back until the whole batch is queued, so it really is one batch."""
from __future__ import annotations

import threading

import pytest
from sqlmodel import select

from knowledge.types import Answer
from knowledge.unanswered import QuestionLog
from storage.db import session_scope
from storage.models import AskLog
from tests.conftest import database_settings

pytestmark = pytest.mark.db

QUESTIONS = ["以工代训补贴怎么申请", "电子培训券怎么领取", "培训补贴多久能到账"]


def test_a_bad_entry_in_a_batch_costs_only_itself(request, tmp_path):
    settings = database_settings(request.config, tmp_path)
    qlog = QuestionLog(settings)
    gate = threading.Event()
    qlog._writer.submit(lambda: gate.wait(10) and None)  # holds the writer while the batch queues
    keys = [qlog.record(QUESTIONS[0], None, Answer(answer="…", confidence=0.9), threshold=0.5)]

    def broken(session):
        raise RuntimeError("this entry cannot be written")
    qlog._writer.submit(lambda: broken)
    keys += [qlog.record(q, None, Answer(answer="…", confidence=0.9), threshold=0.5) for q in QUESTIONS[1:]]
    gate.set()
    assert qlog.flush(timeout=20)

    with session_scope(settings.db_url) as s:
        stored = {row.key: row.question for row in s.exec(select(AskLog))}
    assert stored == dict(zip(keys, QUESTIONS))
