"""The dialog: one follower's message in, one reply out (`handle`), split by reason to change.

- router.py    the order in which a message is tried, the turn's transaction (`handle`)
- commands.py  the dialog's own commands as data (帮助/菜单, 取消, 你好, 地区…)
- menu.py      the menu items, welcome and how-to texts, the menu keys' actions
- region.py    the follower's region: the phrases, the location report, covered regions
- answers.py   Q&A: an `Answer` as the reply (via knowledge/render.py), its choices picked by digit
- formflow.py  the follower's form: state in and out of the pure forms engine, side questions
- paging.py    replies cut into ≤ 2048-byte parts, the rest kept for 更多
- registry.py  what other parts register: commands, menu keys, hooks, form actions
- wiring.py    which parts register (the complaint desk, the ID-number notice), called once

Only the entry point is exported here; everything else is imported from its module.
"""
from bot.dialog.router import ClaimLost, handle

__all__ = ["ClaimLost", "handle"]
