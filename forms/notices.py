"""The notices the eligibility rules quote (rules/notices.yaml), loaded and checked once.

Why a module of its own: the rules cite these notices and the region logic reads their regions;
with the loader in forms/rules.py, regions imported rules, which imported regions back.
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import yaml

from forms.datafiles import NOTICES, validated

RULES_DIR = Path(__file__).parent / "rules"
NOTICES_FILE = RULES_DIR / "notices.yaml"


@lru_cache
def notices() -> dict[str, dict]:
    """key → {file, title, doc_number, issuer, date, region, valid_until}, as in the file."""
    data = yaml.safe_load(NOTICES_FILE.read_text(encoding="utf-8"))
    return validated(NOTICES, data, str(NOTICES_FILE))
