"""The state of a follower's active form: typed, versioned, and readable from every older shape.

Why a model: the state is kept between messages (the router stores `FormState.dump()` in the
follower's JSON column) and must survive an upgrade. Until version 2 it was an untyped dict of
ten string keys with no version; `FormState.load` reads both, repairing what is damaged (a
follower whose state cannot be read starts the walk again rather than meeting an error), and
every save writes the current version. The engine returns a new state for every message and
never sees where it is kept.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timezone
from typing import Any, Mapping, Optional

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

VERSION = 2  # 1: the unversioned dict of the first engine (see `from_legacy`)
CONFIRM, FIX = "_confirm", "_fix"  # `pending` at the summary and at its correction menu


def _moment(value: Any) -> Optional[datetime]:
    """An ISO time (aware; a naive one is UTC), or None when absent or unreadable."""
    if isinstance(value, datetime):
        moment = value
    else:
        try:
            moment = datetime.fromisoformat(str(value))
        except ValueError:
            return None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


class FormState(BaseModel):
    model_config = ConfigDict(extra="ignore")

    version: int = VERSION
    form: str
    slots: dict[str, Any] = {}  # slot name → value (JSON)
    labels: dict[str, str] = {}  # slot name → how the answer was shown
    history: list[str] = []  # answered slots, in order (for 上一步)
    pending: Optional[str] = None  # the slot asked, or _confirm / _fix
    misses: int = 0  # unrecognised answers in a row
    offer_cancel: bool = False  # after three misses: "1 continue / 2 cancel" is on offer
    collecting: dict[str, list[Any]] = {}  # photos received so far, by slot
    leaving: Optional[str] = None  # a message for elsewhere, kept while the follower is asked to drop the form
    started_at: Optional[datetime] = None
    updated_at: Optional[datetime] = None  # None: never expires

    _times = field_validator("started_at", "updated_at", mode="before")(_moment)

    @classmethod
    def load(cls, raw: Any) -> Optional["FormState"]:
        """The stored state, of any version; None when there is no active form."""
        if not isinstance(raw, Mapping) or not raw.get("form"):
            return None
        if raw.get("version") == VERSION:
            try:
                return cls.model_validate(raw)
            except ValidationError:
                pass  # damaged: repaired like an old one
        return cls.from_legacy(raw)

    @classmethod
    def from_legacy(cls, raw: Mapping) -> "FormState":
        """Version 1: {form, slots, labels, history, pending, misses, offer_cancel, collecting,
        started_at, updated_at}, any of them possibly missing or of the wrong type. A damaged
        part is emptied, as the first engine did (slots, labels, history → the walk starts again)."""
        def typed(key: str, kind: type, empty: Any) -> Any:
            value = raw.get(key)
            if isinstance(value, bool) and kind is not bool:  # to Python a bool is an int
                return empty
            return value if isinstance(value, kind) else empty

        pending = raw.get("pending")
        return cls(
            form=str(raw["form"]),
            slots=dict(typed("slots", dict, {})),
            labels={str(k): str(v) for k, v in typed("labels", dict, {}).items()},
            history=[str(h) for h in typed("history", list, [])],
            pending=pending if isinstance(pending, str) else None,
            misses=typed("misses", int, 0),
            offer_cancel=typed("offer_cancel", bool, False),
            collecting={str(k): list(v) for k, v in typed("collecting", dict, {}).items() if isinstance(v, list)},
            started_at=raw.get("started_at"),
            updated_at=raw.get("updated_at"),
        )

    def dump(self) -> dict:
        """The JSON the router stores."""
        return self.model_dump(mode="json")


@dataclass(frozen=True)
class UserInput:
    """One message as the engine sees it: what the follower sent, plus what the router knows
    that the engine may not look up itself (the date, the time, the follower's region)."""

    today: date  # for relative dates ("去年三月"); the router's one "today" (core.clock)
    now: datetime  # aware; for the 24-hour expiry
    kind: str = "text"  # text | voice | image | event …
    text: str = ""
    media_id: Optional[str] = None
    pic_url: Optional[str] = None
    event: Optional[str] = None
    event_key: Optional[str] = None
    region: Optional[str] = None  # the follower's region, for `prefill: follower_region`
    command: Optional[str] = None  # what the message does outside the form ("查询投诉进度"), if anything
    context: Any = None  # handed untouched to the completion action (the router's Turn)


@dataclass
class Filled:
    """What a completion action gets: the form, the answers that apply, how they were shown."""

    form: Any  # forms.definition.FormDef
    values: dict[str, Any]
    labels: dict[str, str]
    today: date  # the day the router says it is (core.clock)
