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
    assert set(body) == {"answer", "refused", "sources"}
    assert body["refused"] is True


def test_ask_rejects_empty_question(http):
    r = http.post("/api/ask", json={"question": ""})
    assert r.status_code == 422
