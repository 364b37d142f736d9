"""Which forms exist and which completion actions they may name: both registered by name.

Why a registry apart from the engine: the engine walks one form it is handed; finding a form by
its trigger phrase, loading the shipped forms (forms/defs/*.yaml) and knowing the actions are
start-up concerns. An action is registered under the name `on_complete` uses: the built-in ones
(forms/actions.py) here, the bot's (the complaint desk's ticket) by the bot at start-up; so no
form names a code path, and the import graph shows every call.
"""
from __future__ import annotations

import threading
from pathlib import Path
from typing import Any, Callable, Mapping, Optional, Union

import yaml
from pydantic import ValidationError

from forms.actions import BUILT_IN
from core.datafile import describe
from forms.definition import FormDef
from forms.parsing import clean
from forms.state import Filled

DEFS_DIR = Path(__file__).parent / "defs"
FILLERS = ("我要", "我想", "我想要", "帮我", "请", "开始", "做", "做个", "做一下", "进行", "一下", "测一测", "测测")

# fn(filled, context) -> reply. `context` is whatever the caller of the engine handed in
# (`UserInput.context`: the router's Turn); the engine passes it on untouched.
ActionFn = Callable[[Filled, Any], str]
FORMS: dict[str, FormDef] = {}
ACTIONS: dict[str, ActionFn] = dict(BUILT_IN)  # the bot adds its own at start-up
_loaded = False
_load_lock = threading.RLock()  # a form file may ask for the registry while it loads


class FormError(ValueError):
    """A form definition that does not fit the schema; the message names the form and the place."""


def action(name: str):
    """Register a completion action: fn(filled, context) -> reply text."""
    def deco(fn: ActionFn) -> ActionFn:
        ACTIONS[name] = fn
        return fn
    return deco


def register_actions(actions: Mapping[str, ActionFn]) -> None:
    ACTIONS.update(actions)


def resolve_action(name: str) -> ActionFn:
    try:
        return ACTIONS[name]
    except KeyError:
        raise KeyError(f"unknown form action {name!r} (registered: {', '.join(sorted(ACTIONS))})") from None


def parse_form(definition: Union[Mapping, FormDef], origin: str = "") -> FormDef:
    """A form definition checked against the schema (forms/definition.py); FormError if it is not one."""
    if isinstance(definition, FormDef):
        return definition
    try:
        return FormDef.model_validate(definition)
    except ValidationError as bad:
        name = definition.get("name") if isinstance(definition, Mapping) else None
        label = " ".join(str(x) for x in (name, f"({origin})" if origin else None) if x) or "?"
        raise FormError(f"form {label}: {describe(bad)}") from None


def register_form(definition: Union[Mapping, FormDef]) -> FormDef:
    """Add (or replace) a form given as data; see forms/defs/*.yaml for the shape."""
    form = parse_form(definition)
    FORMS[form.name] = form
    return form


def register_form_file(path: Union[Path, str]) -> FormDef:
    return register_form(parse_form(yaml.safe_load(Path(path).read_text(encoding="utf-8")), str(path)))


def _ensure_loaded() -> None:
    """Register the shipped forms once; a message arriving meanwhile waits for all of them (a
    flag set before loading let early messages find no triggers)."""
    global _loaded
    if _loaded:
        return
    with _load_lock:
        if _loaded:
            return
        for path in sorted(DEFS_DIR.glob("*.yaml")):
            register_form_file(path)
        _loaded = True


def forms() -> dict[str, FormDef]:
    _ensure_loaded()
    return FORMS


def get_form(name: Optional[str]) -> Optional[FormDef]:
    return forms().get(name) if name else None


def form(name: str) -> FormDef:
    """The form called `name`; KeyError if there is none."""
    found = get_form(name)
    if found is None:
        raise KeyError(f"no form {name!r}")
    return found


def _strip_fillers(text: str) -> str:
    t = clean(text)
    changed = True
    while changed:
        changed = False
        for f in FILLERS:
            if t.startswith(f) and len(t) > len(f):
                t, changed = t[len(f):], True
    return t


def match_trigger(text_or_event_key: Optional[str]) -> Optional[str]:
    """The form a phrase ('以工代训自测', '我要做补贴自测') or a menu key ('FORM_YIGONG') starts."""
    if not text_or_event_key:
        return None
    raw = text_or_event_key.strip()
    t = clean(raw)
    bare = _strip_fillers(raw)
    for name, definition in forms().items():
        if raw in definition.triggers.menu_keys:
            return name
        phrases = definition.triggers.phrases
        if t in phrases or bare in phrases:
            return name
    return None
