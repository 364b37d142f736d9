"""HTTP plumbing every route shares: who the client is, whether it came over HTTPS, the
security headers of every page, and errors that are always a 4xx with a Chinese reason
(NUL characters in the URL included).

Why one module: these are decisions about the request, not about any one route — the /wechat
allow-list and the console's reveal log both need the caller's address (X-Forwarded-For is
believed only from POLICYBOT_TRUSTED_PROXIES, so nobody can claim to be WeChat by sending a
header); the console cookie's Secure flag follows the scheme; and a hostile body (NaN, 1,200
nested brackets, a wrong type) must never surface as a 500 or as framework English, whatever
route it reaches — whatever package the route is in.
"""
from __future__ import annotations

import ipaddress
import logging
import re
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException as StarletteHTTPException

from core.config import IPNetwork, Settings

log = logging.getLogger("policybot.web")

CHINESE = re.compile(r"[\u4e00-\u9fff]")

# Pages that set no policy of their own (console and simulator do) still may not be framed,
# change the base URL or embed plugins; this leaves /docs's scripts working.
DEFAULT_PAGE_CSP = "frame-ancestors 'none'; base-uri 'none'; object-src 'none'"


# ---------------------------------------------------------------- the caller

def _within(address: str, nets: list[IPNetwork]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in net for net in nets)


def client_ip(request: Request, settings: Settings) -> str:
    """The caller's address: the connecting peer, or — when that peer is a trusted proxy — the
    right-most X-Forwarded-For hop that is not itself a trusted proxy (the left-most hops are
    whatever the client chose to write)."""
    peer = request.client.host if request.client else ""
    proxies = settings.proxy_networks
    if not proxies or not _within(peer, proxies):
        return peer
    hops = [h.strip() for h in ",".join(request.headers.getlist("x-forwarded-for")).split(",") if h.strip()]
    for hop in reversed(hops):
        if not _within(hop, proxies):
            return hop
        peer = hop
    return peer


def ip_allowed(address: str, nets: list[IPNetwork]) -> bool:
    """Empty list: everyone; otherwise the address must parse and fall in one of the networks."""
    return not nets or _within(address, nets)


def came_over_https(request: Request) -> bool:
    """HTTPS to this server, or to the proxy in front of it (X-Forwarded-Proto: https). Trusting
    the header from anyone is safe here: it can only make a cookie stricter."""
    forwarded = request.headers.get("x-forwarded-proto", "").split(",")[0].strip().lower()
    return request.url.scheme == "https" or forwarded == "https"


def secure_cookie(request: Request, settings: Settings) -> bool:
    """POLICYBOT_CONSOLE_SECURE_COOKIE when set, else whether this request came over HTTPS."""
    if settings.console.secure_cookie is not None:
        return settings.console.secure_cookie
    return came_over_https(request)


# ---------------------------------------------------------------- headers

class SecurityHeaders:
    """Pure ASGI middleware: `nosniff` on every response; on an HTML page without a policy of
    its own, DEFAULT_PAGE_CSP and X-Frame-Options (for browsers without frame-ancestors)."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers.setdefault("X-Content-Type-Options", "nosniff")
                if headers.get("content-type", "").startswith("text/html"):
                    headers.setdefault("Content-Security-Policy", DEFAULT_PAGE_CSP)
                    headers.setdefault("X-Frame-Options", "DENY")
            await send(message)

        await self.app(scope, receive, send_with_headers)


class NoNulInUrl:
    """Pure ASGI middleware: a path or query string with a NUL character (%00) is refused with
    400 before any route sees it — no route has a use for one, and PostgreSQL refuses NUL in
    text, so it would surface as a 500 wherever a parameter reaches a query."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http" and ("\x00" in scope.get("path", "")
                                        or b"%00" in scope.get("query_string", b"").lower()
                                        or b"\x00" in scope.get("query_string", b"")):
            response = JSONResponse({"detail": "请求地址中含有空字符（%00）"}, status_code=400)
            return await response(scope, receive, send)
        await self.app(scope, receive, send)


# ---------------------------------------------------------------- errors

STATUS_TEXT = {
    400: "请求无法解析", 401: "需要登录或口令", 403: "没有权限", 404: "没有这个页面或资源",
    405: "不支持该请求方法", 406: "无法提供该格式", 413: "请求体太大", 415: "不支持的内容类型",
    422: "请求内容不正确", 429: "请求太频繁，请稍后再试",
}
ERROR_TEXT = {
    "missing": "缺少{field}",
    "string_type": "{field}必须是文字",
    "string_too_short": "{field}不能为空",
    "string_longer_than": "{field}太短（至少 {min_length} 字）",
    "string_too_long": "{field}太长（最多 {max_length} 字）",
    "string_pattern_mismatch": "{field}格式不正确",
    "int_type": "{field}必须是整数", "int_parsing": "{field}必须是整数",
    "int_from_float": "{field}必须是整数", "int_parsing_size": "{field}超出范围",
    "float_type": "{field}必须是数字", "float_parsing": "{field}必须是数字",
    "finite_number": "{field}必须是有限的数字",
    "bool_type": "{field}必须是 true 或 false", "bool_parsing": "{field}必须是 true 或 false",
    "greater_than_equal": "{field}不能小于 {ge}", "less_than_equal": "{field}不能大于 {le}",
    "json_invalid": "请求体不是合法的 JSON", "json_type": "请求体不是合法的 JSON",
    "model_attributes_type": "请求体必须是 JSON 对象", "dict_type": "{field}必须是 JSON 对象",
    "list_type": "{field}必须是列表",
    "date_type": "{field}必须是 YYYY-MM-DD 格式的日期", "date_parsing": "{field}必须是 YYYY-MM-DD 格式的日期",
    "date_from_datetime_parsing": "{field}必须是 YYYY-MM-DD 格式的日期",
    "date_from_datetime_inexact": "{field}必须是 YYYY-MM-DD 格式的日期", "literal_error": "{field}取值不正确", "enum": "{field}取值不正确",
}
_LOCATIONS = ("body", "query", "path", "header", "cookie")


def _field(loc: tuple) -> str:
    return ".".join(str(p) for p in loc if p not in _LOCATIONS and not isinstance(p, int))


def field_titles(request: Request) -> dict[str, str]:
    """The Chinese names (`Field(title=...)`) of the matched route's body model, by field."""
    body = getattr(request.scope.get("route"), "body_field", None)
    model = getattr(getattr(body, "field_info", None), "annotation", None)
    fields = getattr(model, "model_fields", None) or {}
    return {name: f.title for name, f in fields.items() if f.title and CHINESE.search(f.title)}


def validation_message(error: dict[str, Any], titles: dict[str, str] | None = None) -> tuple[str, str]:
    """(Chinese message, field name) for one pydantic/FastAPI validation error; a field with a
    Chinese title is named by it too ("缺少新吸纳时间（字段 hire_date）")."""
    field = _field(tuple(error.get("loc") or ()))
    kind = error.get("type", "")
    ctx = {k: v for k, v in (error.get("ctx") or {}).items() if k != "field" and isinstance(v, (int, float, str))}
    title = (titles or {}).get(field)
    if kind == "value_error" and CHINESE.search(str(error.get("msg", ""))):  # our own validators
        named = f"{title}（字段 {field}）" if title else f"字段 {field}："
        return named + str(error["msg"]).removeprefix("Value error, "), field
    label = f"{title}（字段 {field}）" if title else (f"字段 {field} " if field else "请求体")
    if kind == "string_too_short" and isinstance(ctx.get("min_length"), int) and ctx["min_length"] > 1:
        kind = "string_longer_than"  # "不能为空" would mislead for a text that is merely too short
    try:
        text = ERROR_TEXT.get(kind, "{field}格式不正确").format(field=label, **ctx)
    except (KeyError, IndexError):
        text = label + "格式不正确"
    return text.strip(), field


async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
    errors = exc.errors() or [{}]
    message, field = validation_message(errors[0], field_titles(request))
    # the framework's own body would echo the input, which may be NaN (not JSON: a 500)
    return JSONResponse({"detail": message, "field": field or "body"}, status_code=422)


async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
    headers = getattr(exc, "headers", None)
    if exc.status_code < 200 or exc.status_code in (204, 205, 304):  # no body allowed
        return Response(status_code=exc.status_code, headers=headers)
    detail = exc.detail
    if not (isinstance(detail, str) and CHINESE.search(detail)):
        detail = STATUS_TEXT.get(exc.status_code, "请求无法处理")
    return JSONResponse({"detail": detail}, status_code=exc.status_code, headers=headers)


async def _too_deep(request: Request, exc: RecursionError) -> JSONResponse:
    log.warning("%s %s: too deeply nested input refused", request.method, request.url.path)
    return JSONResponse({"detail": "请求内容嵌套层次过深，无法处理"}, status_code=400)


# What a refusal body is (the 422s above): the schema /openapi.json advertises
# for 422 instead of FastAPI's list of English validation errors, which no route returns.
REFUSAL_SCHEMA = {
    "title": "Refusal",
    "type": "object",
    "properties": {
        "detail": {"type": "string", "title": "Detail", "description": "为什么不受理（中文）"},
        "field": {"type": "string", "title": "Field", "description": "出错的字段（body：整个请求体）"},
    },
    "required": ["detail"],
}


def _documented_refusals(app: FastAPI) -> None:
    """/openapi.json describes the 422 body the handlers really send (REFUSAL_SCHEMA)."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        schema = generate()  # FastAPI builds it once and keeps it in app.openapi_schema
        components = schema.get("components", {}).get("schemas", {})
        if "HTTPValidationError" in components:
            components["HTTPValidationError"] = REFUSAL_SCHEMA  # every 422 refers to it by name
            components.pop("ValidationError", None)  # referred to by the old one only
        return schema

    app.openapi = openapi


def install(app: FastAPI) -> None:
    """The headers middleware, the error handlers and their schema, on `app`."""
    app.add_middleware(NoNulInUrl)
    app.add_middleware(SecurityHeaders)  # added last: outermost, so even the refusals get nosniff
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RecursionError, _too_deep)
    _documented_refusals(app)
