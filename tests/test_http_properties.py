"""Property tests: generated bodies for /api/ask and /api/check/*, and generated query
parameters and path segments for the console, against a real server over HTTP. Whatever comes
in, the answer is never a 5xx (a refusal is a 4xx with a Chinese reason).

Several hundred inputs per route, kept small so the whole file runs in well under half a minute
on the fast hashing embedder.
"""
from __future__ import annotations

import json
from urllib.parse import quote

import pytest
from hypothesis import given, strategies as st

from tests.conftest import ADMIN_PASSWORD, ADMIN_USER
from tests.console_helpers import login
from tests.property_util import FAST, no_5xx as _no_5xx
from tests.test_forms_rules import TRAINEE_OK, YIGONG_OK

pytestmark = pytest.mark.db

short_text = st.text(max_size=40)
scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.integers(min_value=10**18, max_value=10**40),
                    st.floats(allow_nan=True, allow_infinity=True), short_text)
json_values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                            st.dictionaries(short_text, inner, max_size=3)),
                           max_leaves=8)
nesting = st.integers(min_value=0, max_value=3000).map(lambda n: "[" * n + "]" * n)


def _body(fields: list[str]):
    """A JSON object over the route's own field names (so validation gets past the first key),
    sometimes with junk keys; or any JSON value; or deep nesting; or raw bytes."""
    objects = st.dictionaries(st.one_of(st.sampled_from(fields), short_text), json_values, max_size=len(fields) + 1)
    encoded = st.one_of(objects, json_values).map(lambda v: json.dumps(v, allow_nan=True).encode())
    return st.one_of(encoded, encoded, nesting.map(str.encode), st.binary(max_size=60))


@pytest.fixture(scope="module")
def srv(live_server):
    return live_server("properties", POLICYBOT_EMBEDDER="hash",
                       POLICYBOT_ADMIN_USER=ADMIN_USER, POLICYBOT_ADMIN_PASSWORD=ADMIN_PASSWORD)


# Well-formed requests too, so the answering path itself (normalising, retrieval, refusals,
# choices) meets odd questions — not only the validation in front of it.
WORDS = ["补贴", "多少钱", "聊城", "以工代训", "培训券", "截止", "更多", "我在济源", "１", "？", "ＡＢＣ", "\u3000"]
questions = st.one_of(st.text(min_size=1, max_size=80),
                      st.lists(st.one_of(st.sampled_from(WORDS), st.text(max_size=4)), min_size=1, max_size=8)
                      .map("".join).filter(bool))
asks = st.fixed_dictionaries({"question": questions}, optional={
    "region": st.one_of(st.none(), st.sampled_from(["聊城", "山东 聊城", "济源", "文水", "火星"]), short_text),
    "user": st.one_of(st.none(), short_text)})


def test_ask_never_answers_5xx(srv):
    with srv.client() as c:
        @FAST
        @given(st.one_of(asks.map(lambda v: json.dumps(v).encode()), _body(["question", "region", "user"])))
        def run(body):
            _no_5xx(c.post("/api/ask", content=body, headers={"content-type": "application/json"}))
        run()


CHECK_FIELDS = ["region", "enterprise_size", "industry", "ownership", "hire_date", "months",
                "subsidized_trainings_this_year", "same_occupation_level_before", "certificate",
                "over_retirement_age", "receives_pension", "job_registration", "has_voucher"]


# A valid set of facts with a few of them changed to anything: the rules themselves run.
near_valid = st.tuples(st.sampled_from([("enterprise-yigong", YIGONG_OK), ("trainee-subsidy", TRAINEE_OK)]),
                       st.dictionaries(st.sampled_from(CHECK_FIELDS), json_values, max_size=3)).map(
    lambda t: (t[0][0], json.dumps({**t[0][1], **t[1]}, allow_nan=True).encode()))
any_check = st.tuples(st.sampled_from(["enterprise-yigong", "trainee-subsidy", "nope"]), _body(CHECK_FIELDS))


def test_checks_never_answer_5xx(srv):
    with srv.client() as c:
        @FAST
        @given(st.one_of(near_valid, any_check))
        def run(case):
            form, body = case
            _no_5xx(c.post(f"/api/check/{form}", content=body, headers={"content-type": "application/json"}))
        run()


any_param = st.one_of(short_text, st.integers(min_value=-10**30, max_value=10**30).map(str),
                      st.sampled_from(["²", "٣", "1e9", "0x10", " 1", "NaN", "\x00"]))
queue_params = st.dictionaries(st.sampled_from(["page", "status", "region", "category", "overdue", "mine"]),
                               any_param, max_size=6)
segments = st.one_of(any_param, st.integers(min_value=-10**25, max_value=10**25).map(str))


def test_console_never_answers_5xx(srv):
    with srv.client(follow_redirects=False) as c:
        login(c)

        @FAST
        @given(queue_params, segments, st.sampled_from(["/console/", "/console/export.csv", "/console/t/",
                                                        "/console/evidence/"]))
        def run(params, segment, where):
            if where.endswith("/") and where != "/console/":
                r = c.get(where + quote(segment, safe=""), params=params)
            else:
                r = c.get(where, params=params)
            _no_5xx(r)
        run()
