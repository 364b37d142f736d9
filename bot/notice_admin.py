"""The admin's notice actions as the console, the CLI and the JSON API share them: the lifecycle
change itself (knowledge/lifecycle.py through KnowledgeBase.change), the eligibility rules that
cite a withdrawn notice (reported, forms/citations.py), and the answers followers still hold.

Why a module in the bot layer: a withdrawal reaches past the knowledge base — the forms' rules
(the layer above it) and what the chat channel keeps per follower: the numbered choices on offer
(`choices:<openid>`, 30 minutes) and the unsent part of a long answer (更多). Those that quote
the notice are dropped at once, so no follower reads it after the withdrawal.
"""
from __future__ import annotations

import json
import logging
from datetime import timedelta

from sqlmodel import select

from forms.citations import rules_citing
from knowledge.lifecycle import LifecycleError
from storage.db import session_scope
from storage.models import Follower, KeyValue, utcnow

log = logging.getLogger("policybot.notices")

__all__ = ["LifecycleError", "listing", "detail", "withdraw", "restore", "supersede", "edit"]
RECENT = timedelta(days=1)  # followers whose 更多 part may still be read


def listing(kb) -> list[dict]:
    return kb.notices()


def affected_rules(notice: dict, extracted: dict | None = None) -> list[dict]:
    """The rules whose clauses cite this notice (by its 文号, or its file for the first notice)."""
    docs = [notice.get("doc_number"), (extracted or {}).get("doc_number")]
    return rules_citing(docs, notice["file"], notice.get("seq") == 0)


def detail(kb, notice_id: int) -> dict:
    found = kb.notice(notice_id)
    found["affected_rules"] = affected_rules(found["notice"], found["extracted"])
    return found


def withdraw(kb, notice_id: int, reason: str, actor: str) -> dict:
    notice = kb.change("withdraw", notice_id, actor, reason=reason)
    extracted = kb.notice(notice_id)["extracted"]
    rules = affected_rules(notice, extracted)
    if rules:
        log.warning("notice %s withdrawn by %s; rules citing it: %s", notice_id, actor,
                    ", ".join(r["rule"] for r in rules))
    forget_cached(kb.settings, [notice["title"], extracted.get("title")])
    return {"notice": notice, "affected_rules": rules}


def restore(kb, notice_id: int, actor: str, reason: str = "") -> dict:
    return {"notice": kb.change("restore", notice_id, actor, reason=reason)}


def supersede(kb, notice_id: int, by: int, actor: str, reason: str = "") -> dict:
    return {"notice": kb.change("supersede", notice_id, actor, by=by, reason=reason)}


def edit(kb, notice_id: int, changes: dict, actor: str, reason: str = "") -> dict:
    before = kb.notice(notice_id)["notice"]
    notice = kb.change("edit", notice_id, actor, changes=changes, reason=reason)
    if before["title"] != notice["title"]:
        forget_cached(kb.settings, [before["title"]])  # an offered choice must not cite the old title
    return {"notice": notice}


def forget_cached(settings, titles: list[str | None]) -> int:
    """Drop the offered choices and 更多 parts that quote a notice of these titles; returns how
    many followers lost one."""
    titles = [t for t in titles if t]
    if not titles:
        return 0
    now, dropped = utcnow(), 0
    with session_scope(settings.db_url) as s:
        for row in s.exec(select(KeyValue).where(KeyValue.key.startswith("choices:"))):
            if row.expires_at is not None and row.expires_at <= now:
                continue
            try:
                offered = json.loads(row.value)
            except ValueError:
                continue
            if any(src.get("title") in titles for c in offered for src in c.get("sources", [])) or \
                    any(t in c.get("answer", "") for c in offered for t in titles):
                s.delete(row)
                dropped += 1
        for follower in s.exec(select(Follower).where(Follower.last_seen_at >= now - RECENT)):
            if follower.more_pages and any(t in page for page in follower.more_pages for t in titles):
                follower.more_pages = []
                s.add(follower)
                dropped += 1
    return dropped
