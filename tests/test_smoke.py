"""The app starts on the embedded defaults and answers /healthz and /api/ask over HTTP."""
import pytest

pytestmark = pytest.mark.db


def test_healthz(http):
    r = http.get("/healthz")
    assert r.status_code == 200
    assert r.json()["status"] == "ok"


def test_ask_shape(http):
    r = http.post("/api/ask", json={"question": "给我讲个笑话"})
    assert r.status_code == 200
    body = r.json()
    assert {"answer", "refused", "sources"} <= set(body)  # the interface's fields, extended by
    assert set(body) <= {"answer", "refused", "sources", "choices", "more", "confidence"}  # follow-ups
    assert body["refused"] is True and body["choices"] == [] and body["sources"] == []


def test_ask_rejects_empty_question(http):
    r = http.post("/api/ask", json={"question": ""})
    assert r.status_code == 422
