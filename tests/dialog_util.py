"""What the router tests share: a scripted knowledge base and the fixtures of a real database.

Why here: the router (`bot.dialog.handle`) is tested with answers fixed in advance, so that a
test of choices, 更多 or 没用 does not depend on retrieval; four test files had each written
their own stand-in and their own copies of the two fixtures. Import the fixtures by name.
"""
from __future__ import annotations

import uuid

import pytest

from knowledge.types import Answer
from tests.conftest import database_settings


class ScriptedKB:
    """Stands in for the knowledge base: one Answer for every question or one per question, what
    was asked (`asked`, with the region each time in `regions_asked`), and the regions its
    notices cover (none unless given)."""

    def __init__(self, answers: dict[str, Answer] | Answer, regions: tuple[str, ...] = ()):
        self.answers = answers
        self.regions = list(regions)
        self.asked: list[str] = []
        self.regions_asked: list[str | None] = []

    def ask(self, question, region=None):
        self.asked.append(question)
        self.regions_asked.append(region)
        answer = self.answers if isinstance(self.answers, Answer) else self.answers[question]
        return answer.model_copy()

    def covered_regions(self) -> list[str]:
        return list(self.regions)


@pytest.fixture
def settings(request, tmp_path):
    """Settings on a fresh database (SQLite, or PostgreSQL with --db=postgres)."""
    return database_settings(request.config, tmp_path / "data")


@pytest.fixture
def openid():
    return "o" + uuid.uuid4().hex[:12]
