"""One turn of a conversation, as the dialog router hands it to a handler or a form.

Why in core: the forms and the channel both speak it, and the forms must not import the bot.

The WeChat layer turns a parsed wechatpy message into an `Inbound`; the router loads the
follower's row (`Follower`'s columns as a plain object) and builds a `Turn`. Handlers return
reply text; the router pages long text ('更多') and saves the follower when the turn ends, in
the same transaction.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Optional

from sqlmodel import Session

from core.config import Settings


@dataclass
class Inbound:
    openid: str
    kind: str  # text | voice | image | location | link | video | shortvideo | file | event
    text: str = ""  # the text, or a voice message's Recognition
    media_id: Optional[str] = None
    pic_url: Optional[str] = None
    event: Optional[str] = None  # subscribe | unsubscribe | click | view | location …
    event_key: Optional[str] = None
    msg_id: Optional[str] = None
    created_at: datetime = field(default_factory=datetime.now)


@dataclass
class Turn:
    inbound: Inbound
    follower: Any  # storage.follower_row.FollowerState: the row the router loaded (and saves) for this turn
    session: Session
    settings: Settings
    kb: Any  # knowledge.service.KnowledgeBase (core names no layer above it)
    # the follower's short-lived KeyValue rows read with the follower row, by key (None: absent);
    # bot/turn_values.py reads and writes them, a key not in here is looked up on its own
    values: dict[str, Any] = field(default_factory=dict)
    written: dict[str, Any] = field(default_factory=dict)  # the values put or dropped, until saved
