"""Complaint routing: which region a follower's place is, and which team handles a complaint.

Who handles what changes with every reorganisation, so it is data (`deploy/routing.yaml`, or
the file named by POLICYBOT_ROUTING_FILE), not code. The file is re-read when it changes; a
missing file falls back to one dispatch team that supervisors see. Places are not listed here:
a routing region is a name the desk uses ("聊城") for a gazetteer path (`path: 山东 聊城`), and a
follower's answer is placed by the one normaliser, `core.regions.resolve_place`; `aliases` are
only for words the gazetteer does not know.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import yaml

from core.config import Settings
from core.regions import is_path, resolve_place, tidy_path, within

log = logging.getLogger("policybot.routing")

BUNDLED_RULES = Path(__file__).resolve().parents[1] / "deploy" / "routing.yaml"

_FALLBACK = {
    "regions": [{"name": "其他"}],
    "fallback_region": "其他",
    "teams": {"dispatch": {"name": "投诉受理中心", "region": "其他"}},
    "rules": [{"team": "dispatch"}],
}


@dataclass
class Area:
    """A region of the complaint desk: its name in routing.yaml and the place it covers."""

    name: str
    path: str = ""  # a core.regions path, e.g. "山东 聊城"; empty: none
    aliases: list[str] = field(default_factory=list)  # words the gazetteer does not know

    def contains(self, place: Optional[str]) -> bool:
        return bool(self.path) and within(place, self.path)


@dataclass
class Team:
    id: str
    name: str
    region: Optional[str] = None


@dataclass
class Rule:
    team: str
    regions: list[str] = field(default_factory=list)  # empty: any
    categories: list[str] = field(default_factory=list)  # empty: any

    def matches(self, region: str, category: str) -> bool:
        return (not self.regions or region in self.regions) and (not self.categories or category in self.categories)


def _as_list(value) -> list[str]:
    if value is None:
        return []
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]


class Routing:
    def __init__(self, data: dict):
        self.regions = [Area(str(r["name"]), tidy_path(str(r.get("path") or "")), _as_list(r.get("aliases")))
                        for r in data.get("regions") or []]
        self.fallback_region: str = str(data.get("fallback_region") or (self.regions[-1].name if self.regions else "其他"))
        self.teams: dict[str, Team] = {
            str(tid): Team(str(tid), str(t.get("name", tid)), t.get("region"))
            for tid, t in (data.get("teams") or {}).items()
        }
        self.rules = [Rule(str(r["team"]), _as_list(r.get("region")), _as_list(r.get("category")))
                      for r in data.get("rules") or []]
        if not self.teams:
            raise ValueError("routing rules define no teams")
        unknown = {r.team for r in self.rules} - set(self.teams)
        if unknown:
            raise ValueError(f"routing rules name unknown teams: {sorted(unknown)}")
        misplaced = [r.name for r in self.regions if r.path and not is_path(r.path)]
        if misplaced:
            raise ValueError(f"routing regions whose path is not a gazetteer place: {misplaced}")

    @property
    def region_names(self) -> list[str]:
        return [r.name for r in self.regions]

    def match_region(self, text: str) -> Optional[str]:
        """The region for a place as typed ('山东聊城东昌府区' → '聊城'), else None: a region's own
        name, else the region whose path holds the place (the most specific), else one whose name
        or alias the text contains."""
        text = (text or "").strip()
        by_name = next((r.name for r in self.regions if text == r.name), None)
        if by_name:
            return by_name
        place = resolve_place(text)
        holding = [r for r in self.regions if r.contains(place)]
        if holding:
            return max(holding, key=lambda r: len(r.path.split())).name
        return next((r.name for r in self.regions if any(a and a in text for a in [r.name, *r.aliases])), None)

    def team_for(self, region: str, category: str) -> str:
        for rule in self.rules:
            if rule.matches(region, category):
                return rule.team
        return next(iter(self.teams))

    def team_name(self, team_id: str) -> str:
        team = self.teams.get(team_id)
        return team.name if team else team_id


_cache: dict[str, tuple[float, Routing]] = {}


def load_routing(settings: Settings) -> Routing:
    """The routing rules, re-read when the file's mtime changes."""
    path = Path(settings.routing_file) if settings.routing_file else BUNDLED_RULES
    if not path.exists():
        return Routing(_FALLBACK)
    mtime = path.stat().st_mtime
    key = str(path.resolve())
    hit = _cache.get(key)
    if hit and hit[0] == mtime:
        return hit[1]
    try:
        routing = Routing(yaml.safe_load(path.read_text(encoding="utf-8")) or _FALLBACK)
    except (yaml.YAMLError, ValueError, KeyError, TypeError, AttributeError) as exc:
        if hit is None:  # at start-up: refuse to run on a broken file
            raise ValueError(f"{path}: invalid routing rules: {exc}") from exc
        log.error("%s: invalid routing rules, keeping the previous ones: %s", path, exc)
        return hit[1]
    _cache[key] = (mtime, routing)
    return routing
