"""How well a notice's region fits the asker's place: the answering pipeline's region score.

Places themselves — the gazetteer, reading a place out of a notice's issuer or a follower's
words, paths and their display forms — are core/regions.py; this module only scores a notice
for an asker, which is the ranker's concern.
"""
from __future__ import annotations

from functools import lru_cache

from core.regions import Place, infer_place


@lru_cache(maxsize=4096)
def _parse_asked(asked: str) -> Place:
    """A stored path (“山西 吕梁 交城”) is read part by part: read as text, its bare county name
    is too ambiguous for the gazetteer and the path would stand for its whole city."""
    parts = asked.split()
    if len(parts) > 1:
        return Place(*parts[:3])
    return infer_place(asked)


@lru_cache(maxsize=65536)
def region_matches(asked: str | None, notice_region: str | None) -> float:
    """How well a notice's region (a path) fits the asker's: 1 the same place or inside it, 0.6
    a wider area holding the asker (the province's rule for a city), 0.3 elsewhere in the same
    province, 0 elsewhere or unknown."""
    if not asked or not notice_region:
        return 0.0
    want = _parse_asked(asked)
    have = notice_region.split()
    want_parts = list(want.parts) or asked.split()
    if have[: len(want_parts)] == want_parts[: len(have)] and len(have) >= len(want_parts):
        return 1.0
    if have == want_parts[: len(have)]:
        # the notice covers a wider area containing the asker (province rule for a city asker)
        return 0.6
    if have and want_parts and have[0] == want_parts[0]:
        return 0.3
    return 0.0


COVERS = 0.6  # region_matches at or above this: the notice applies to the asker's place


def covered_by(asked: str, notice_regions: list[str | None]) -> bool:
    """Does any loaded notice apply to the asker's place (its own, or an enclosing province's)?"""
    return any(region_matches(asked, r) >= COVERS for r in notice_regions if r)


def place_named(text: str, covered: list[str]) -> Place:
    """The place a question names: the gazetteer's reading (core.regions.infer_place), or a
    county that a loaded notice is about, named without its suffix (“文水的培训机构…”). A bare
    two-character county name is too ambiguous to read in any text, but one whose notice the
    asker can be answered from is what the asker means; it refines a city or province named
    with it (“吕梁文水” → the county)."""
    found = infer_place(text)
    for region in covered:
        parts = tuple(region.split())
        if len(parts) == 3 and parts[2] in text and parts[:len(found.parts)] == found.parts and parts != found.parts:
            return Place(*parts)
    return found
