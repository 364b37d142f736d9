"""GET /metrics on one worker (no multiprocess directory): the counters move with the requests
and the refusals, the gauges are read from the database, and only a local caller, a trusted
proxy's client from an allowed address, or the admin token may read it. The multi-worker sum
is tests/test_cluster.py's."""
from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from core.config import Settings

pytestmark = pytest.mark.db
TOKEN = "metrics-admin-token-123"


def samples(text: str, name: str) -> list:
    return [s for family in text_string_to_metric_families(text) for s in family.samples if s.name == name]


def count(text: str, name: str, **labels) -> float:
    return sum(s.value for s in samples(text, name) if all(s.labels.get(k) == v for k, v in labels.items()))


@pytest.fixture(scope="module")
def srv(live_server):
    return live_server("metrics", POLICYBOT_ADMIN_TOKEN=TOKEN,  # the bundled embedder: real refusals
                       POLICYBOT_TRUSTED_PROXIES="127.0.0.1/32")


def test_requests_latency_and_refusals_are_counted(srv):
    with srv.client() as c:
        before = c.get("/metrics")
        assert before.status_code == 200
        assert before.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"
        for _ in range(3):
            assert c.post("/api/ask", json={"question": "以工代训补贴的政策到什么时候截止？"}).status_code == 200
        assert c.post("/api/ask", json={"question": "给我讲个笑话"}).json()["refused"] is True
        assert c.get("/no/such/page/123").status_code == 404
        after = c.get("/metrics").text
    ask = dict(name="policybot_http_requests_total", route="/api/ask", method="POST", status="200")
    assert count(after, **ask) - count(before.text, **ask) == 4
    latency = dict(route="/api/ask", method="POST", status="200")
    assert count(after, "policybot_http_request_duration_seconds_count", **latency) == count(after, **ask)
    assert count(after, "policybot_http_request_duration_seconds_bucket", le="+Inf", **latency) == count(after, **ask)
    refused = dict(name="policybot_answers_total", outcome="refused")
    assert count(after, **refused) - count(before.text, **refused) == 1
    # a path no route knows is one label, not the path itself
    assert count(after, "policybot_http_requests_total", route="(unmatched)", status="404") >= 1
    assert "/no/such/page" not in after
    for gauge in ("policybot_push_queue_depth", "policybot_push_queue_oldest_seconds", "policybot_database_up",
                  "policybot_vector_store_up"):
        assert samples(after, gauge), gauge
    assert count(after, "policybot_database_up") == 1


def test_metrics_refuse_outside_callers_without_the_token(srv):
    outside = {"X-Forwarded-For": "203.0.113.7"}  # through the trusted proxy (loopback) from outside
    with srv.client() as c:
        denied = c.get("/metrics", headers=outside)
        assert denied.status_code == 403 and "无权查看监控指标" in denied.json()["detail"]
        assert c.get("/metrics", headers={**outside, "Authorization": "Bearer wrong"}).status_code == 403
        assert c.get("/metrics", headers={**outside, "Authorization": f"Bearer {TOKEN}"}).status_code == 200
    assert "/metrics" not in httpx.get(srv.base_url + "/openapi.json").json()["paths"]


def _app(tmp_path, **fields) -> FastAPI:
    """Only the route, on a settings object: the access rules without a server."""
    from bot import metrics

    app = FastAPI()
    app.state.settings = Settings(data_dir=tmp_path, **fields)
    app.include_router(metrics.router)
    return app


@pytest.mark.parametrize("fields, client, expected", [
    ({}, "127.0.0.1", 200),
    ({}, "::1", 200),
    ({}, "198.51.100.4", 403),
    ({"trusted_proxies": "10.0.0.0/8"}, "10.1.2.3", 200),  # a scraper beside the proxy
    ({"metrics_allowed_ips": "198.51.100.0/24"}, "198.51.100.4", 200),
    ({"metrics": "open"}, "198.51.100.4", 200),
    ({"metrics": "off"}, "127.0.0.1", 404),
])
def test_who_may_read_metrics(tmp_path, fields, client, expected):
    with TestClient(_app(tmp_path, **fields), client=(client, 50000)) as c:
        r = c.get("/metrics")
    assert r.status_code == expected, r.text
    if expected != 200:
        assert any("\u4e00" <= ch <= "\u9fff" for ch in r.json()["detail"])


def test_a_kept_push_is_counted_as_a_failure(tmp_path):
    from bot.wechat import push

    labels = {"reason": "no-credentials"}
    before = REGISTRY.get_sample_value("policybot_push_failures_total", labels) or 0
    assert push._try_send(Settings(data_dir=tmp_path), "o-metrics-test", "你好") == "no-credentials"
    assert REGISTRY.get_sample_value("policybot_push_failures_total", labels) == before + 1
