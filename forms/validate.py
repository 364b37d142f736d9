"""`policybot validate`: the data files checked against their schemas and against each other.

Why: forms, rules, choice sets, notices and routing are edited apart but name each other — a
rule quotes a notice by key, a slot offers `@industries`, a choice jumps to a slot, a `when`
reads a fact, the complaint form offers routing's regions. A broken name used to show only when
a follower reached it. This walks a checkout (or a copy of one: `root`) and reports every
problem as "file:line: problem", the line taken from the YAML node marks (core/datafile.py).

What is checked:
- each file against its model (forms/definition.py, forms/datafiles.py);
- in a form: slot names, `goto` / `implies` targets, `when` facts, `@set` names, the rule set
  named by `check`, the completion action named by `on_complete`, the notice and the verbatim
  quotes of a guide, a `regional` topic some notice carries, trigger phrases and menu keys shared by two forms;
- in a rule set: each clause's notice key in notices.yaml and its quote verbatim in that
  notice's corpus file, each `when` fact a slot of the form that runs the check (or `today`);
- forms/rules/looks_like.yaml (the kinds of answer slots expect) against its model;
- in notices.yaml: each notice's file in knowledge/corpus (by stem) and its 文号 in that file;
- in routing.yaml: the teams, regions and fallback region that rules and teams name, region
  paths that are gazetteer places, and the complaint form's region choices among its regions;
- the word lists of knowledge/ (synonyms.yaml, topics.yaml, scope.yaml) against their models
  (knowledge/wordlists.py), and each topic concept an official word of the vocabulary.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Iterable, Optional

from pydantic import ValidationError

from core.datafile import BadFile, DataFile, Problem
from core.regions import is_path
from forms import conditions
from forms.datafiles import CHOICE_SETS, NOTICES, AnswerKinds, RoutingFile, RuleSet, check, names
from forms.definition import FormDef, reference_problems, where
from forms.rules import normalise
from knowledge import wordlists

SPECIAL_RULE_FILES = {"choices.yaml", "notices.yaml", "looks_like.yaml"}
RULE_FACTS = {"today"}  # added by forms.rules.evaluate
ROUTED_SLOTS = {"file_complaint": "region"}  # an action that routes by a slot: the slot's values are regions
TEXT_SUFFIXES = {".txt", ".md"}
GUIDE_QUOTE = re.compile(r"原文：“(.+?)”")


class Checker:
    def __init__(self, root: Path, actions: Optional[Iterable[str]] = None, routing: Optional[Path] = None):
        self.root = root
        self.routing = routing or root / "deploy" / "routing.yaml"
        self.actions = set(actions) if actions is not None else None
        self.problems: list[Problem] = []
        self.corpus = {p.stem: p for p in sorted((root / "knowledge" / "corpus").glob("*")) if p.is_file()}
        self._texts: dict[str, Optional[str]] = {}

    # ------------------------------------------------------------------ helpers

    def read(self, path: Path) -> Optional[DataFile]:
        if not path.exists():
            self.problems.append(Problem(self.shown(path), 1, "file not found"))
            return None
        try:
            return DataFile.read(path, self.shown(path))
        except BadFile as bad:
            self.problems.append(bad.problem)
            return None

    def shown(self, path: Path) -> str:
        try:
            return str(path.relative_to(self.root))
        except ValueError:
            return str(path)

    def fits(self, file: DataFile, model, where=None, **context) -> bool:
        """Validate against a model or TypeAdapter; the errors become problems at their lines."""
        try:
            check(model, file.data, **context)
        except ValidationError as bad:
            self.problems += file.schema_problems(bad, where=where)
            return False
        return True

    def add(self, file: DataFile, path: tuple, message: str) -> None:
        self.problems.append(file.problem(path, message))

    def notice_text(self, stem: str) -> Optional[str]:
        """A corpus file's text, normalised as quotes are compared; None if it cannot be read as text."""
        if stem not in self._texts:
            path = self.corpus.get(stem)
            readable = path is not None and path.suffix.lower() in TEXT_SUFFIXES
            self._texts[stem] = normalise(path.read_text(encoding="utf-8")) if readable else None
        return self._texts[stem]

    def check_quote(self, file: DataFile, path: tuple, notice_key: str, quote: str) -> None:
        """A quote must stand verbatim in the file of the notice it cites."""
        notice = self.notices.get(notice_key)
        if notice is None:
            self.add(file, path[:-1] + ("notice",), f"notice {notice_key!r} is not in forms/rules/notices.yaml")
            return
        text = self.notice_text(str(notice.get("file")))
        if text is not None and normalise(quote) not in text:
            self.add(file, path, f"quote not found verbatim in {notice.get('file')} ({notice_key}): {quote[:30]}…")

    # ------------------------------------------------------------------ the files

    def run(self) -> list[Problem]:
        rules_dir = self.root / "forms" / "rules"
        self.choice_sets = self.check_choice_sets(rules_dir / "choices.yaml")
        self.notices = self.check_notices(rules_dir / "notices.yaml")
        if (file := self.read(rules_dir / "looks_like.yaml")) is not None:
            self.fits(file, AnswerKinds)  # what answers look like (forms/looks.py)
        form_files = [d for f in sorted((self.root / "forms" / "defs").glob("*.yaml")) if (d := self.read(f))]
        parsed = [(file, form) for file, form in map(self.check_form, form_files) if form is not None]
        self.check_forms_together(parsed)
        rule_files = [p for p in sorted(rules_dir.glob("*.yaml")) if p.name not in SPECIAL_RULE_FILES]
        checks = {p.stem for p in rule_files}
        for file, form in parsed:
            if form.check and form.check not in checks:
                self.add(file, ("check",), f"`check: {form.check}` names no rule set in forms/rules/")
        for path in rule_files:
            self.check_rule_set(path, [form for _, form in parsed if form.check == path.stem])
        self.check_routing(self.routing, parsed)
        self.check_word_lists(self.root / "knowledge")
        return sorted(set(self.problems), key=lambda p: (p.file, p.line, p.message))

    def check_word_lists(self, folder: Path) -> None:
        files = {name: self.read(folder / name) for name in ("synonyms.yaml", "topics.yaml", "scope.yaml")}
        vocabulary, topics, scope = files.values()
        if scope is not None:
            self.fits(scope, wordlists.SCOPES)
        if vocabulary is None or topics is None:
            return
        if self.fits(vocabulary, wordlists.Vocabulary) & self.fits(topics, wordlists.TOPICS):
            spoken = wordlists.Vocabulary.model_validate(vocabulary.data or {})
            for name, i, concept in wordlists.unknown_concepts(spoken, wordlists.TOPICS.validate_python(topics.data)):
                self.add(topics, (name, "concepts", i),
                         f"concept {concept!r} is no official word of the vocabulary (an `add` of {self.shown(folder / 'synonyms.yaml')})")

    def check_choice_sets(self, path: Path) -> dict:
        file = self.read(path)
        if file is None or not self.fits(file, CHOICE_SETS):
            return {}
        return file.data

    def check_notices(self, path: Path) -> dict:
        file = self.read(path)
        if file is None or not self.fits(file, NOTICES):
            return {}
        for key, notice in file.data.items():
            stem = notice["file"]
            if stem not in self.corpus:
                self.add(file, (key, "file"), f"notice {key}: no file {stem!r} in knowledge/corpus")
                continue
            text = self.notice_text(stem)
            if notice.get("doc_number") and text is not None and normalise(notice["doc_number"]) not in text:
                self.add(file, (key, "doc_number"), f"notice {key}: 文号 {notice['doc_number']} is not in {stem}")
        return file.data

    def check_form(self, file: DataFile) -> tuple[DataFile, Optional[FormDef]]:
        raw = file.data.get("slots") if isinstance(file.data, dict) else None
        raw_names = [s.get("name") if isinstance(s, dict) else None for s in raw] if isinstance(raw, list) else []
        if not self.fits(file, FormDef, where=lambda loc: where(loc, raw_names), references=False):
            return file, None
        form = FormDef.model_validate(file.data, context={"references": False})
        slot_names = [s.name for s in form.slots]
        for path, message in reference_problems(form):
            self.add(file, path, f"{where(path, slot_names)}: {message}")
        for i, slot in enumerate(form.slots):
            if isinstance(slot.choices, str) and slot.choices[1:] not in self.choice_sets:
                self.add(file, ("slots", i, "choices"),
                         f"{where(('slots', i, 'choices'), slot_names)}: choice set {slot.choices} "
                         "is not in forms/rules/choices.yaml")
        if self.actions is not None and form.on_complete not in self.actions:
            self.add(file, ("on_complete",), f"no completion action is registered as {form.on_complete!r} "
                                             f"(registered: {', '.join(sorted(self.actions))})")
        if form.regional and not any(form.regional.topic in n.get("topics", []) for n in self.notices.values()):
            self.add(file, ("regional", "topic"), f"no notice in forms/rules/notices.yaml has the topic {form.regional.topic!r}")
        if form.cite:
            self.check_quote(file, ("cite", "quote"), form.cite.notice, form.cite.quote)
            for j, quote in enumerate(form.quotes):
                self.check_quote(file, ("quotes", j), form.cite.notice, quote)
            for i, slot in enumerate(form.slots):
                for quote in GUIDE_QUOTE.findall(slot.question):
                    self.check_quote(file, ("slots", i, "question"), form.cite.notice, quote)
        return file, form

    def check_forms_together(self, parsed: list[tuple[DataFile, FormDef]]) -> None:
        """Form names, trigger phrases and menu keys belong to one form file each."""
        seen: dict[tuple[str, str], str] = {}
        for file, form in parsed:
            words = [("form name", form.name, ("name",))]
            words += [("trigger phrase", w, ("triggers", "phrases", j)) for j, w in enumerate(form.triggers.phrases)]
            words += [("menu key", w, ("triggers", "menu_keys", j)) for j, w in enumerate(form.triggers.menu_keys)]
            for kind, word, path in words:
                owner = seen.setdefault((kind, word), file.shown)
                if owner != file.shown:
                    self.add(file, path, f"{kind} {word!r} is also {owner}'s")

    def check_rule_set(self, path: Path, forms: list[FormDef]) -> None:
        file = self.read(path)
        if file is None or not self.fits(file, RuleSet):
            return
        data = file.data
        if data["check"] != path.stem:
            self.add(file, ("check",), f"`check: {data['check']}` differs from the file name ({path.stem})")
        asked = set(RULE_FACTS).union(*({s.name for s in f.slots} for f in forms))
        for i, rule in enumerate(data["rules"]):
            if forms:
                for fact in sorted(conditions.facts(rule.get("when")) - asked):
                    self.add(file, ("rules", i, "when"),
                             f"rule {rule['id']}: `when` reads {fact!r}, which no slot of form "
                             f"{', '.join(f.name for f in forms)} asks")
            for j, clause in enumerate(rule["clauses"]):
                self.check_quote(file, ("rules", i, "clauses", j, "quote"), clause["notice"], clause["quote"])

    def check_routing(self, path: Path, parsed: list[tuple[DataFile, FormDef]]) -> None:
        file = self.read(path)
        if file is None or not self.fits(file, RoutingFile):
            return
        routing = RoutingFile.model_validate(file.data)
        regions = {r.name for r in routing.regions}

        def region_named(where: tuple, name: Optional[str]) -> None:
            if name is not None and name not in regions:
                self.add(file, where, f"region {name!r} is not among `regions`")

        region_named(("fallback_region",), routing.fallback_region)
        for i, region in enumerate(routing.regions):
            if region.path and not is_path(region.path):
                self.add(file, ("regions", i, "path"), f"path {region.path!r} is not a gazetteer place")
        for team_id, team in routing.teams.items():
            region_named(("teams", team_id, "region"), team.region)
        for i, rule in enumerate(routing.rules):
            if rule.team not in routing.teams:
                self.add(file, ("rules", i, "team"), f"team {rule.team!r} is not among `teams`")
            for name in names(rule.region):
                region_named(("rules", i, "region"), name)
        for form_file, form in parsed:
            slot = form.slot(ROUTED_SLOTS.get(form.on_complete))
            if slot is None:
                continue
            i = form.slots.index(slot)
            for j, choice in enumerate(slot.choices if isinstance(slot.choices, list) else []):
                if choice.value not in regions:
                    self.add(form_file, ("slots", i, "choices", j, "value"),
                             f"region {choice.value!r} is not a region of {self.shown(path)}")
            if slot.other and slot.other.value not in regions:
                self.add(form_file, ("slots", i, "other", "value"),
                         f"region {slot.other.value!r} is not a region of {self.shown(path)}")


SHIPPED = Path(__file__).resolve().parents[1]  # the checkout (or install) this code runs from


def validate_tree(root: Path, actions: Optional[Iterable[str]] = None,
                  routing: Optional[Path] = None) -> list[Problem]:
    """Every problem of the data under `root` (a checkout: forms/, deploy/, knowledge/corpus/).
    `actions`: the registered completion action names (None: not checked); `routing`: the
    routing file (default: deploy/routing.yaml under `root`)."""
    return Checker(Path(root), actions, Path(routing) if routing else None).run()
