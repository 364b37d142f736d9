"""What every table module shares: the one way to stamp a row with the time."""
from __future__ import annotations

from datetime import datetime, timezone


def utcnow() -> datetime:
    # Aware: sqlmodel ≥ 0.0.3x maps `datetime` fields to UTCDateTime, which refuses naive values
    # on write and returns aware UTC on read — so compare aware with aware everywhere.
    return datetime.now(timezone.utc)
