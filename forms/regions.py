"""Which region a follower is in, as far as the rules care.

Eligibility rules are regional: the 以工代训 rule exists only in 山东's notices, 济源 and 文水
have their own trainee rules. A follower says "聊城", "山东聊城", "文水县" or the router stored
"山东 聊城"; `canonical()` turns any of these into one space-separated path ("山东 聊城") that
rule scopes can be compared with by prefix. The place names are data (regions.yaml).
"""
from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

import yaml

DATA = Path(__file__).parent / "rules" / "regions.yaml"


@lru_cache
def _data() -> dict:
    return yaml.safe_load(DATA.read_text(encoding="utf-8"))


def _strip_suffix(name: str) -> str:
    return re.sub(r"(特别行政区|壮族自治区|回族自治区|维吾尔自治区|自治区|示范区|省|市|县|区)$", "", name)


def canonical(text: str | None) -> str | None:
    """'聊城' / '山东省聊城市' / '山东 聊城' → '山东 聊城'; '北京' → '北京'; junk → None."""
    if not text:
        return None
    t = re.sub(r"[\s·,，、]+", "", text)
    if not t:
        return None
    # the most specific known place mentioned wins (a county beats its province)
    best: tuple[int, str] | None = None
    for path, aliases in _data()["known"].items():
        for alias in aliases:
            if alias in t:
                depth = len(path.split())
                if best is None or depth > best[0]:
                    best = (depth, path)
    if best:
        return best[1]
    for province in _data()["provinces"]:
        if t.startswith(province):
            return province
    return None


def parse_place(text: str) -> str | None:
    """Like canonical(), but also accepts an unknown place name that looks like one
    ('郑州市', '某某县'), returned as typed; anything else → None."""
    found = canonical(text)
    if found:
        return found
    t = re.sub(r"\s+", "", text or "")
    if re.fullmatch(r"[\u4e00-\u9fff]{1,12}(省|市|县|区|州|盟|旗)", t):
        return t
    return None


def within(region: str | None, scope: str) -> bool:
    """True when `region` lies inside `scope` ('山东 聊城' is within '山东'); '*' is everywhere."""
    if scope == "*":
        return True
    if not region:
        return False
    r, s = region.split(), scope.split()
    return r[: len(s)] == s


def covered(region: str | None, scopes: list[str]) -> bool:
    return any(within(region, s) for s in scopes)


def label(region: str | None) -> str:
    return (region or "未说明地区").replace(" ", "")
