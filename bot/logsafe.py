"""Log lines never carry a phone number, an ID number or a full openid in clear.

Why a filter on every handler and not only care at the call sites: the lines that leak are the
ones nobody wrote on purpose — a traceback quoting a value, SQLAlchemy's statement log with its
bound parameters (on at POLICYBOT_LOG_LEVEL=INFO), uvicorn's access log with WeChat's
`?openid=` in the URL. So `install()` puts `RedactFilter` on the root handler and uvicorn's
handlers (and on the `uvicorn.access` logger itself). What it masks, and how, is
`core.pii.redact` (mobile numbers, ID numbers, WeChat-shaped openids, the signed-URL values of
/wechat's query); this module only installs it.

A request id on every line of a request: `RequestId` (pure ASGI middleware, outermost) takes
X-Request-ID from the proxy (deploy/nginx.conf passes nginx's `$request_id`, so nginx's access
log and the worker's lines share it) or makes one, echoes it in the response and keeps it in a
context variable that every log record of that request reads — a threadpool route, the access
line and a traceback included. With POLICYBOT_LOG_FORMAT=json (the deploy/ files) every line is
one JSON object `{time, level, logger, message, request_id, pid, worker?, exception?}` for a
log collector; the default `text` stays readable on a console.
"""
from __future__ import annotations

import json
import logging
import re
import uuid
from contextvars import ContextVar
from datetime import datetime, timezone

from starlette.datastructures import MutableHeaders

from core.pii import redact

REQUEST_ID: ContextVar[str | None] = ContextVar("policybot_request_id", default=None)
HEADER = "X-Request-ID"
_GOOD_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")  # nginx's $request_id is 32 hex digits
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def _redact_arg(arg):
    if isinstance(arg, (int, float)) or arg is None:
        return arg
    return redact(arg if isinstance(arg, str) else str(arg))


class RedactFilter(logging.Filter):
    """Masks the message, its arguments (kept as a tuple: uvicorn's formatters unpack them) and
    the traceback text of every record that reaches the handler."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            if isinstance(record.msg, str):
                record.msg = redact(record.msg)
            if isinstance(record.args, tuple):
                record.args = tuple(_redact_arg(a) for a in record.args)
            elif isinstance(record.args, dict):
                record.args = {k: _redact_arg(v) for k, v in record.args.items()}
            if record.exc_info and not record.exc_text:
                record.exc_text = logging.Formatter().formatException(record.exc_info)
            if record.exc_text:
                record.exc_text = redact(record.exc_text)
            if record.stack_info:
                record.stack_info = redact(record.stack_info)
        except Exception:  # a log line must never take a request down
            pass
        return True


class RequestIdFilter(logging.Filter):
    """Puts the current request's id on the record (`record.request_id`, None outside a request)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "request_id", None) is None:
            record.request_id = REQUEST_ID.get()
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line; the message is already redacted by the handler's RedactFilter."""

    def __init__(self, worker: str | None = None):
        super().__init__()
        self.worker = worker

    def format(self, record: logging.LogRecord) -> str:
        out = {"time": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds"),
               "level": record.levelname, "logger": record.name, "message": record.getMessage(),
               "request_id": getattr(record, "request_id", None) or REQUEST_ID.get(), "pid": record.process}
        if self.worker:
            out["worker"] = self.worker
        if record.exc_info and not record.exc_text:
            record.exc_text = redact(self.formatException(record.exc_info))
        if record.exc_text:
            out["exception"] = record.exc_text
        if record.stack_info:
            out["stack"] = record.stack_info
        return json.dumps(out, ensure_ascii=False, default=str)


def _add_once(handler: logging.Handler, kind: type) -> None:
    if not any(isinstance(f, kind) for f in handler.filters):
        handler.addFilter(kind())


def install(levels: str = "WARNING", fmt: str = "text", worker: str | None = None) -> None:
    """A stderr handler on the root logger (if none), the levels, the redaction and request-id
    filters on every handler of the root and uvicorn loggers, and with `fmt` "json" the JSON
    formatter on all of them. Idempotent (create_app may run more than once).

    `levels` (POLICYBOT_LOG_LEVEL): "INFO", or with named loggers "INFO,sqlalchemy.engine=INFO"
    (SQLAlchemy keeps its own loggers at WARNING unless told, and its INFO shows parameters)."""
    root = logging.getLogger()
    if not root.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter(TEXT_FORMAT))
        root.addHandler(handler)
    for part in filter(None, (p.strip() for p in levels.split(","))):
        name, _, level = part.rpartition("=")
        logging.getLogger(name or None).setLevel(level.strip().upper())
    for name in ("", "uvicorn", "uvicorn.error", "uvicorn.access"):
        for handler in logging.getLogger(name).handlers:
            _add_once(handler, RedactFilter)
            _add_once(handler, RequestIdFilter)
            if fmt == "json":
                handler.setFormatter(JsonFormatter(worker))
    # and on the access logger itself: it holds even if a handler is added or replaced later
    access = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, RedactFilter) for f in access.filters):
        access.addFilter(RedactFilter())


def _incoming(scope) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == b"x-request-id":
            text = value.decode("latin-1").strip()
            return text if _GOOD_ID.fullmatch(text) else None  # never a line break into a log
    return None


class RequestId:
    """Pure ASGI middleware, outermost: the request's id (the proxy's X-Request-ID, else a new
    one) in REQUEST_ID while the request runs, and in the response's X-Request-ID header."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        request_id = _incoming(scope) or uuid.uuid4().hex
        token = REQUEST_ID.set(request_id)

        async def send_with_id(message):
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message)[HEADER] = request_id
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            REQUEST_ID.reset(token)
