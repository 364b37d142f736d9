"""schemathesis over the live server's own /openapi.json: every JSON route (/healthz, /api/*,
/simulator/api/*) gets generated requests, valid and invalid (schemathesis' positive and
negative modes), and must answer without a 5xx and, for a documented status, with a body that
matches the schema it advertises; a JSON refusal gives its reason in Chinese. /wechat (XML) and
the console (HTML) are not JSON routes: tests/test_wechat_properties.py and
tests/test_http_properties.py cover them.

The upload, notice-admin, unanswered-question and work-order routes need `Authorization: Bearer $POLICYBOT_ADMIN_TOKEN`
(the work-order routes also take a staff API token): a case schemathesis meant to be valid gets the real token, an
invalid one keeps whatever was generated (a refusal).

One test per operation, the list written out so that a route added later is not skipped
silently (`test_every_json_route_is_listed`). schemathesis' own pytest loader for a schema that
comes from a fixture (`schemathesis.pytest.from_fixture`) does not run on pytest 9 (it sets
`Function._nodeid`), so the cases come from each operation's hypothesis strategy instead.
"""
from __future__ import annotations

import re

import pytest
import schemathesis
from hypothesis import given
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from tests.property_util import CHINESE, fast

pytestmark = pytest.mark.db

ADMIN_TOKEN = "schemathesis-admin-token-123"
JSON_ROUTES = re.compile(r"^/(healthz$|api/|simulator/api/)")
NOTICE_ADMIN = ["GET /api/notices/{notice_id}", "PATCH /api/notices/{notice_id}",
                "POST /api/notices/{notice_id}/withdraw", "POST /api/notices/{notice_id}/restore",
                "POST /api/notices/{notice_id}/supersede"]
UNANSWERED_ADMIN = ["GET /api/unanswered", "POST /api/unanswered/{item_id}/link", "POST /api/unanswered/{item_id}/answer",
                    "POST /api/unanswered/{item_id}/dismiss", "GET /api/taught", "DELETE /api/taught/{taught_id}"]
WORK_ORDERS = ["POST /api/tickets", "GET /api/tickets", "GET /api/tickets/{number}",
               "POST /api/tickets/{number}/actions"]
OPERATIONS = ["GET /healthz", "POST /api/ask", "GET /api/notices", "GET /api/chunks", "POST /api/ingest",
              "POST /api/check/enterprise-yigong", "POST /api/check/trainee-subsidy",
              "GET /simulator/api/menu", "POST /simulator/api/send",
              "GET /simulator/api/inbox", "GET /simulator/api/history", *NOTICE_ADMIN, *UNANSWERED_ADMIN, *WORK_ORDERS]
ADMIN = {"POST /api/ingest", *NOTICE_ADMIN, *UNANSWERED_ADMIN, *WORK_ORDERS}  # the token goes with the cases meant to be valid
# No parameters or body in the schema: schemathesis has nothing to make invalid.
# GET /api/taught has only its Authorization header, a string of any value; GET /api/tickets/{number} a string
# path segment besides.
NOTHING_TO_NEGATE = {"GET /healthz", "GET /api/notices", "GET /simulator/api/menu",
                     "GET /api/taught", "GET /api/tickets/{number}"}
CASES = [(label, GenerationMode.POSITIVE) for label in OPERATIONS] + [
    (label, GenerationMode.NEGATIVE) for label in OPERATIONS if label not in NOTHING_TO_NEGATE]
EXAMPLES = 25  # per operation and mode
# Valid by the schema, still refused: schemathesis names an uploaded file after its field
# ("files", no extension: 415), a notice id
# any integer (404 for all but the seven bundled notices; 409 once one is withdrawn or restored),
# an unanswered item or a taught answer of a generated id does not exist (404), nor a ticket of a generated number.
NEVER_OK = {"POST /api/ingest", *NOTICE_ADMIN,
            "POST /api/unanswered/{item_id}/link", "POST /api/unanswered/{item_id}/answer",
            "POST /api/unanswered/{item_id}/dismiss", "DELETE /api/taught/{taught_id}",
            "GET /api/tickets/{number}", "POST /api/tickets/{number}/actions"}


@pytest.fixture(scope="module")
def srv(live_server):
    return live_server("openapi", POLICYBOT_EMBEDDER="hash", POLICYBOT_ADMIN_TOKEN=ADMIN_TOKEN,
                       POLICYBOT_SIMULATOR="1")


@pytest.fixture(scope="module")
def api_schema(srv):
    return schemathesis.openapi.from_url(srv.base_url + "/openapi.json")


def test_every_json_route_is_listed(api_schema):
    live = sorted(f"{op.ok().method.upper()} {op.ok().path}" for op in api_schema.get_all_operations()
                  if JSON_ROUTES.match(op.ok().path))
    assert live == sorted(OPERATIONS)


@pytest.mark.parametrize("label, mode", CASES, ids=[f"{label} {mode.value}" for label, mode in CASES])
def test_json_route_keeps_its_schema(api_schema, srv, label, mode):
    method, path = label.split(" ")
    operation = api_schema[path][method]
    seen = {}

    @fast(EXAMPLES)
    @given(operation.as_strategy(generation_mode=mode))
    def run(case):
        if label in ADMIN and mode == GenerationMode.POSITIVE:
            case.headers = {**(case.headers or {}), "authorization": f"Bearer {ADMIN_TOKEN}"}
        response = case.call_and_validate(base_url=srv.base_url, timeout=30,
                                          checks=[not_a_server_error, response_schema_conformance])
        seen[response.status_code] = seen.get(response.status_code, 0) + 1
        if response.status_code >= 400 and "json" in response.headers.get("content-type", [""])[0]:
            detail = response.json().get("detail")
            assert isinstance(detail, str) and CHINESE.search(detail), (response.status_code, detail)
    run()
    assert all(status < 500 for status in seen), seen
    if mode == GenerationMode.POSITIVE and label not in NEVER_OK:
        assert any(200 <= status < 300 for status in seen), seen  # not only refusals
    if label in ADMIN and mode == GenerationMode.POSITIVE:
        assert 401 not in seen and 403 not in seen, seen  # the token was taken; the files were judged
