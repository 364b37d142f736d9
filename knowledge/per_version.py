"""Answers that depend only on the notices, remembered per knowledge-base version in a worker.

Why: the database is the truth and every worker reloads its index when IndexState.version moves
(an ingest, an edit, a withdrawal, a batch of background vectors all bump it). What is computed
from the loaded notices alone — a form rule's citation, whether a cited notice is withdrawn, the
ranked answer to a question — is the same for every asker until the version (or the day: 已失效)
moves, yet each eligibility result and each question computed it again: a dozen database
queries per result, the whole ranking per question. `VersionMemo` keeps them keyed by the
version this process has loaded (read at most once a RELOAD_CHECK_SECONDS, like the index
itself) and the day; a new version or day empties it. Nothing here is state another worker
needs: it is rebuilt from the database on a miss, and a second worker computes its own.
"""
from __future__ import annotations

import threading
from typing import Any, Callable, Hashable

from pydantic import BaseModel

SIZE = 2000  # entries per version; past it the memo starts again (bounded memory)


def _copy(value: Any) -> Any:
    """A caller may change what it got (an Answer's log key): each gets its own copy."""
    return value.model_copy(deep=True) if isinstance(value, BaseModel) else value


class VersionMemo:
    def __init__(self, stamp: Callable[[], Hashable]):
        self._stamp = stamp  # (loaded version, today)
        self._lock = threading.Lock()
        self._values: dict = {}
        self._at: Hashable = None

    def get(self, key: Hashable, make: Callable[[], Any]) -> Any:
        stamp = self._stamp()
        with self._lock:
            if self._at != stamp or len(self._values) > SIZE:
                self._values, self._at = {}, stamp
            if key in self._values:
                return _copy(self._values[key])
        value = make()
        with self._lock:
            if self._at == stamp:
                self._values[key] = _copy(value)
        return value
