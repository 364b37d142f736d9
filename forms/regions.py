"""Which region a follower is in, as far as the rules care.

Eligibility rules are regional: the 以工代训 rule exists only in 山东's notices, 济源 and 文水
have their own trainee rules. Places are known once, in core/regions.py (the gazetteer,
`resolve_place`, paths and their display forms); this module only says how finely the rules
tell places apart: as finely as the notices they quote (rules/notices.yaml). A place inside a
notice's region is kept down to its city, deeper only where a notice is a county's own ('临清' →
'山东 聊城', '文水县' → '山西 吕梁 文水'); rule scopes compare with that path by prefix
(`within`). A place outside every notice's region has no local rule and is kept as typed
('郑州市').
"""
from __future__ import annotations

import re

from core.regions import display, resolve_place, tidy_path, within
from forms.notices import notices

PLACE_NAME = re.compile(r"[\u4e00-\u9fff]{1,12}(省|市|县|区|州|盟|旗)")


def _notice_regions() -> list[str]:
    return sorted({n["region"] for n in notices().values() if n.get("region")})


def canonical(text: str | None) -> str | None:
    """'聊城' / '山东省聊城市' / '山东 聊城' / '临清' → '山东 聊城'; a place no notice of the
    rules covers ('北京'), or junk → None."""
    path = resolve_place(text)
    covering = [scope for scope in _notice_regions() if within(path, scope)]
    if not covering:
        return None
    depth = max(2, *(len(scope.split()) for scope in covering))
    return " ".join(path.split()[:depth])


def parse_place(text: str) -> str | None:
    """Like canonical(), but also accepts a place elsewhere — one the gazetteer knows ('北京') or
    a name that looks like one ('某某县') — returned as typed; anything else → None."""
    found = canonical(text)
    if found:
        return found
    typed = tidy_path(text)
    if resolve_place(typed) or PLACE_NAME.fullmatch(typed):
        return typed
    return None


def covered(region: str | None, scopes: list[str]) -> bool:
    return any(within(region, s) for s in scopes)


def label(region: str | None) -> str:
    """How a verdict names the follower's region: its display form ("山东聊城")."""
    return display(region) if region else "未说明地区"


def with_topic(topic: str) -> list[str]:
    """The regions whose notices are local rules for `topic` (rules/notices.yaml `topics`)."""
    return sorted({n["region"] for n in notices().values() if n.get("region") and topic in n.get("topics", [])})


def outside_note(regional, region: str | None) -> str:
    """A guide's note for a follower whose region has no notice of its topic ("" when it has, or
    when the region is not known)."""
    scopes = with_topic(regional.topic)
    if not region or not scopes or covered(region, scopes):
        return ""
    shown = "、".join(display(s) for s in scopes)
    return regional.elsewhere.replace("{region}", display(region) or region).replace("{regions}", shown)
