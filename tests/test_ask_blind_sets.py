"""The blind question sets, as regression sets after they were reported (issue 9).

Each was written by a fresh helper that saw only the notices, and scored once: set A on the
landed main before answering changed (37/60 right, 9/10 refused), set B at the end of that
change (48/60, 7/10); in the next session set C before answering changed again (40/60, 13/15)
and set D at the end (40/60, 9/12); in the session after, set E on the product as it then stood
(46/60, 1/60 answerable refused, 12/12; the anchor 30/60). After that they guard against regressions; nothing in the
product was tuned on them. With the product as it stands: A 51/60 and 9/10, B 50/60 and 8/10,
C 43/60 and 13/15. With a refusal for a figure asked outright that the best clause does not state
(session of 2026-12-03, tuned on tests/data/validation only): A 50/60, C 44/60 and 14/15, D 10/12
refused; the bounds below are those figures. Set F (2026-12-03, a fresh helper) was scored once
untouched at 53/60 and 12/12; with the measure-word, year and notice-header mechanisms of the
session after (tuned on tests/data/validation only) B is 51/60, E 47/60 and F 54/60, the bounds
for those three. Set G (2026-12-03, another fresh helper, after those mechanisms) scored once
untouched: 50/60, 2/60 answerable refused, 12/12. Set H (a fresh helper, the next session, before
its changes) scored once untouched: 51/60, 2/60, 12/12. With that session's part anchor, quote
window and fact types (tuned on tests/data/train and validation t6–t9 only), D is 42/60 and E
50/60; their bounds keep one of slack. Set I (another fresh helper, written after those changes)
scored once untouched: 49/60, 3/60 answerable refused, 8/12 out of scope refused. After a bare
county name was read (文水 for 文水县), set J (another fresh helper) scored once untouched: 49/60,
3/60, 10/12. Set K (a fresh helper, the session after, before its changes) scored once untouched:
51/60, 3/60 answerable refused, 11/12. After that session's detail kinds (电话, 哪家, 哪个平台; tuned on
tests/data/train and validation t6–t11 only), set L (another fresh helper) scored once untouched:
49/60, 4/60, 10/12. Set M (a fresh helper, 2026-12-04, before that session's changes) scored once
untouched on b65b97b: 52/60, 4/60 answerable refused, 10/12 out of scope refused (the anchor 39/60).
After that session's figure completion, fact labels and whole-message referral (tuned on
tests/data/train and validation only), set N (another fresh helper) scored once untouched on
7c7b959: 54/60, 4/60, 11/12 (the anchor 37/60). After that session's later changes (shared clauses
for parts, county paths, unsure refusals offering the nearest clause, 钱 named or asked), set O
(another fresh helper, sealed until then) scored once untouched on 669a133: 56/60, 2/60, 11/12
(the anchor 38/60).
"""
from __future__ import annotations

import pytest

from tests.ask_util import score

pytestmark = pytest.mark.db


@pytest.mark.parametrize("name, max_wrong, max_not_refused", [
    ("2026-12-02_set_a", 10, 1),
    ("2026-12-02_set_b", 9, 2),
    ("2026-12-02_set_c", 16, 1),
    ("2026-12-02_set_d", 19, 2),
    ("2026-12-02_set_e", 11, 0),
    ("2026-12-03_set_f", 6, 0),
    ("2026-12-03_set_g", 10, 0),
    ("2026-12-03_set_h", 9, 0),
    ("2026-12-03_set_i", 11, 4),
    ("2026-12-03_set_j", 11, 2),
    ("2026-12-03_set_k", 9, 1),
    ("2026-12-03_set_l", 11, 2),
    ("2026-12-04_set_m", 8, 2),
    ("2026-12-04_set_n", 7, 1),
    ("2026-12-04_set_o", 5, 1),
])
def test_blind_set_stays_at_its_reported_figure(http, name, max_wrong, max_not_refused):
    wrong, not_refused = score(http, f"blind/{name}_qa.jsonl", f"blind/{name}_refuse.jsonl")
    assert len(wrong) <= max_wrong, wrong
    assert len(not_refused) <= max_not_refused, not_refused
