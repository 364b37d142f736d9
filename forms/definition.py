"""A form definition as a typed model: what a file in forms/defs/ may say, checked when it loads.

Why a model: a form is data that people edit. A misspelt key (`parsr:`), a `goto` to a slot that
was renamed or a `when` on a fact no slot asks used to surface as a KeyError in a follower's
conversation; now the form fails to load, naming the form, the slot and the field. The engine
reads these models; parsers still get a slot's data as a plain mapping (`Slot.spec`), the shape
custom parsers and their tests speak. Checks that need other files (a `@set` in choices.yaml, a
notice, a registered action) are `policybot validate`'s (forms/validate.py).
"""
from __future__ import annotations

from functools import cached_property
from typing import Any, Literal, Optional, Union

from pydantic import Field, ValidationInfo, field_validator, model_validator

from core.datafile import dotted
from forms import conditions
from forms.datafiles import Choice, Strict, check_condition
from forms.looks import kind_names
from forms.parsers import PARSERS

END = "_end"  # `goto: _end` completes the form


class Other(Strict):
    """With `other`, an unmatched answer is kept as this value, the typed words shown."""

    value: str
    label: str


class YesNoLabels(Strict):
    """How a yes/no slot shows its answers (YAML reads unquoted yes/no keys as booleans)."""

    yes: str = "是"
    no: str = "否"

    @model_validator(mode="before")
    @classmethod
    def _boolean_keys(cls, data: Any) -> Any:
        if isinstance(data, dict):
            return {{True: "yes", False: "no"}.get(k, k): v for k, v in data.items()}
        return data


class Slot(Strict):
    """One question. Keys after `side_questions` are read by the parsers."""

    name: str
    question: str
    label: Optional[str] = None
    parser: str = "text"
    help: Optional[str] = None  # the line under the question (default: how to answer, 上一步, 取消)
    when: Optional[dict] = None  # asked only when this condition holds (forms/conditions.py)
    choices: Union[list[Choice], str, None] = None  # inline, or "@set" of rules/choices.yaml
    prefill: Optional[Literal["follower_region"]] = None
    no_summary: bool = False
    only_by_goto: bool = False  # asked only when a choice jumps to it
    side_questions: bool = False  # a free-text slot that still takes questions as side questions
    other: Optional[Other] = None
    show_word: Optional[bool] = None
    unit: Optional[str] = None
    min: Optional[int] = None
    max: Optional[int] = None
    example: Union[str, int, None] = None
    zero_words: Optional[list[str]] = None
    yes_words: Optional[list[str]] = None
    no_words: Optional[list[str]] = None
    labels: Optional[YesNoLabels] = None
    skip_words: Optional[list[str]] = None
    skip_label: Optional[str] = None
    min_len: Optional[int] = None
    max_len: Optional[int] = None
    too_short: Optional[str] = None  # the re-ask for a text under min_len ("{min_len}" is filled in)
    places: bool = False  # the choices are places: a typed place is matched to the choice that contains it
    prefill_note: Optional[str] = None  # said when prefilled; "{shown}" is the answer
    change_words: list[str] = []  # reopen this answered slot from anywhere in the form ("改地区")
    looks_like: Optional[str] = None  # the kind of answer expected (forms/rules/looks_like.yaml), if not the parser's

    @field_validator("looks_like")
    @classmethod
    def _known_kind(cls, value: Optional[str]) -> Optional[str]:
        if value is not None and value not in kind_names():
            raise ValueError(f"unknown answer kind {value!r} (known: {', '.join(sorted(kind_names()))})")
        return value

    _when = field_validator("when")(check_condition)

    @field_validator("choices")
    @classmethod
    def _set_name(cls, value: Any) -> Any:
        if isinstance(value, str) and not value.startswith("@"):
            raise ValueError(f"a shared choice set is named with '@' (\"@{value}\")")
        return value

    @field_validator("parser")
    @classmethod
    def _known_parser(cls, value: str) -> str:
        if value not in PARSERS:
            raise ValueError(f"unknown parser {value!r} (known: {', '.join(sorted(PARSERS))})")
        return value

    @cached_property
    def spec(self) -> dict:
        """The slot's data as a mapping, for the parsers and the choice matching."""
        return self.model_dump(exclude_none=True)

    @property
    def shown_label(self) -> str:
        return self.name if self.label is None else self.label

    def applies(self, values: dict) -> bool:
        """Whether the slot is asked, given the answers so far (its `when`)."""
        return conditions.holds(self.when, values)


class Triggers(Strict):
    phrases: list[str] = []
    menu_keys: list[str] = []


class Cite(Strict):
    notice: str  # a key of rules/notices.yaml
    quote: str


class Regional(Strict):
    """A guide that follows one region's notice: `elsewhere` is said when the follower's region
    has no notice of `topic` (rules/notices.yaml `topics`); "{region}" and "{regions}" (those
    that have one) are filled in."""

    topic: str
    elsewhere: str


class FormDef(Strict):
    """A whole form; see forms/defs/*.yaml."""

    name: str
    title: str
    slots: list[Slot] = Field(min_length=1)
    on_complete: str  # a completion action's registered name
    triggers: Triggers = Field(default_factory=Triggers)
    intro: str = ""
    confirm: bool = True  # show a summary to confirm or correct before completing
    confirm_label: str = "确认，查看结果"
    cancel_message: Optional[str] = None
    check: Optional[str] = None  # the rule set (rules/<check>.yaml) an eligibility check runs
    cite: Optional[Cite] = None  # the clause a guide cites when it ends
    quotes: list[str] = []  # verbatim text of `cite`'s notice the pages paraphrase
    regional: Optional[Regional] = None  # said at the start for a follower outside the notices' regions

    @field_validator("on_complete")
    @classmethod
    def _action_name(cls, value: str) -> str:
        if ":" in value:
            raise ValueError(f"name a registered completion action, not a code path ({value!r})")
        return value

    @model_validator(mode="after")
    def _references(self, info: ValidationInfo) -> "FormDef":
        if (info.context or {}).get("references", True):
            found = reference_problems(self)
            if found:
                names = [s.name for s in self.slots]
                raise ValueError("; ".join(f"{where(loc, names)}: {msg}" for loc, msg in found))
        return self

    @cached_property
    def by_name(self) -> dict[str, Slot]:
        return {s.name: s for s in self.slots}

    def slot(self, name: Optional[str]) -> Optional[Slot]:
        return self.by_name.get(name) if name else None

    @property
    def first_phrase(self) -> str:
        return self.triggers.phrases[0] if self.triggers.phrases else self.title


def reference_problems(form: FormDef) -> list[tuple[tuple, str]]:
    """(place in the form, problem) for every name the form uses but does not define: slot names
    given twice, a choice's `goto` / `implies`, a `when` on a fact no slot asks."""
    names = [s.name for s in form.slots]
    found: list[tuple[tuple, str]] = []
    for i, slot in enumerate(form.slots):
        if names.index(slot.name) != i:
            found.append((("slots", i, "name"), f"slot name {slot.name!r} is used twice"))
        for fact in sorted(conditions.facts(slot.when) - set(names)):
            found.append((("slots", i, "when"), f"`when` reads {fact!r}, which no slot of this form asks"))
        for j, choice in enumerate(slot.choices if isinstance(slot.choices, list) else []):
            if choice.goto and choice.goto != END and choice.goto not in names:
                found.append((("slots", i, "choices", j, "goto"), f"`goto: {choice.goto}` names no slot"))
            if choice.implies and choice.implies not in names:
                found.append((("slots", i, "choices", j, "implies"), f"`implies: {choice.implies}` names no slot"))
    return found


def where(loc: tuple, slot_names: list) -> str:
    """'slot industry (slots[2]).when' for a place in a form whose slots are called `slot_names`."""
    if len(loc) >= 2 and loc[0] == "slots" and isinstance(loc[1], int) and loc[1] < len(slot_names):
        return f"slot {slot_names[loc[1]]} ({dotted(loc[:2])}){dotted(loc[2:], inner=True)}"
    return dotted(loc)
