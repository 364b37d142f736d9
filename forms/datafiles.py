"""The shapes of the data files beside the forms: choice sets, rule sets, notices, routing.

Why schemas: these files are edited by people who do not read the code, and they used to load
with no checks, so a misspelt key surfaced as a KeyError in a follower's conversation. Each file
is validated against its model when it loads, and `policybot validate` (forms/validate.py) runs
the same models with line numbers and checks the files against each other. The loaders keep
handing the rest of the code the plain data they always did; the models only say what is
allowed. `deploy/routing.yaml` is read by bot/routing.py; its shape lives here with the others
so that one command checks every data file.
"""
from __future__ import annotations

import datetime as dt
import re
from typing import Any, Literal, Optional, Union

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, field_validator, model_validator

from core.datafile import describe
from forms import conditions


class Strict(BaseModel):
    """A data model that rejects keys it does not know (a typo is an error, not a silent no-op)."""

    model_config = ConfigDict(extra="forbid")


def check_condition(cond: Optional[dict]) -> Optional[dict]:
    """A field validator for `when`: the condition's shape (facts are checked by the callers)."""
    found = conditions.problems(cond)
    if found:
        raise ValueError("; ".join(found))
    return cond


# ------------------------------------------------------------------ choices (forms/rules/choices.yaml)

class Choice(Strict):
    """One answer offered by number or by word."""

    label: str
    value: Any = None  # default: the label
    aliases: list[str] = []
    hidden: bool = False  # never numbered; still matched by its words
    goto: Optional[str] = None  # the slot asked next, or _end
    implies: Optional[str] = None  # a slot this answer can fill in the same message
    show_word: Optional[bool] = None


CHOICE_SETS = TypeAdapter(dict[str, list[Choice]])


# ------------------------------------------------------------------ rules (forms/rules/<check>.yaml)

class Clause(Strict):
    notice: str  # a key of notices.yaml
    quote: str  # verbatim from the notice's file
    scope: Optional[str] = None


class Rule(Strict):
    id: str
    effect: Literal["fail", "review", "pass", "info"]
    text: str
    clauses: list[Clause] = Field(min_length=1)
    when: Optional[dict] = None
    scope: Optional[str] = None
    stop: bool = False
    show_when: Optional[list[Literal["eligible", "not_eligible", "needs_review"]]] = None

    _when = field_validator("when")(check_condition)


class RuleSet(BaseModel):
    """A rule set; besides these keys it may carry the figures its check reads (amounts …)."""

    model_config = ConfigDict(extra="allow")

    check: str
    title: str
    rules_from: list[str] = []
    rules: list[Rule] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_ids(self) -> "RuleSet":
        ids = [r.id for r in self.rules]
        twice = sorted({i for i in ids if ids.count(i) > 1})
        if twice:
            raise ValueError(f"rule ids used twice: {', '.join(twice)}")
        return self


# ------------------------------------------------------------------ notices (forms/rules/notices.yaml)

class NoticeRef(Strict):
    """A notice the rules quote; the fields mirror knowledge.types.Source."""

    file: str  # the corpus file's stem
    title: str
    doc_number: Optional[str] = None  # 文号
    issuer: Optional[str] = None
    date: Optional[dt.date] = None
    region: Optional[str] = None
    valid_until: Optional[dt.date] = None
    topics: list[str] = []  # what the notice is a local rule for ("电子培训券"), for a guide's `regional`


NOTICES = TypeAdapter(dict[str, NoticeRef])


# ------------------------------------------------------------------ routing (deploy/routing.yaml)

Names = Union[str, list[str], None]


class RoutingRegion(Strict):
    name: str
    path: Optional[str] = None
    aliases: list[str] = []


class RoutingTeam(Strict):
    name: str
    region: Optional[str] = None


class RoutingRule(Strict):
    team: str
    region: Names = None
    category: Names = None


class RoutingFile(Strict):
    regions: list[RoutingRegion] = Field(min_length=1)
    fallback_region: Optional[str] = None
    teams: dict[str, RoutingTeam] = Field(min_length=1)
    rules: list[RoutingRule] = []


def names(value: Names) -> list[str]:
    """A routing rule's `region` / `category`: one name, a list, or none (any)."""
    if value is None:
        return []
    return [value] if isinstance(value, str) else list(value)


def check(model: Any, data: Any, **context: Any) -> None:
    """Validate `data` against a model class or a TypeAdapter; raises pydantic's ValidationError."""
    if isinstance(model, TypeAdapter):
        model.validate_python(data, context=context or None)
    else:
        model.model_validate(data, context=context or None)


def validated(model: Any, data: Any, what: str) -> Any:
    """`data` unchanged if it fits the model; else ValueError naming the file and the places."""
    try:
        check(model, data)
    except ValidationError as bad:
        raise ValueError(f"{what}: {describe(bad)}") from None
    return data


# ------------------------------------------------------------------ answer kinds (forms/rules/looks_like.yaml)

class AnswerKind(Strict):
    """How one kind of answer is recognised (forms/looks.py)."""

    parse: Optional[Literal["date", "phone", "place"]] = None
    words: list[str] = []
    max_chars: int = 12
    rest_max: Optional[int] = Field(None, ge=0)  # at most this many characters besides the words
    min_chars: Optional[int] = Field(None, ge=1)
    min_chars_punctuated: Optional[int] = Field(None, ge=1)
    include: list[str] = []
    mentions: list[str] = []

    @field_validator("words", "mentions")
    @classmethod
    def _patterns(cls, value: list[str]) -> list[str]:
        for pattern in value:
            try:
                re.compile(pattern)
            except re.error as bad:
                raise ValueError(f"not a regular expression ({bad}): {pattern}") from None
        return value


class AnswerKinds(Strict):
    parsers: dict[str, str] = {}  # parser → the kind its slots expect unless they say `looks_like`
    kinds: dict[str, AnswerKind] = Field(min_length=1)

    @model_validator(mode="after")
    def _known(self) -> "AnswerKinds":
        named = [(f"parsers.{p}", k) for p, k in self.parsers.items()]
        named += [(f"kinds.{n}.include", k) for n, kind in self.kinds.items() for k in kind.include]
        unknown = [f"{where}: no kind {k!r}" for where, k in named if k not in self.kinds]
        if unknown:
            raise ValueError("; ".join(unknown))
        return self
