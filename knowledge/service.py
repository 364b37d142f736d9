"""KnowledgeBase: the one object the app, the CLI and the forms use to reach the notices.

STUB (to be replaced by the issue-2 implementation): keeps the interface stable so the channel,
forms and complaints can be built against it in parallel.
"""
from __future__ import annotations

from pathlib import Path

from bot.settings import Settings
from knowledge.types import Answer, Source

BUNDLED_CORPUS = Path(__file__).parent / "corpus"

REFUSAL = "抱歉，现有政策文件中没有找到能回答这个问题的内容。"


class KnowledgeBase:
    def __init__(self, settings: Settings):
        self.settings = settings
        self.ready = False

    def start(self) -> None:
        """Called on app start: index in the background; `ready` turns true when done."""
        self.ensure_indexed()

    def close(self) -> None:
        pass

    def ensure_indexed(self) -> None:
        """Index the bundled corpus (and POLICYBOT_CORPUS_DIR) if any file is new or changed."""
        self.ready = True

    def ingest(self, paths: list[Path]) -> dict:
        """Add or update notices from files; returns a report {file: 'added'|'updated'|'unchanged'}."""
        return {}

    def ask(self, question: str, region: str | None = None, user: str | None = None) -> Answer:
        return Answer(answer=REFUSAL, refused=True, sources=[])

    def source_for(self, doc_number: str, excerpt: str = "") -> Source:
        """A citation for a notice known by its 文号 (used by the forms' rules)."""
        return Source(file="", title="", doc_number=doc_number, excerpt=excerpt)
