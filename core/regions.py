"""Places: one `Place` type, read from the gazetteer, with one path and one display form.

Why a gazetteer kept as data (gazetteer.yaml) rather than per-file rules: notices arrive from
many places; the issuer line ("文水县人力资源和社会保障局") names the place, and the gazetteer
places that name in its province and city. A name not in the gazetteer stays unknown instead of
being guessed. What a person types ('聊城', '山东省聊城市', '鲁') is placed by the same gazetteer
(`resolve_place`), so a follower's region, a notice's region, a rule's scope and a routing
region's path are spelt alike.

A place has these spellings, each made here and nowhere else:
- its path, the key every part stores and compares ("山东 聊城", "山西 吕梁 文水"; a
  municipality is its own city, so 北京's path is "北京", its district's "北京 海淀");
- its display text, the path without spaces ("山东聊城"), as a rule's verdict names it;
- its name, its most specific part ("聊城"), as a person names it.
A routing region's name ("聊城", deploy/routing.yaml) is data of the complaint desk, which names
a path (bot/routing.py).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml

from core.text import fold

GAZETTEER = Path(__file__).with_name("gazetteer.yaml")
ALIASES = Path(__file__).with_name("gazetteer_aliases.yaml")


@dataclass(frozen=True)
class Place:
    province: str | None = None
    city: str | None = None
    county: str | None = None

    @property
    def parts(self) -> tuple[str, ...]:
        """The path's parts: ("山东", "聊城"); a municipality is its own city: ("北京",)."""
        parts = [p for p in (self.province, self.city, self.county) if p]
        if len(parts) >= 2 and parts[0] == parts[1]:
            parts = parts[1:]
        return tuple(parts)

    @property
    def path(self) -> str | None:
        """"山东 聊城": the key every part stores and compares (None: no place)."""
        return " ".join(self.parts) or None

    @property
    def display(self) -> str | None:
        """"山东聊城": the path as a sentence names it."""
        return display(self.path)

    @property
    def name(self) -> str | None:
        """"聊城": the most specific part, as a person names the place."""
        return short_name(self.path)

    @property
    def specificity(self) -> int:
        return sum(1 for p in (self.province, self.city, self.county) if p)


# ---------------------------------------------------------------- paths

def tidy_path(text: str | None) -> str:
    """A path as written in a data file or typed: parts separated by one space."""
    return " ".join((text or "").split())


def within(place: str | None, scope: str) -> bool:
    """True when path `place` lies inside path `scope` ('山东 聊城' is within '山东'); '*' is everywhere."""
    if scope == "*":
        return True
    if not place:
        return False
    p, s = place.split(), scope.split()
    return p[: len(s)] == s


def display(path: str | None) -> str | None:
    """"山东 聊城" → "山东聊城"."""
    return path.replace(" ", "") if path else path


def short_name(path: str | None) -> str | None:
    """A path's own place ("文水" for 山西 吕梁 文水), as a notice's region reads."""
    return path.split()[-1] if path and path.split() else None


# ---------------------------------------------------------------- the gazetteer

@lru_cache
def _entries() -> list[tuple[re.Pattern, Place, int]]:
    """(pattern, place, rank): counties first, then cities, then provinces; longer names first."""
    data = yaml.safe_load(GAZETTEER.read_text(encoding="utf-8"))
    out: list[tuple[re.Pattern, Place, int]] = []
    for province, cities in data.items():
        out.append((re.compile(re.escape(province) + r"(?:省|市|自治区|壮族自治区|回族自治区|维吾尔自治区)?"),
                    Place(province), 1))
        for city, counties in (cities or {}).items():
            city_name = city.removesuffix("州") if city.endswith("海南州") else city
            out.append((re.compile(re.escape(city_name) + r"(?:市|地区|盟|州|自治州)?"),
                        Place(province, city), 2))
            for county in counties or []:
                # a county needs its suffix: bare two-character names are too ambiguous
                out.append((re.compile(re.escape(county) + r"(?:县|区|市|旗)"),
                            Place(province, city, county), 3))
    out.sort(key=lambda e: (-e[2], -len(e[0].pattern)))
    return out


@lru_cache
def _by_head() -> dict[str, list[int]]:
    """The entries (their indices in `_entries()`) by the first two characters of their name
    (one for a one-character name): a text can only name places whose head it contains."""
    heads: dict[str, list[int]] = {}
    for i, (pattern, _place, _rank) in enumerate(_entries()):
        name = re.sub(r"\\(.)", r"\1", pattern.pattern.split("(?:", 1)[0])  # re.escape undone
        heads.setdefault(name[:2], []).append(i)
    return heads


def find_places(text: str) -> list[tuple[int, Place]]:
    """Every gazetteer place named in `text`, with its position. Only the entries whose name's
    head occurs in the text are tried (thousands of county patterns against every question and
    notice field were a visible share of a turn's CPU); the order is the entries' own."""
    text = text or ""
    heads = _by_head()
    tried: set[int] = set()
    for i in range(len(text)):
        for head in (text[i:i + 2], text[i]):
            tried.update(heads.get(head, ()))
    entries = _entries()
    found = []
    for i in sorted(tried):
        pattern, place, _rank = entries[i]
        for m in pattern.finditer(text):
            found.append((m.start(), place))
    return found


def infer_place(*texts: str | None) -> Place:
    """The most specific place named in the first text that names any (issuer before title).

    Within one text, a county wins over its city, a city over its province; a county whose city
    or province is contradicted by a more general name in the same text is dropped.
    """
    for text in texts:
        hits = find_places(text or "")
        if not hits:
            continue
        places = [p for _pos, p in hits]
        provinces = {p.province for p in places if p.specificity == 1}
        cities = {p.city for p in places if p.specificity == 2}
        best: Place | None = None
        for p in sorted(places, key=lambda p: -p.specificity):
            if provinces and p.province not in provinces:
                continue
            if p.specificity == 3 and cities and p.city not in cities:
                continue
            best = p
            break
        if best is None:
            best = max(places, key=lambda p: p.specificity)
        return best
    return Place()


# ---------------------------------------------------------------- what a person types

_SEPARATORS = re.compile(r"[\s·,，、]+")


@lru_cache
def _aliases() -> dict[str, str]:
    return {str(k): str(v) for k, v in (yaml.safe_load(ALIASES.read_text(encoding="utf-8")) or {}).items()}


@lru_cache(maxsize=4096)
def resolve_place(text: str | None) -> str | None:
    """A place as a person types it → its path, the one normaliser of such input.

    '聊城' / '山东省聊城市' / '山东 聊城' → '山东 聊城'; a bare county name, which `find_places`
    leaves alone in notices, is tried with its suffix ('文水' → '山西 吕梁 文水'); a short name
    from gazetteer_aliases.yaml ('鲁' → '山东') when nothing else is named; None when the
    gazetteer does not know the place. The text is read in core.text's `fold` ('濟源' as '济源').
    """
    t = _SEPARATORS.sub("", fold(text))
    if not t:
        return None
    best = Place()
    for candidate in (t, t + "县", t + "区", t + "市"):
        found = infer_place(candidate)
        if found.specificity > best.specificity:
            best = found
    if best.path:
        return best.path
    return next((path for alias, path in _aliases().items() if t.startswith(alias)), None)


def is_path(text: str | None) -> bool:
    """True when `text` is a place's path as the gazetteer spells it ('山东 聊城', not '聊城')."""
    return bool(text) and resolve_place(text) == tidy_path(text)
