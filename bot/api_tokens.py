"""Staff API tokens: the bearer tokens other systems (the 12345 platform, a case system) use on
the work-order API, each acting as one staff account.

Why apart from the console's sessions (bot.console.auth): a token is made by an admin for a
program, lives until revoked, and is shown once — but it is checked the same way (only its
SHA-256 is stored, `auth.token_hash`) and acts as the same `auth.Login`, so a token has exactly
its account's current role and regions: a role or region change, or 停用, applies at once. The
console's admin page, `policybot tokens` and bot.deps (the check on every request) all call here.
"""
from __future__ import annotations

import secrets
from typing import Optional

from sqlmodel import Session, select

from bot.console import auth
from storage.models import ApiToken, StaffUser, utcnow

PREFIX = "pbt_"
HINT_CHARS = 8  # "pbt_AbCd…": enough to tell tokens apart in a list, nothing to call with
ADMIN_TOKEN_ACTOR = "管理口令"  # POLICYBOT_ADMIN_TOKEN acts as an admin of this name


class TokenError(ValueError):
    """A token that cannot be made or revoked; the message is Chinese, fit to show."""


def create(session: Session, username: str, name: str, created_by: str) -> tuple[ApiToken, str]:
    """A new token for the active account `username`; returns the row and the token itself,
    which is stored nowhere (show it once)."""
    user = session.exec(select(StaffUser).where(StaffUser.username == username.strip())).first()
    if user is None:
        raise TokenError(f"没有账号 {username}")
    if not user.active:
        raise TokenError(f"账号 {username} 已停用")
    name = name.strip()
    if len(name) > 100:
        raise TokenError("用途请控制在 100 字以内")
    token = PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(token_hash=auth.token_hash(token), hint=token[:HINT_CHARS], user_id=user.id, name=name,
                   created_by=created_by)
    session.add(row)
    session.flush()
    return row, token


def masked(row: ApiToken) -> str:
    return row.hint + "…"


def listed(session: Session) -> list[tuple[ApiToken, StaffUser]]:
    """Every token with its account, newest first (revoked ones too: the list is the record)."""
    return list(session.exec(select(ApiToken, StaffUser).where(ApiToken.user_id == StaffUser.id)
                             .order_by(ApiToken.created_at.desc(), ApiToken.id.desc())).all())


def revoke(session: Session, token_id: int) -> ApiToken:
    row = session.get(ApiToken, token_id)
    if row is None:
        raise TokenError("没有这个令牌")
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        session.add(row)
    return row


def login_for(session: Session, token: str) -> Optional[auth.Login]:
    """The account a bearer token acts as, or None (unknown, revoked, or the account 停用)."""
    if not token.startswith(PREFIX):
        return None
    row = session.exec(select(ApiToken).where(ApiToken.token_hash == auth.token_hash(token))).first()
    if row is None or row.revoked_at is not None:
        return None
    user = session.get(StaffUser, row.user_id)
    if user is None or not user.active:
        return None
    return auth.Login(user=user, csrf_token="")


def admin_login() -> auth.Login:
    """What POLICYBOT_ADMIN_TOKEN acts as: an admin (all regions), not a stored account."""
    return auth.Login(user=StaffUser(username=ADMIN_TOKEN_ACTOR, password_hash="", role="admin", regions=[]),
                      csrf_token="")
