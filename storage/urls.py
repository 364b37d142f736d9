"""Database URLs: what storage.db and storage.migrate both need before they hold an engine —
the check that a URL (not the settings) was passed, and the directory of a SQLite file.
Its own module so that db (which migrates on init) and migrate (which opens its own engine)
do not import each other."""
from __future__ import annotations

from pathlib import Path

from sqlalchemy.engine import make_url


def checked_url(url) -> str:
    if not isinstance(url, str):  # the old signature took the Settings
        raise TypeError(f"storage.db takes a database URL (settings.db_url), not {type(url).__name__}")
    return url


def ensure_sqlite_dir(url: str) -> None:
    """Create the directory of a SQLite file (the data dir on a first start)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
