"""The FastAPI application: wiring only. Routes live in their own modules and stay thin; what
every route shares (security headers, 4xx errors in Chinese, the caller's address) is bot.web."""
from __future__ import annotations

import logging
from contextlib import asynccontextmanager

from fastapi import FastAPI

from bot import logsafe, metrics, web
from bot.console.auth import bootstrap_admin
from bot.dialog import wiring as dialog_wiring
from bot.wechat import push_retry
from bot.routing import load_routing
from core.config import Settings, get_settings
from forms import registry as forms_registry
from forms.validate import SHIPPED, validate_tree
from knowledge.service import KnowledgeBase
from storage.db import init_db

log = logging.getLogger("policybot")


def check_data(settings: Settings) -> None:
    """`policybot validate` at start-up: a form naming a missing fact or clause, or a rule citing
    a notice that is not shipped, stops the start with each problem's file and line, instead of
    surfacing as a wrong verdict in a follower's chat."""
    problems = validate_tree(SHIPPED, actions=forms_registry.ACTIONS, routing=settings.routing_file)
    if problems:
        raise RuntimeError("数据文件检查未通过（policybot validate）：\n" + "\n".join(map(str, problems)))


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    # no phone, ID number or full openid in any log line; each carries its request's id
    logsafe.install(settings.log_level, settings.log_format, settings.worker_id)
    dialog_wiring.wire()  # the complaint desk's and the ID-number notice's part of the dialog

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        settings.ensure_dirs()
        init_db(settings.db_url, upgrade=settings.migrate_on_start)
        bootstrap_admin(settings)
        load_routing(settings)  # a broken deploy/routing.yaml stops the start with its reason
        check_data(settings)  # forms, rules, choices, notices and routing against each other
        app.state.kb.start()
        retry = push_retry.start(settings)  # kept pushes (45047, network) retried periodically
        yield
        await push_retry.stop(retry)
        app.state.kb.close()

    app = FastAPI(title="技能政策助手 policybot", lifespan=lifespan)
    app.state.settings = settings
    app.state.kb = KnowledgeBase(settings, log_questions=True)  # the channels' questions are logged
    web.install(app)
    metrics.install(app)  # GET /metrics, request counts and latency, X-Policybot-Worker
    app.add_middleware(logsafe.RequestId)  # outermost: X-Request-ID on every log line and response

    from bot import api, notices_api, progress_page, tickets_api, unanswered_api
    from bot.console import notices as console_notices
    from bot.console import routes as console_routes
    from bot.console import unanswered as console_unanswered
    from bot.wechat import routes as wechat_routes
    from forms import api as forms_api

    app.include_router(api.router)
    app.include_router(notices_api.router)
    app.include_router(wechat_routes.router)
    app.include_router(forms_api.router)
    app.include_router(console_routes.router)
    app.include_router(console_notices.router)
    app.include_router(unanswered_api.router)
    app.include_router(tickets_api.router)
    app.include_router(console_unanswered.router)
    app.include_router(progress_page.router)  # the follower's read-only progress page (no login)
    app.router.routes[:0] = wechat_routes.FIRST_ROUTES  # POST /wechat matched before anything else
    return app
