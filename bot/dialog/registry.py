"""What the parts outside the dialog add to it, as real callables registered by name at start-up.

Why a registry the router owns: the complaint desk and the ID-number notice answer messages too,
but the router should not grow an import for each part, and a handler named by a
"module:function" string hides the path router → complaint → tickets from grep and from the
import graph. So each part has a `register(dialog)` function that hands its callables to the
`Registry` it is given, and bot/dialog/wiring.py, which imports every part, calls them once.

The router reads the registry after its own tables: registered commands are tried after
`commands.COMMANDS`, registered menu keys after `menu.KEY_ACTIONS`; registered hooks run before
the router's own pick of an offered choice (a 回访 rating outranks a digit picking a choice);
registered threads see a message before all of these (the complaint thread: a follower's answer
to a staff question is the ticket's, not a question for the Q&A).
A completion action goes to the forms registry under the name the form data uses (`on_complete`).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Callable, Optional

from core.turn import Turn
from forms import registry as forms_registry

Handler = Callable[[Turn, "re.Match[str]"], Optional[str]]  # a command: None lets the message go on
KeyHandler = Callable[[Turn], str]  # a menu key (click event or menu digit)
Hook = Callable[[Turn, str], Optional[str]]  # before the menu digits: (turn, normalised text)
# An open thread that takes the follower's messages (text, voice, photo) after an active form and
# before everything else: (turn, way_out) → reply, or None to let the message go on. `way_out` is
# what the router saw: "cancel" (取消…), "exit" (a menu word or click, a labelled command, a form
# trigger) — the thread then ends —, or None (the message may be the thread's).
Thread = Callable[[Turn, Optional[str]], Optional[str]]


@dataclass(frozen=True)
class RunKey:
    """A hook's reply that is a menu key to run, as if the follower had clicked it (the router
    runs it), so a part can open a form without importing the dialog's form flow."""
    key: str


@dataclass
class Command:
    """A message pattern (matched against the normalised text) and its handler."""

    pattern: str
    handler: Handler
    label: str = ""  # what it does, as "要放弃并…吗" names it inside a form; "" → a form's answer

    def __post_init__(self):
        self.regex = re.compile(self.pattern)


@dataclass
class Registry:
    commands: list[Command] = field(default_factory=list)
    keys: dict[str, KeyHandler] = field(default_factory=dict)
    hooks: list[Hook] = field(default_factory=list)
    threads: list[Thread] = field(default_factory=list)

    def command(self, pattern: str, handler: Handler, label: str = "") -> None:
        """`label`: typed inside a form, the message asks before dropping the form."""
        self.commands.append(Command(pattern, handler, label))

    def key(self, key: str, handler: KeyHandler) -> None:
        self.keys[key] = handler

    def hook(self, hook: Hook) -> None:
        self.hooks.append(hook)

    def thread(self, thread: Thread) -> None:
        self.threads.append(thread)

    def form_action(self, name: str, action: forms_registry.ActionFn) -> None:
        """A completion action, kept by the forms registry (the forms never import the bot)."""
        forms_registry.register_actions({name: action})


REGISTRY = Registry()
