"""The shapes of the knowledge word lists: the vocabulary (synonyms.yaml), the next-step topics
(topics.yaml) and the neighbouring services (scope.yaml).

Why schemas: an operator extends these files without reading the code, and they used to load
with no checks, so a misspelt key (`wen:` for `when:`) silently did nothing, and a topic naming a
concept the vocabulary does not hold never matched. Each loader validates its file against the
model here; `policybot validate` (forms/validate.py) runs the same models with line numbers and
checks that every topic concept is an official word of the vocabulary.
"""
from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from core.datafile import describe

class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Expansion(_Strict):
    """Everyday words (`when`) and the official wording they mean (`add`)."""
    when: list[str] = Field(min_length=1)
    add: list[str] = Field(min_length=1)


class Area(_Strict):
    """A policy area for the insights page: the first area whose words (or their everyday words)
    a question holds."""
    name: str = Field(min_length=1)
    words: list[str] = Field(min_length=1)


class Vocabulary(_Strict):
    terms: list[str] = []
    expand: list[Expansion] = []
    colloquial: dict[str, str] = {}
    fillers: list[str] = []
    areas: list[Area] = []

    def official_words(self) -> set[str]:
        return {word for rule in self.expand for word in rule.add}


class TopicSpec(_Strict):
    hint: str = ""
    concepts: list[str] = []
    always: list[str] = []
    who: list[str] = []
    what: list[str] = []
    unless: list[str] = []


class ScopeSpec(_Strict):
    description: str = Field(min_length=1)
    hint: str


TOPICS = TypeAdapter(dict[str, TopicSpec])
SCOPES = TypeAdapter(dict[str, ScopeSpec])


def parsed(model: Any, data: Any, what: str) -> Any:
    """`data` as the model reads it; ValueError naming the file and the places when it does not
    fit (the loaders' way to stop on a broken file at start-up)."""
    try:
        if isinstance(model, TypeAdapter):
            return model.validate_python(data or {})
        return model.model_validate(data or {})
    except ValidationError as bad:
        raise ValueError(f"{what}: {describe(bad)}") from None


def unknown_concepts(vocabulary: Vocabulary, topics: dict[str, TopicSpec]) -> list[tuple[str, int, str]]:
    """(topic, index, concept) for each topic concept that no `expand` rule adds."""
    official = vocabulary.official_words()
    return [(name, i, concept) for name, spec in topics.items()
            for i, concept in enumerate(spec.concepts) if concept not in official]
