"""JSON logs with a request id (POLICYBOT_LOG_FORMAT=json): the proxy's X-Request-ID is echoed
and carried by every line the server logs for that request (the question's line, uvicorn's
access line), a request without one gets a fresh id, a malformed one is replaced, and a phone
number in the question never reaches the log in clear."""
from __future__ import annotations

import json
import re

import pytest

from tests.wechat_util import wait_for

PHONE = "13912345678"


@pytest.fixture(scope="module")
def srv(live_server):
    return live_server("jsonlogs", POLICYBOT_LOG_FORMAT="json", POLICYBOT_LOG_LEVEL="INFO,uvicorn.access=INFO",
                       POLICYBOT_EMBEDDER="hash")


def json_lines(srv) -> list[dict]:
    """The server's log lines from the app's start on, each parsed (a line that is not one JSON
    object fails here)."""
    lines = srv.log().splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("{"))
    return [json.loads(line) for line in lines[start:] if line.strip()]


def test_the_request_id_is_echoed_and_on_every_line_of_its_request_with_the_phone_masked(srv):
    with srv.client() as c:
        r = c.post("/api/ask", json={"question": f"我的电话{PHONE}，以工代训补贴多少钱"},
                   headers={"X-Request-ID": "req-test-0001"})
        assert r.status_code == 200 and r.headers["X-Request-ID"] == "req-test-0001"
    ours = wait_for(lambda: [l for l in json_lines(srv) if l["request_id"] == "req-test-0001"
                             and l["logger"] == "uvicorn.access"] and
                    [l for l in json_lines(srv) if l["request_id"] == "req-test-0001"])
    assert {line["logger"] for line in ours} >= {"knowledge.service", "uvicorn.access"}
    asked = next(line for line in ours if line["logger"] == "knowledge.service")
    assert asked["level"] == "INFO" and "139****5678" in asked["message"] and asked["time"].endswith("+00:00")
    assert "/api/ask" in next(line for line in ours if line["logger"] == "uvicorn.access")["message"]
    assert PHONE not in srv.log()
    every = json_lines(srv)  # every line since the start is JSON with the same fields
    assert all({"time", "level", "logger", "message", "request_id"} <= line.keys() for line in every)
    assert any(line["request_id"] is None for line in every)  # start-up lines belong to no request


def test_a_request_without_an_id_gets_a_new_one_and_a_malformed_id_is_replaced(srv):
    with srv.client() as c:
        first, second = c.get("/healthz"), c.get("/healthz")
        bad = c.get("/healthz", headers={"X-Request-ID": "bad id\t{\"level\": \"ERROR\"}"})
    ids = [first.headers["X-Request-ID"], second.headers["X-Request-ID"], bad.headers["X-Request-ID"]]
    assert all(re.fullmatch(r"[0-9a-f]{32}", i) for i in ids) and len(set(ids)) == 3
    logged = wait_for(lambda: {l["request_id"] for l in json_lines(srv) if l["logger"] == "uvicorn.access"} >= set(ids))
    assert logged
    assert "bad id" not in srv.log()
