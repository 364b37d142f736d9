"""What day it is, once for the whole product: in China time, or POLICYBOT_TODAY when set.

Why one definition: expiry flags, ticket due dates and eligibility checks must agree. On a UTC
server, date.today() runs eight hours behind China every night, so a rule that ends on 31
December would be flagged as expired by the tickets but not by the answers. The weeks of the
charts (questions asked, complaints filed) are China-time weeks for the same reason.
"""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

CHINA = timezone(timedelta(hours=8))


def china_today(now: datetime | None = None) -> date:
    """Today's date in China (`now`: an aware moment, for tests; default the current one)."""
    return (now or datetime.now(timezone.utc)).astimezone(CHINA).date()


def china_date(moment: datetime) -> date:
    """The date in China of a stored moment (a naive one is UTC, as the database keeps them)."""
    return (moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)).astimezone(CHINA).date()


def week_start(moment: datetime | date) -> date:
    """The Monday of the China-time week a moment (or a date) falls in: the weeks of every chart."""
    day = china_date(moment) if isinstance(moment, datetime) else moment
    return day - timedelta(days=day.weekday())


def today(settings) -> date:
    """POLICYBOT_TODAY (validated as a date when the settings load), else today in China."""
    fixed = getattr(settings, "today", None)
    return fixed if isinstance(fixed, date) else china_today()
