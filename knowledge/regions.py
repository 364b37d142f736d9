"""Read a region (province / city / county) out of a notice's issuer, title or header.

Why a gazetteer kept as data (gazetteer.yaml) rather than per-file rules: notices arrive from
many places; the issuer line ("文水县人力资源和社会保障局") names the place, and the gazetteer
places that name in its province and city. A name not in the gazetteer stays unknown (None)
instead of being guessed.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml

GAZETTEER = Path(__file__).with_name("gazetteer.yaml")


@dataclass(frozen=True)
class Region:
    province: str | None = None
    city: str | None = None
    county: str | None = None

    @property
    def label(self) -> str | None:
        parts = [p for p in (self.province, self.city, self.county) if p]
        # a municipality is its own city: "北京 北京" reads as "北京"
        if len(parts) >= 2 and parts[0] == parts[1]:
            parts = parts[1:]
        return " ".join(parts) or None

    @property
    def specificity(self) -> int:
        return sum(1 for p in (self.province, self.city, self.county) if p)


@lru_cache
def _entries() -> list[tuple[re.Pattern, Region, int]]:
    """(pattern, region, rank): counties first, then cities, then provinces; longer names first."""
    data = yaml.safe_load(GAZETTEER.read_text(encoding="utf-8"))
    out: list[tuple[re.Pattern, Region, int]] = []
    for province, cities in data.items():
        out.append((re.compile(re.escape(province) + r"(?:省|市|自治区|壮族自治区|回族自治区|维吾尔自治区)?"),
                    Region(province), 1))
        for city, counties in (cities or {}).items():
            city_name = city.removesuffix("州") if city.endswith("海南州") else city
            out.append((re.compile(re.escape(city_name) + r"(?:市|地区|盟|州|自治州)?"),
                        Region(province, city), 2))
            for county in counties or []:
                # a county needs its suffix: bare two-character names are too ambiguous
                out.append((re.compile(re.escape(county) + r"(?:县|区|市|旗)"),
                            Region(province, city, county), 3))
    out.sort(key=lambda e: (-e[2], -len(e[0].pattern)))
    return out


def find_regions(text: str) -> list[tuple[int, Region]]:
    """Every gazetteer place named in `text`, with its position."""
    found = []
    for pattern, region, _rank in _entries():
        for m in pattern.finditer(text or ""):
            found.append((m.start(), region))
    return found


def infer_region(*texts: str | None) -> Region:
    """The most specific region named in the first text that names any (issuer before title).

    Within one text, a county wins over its city, a city over its province; a county whose city
    or province is contradicted by a more general name in the same text is dropped.
    """
    for text in texts:
        hits = find_regions(text or "")
        if not hits:
            continue
        regions = [r for _pos, r in hits]
        provinces = {r.province for r in regions if r.specificity == 1}
        cities = {r.city for r in regions if r.specificity == 2}
        best: Region | None = None
        for r in sorted(regions, key=lambda r: -r.specificity):
            if provinces and r.province not in provinces:
                continue
            if r.specificity == 3 and cities and r.city not in cities:
                continue
            best = r
            break
        if best is None:
            best = max(regions, key=lambda r: r.specificity)
        return best
    return Region()


@lru_cache(maxsize=4096)
def _parse_asked(asked: str) -> Region:
    return infer_region(asked)


@lru_cache(maxsize=65536)
def region_matches(asked: str | None, notice_region: str | None) -> float:
    """How well a notice's region fits the asker's: 1 same place or inside it, 0.5 the
    enclosing province, 0 elsewhere or unknown."""
    if not asked or not notice_region:
        return 0.0
    want = _parse_asked(asked)
    have = notice_region.split()
    want_parts = [p for p in (want.province, want.city, want.county) if p] or asked.split()
    if have[: len(want_parts)] == want_parts[: len(have)] and len(have) >= len(want_parts):
        return 1.0
    if have == want_parts[: len(have)]:
        # the notice covers a wider area containing the asker (province rule for a city asker)
        return 0.6
    if have and want_parts and have[0] == want_parts[0]:
        return 0.3
    return 0.0


# ---------------------------------------------------------------- what a person types

ALIASES = Path(__file__).with_name("gazetteer_aliases.yaml")
_SEPARATORS = re.compile(r"[\s·,，、]+")


@lru_cache
def _aliases() -> dict[str, str]:
    return {str(k): str(v) for k, v in (yaml.safe_load(ALIASES.read_text(encoding="utf-8")) or {}).items()}


@lru_cache(maxsize=4096)
def resolve_place(text: str | None) -> str | None:
    """A place as a person types it → its gazetteer path, the one normaliser of such input.

    '聊城' / '山东省聊城市' / '山东 聊城' → '山东 聊城'; a bare county name, which `find_regions`
    leaves alone in notices, is tried with its suffix ('文水' → '山西 吕梁 文水'); a short name
    from gazetteer_aliases.yaml ('鲁' → '山东') when nothing else is named; None when the
    gazetteer does not know the place.
    """
    t = _SEPARATORS.sub("", text or "")
    if not t:
        return None
    best = Region()
    for candidate in (t, t + "县", t + "区", t + "市"):
        found = infer_region(candidate)
        if found.specificity > best.specificity:
            best = found
    if best.label:
        return best.label
    return next((path for alias, path in _aliases().items() if t.startswith(alias)), None)


def within(place: str | None, scope: str) -> bool:
    """True when path `place` lies inside path `scope` ('山东 聊城' is within '山东'); '*' is everywhere."""
    if scope == "*":
        return True
    if not place:
        return False
    p, s = place.split(), scope.split()
    return p[: len(s)] == s


def short_name(label: str | None) -> str | None:
    """A region label's own place ("文水" for 山西 吕梁 文水), as a notice's region reads."""
    return label.split()[-1] if label and label.split() else None


def place_name(region: Region) -> str | None:
    """How a person names the place: its most specific part ("济源" for 河南 济源)."""
    return region.county or region.city or region.province


COVERS = 0.6  # region_matches at or above this: the notice applies to the asker's place


def covered_by(asked: str, notice_regions: list[str | None]) -> bool:
    """Does any loaded notice apply to the asker's place (its own, or an enclosing province's)?"""
    return any(region_matches(asked, r) >= COVERS for r in notice_regions if r)
