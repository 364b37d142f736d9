"""Which years a question asks about, and whether a clause's notice speaks for them.

Why: “济源2022年的培训任务是多少” is not answered by the 2021 plan, however close its words are,
and “山东2022年的以工代训补贴标准” is not answered by a rule that ended on 2021年12月31日: quoting
them would pass an old year's figure off as the asked year's. A notice speaks for the years from
the earliest to the latest it names (its title, its date, its end of validity, the clause) —
“2019—2021年” covers 2020. A question about the rule's own dates (“什么时候到期”, “还能申请吗”) is
the expiry line's to answer, so it is left alone here.
"""
from __future__ import annotations

import re

ASKED = re.compile(r"(?<!\d)(20\d{2})\s*(?=年|—|－|-|~|至|到)")
NAMED = re.compile(r"(?<!\d)(20\d{2})(?=\s*(?:年|—|－|-|~|至|到|\)|）))")
DATE_TYPES = ("date", "deadline")


def asked_years(question: str) -> set[int]:
    return {int(y) for y in ASKED.findall(question)}


def years_spoken_for(notice, text: str) -> tuple[int, int] | None:
    """(first, last) year the notice speaks for, or None when it names none."""
    years = {int(y) for y in NAMED.findall(f"{notice.title} {text}")}
    years |= {d.year for d in (notice.date, notice.valid_until) if d is not None}
    return (min(years), max(years)) if years else None


def unmet_year(question: str, types, notice, text: str) -> int | None:
    """The first year the question asks about that the notice does not speak for, or None."""
    if any(t.name in DATE_TYPES for t in types):
        return None
    span = years_spoken_for(notice, text)
    if span is None:
        return None
    outside = sorted(y for y in asked_years(question) if not span[0] <= y <= span[1])
    return outside[0] if outside else None
