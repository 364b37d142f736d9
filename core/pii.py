"""Personal data in text: mobile numbers, ID numbers (身份证号) and openids — checks, masks and
log redaction.

Why in core: the phone parser (forms), the complaint desk (bot/tickets.py, the complaint action),
the ID-number reply (bot/id_number.py) and the log filter (bot/logsafe.py) must agree on what a
mobile number or an ID number is and on how it is shown masked; one definition each, below
every part that uses them.

`redact` is what the log filter applies to every line: it masks mobile numbers (138****8000),
18-digit ID numbers (110101********123X), WeChat-shaped openids (28 characters starting with
"o") to their first 6 characters + "…", and drops the values of /wechat's `signature`,
`msg_signature`, `timestamp`, `nonce`, `openid` and `echostr` query parameters (with them a log
reader could replay a signed URL, or learn who wrote). Call sites that name a follower use
`mask_openid` themselves, because openids in general (tests, other channels) have no shape a
pattern could rely on.
"""
from __future__ import annotations

import re

MOBILE = re.compile(r"1[3-9]\d{9}")  # a mainland mobile number
ID_NUMBER = re.compile(r"\d{17}[\dXx]")  # a resident ID number (GB 11643-1999), 18 characters
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"


def mask_mobile(number: str) -> str:
    """138****8000: enough for the follower and staff to recognise it, not to dial it."""
    return number[:3] + "****" + number[-4:]


def checksum_ok(number: str) -> bool:
    """An ID number whose check character (the 18th, GB 11643-1999) fits the other 17."""
    if not ID_NUMBER.fullmatch(number or ""):
        return False
    total = sum(int(d) * w for d, w in zip(number[:17], _ID_WEIGHTS))
    return _ID_CHECK[total % 11] == number[17].upper()


def mask_openid(openid: str | None) -> str:
    """'oAbCdE…': enough to tell followers apart in a log, not enough to message one."""
    return (openid or "")[:6] + "…"


# ---------------------------------------------------------------- log redaction

_PHONE_IN_TEXT = re.compile(rf"(?<!\d){MOBILE.pattern}(?!\d)")
_ID_IN_TEXT = re.compile(r"(?<!\d)(\d{6})\d{8}(\d{3}[\dXx])(?![\dA-Za-z])")
# /wechat's query: with these a reader of the log could replay a signed URL (or learn who wrote)
_SECRET_PARAM = re.compile(r"(?<![A-Za-z0-9_])(signature|msg_signature|timestamp|nonce|openid|echostr|"
                           r"access_token)=[^&\s\"']*", re.IGNORECASE)
_WECHAT_OPENID = re.compile(r"(?<![A-Za-z0-9_-])(o[A-Za-z0-9_-]{5})[A-Za-z0-9_-]{22}(?![A-Za-z0-9_-])")


def redact(text: str) -> str:
    """`text` with every mobile number, ID number, WeChat openid and signed-URL value masked."""
    text = _SECRET_PARAM.sub(r"\1=…", text)
    text = _ID_IN_TEXT.sub(r"\1********\2", text)
    text = _PHONE_IN_TEXT.sub(lambda m: mask_mobile(m.group()), text)
    return _WECHAT_OPENID.sub(r"\1…", text)
