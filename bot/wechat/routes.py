"""/wechat (the official account's callback URL) and /simulator (a local stand-in for a phone).

Thin routes: the allow-list and one-message-per-signature are in `gate`, the protocol (and the
timestamp's age) in `protocol`, handling-once and the deadline in `inbox`, the conversation in
`bot.dialog`, the simulator's request building in `simulator`. Nothing here answers 500: a
refusal is 400/403/413 with a Chinese reason, anything unexpected is logged and answered with an
apology (or "success" when the message could not even be read), because WeChat shows the
follower "该公众号暂时无法提供服务" otherwise.
"""
from __future__ import annotations

import base64
import hashlib
import logging
import re
from functools import lru_cache
from typing import Literal
from pathlib import Path

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.routing import Match, Route

from bot.wechat import gate, inbox, menu, protocol, simulator
from bot.wechat.protocol import Rejected

log = logging.getLogger("policybot.wechat")
router = APIRouter()

MAX_BODY = 1 << 20  # 1 MiB: real WeChat messages are a few KB
INLINE_BODY = 64 << 10  # opened on the event loop up to this size; a bigger body in a thread


async def _read_limited(request: Request) -> bytes:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > MAX_BODY:
        raise Rejected(413, "消息过大")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY:
            raise Rejected(413, "消息过大")
        chunks.append(chunk)
    return b"".join(chunks)


async def _token(request: Request) -> str:
    settings = request.app.state.settings  # WECHAT_TOKEN as it is; only the simulator's is stored
    token = settings.wechat.token or await run_in_threadpool(protocol.channel_token, settings)
    if token is None:
        raise Rejected(404, "未配置 WECHAT_TOKEN")
    return token


def _refusal(r: Rejected) -> PlainTextResponse:
    return PlainTextResponse(r.detail, status_code=r.status)


@router.get("/wechat")
async def wechat_verify(request: Request):
    try:
        gate.allowed(request.app.state.settings, request)
        token = await _token(request)
        return PlainTextResponse(protocol.verify_get(request.app.state.settings, token,
                                                     dict(request.query_params)))
    except Rejected as r:
        return _refusal(r)
    except Exception:
        log.exception("GET /wechat failed")
        return PlainTextResponse("", status_code=400)


async def wechat_receive(request: Request):
    """A real message (a few KB) is opened — signatures, decryption, XML: well under a
    millisecond — on the event loop itself, and its signed request recorded in the de-dup
    claim's transaction on the turn's thread (bot.wechat.inbox): one worker-thread hop per
    message. A body over INLINE_BODY (only a forged one is) is parsed in a thread, so that it
    cannot hold the loop up."""
    settings = request.app.state.settings
    params = dict(request.query_params)
    try:
        gate.allowed(settings, request)
        token = await _token(request)
        body = await _read_limited(request)
        if len(body) <= INLINE_BODY:
            envelope = protocol.open_post(settings, token, params, body)
        else:
            envelope = await run_in_threadpool(protocol.open_post, settings, token, params, body)
        signed = gate.signed(params, body)
    except Rejected as r:
        return _refusal(r)
    except Exception:
        log.exception("POST /wechat: could not read the message")
        return PlainTextResponse("success")
    try:
        inbound = protocol.to_inbound(envelope.message)
        key = protocol.dedup_key(envelope.message)
        text = await inbox.respond(settings, request.app.state.kb, inbound, key, signed)
    except Rejected as r:  # a used signature with another body
        return _refusal(r)
    except Exception:
        log.exception("POST /wechat: handling failed")
        text = inbox.APOLOGY
    try:
        body = protocol.seal(settings, token, envelope, text or "")
    except Exception:
        log.exception("POST /wechat: could not build the reply")
        return PlainTextResponse("success")
    media = "text/plain" if body == "success" else "application/xml"
    return Response(body, media_type=media)


# POST /wechat is every follower's message: served by a plain Starlette route placed first in the
# app's routes (bot/app.py), which skips FastAPI's route matching over every router and its
# request handling (dependencies, exit stack) — about a twelfth of a worker's CPU under load
# (py-spy, benchmarks/bench_cluster.py); it takes nothing FastAPI would parse. The same endpoint
# stays on the router for /openapi.json, where the Starlette route does not appear.
class _Route(Route):
    """A Starlette route that names itself in the scope, as FastAPI's do (the metrics' label)."""

    def matches(self, scope):
        match, child = super().matches(scope)
        if match != Match.NONE:
            child["route"] = self
        return match, child


router.add_api_route("/wechat", wechat_receive, methods=["POST"])
FIRST_ROUTES = [_Route("/wechat", wechat_receive, methods=["POST"], include_in_schema=False)]


# ---------------------------------------------------------------- simulator

TEMPLATE = Path(__file__).parent / "templates" / "simulator.html"


def _hashes(html: str, tag: str) -> str:
    blocks = re.findall(rf"<{tag}>(.*?)</{tag}>", html, re.S)
    return " ".join(f"'sha256-{base64.b64encode(hashlib.sha256(b.encode()).digest()).decode()}'" for b in blocks)


@lru_cache
def _page() -> tuple[str, dict[str, str]]:
    """The page and its headers: a CSP that runs only the page's own inline script and style
    (by hash), talks only to this server, and may not be framed (clickjacking)."""
    html = TEMPLATE.read_text(encoding="utf-8")
    csp = (f"default-src 'none'; script-src {_hashes(html, 'script')}; style-src {_hashes(html, 'style')}; "
           "connect-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
    return html, {"Content-Security-Policy": csp, "Referrer-Policy": "no-referrer", "Cache-Control": "no-store"}


class SimMessage(BaseModel):
    openid: str = Field(..., pattern=r"^sim_[A-Za-z0-9_-]{4,40}$")
    kind: str = Field("text", pattern=r"^(text|voice|image|location|link|video|file|event)$")
    content: str = Field("", max_length=4000)
    event: str | None = Field(None, max_length=40)
    key: str | None = Field(None, max_length=100)
    shown: str | None = Field(None, max_length=4000, description="the bubble the page shows for it (kept for a reload)")


class SimMenu(BaseModel):
    """The official account's menu as WeChat's menu API takes it (deploy/wechat-menu.json)."""
    model_config = ConfigDict(extra="allow")
    button: list[dict]


class SimExchange(BaseModel):
    """One message through /wechat as WeChat would send it, and what came back."""
    status: int
    reply: str | None  # the reply's text; None when the bot answered "success" (a push follows)
    mode: str  # aes | raw
    request_xml: str
    response_xml: str


class SimInbox(BaseModel):
    messages: list[str]  # answers that went the push way (no AppSecret in a local trial)


class SimBubble(BaseModel):
    who: Literal["me", "bot"]
    text: str


class SimHistory(BaseModel):
    messages: list[SimBubble]  # the conversation the page showed, oldest first


async def simulator_on(request: Request) -> None:
    """The simulator switch (settings.simulator_enabled: POLICYBOT_SIMULATOR, else on while
    WECHAT_TOKEN is unset). Off, every /simulator route is a 404, like a path that does not exist."""
    if not request.app.state.settings.simulator_enabled:
        raise HTTPException(404)


SIMULATOR_ON = [Depends(simulator_on)]


@router.get("/simulator", dependencies=SIMULATOR_ON)
async def simulator_page():
    html, headers = _page()
    return HTMLResponse(html, headers=headers)


@router.get("/simulator/api/menu", dependencies=SIMULATOR_ON, response_model=SimMenu)
async def simulator_menu():
    return JSONResponse(menu.load_menu())


@router.post("/simulator/api/send", dependencies=SIMULATOR_ON, response_model=SimExchange)
async def simulator_send(message: SimMessage, request: Request):
    token = await run_in_threadpool(protocol.channel_token, request.app.state.settings)
    settings = request.app.state.settings
    result = await simulator.exchange(request.app, settings, token, message)
    await run_in_threadpool(simulator.remember, settings, message.openid,
                            [("me", message.shown or ""), ("bot", result["reply"] or "")])
    return JSONResponse(result)


@router.get("/simulator/api/inbox", dependencies=SIMULATOR_ON, response_model=SimInbox)
async def simulator_inbox(openid: str, request: Request):
    """Answers that went the push way while no WeChat AppSecret is configured (local trial)."""
    if not openid.startswith("sim_"):
        return JSONResponse({"messages": []})
    texts = await run_in_threadpool(simulator.take_pushes, request.app.state.settings, openid)
    return JSONResponse({"messages": texts})


@router.get("/simulator/api/history", dependencies=SIMULATOR_ON, response_model=SimHistory)
async def simulator_history(openid: str, request: Request):
    """The conversation so far, for the page to show again after a reload."""
    if not openid.startswith("sim_"):
        return JSONResponse({"messages": []})
    return JSONResponse({"messages": await run_in_threadpool(simulator.history, request.app.state.settings, openid)})
