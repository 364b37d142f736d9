"""`policybot wechat-menu` pushes deploy/wechat-menu.json through the (fake) WeChat API, and the
menu's click keys are the ones the router and the forms understand."""
from __future__ import annotations

import json
import os
import subprocess
import sys

from bot.dialog.menu import MENU
from bot.wechat.menu import REPO_MENU, click_keys, load_menu
from tests.conftest import ROOT, TEST_APPID, TEST_SECRET


def run_cli(tmp_path, fake, **extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WECHAT_", "POLICYBOT_", "DATABASE_URL"))}
    env.update(PYTHONPATH=str(ROOT), POLICYBOT_DATA_DIR=str(tmp_path / "data"),
               WECHAT_API_BASE=fake.base_url, ANONYMIZED_TELEMETRY="False", **extra)
    return subprocess.run([sys.executable, "-m", "bot.cli", "wechat-menu"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120)


def test_menu_is_pushed(tmp_path, fake_wechat):
    before = len(fake_wechat.calls)
    r = run_cli(tmp_path, fake_wechat, WECHAT_APPID=TEST_APPID, WECHAT_SECRET=TEST_SECRET)
    assert r.returncode == 0, r.stderr
    created = [c for c in fake_wechat.calls[before:] if c["path"] == "/cgi-bin/menu/create" and c["ok"]]
    assert len(created) == 1
    assert created[0]["json"] == json.loads(REPO_MENU.read_text(encoding="utf-8"))


def test_menu_push_failure_is_reported(tmp_path, fake_wechat):
    fake_wechat.fail_next("/cgi-bin/menu/create", 40018)
    r = run_cli(tmp_path, fake_wechat, WECHAT_APPID=TEST_APPID, WECHAT_SECRET=TEST_SECRET)
    assert r.returncode == 1 and "40018" in r.stderr
    r = run_cli(tmp_path, fake_wechat)
    assert r.returncode == 2 and "WECHAT_APPID" in r.stderr


def test_menu_keys_match_the_router():
    menu = load_menu()
    names = [b["name"] for b in menu["button"]]
    assert names == ["政策问答", "资格自测", "更多"]
    keys = click_keys(menu)
    assert keys == ["POLICY_QA", "FORM_TRAINEE", "FORM_YIGONG", "FORM_VOUCHER", "FORM_COMPLAINT", "QUERY_PROGRESS"]
    assert set(keys) <= {item.key for item in MENU}  # every click is also a numbered text choice


def test_access_token_is_shared_through_the_database(tmp_path, fake_wechat):
    """Two separate processes on one database fetch the token once: it is not kept in memory."""
    env = dict(WECHAT_APPID=TEST_APPID, WECHAT_SECRET=TEST_SECRET)
    before = sum(1 for c in fake_wechat.calls if c["path"] == "/cgi-bin/token")
    assert run_cli(tmp_path, fake_wechat, **env).returncode == 0
    assert run_cli(tmp_path, fake_wechat, **env).returncode == 0
    after = sum(1 for c in fake_wechat.calls if c["path"] == "/cgi-bin/token")
    assert after - before == 1
