"""One 'today' for the whole product: China time, or POLICYBOT_TODAY validated as a date."""
from datetime import date, datetime, timezone

import pytest
from pydantic import ValidationError

from core import clock
from core.config import Settings


def test_a_utc_evening_is_already_the_next_day_in_china():
    evening = datetime(2021, 12, 31, 20, 0, tzinfo=timezone.utc)
    assert clock.china_today(evening) == date(2022, 1, 1)


def test_policybot_today_fixes_the_date_for_every_part(monkeypatch):
    monkeypatch.setenv("POLICYBOT_TODAY", "2021-06-01")
    assert clock.today(Settings()) == date(2021, 6, 1)


def test_a_bad_policybot_today_is_refused_when_the_settings_load(monkeypatch):
    monkeypatch.setenv("POLICYBOT_TODAY", "2021-13-45")
    with pytest.raises(ValidationError, match="POLICYBOT_TODAY"):
        Settings()


def test_without_a_fixed_date_it_is_today_in_china(monkeypatch):
    monkeypatch.delenv("POLICYBOT_TODAY", raising=False)
    assert clock.today(Settings(_env_file=None)) == clock.china_today()
