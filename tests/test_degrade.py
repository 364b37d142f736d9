"""A Chroma server that is not there: the vector store says so at once, pauses before trying
again, and recovers on the first success; /healthz says `degraded` with the reason and keeps
its `starting` shape. The real outage (kill and restart `chroma run` under two workers) is
tests/test_cluster.py's."""
from __future__ import annotations

import asyncio
import time
from types import SimpleNamespace

import numpy as np
import pytest

from bot import health
from core.config import Settings
from knowledge import vectors
from knowledge.vectors import VectorStore, VectorsUnavailable
from tests.conftest import _free_port


def test_an_unreachable_server_fails_fast_then_pauses_then_retries(tmp_path, monkeypatch):
    store = VectorStore(tmp_path / "chroma", f"http://127.0.0.1:{_free_port()}", "hash")
    opened = []
    real_open = store._open
    monkeypatch.setattr(store, "_open", lambda: (opened.append(1), real_open())[1])
    started = time.monotonic()
    with pytest.raises(VectorsUnavailable):
        store.query(np.ones(8, dtype=np.float32), 5)
    assert time.monotonic() - started < 5
    assert not store.healthy and len(opened) == 1
    with pytest.raises(VectorsUnavailable):  # within the pause: not even tried
        store.query(np.ones(8, dtype=np.float32), 5)
    assert len(opened) == 1

    monkeypatch.setattr(store, "_retry_at", 0.0)  # the pause is over
    monkeypatch.setattr(store, "count", lambda: 0)  # ... and the server answers (an empty collection)
    assert store.query(np.ones(8, dtype=np.float32), 5) == []
    assert store.healthy and store._backoff == vectors.BACKOFF_START


def test_each_failure_doubles_the_pause_up_to_its_ceiling(tmp_path):
    store = VectorStore(tmp_path / "chroma", "http://127.0.0.1:9", "hash")
    pauses = []
    for _ in range(6):
        before = time.monotonic()
        store._failed(ConnectionError("refused"))
        pauses.append(round(store._retry_at - before))
    assert pauses == [2, 4, 8, 15, 15, 15]


def _app(settings, store, ready=True, error=None):
    kb = SimpleNamespace(ready=ready, error=error, vector_store=lambda: store)
    return SimpleNamespace(state=SimpleNamespace(kb=kb, settings=settings))


def report(app):
    return asyncio.run(health.report(app))


def test_healthz_says_degraded_with_the_reason(tmp_path):
    settings = Settings(data_dir=tmp_path, chroma_url=f"http://127.0.0.1:{_free_port()}")
    store = VectorStore(tmp_path / "chroma", settings.chroma_url, "hash")
    body, status = report(_app(settings, store))
    assert status == 200 and body["status"] == "degraded"
    assert body["checks"] == {"database": "ok", "chroma": "down"}
    assert body["reasons"][0].startswith("chroma: 向量库服务无法连接")
    assert not store.healthy  # queries skip the vector leg from now on

    broken = Settings(data_dir=tmp_path, database_url=f"postgresql+psycopg://nobody@127.0.0.1:{_free_port()}/x")
    body, status = report(_app(broken, None))
    assert status == 200 and body["status"] == "degraded"
    assert body["checks"]["database"] == "down" and body["reasons"][0].startswith("database: ")


def test_healthz_keeps_its_starting_and_error_shapes(tmp_path):
    settings = Settings(data_dir=tmp_path)
    assert report(_app(settings, None, ready=False)) == ({"status": "starting"}, 503)
    assert report(_app(settings, None, ready=False, error="boom")) == (
        {"status": "error", "error": "boom"}, 503)
    body, status = report(_app(settings, VectorStore(tmp_path / "chroma", None, "hash")))
    assert (body, status) == ({"status": "ok", "checks": {"database": "ok", "chroma": "embedded"}}, 200)
