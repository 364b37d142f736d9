"""Log lines never carry a phone number, an ID number or a full openid in clear.

Why a filter on every handler and not only care at the call sites: the lines that leak are the
ones nobody wrote on purpose — a traceback quoting a value, SQLAlchemy's statement log with its
bound parameters (on at POLICYBOT_LOG_LEVEL=INFO), uvicorn's access log with WeChat's
`?openid=` in the URL. So `install()` puts `RedactFilter` on the root handler and uvicorn's
handlers (and on the `uvicorn.access` logger itself). What it masks, and how, is
`core.pii.redact` (mobile numbers, ID numbers, WeChat-shaped openids, the signed-URL values of
/wechat's query); this module only installs it.
"""
from __future__ import annotations

import logging

from core.pii import redact


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


def install(levels: str = "WARNING") -> None:
    """A stderr handler on the root logger (if none), the levels, and the filter on every
    handler of the root and uvicorn loggers. Idempotent (create_app may run more than once).

    `levels` (POLICYBOT_LOG_LEVEL): "INFO", or with named loggers "INFO,sqlalchemy.engine=INFO"
    (SQLAlchemy keeps its own loggers at WARNING unless told, and its INFO shows parameters)."""
    root = logging.getLogger()
    if not root.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        root.addHandler(handler)
    for part in filter(None, (p.strip() for p in levels.split(","))):
        name, _, level = part.rpartition("=")
        logging.getLogger(name or None).setLevel(level.strip().upper())
    for name in ("", "uvicorn", "uvicorn.error", "uvicorn.access"):
        for handler in logging.getLogger(name).handlers:
            if not any(isinstance(f, RedactFilter) for f in handler.filters):
                handler.addFilter(RedactFilter())
    # and on the access logger itself: it holds even if a handler is added or replaced later
    access = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, RedactFilter) for f in access.filters):
        access.addFilter(RedactFilter())
