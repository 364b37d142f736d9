"""The two blind question sets, as regression sets after they were reported (issue 9).

Each was written by a fresh helper that saw only the notices, and scored once: set A on the
landed main before answering changed (37/60 right, 9/10 refused), set B at the end of the
change (48/60 right, 7/10 refused). After that they guard against regressions; nothing in the
product was tuned on them. Set A scored 51/60 and 9/10 with the final product.
"""
from __future__ import annotations

import pytest

from tests.ask_util import score

pytestmark = pytest.mark.db


@pytest.mark.parametrize("name, max_wrong, max_not_refused", [
    ("2026-12-02_set_a", 9, 1),
    ("2026-12-02_set_b", 12, 3),
])
def test_blind_set_stays_at_its_reported_figure(http, name, max_wrong, max_not_refused):
    wrong, not_refused = score(http, f"blind/{name}_qa.jsonl", f"blind/{name}_refuse.jsonl")
    assert len(wrong) <= max_wrong, wrong
    assert len(not_refused) <= max_not_refused, not_refused
