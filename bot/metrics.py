"""Prometheus metrics: GET /metrics in the text format, and what feeds it.

Why: an operator of several workers must see, without reading logs, how many requests each
route gets and how slow they are, how many questions are refused, whether pushes fail, how
many replies wait in the queue, and how many complaints are past their due date
(docs/operations.md says what each metric means).

How the numbers add up across workers: counters and histograms are kept by prometheus_client.
With PROMETHEUS_MULTIPROC_DIR set (scripts/cluster.sh and the container set it, and wipe it
before the workers start), every worker writes its values to files there and whichever worker
is scraped sums them all; without it, the process's own registry is read. Gauges of shared
state (queue depth, overdue tickets) are not kept by anyone: the scraped worker counts them in
the database at scrape time, so no two workers ever disagree about them.

Who may read /metrics (POLICYBOT_METRICS): `local` (default) allows loopback, the trusted
proxies, POLICYBOT_METRICS_ALLOWED_IPS, or a request with the admin bearer token; `open`
allows anyone; `off` answers 404. The caller's address is bot.web.client_ip, so a request that
came through nginx from outside is judged by its real address, not nginx's.

The middleware also names the worker in an `X-Policybot-Worker` header when
POLICYBOT_WORKER_ID is set, so an operator (and tests/test_cluster.py) can see which worker
served a request behind the balancer.
"""
from __future__ import annotations

import ipaddress
import logging
import os
import time

from fastapi import APIRouter, FastAPI, Header, HTTPException, Request
from fastapi.responses import Response
from prometheus_client import (REGISTRY, CollectorRegistry, Counter, Histogram, disable_created_metrics,
                               generate_latest)
from prometheus_client.core import GaugeMetricFamily
from starlette.datastructures import MutableHeaders

from bot.deps import admin_token_ok
from core.config import Settings, networks

log = logging.getLogger("policybot.metrics")
# the classic text format every Prometheus reads; no `_created` series beside each counter
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
disable_created_metrics()
if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):  # the value files are created there just below
    os.makedirs(os.environ["PROMETHEUS_MULTIPROC_DIR"], exist_ok=True)

REQUESTS = Counter("policybot_http_requests", "HTTP requests answered, by route template, method and status",
                   ["route", "method", "status"])
LATENCY = Histogram("policybot_http_request_duration_seconds",
                    "Time from request to the end of the response, by route template, method and status",
                    ["route", "method", "status"],
                    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0))
ANSWERS = Counter("policybot_answers", "Answers the knowledge base produced (API, chat, CLI), by outcome",
                  ["outcome"])
PUSH_FAILURES = Counter("policybot_push_failures",
                        "Customer-service pushes WeChat did not take (kept in the queue), by reason", ["reason"])

UNMATCHED = "(unmatched)"  # a path no route knows: one label, whatever was asked
OTHER = "(other)"  # a mounted app (static files)

router = APIRouter()


# ---------------------------------------------------------------- what feeds the counters

def count_answer(answer) -> None:
    """knowledge.service.ANSWER_HOOKS: every Answer KnowledgeBase.ask returns."""
    ANSWERS.labels("refused" if answer.refused else "answered").inc()


def push_failed(reason: str) -> None:
    """bot.wechat.push: a push WeChat refused or never got (kept for later)."""
    PUSH_FAILURES.labels(reason[:40] or "unknown").inc()


def _route_label(scope: dict, status: int) -> str:
    route = scope.get("route")
    path = getattr(route, "path", None)
    if path:
        return path
    return UNMATCHED if status in (404, 405) or "endpoint" not in scope else OTHER


class RequestMetrics:
    """Pure ASGI middleware, outermost: counts and times every HTTP response by route template
    (never the raw path, so the label set stays small), and adds X-Policybot-Worker."""

    def __init__(self, app, worker: str | None = None):
        self.app = app
        self.worker = worker

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        started = time.perf_counter()
        status = 500  # what the server sends when the app raises before it answers
        counted = False

        def count() -> None:
            nonlocal counted
            if not counted:
                counted = True
                labels = (_route_label(scope, status), scope.get("method", ""), str(status))
                REQUESTS.labels(*labels).inc()
                LATENCY.labels(*labels).observe(time.perf_counter() - started)

        async def send_counted(message):
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                if self.worker:
                    MutableHeaders(scope=message).append("X-Policybot-Worker", self.worker)
            elif message["type"] == "http.response.body" and not message.get("more_body"):
                # counted before the last byte leaves: a client that reads /metrics right after
                # its response (on any worker) finds the request counted
                count()
            await send(message)

        try:
            await self.app(scope, receive, send_counted)
        finally:
            count()


# ---------------------------------------------------------------- scrape-time gauges

class StateCollector:
    """Gauges read from the database (and this worker's vector store) when /metrics is scraped."""

    def __init__(self, settings: Settings, kb=None):
        self.settings = settings
        self.kb = kb

    def collect(self):
        from sqlalchemy import func
        from sqlmodel import select

        from bot import tickets
        from storage.db import session_scope
        from storage.models import PendingPush, Ticket, utcnow

        up = GaugeMetricFamily("policybot_database_up", "1 when the scraped worker could read the database")
        try:
            with session_scope(self.settings.db_url) as s:
                depth, oldest = s.exec(select(func.count(PendingPush.id), func.min(PendingPush.created_at))
                                       .where(PendingPush.delivered_at.is_(None))).one()
                today = tickets.local_today(self.settings)
                by_stage = {}
                for stage, states, due in (("accept", tickets.AWAITING_ACCEPT, Ticket.accept_due),
                                           ("answer", tickets.AWAITING_ANSWER, Ticket.answer_due)):
                    by_stage[stage] = s.exec(select(func.count(Ticket.id)).where(
                        Ticket.status.in_(states), due < today)).one()
                open_by_status = dict(s.exec(select(Ticket.status, func.count(Ticket.id))
                                             .where(Ticket.status != tickets.CLOSED).group_by(Ticket.status)).all())
        except Exception as exc:  # the scrape still answers, saying the database is down
            log.warning("metrics: database not readable: %s", type(exc).__name__)
            up.add_metric([], 0)
            yield up
        else:
            up.add_metric([], 1)
            yield up
            queue = GaugeMetricFamily("policybot_push_queue_depth",
                                      "Replies kept for a later push (PendingPush rows not delivered)")
            queue.add_metric([], depth)
            yield queue
            age = GaugeMetricFamily("policybot_push_queue_oldest_seconds",
                                    "Age of the oldest reply waiting in the push queue (0: empty)")
            age.add_metric([], _age_seconds(oldest, utcnow()))
            yield age
            overdue = GaugeMetricFamily("policybot_tickets_overdue",
                                        "Complaints past their due date, by the step that is late",
                                        labels=["stage"])
            for stage, n in by_stage.items():
                overdue.add_metric([stage], n)
            yield overdue
            open_ = GaugeMetricFamily("policybot_tickets_open", "Complaints not closed, by status",
                                      labels=["status"])
            for status in tickets.STATES:
                if status != tickets.CLOSED:
                    open_.add_metric([status], open_by_status.get(status, 0))
            yield open_
        store = self.kb.vector_store() if self.kb is not None else None
        if store is not None:
            vec = GaugeMetricFamily("policybot_vector_store_up",
                                    "1 when the scraped worker's vector leg is healthy (0: BM25 only)")
            vec.add_metric([], 1 if store.healthy else 0)
            yield vec


def _age_seconds(oldest, now) -> float:
    if oldest is None:
        return 0.0
    if oldest.tzinfo is None:  # SQLite hands back naive UTC
        from datetime import timezone

        oldest = oldest.replace(tzinfo=timezone.utc)
    return max(0.0, (now - oldest).total_seconds())


def exposition(settings: Settings, kb=None) -> bytes:
    """The text a scrape gets: every worker's counters (or this process's), then the gauges."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        counters = generate_latest(registry)
    else:
        counters = generate_latest(REGISTRY)
    state = CollectorRegistry(auto_describe=False)
    state.register(StateCollector(settings, kb))
    return counters + generate_latest(state)


# ---------------------------------------------------------------- the route

def _allowed(request: Request, settings: Settings, authorization: str | None) -> bool:
    from bot.web import client_ip

    try:
        address = ipaddress.ip_address(client_ip(request, settings))
    except ValueError:
        address = None
    if address is not None and (address.is_loopback or any(
            address in net for net in settings.proxy_networks + networks(settings.metrics_allowed_ips))):
        return True
    return admin_token_ok(settings, authorization)


@router.get("/metrics", include_in_schema=False)
def metrics(request: Request, authorization: str | None = Header(None)) -> Response:
    settings: Settings = request.app.state.settings
    if settings.metrics == "off":
        raise HTTPException(404, "监控指标未开启（POLICYBOT_METRICS=off）")
    if settings.metrics == "local" and not _allowed(request, settings, authorization):
        raise HTTPException(403, "无权查看监控指标：只允许本机、受信任的代理、POLICYBOT_METRICS_ALLOWED_IPS "
                                 "中的地址，或带管理口令的请求（Authorization: Bearer）")
    body = exposition(settings, getattr(request.app.state, "kb", None))
    return Response(body, media_type=CONTENT_TYPE)


def install(app: FastAPI) -> None:
    """The middleware (outermost), the /metrics route and the refusal counter, on `app`."""
    from knowledge.service import ANSWER_HOOKS

    settings: Settings = app.state.settings
    worker = f"{settings.worker_id}:{os.getpid()}" if settings.worker_id else None
    app.add_middleware(RequestMetrics, worker=worker)
    app.include_router(router)
    if count_answer not in ANSWER_HOOKS:
        ANSWER_HOOKS.append(count_answer)
