"""Complaint photos: download them through the WeChat media API into the data dir.

A follower's image arrives as a MediaId (valid for 3 days) and a PicUrl. When WeChat
credentials are set the photo is fetched right after the ticket (or the supplement that brought
it, bot/tickets/thread.py) is committed (in a thread, so
the follower's reply is not delayed) and again lazily when staff open the ticket if that first
try did not finish; without credentials the MediaId/PicUrl are all we keep.
"""
from __future__ import annotations

import logging
import threading
from pathlib import Path

from sqlalchemy import event
from sqlmodel import Session, select

from core.config import Settings
from storage.db import session_scope
from storage.models import Evidence, Ticket

log = logging.getLogger("policybot.evidence")


def _sniff_ext(blob: bytes) -> str:
    if blob.startswith(b"\x89PNG"):
        return ".png"
    if blob.startswith(b"GIF8"):
        return ".gif"
    return ".jpg"


def fetch_missing(settings: Settings, ticket_id: int) -> int:
    """Download every not-yet-stored photo of a ticket; returns how many were stored."""
    from bot.wechat.client import configured, download_media

    if not configured(settings):
        return 0
    with session_scope(settings.db_url) as s:
        ticket = s.get(Ticket, ticket_id)
        todo = [(e.id, e.media_id) for e in s.exec(select(Evidence).where(
            Evidence.ticket_id == ticket_id, Evidence.file_path.is_(None), Evidence.media_id.is_not(None)))]
        number = ticket.number if ticket else str(ticket_id)
    stored = 0
    for ev_id, media_id in todo:
        try:
            blob = download_media(settings, media_id)
        except Exception as exc:  # expired media, network, quota: keep the MediaId/PicUrl
            log.warning("evidence %s: download failed: %s", ev_id, exc)
            continue
        rel = Path("evidence") / number / f"{ev_id}{_sniff_ext(blob)}"
        path = settings.data_dir / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(blob)
        with session_scope(settings.db_url) as s:
            ev = s.get(Evidence, ev_id)
            ev.file_path = str(rel)
            s.add(ev)
        stored += 1
    return stored


def fetch_in_background(settings: Settings, ticket_id: int) -> None:
    threading.Thread(target=fetch_missing, args=(settings, ticket_id), daemon=True).start()


def fetch_after_commit(session: Session, settings: Settings, ticket_id: int) -> None:
    """Fetch the ticket's new photos once `session` commits (the fetching thread must see them;
    a rolled-back turn fetches nothing)."""
    event.listen(session, "after_commit", lambda _session: fetch_in_background(settings, ticket_id), once=True)
