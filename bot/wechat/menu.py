"""The official account's custom menu: data in deploy/wechat-menu.json, pushed by
`policybot wechat-menu`, and drawn by the simulator from the same file so both stay in step.

Click keys (POLICY_QA, FORM_TRAINEE, FORM_YIGONG, FORM_VOUCHER, FORM_COMPLAINT, QUERY_PROGRESS)
arrive as CLICK events and are routed like the numbered text menu (bot.dialog.router.run_key).
"""
from __future__ import annotations

import json
from pathlib import Path

from core.config import Settings

REPO_MENU = Path(__file__).resolve().parents[2] / "deploy" / "wechat-menu.json"


def menu_path() -> Path:
    local = Path("deploy") / "wechat-menu.json"
    return local if local.exists() else REPO_MENU


def load_menu(path: Path | None = None) -> dict:
    return json.loads((path or menu_path()).read_text(encoding="utf-8"))


def click_keys(menu: dict) -> list[str]:
    keys = []
    for button in menu.get("button", []):
        for item in [button, *button.get("sub_button", [])]:
            if item.get("type") == "click":
                keys.append(item["key"])
    return keys


def push_menu(settings: Settings, path: Path | None = None) -> dict:
    """Create the menu through the WeChat API (WECHAT_API_BASE, WECHAT_APPID, WECHAT_SECRET)."""
    from bot.wechat.client import create_menu

    return create_menu(settings, load_menu(path))
