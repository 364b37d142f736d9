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


def test_counting_a_group_waits_for_another_workers_counting(request, tmp_path):
    """Workers counting refused questions into the same groups take turns (on PostgreSQL the
    groups' advisory lock, on SQLite the one write lock): two batches updating the same groups
    in different orders deadlocked before. While another transaction holds the turn, a refused
    question is not counted; once it commits, it is."""
    from sqlalchemy import text

    from knowledge.unanswered import GROUPS_LOCK_KEY
    from storage.db import xact_lock
    from storage.models import UnansweredQuestion

    settings = database_settings(request.config, tmp_path)
    qlog = QuestionLog(settings)
    refused = Answer(answer="…", refused=True)
    with session_scope(settings.db_url) as holder:  # the other worker's batch, mid-transaction
        if holder.get_bind().dialect.name == "postgresql":
            xact_lock(holder, GROUPS_LOCK_KEY)
        else:
            holder.execute(text("UPDATE unansweredquestion SET count = count WHERE 0"))  # takes the write lock
        qlog.record(QUESTIONS[0], None, refused, threshold=0.5)
        assert not qlog.flush(timeout=1)  # still waiting for its turn
        with session_scope(settings.db_url) as other:
            assert other.exec(select(UnansweredQuestion)).all() == []
    assert qlog.flush(timeout=20)
    with session_scope(settings.db_url) as s:
        groups = s.exec(select(UnansweredQuestion)).all()
    assert [(g.question, g.count) for g in groups] == [(QUESTIONS[0], 1)]
