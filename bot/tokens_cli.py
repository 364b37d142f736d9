"""`policybot tokens create|list|revoke`: the work-order API's staff tokens from a shell, with
the same rules as the console's admin page (bot.api_tokens).

Why a typer sub-app of its own: bot/cli.py lists the product's commands; this is one admin task
with three verbs. A new token is printed once, on stdout alone (so a script can capture it);
lists show it masked. The database is brought to the current schema first, as `wechat-menu` does.
A refusal prints its Chinese reason and exits 1.
"""
from __future__ import annotations

import getpass

import typer

from core.config import get_settings

app = typer.Typer(help="工单接口的 API 令牌：新建、列表、撤销", no_args_is_help=True, add_completion=False)


def _settings():
    from storage.db import init_db

    settings = get_settings()
    settings.ensure_dirs()
    init_db(settings.db_url, upgrade=settings.migrate_on_start)
    return settings


def _who() -> str:
    try:
        return "cli:" + getpass.getuser()
    except Exception:  # no login name (a container): still say where it came from
        return "cli"


@app.command()
def create(user: str = typer.Option(..., "--user", help="the staff account the token acts as"),
           name: str = typer.Option("", "--name", help="what it is for, e.g. 12345 平台")) -> None:
    """Make a token for USER; prints it once (only its SHA-256 is stored)."""
    from bot import api_tokens
    from storage.db import session_scope

    try:
        with session_scope(_settings().db_url) as s:
            row, token = api_tokens.create(s, user, name, _who())
            hint = api_tokens.masked(row)
    except api_tokens.TokenError as exc:
        typer.echo(f"未执行：{exc}", err=True)
        raise typer.Exit(1)
    typer.echo(f"已为 {user} 新建令牌 {hint}（只显示这一次，请妥善保存）：", err=True)
    typer.echo(token)


@app.command("list")
def list_() -> None:
    """Every token, masked: id, token, account, status, created, purpose."""
    from bot import api_tokens
    from storage.db import session_scope

    with session_scope(_settings().db_url) as s:
        for row, user in api_tokens.listed(s):
            state = f"已撤销 {row.revoked_at:%Y-%m-%d}" if row.revoked_at else "有效"
            typer.echo("\t".join([str(row.id), api_tokens.masked(row), user.username, state,
                                  f"{row.created_at:%Y-%m-%d}", row.name or "-"]))


@app.command()
def revoke(token_id: int = typer.Argument(..., help="the id `policybot tokens list` shows")) -> None:
    """Revoke a token: it stops working at once."""
    from bot import api_tokens
    from storage.db import session_scope

    try:
        with session_scope(_settings().db_url) as s:
            row = api_tokens.revoke(s, token_id)
            hint = api_tokens.masked(row)
    except api_tokens.TokenError as exc:
        typer.echo(f"未执行：{exc}", err=True)
        raise typer.Exit(1)
    typer.echo(f"已撤销令牌 {token_id}（{hint}）")
