"""Topics that deserve a next step beside the quoted clause (topics.yaml).

Why: someone asking "培训机构骗人怎么办" wants the rule (暂停承训资格) *and* a way to act on it;
the bot has a complaint flow, so the answer says how to start it. Which questions are about
institution misconduct is data an operator can extend, not code.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml

from knowledge.wordlists import TOPICS, TopicSpec, parsed

TOPICS_FILE = Path(__file__).with_name("topics.yaml")


@dataclass(frozen=True)
class Topic:
    name: str
    hint: str
    always: tuple[str, ...]
    who: tuple[str, ...]
    what: tuple[str, ...]
    unless: tuple[str, ...] = ()

    def matches(self, question: str) -> bool:
        if any(w in question for w in self.unless):
            return False
        if any(w in question for w in self.always):
            return True
        return any(w in question for w in self.who) and any(w in question for w in self.what)


@lru_cache
def load_topics(path: str | None = None) -> tuple[Topic, ...]:
    file = Path(path or TOPICS_FILE)
    data = parsed(TOPICS, yaml.safe_load(file.read_text(encoding="utf-8")), str(file))
    from knowledge.vocabulary import everyday_words

    def always(spec: TopicSpec) -> tuple[str, ...]:
        words = list(spec.always)
        for concept in spec.concepts:
            words += [concept, *everyday_words(concept)]
        return tuple(dict.fromkeys(words))

    return tuple(Topic(name, spec.hint, always(spec), tuple(spec.who), tuple(spec.what), tuple(spec.unless))
                 for name, spec in data.items())


def hints_for(question: str) -> list[str]:
    """The next-step lines for the (answerable) topics the question is on."""
    return [t.hint for t in load_topics() if t.hint and t.matches(question)]
