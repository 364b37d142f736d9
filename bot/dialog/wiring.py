"""Which parts plug into the dialog, in one place: each one's `register(dialog)` is called here.

Why a module of its own: the router must not name its handlers by "module:function" strings,
and the parts (bot/complaint_dialog.py → bot/tickets.py, bot/id_number.py, bot/feedback.py: 没用)
must not import the
router. This module imports both sides, so the import graph shows router → wiring → complaint
desk → tickets. `wire()` runs once per process (later calls do nothing): at app start-up
(bot/app.py), in `policybot validate` (for the form actions' names), and on the router's first
turn (so a test or a script that calls `bot.dialog.handle` directly meets the same dialog).
"""
from __future__ import annotations

import threading

from bot import complaint_dialog, complaint_thread, feedback, id_number
from bot.dialog.registry import REGISTRY, Registry

PARTS = (id_number, complaint_dialog, complaint_thread, feedback)  # in this order: their commands are tried in it
_lock = threading.Lock()
_wired = False


def wire() -> Registry:
    """Register every part's commands, menu keys, hooks and form actions (once); the registry."""
    global _wired
    if not _wired:
        with _lock:
            if not _wired:
                for part in PARTS:
                    part.register(REGISTRY)
                _wired = True
    return REGISTRY
