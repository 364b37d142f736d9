"""Console accounts and sessions: bcrypt passwords, DB-backed sessions, per-session CSRF tokens.

Sessions live in the database (only the SHA-256 of the cookie token is stored) so that any
worker can check a cookie and a restart logs nobody out. Every POST form carries the session's
CSRF token; the login form, which has no session yet, uses a double-submit cookie instead.
How many passwords may be tried, and the audit of logins, is bot.console.throttle.
"""
from __future__ import annotations

import hashlib
import logging
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Optional

import bcrypt
from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from core.config import Settings
from storage.db import session_scope
from storage.models import StaffSession, StaffUser, utcnow

log = logging.getLogger("policybot.console")

COOKIE = "pb_console"
LOGIN_CSRF_COOKIE = "pb_login_csrf"
ROLES = ("staff", "supervisor", "admin")
ROLE_LABELS = {"staff": "工作人员", "supervisor": "主管", "admin": "管理员"}
MIN_PASSWORD = 8


def hash_password(password: str) -> str:
    return bcrypt.hashpw(password.encode("utf-8")[:72], bcrypt.gensalt()).decode()


def verify_password(password: str, hashed: str) -> bool:
    try:
        return bcrypt.checkpw(password.encode("utf-8")[:72], hashed.encode())
    except ValueError:
        return False


# A hash to check against when the user does not exist, so both cases take as long.
_DUMMY_HASH = hash_password("not-a-real-password")


def token_hash(token: str) -> str:
    """The SHA-256 that is stored for a secret token (a session cookie, an API token)."""
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass
class Login:
    user: StaffUser
    csrf_token: str

    @property
    def sees_all_regions(self) -> bool:
        return self.user.role in ("supervisor", "admin")

    @property
    def visible_regions(self) -> Optional[list[str]]:
        """The regions whose tickets this login sees: None for all (supervisors, admins)."""
        return None if self.sees_all_regions else list(self.user.regions or [])

    def can_see(self, region: str) -> bool:
        return self.sees_all_regions or region in (self.user.regions or [])

    def may_reveal(self, region: str) -> bool:
        """Whether this account may see a follower's full phone number on a ticket of `region`
        (each reveal logged): any role, for the tickets it sees — the console's reveal and the
        work-order API's `?reveal=phone` ask here."""
        return self.can_see(region)


def create_user(session: Session, username: str, password: str, role: str, regions: list[str]) -> StaffUser:
    username = username.strip()
    if not username or len(username) > 64:
        raise ValueError("用户名不能为空")
    if role not in ROLES:
        raise ValueError("角色不正确")
    if len(password) < MIN_PASSWORD:
        raise ValueError(f"密码至少 {MIN_PASSWORD} 位")
    if role == "staff" and not regions:
        raise ValueError("工作人员至少要有一个地区")
    if session.exec(select(StaffUser).where(StaffUser.username == username)).first():
        raise ValueError("用户名已存在")
    user = StaffUser(username=username, password_hash=hash_password(password), role=role, regions=regions)
    session.add(user)
    session.flush()
    return user


def bootstrap_admin(settings: Settings) -> None:
    """Make sure POLICYBOT_ADMIN_USER exists as an active admin (idempotent). It gets
    POLICYBOT_ADMIN_PASSWORD when created, and back on start (the way to recover a lost
    password) until the admin changes it on the password page: from then on the audited change
    wins, so a restart cannot quietly undo it."""
    if not (settings.console.admin_user and settings.console.admin_password):
        return
    try:
        with session_scope(settings.db_url) as s:
            user = s.exec(select(StaffUser).where(StaffUser.username == settings.console.admin_user)).first()
            if user is None:
                s.add(StaffUser(username=settings.console.admin_user, password_hash=hash_password(settings.console.admin_password),
                                role="admin", regions=[]))
            elif user.role != "admin" or not user.active or not verify_password(settings.console.admin_password, user.password_hash):
                user.role, user.active = "admin", True
                if not user.password_changed:
                    user.password_hash = hash_password(settings.console.admin_password)
                else:
                    log.info("admin %s changed the password on the console; POLICYBOT_ADMIN_PASSWORD "
                             "no longer resets it", settings.console.admin_user)
                s.add(user)
    except IntegrityError:  # another worker created it at the same moment
        log.info("admin %s created by another worker", settings.console.admin_user)


@dataclass(frozen=True)
class AuthResult:
    """What a login found: the user, or why not — 'unknown' (no such account), 'inactive'
    (停用) or 'bad_password'. Why a reason and not just None: the audit trail records it, and
    the caller must not look the account up a second time to find out (the login page still
    tells the person only “用户名或密码错误”, whatever the reason)."""
    user: Optional[StaffUser] = None
    reason: str = ""

    @property
    def audit_detail(self) -> str:
        """The reason as the accounts' audit trail shows it ('' for a wrong password)."""
        return FAILURE_DETAILS.get(self.reason, "")


FAILURE_DETAILS = {"unknown": "无此账号", "inactive": "账号已停用"}


def authenticate(session: Session, username: str, password: str) -> AuthResult:
    user = session.exec(select(StaffUser).where(StaffUser.username == username.strip())).first()
    if user is None or not user.active:
        verify_password(password, _DUMMY_HASH)  # as long as a real check: the time tells nothing
        return AuthResult(reason="unknown" if user is None else "inactive")
    if not verify_password(password, user.password_hash):
        return AuthResult(reason="bad_password")
    return AuthResult(user=user)


def new_password_problem(current: str, new: str, again: str) -> str:
    """Why the password page refuses this new password ('' when it is fine)."""
    if len(new) < MIN_PASSWORD:
        return f"新密码至少 {MIN_PASSWORD} 位"
    if new != again:
        return "两次输入的新密码不一致"
    if new == current:
        return "新密码不能与当前密码相同"
    return ""


def change_password(session: Session, user: StaffUser, new: str, keep: Optional[str]) -> int:
    """Set the new password and end the user's other sessions (all but the cookie `keep`);
    returns how many were ended."""
    user.password_hash = hash_password(new)
    user.password_changed = True
    session.add(user)
    query = delete(StaffSession).where(StaffSession.user_id == user.id)
    if keep:
        query = query.where(StaffSession.token_hash != token_hash(keep))
    return session.exec(query).rowcount


def start_session(session: Session, settings: Settings, user: StaffUser) -> str:
    """A new session; returns the cookie token (never stored)."""
    token = secrets.token_urlsafe(32)
    session.exec(delete(StaffSession).where(StaffSession.user_id == user.id, StaffSession.expires_at < utcnow()))
    session.add(StaffSession(token_hash=token_hash(token), user_id=user.id, csrf_token=secrets.token_urlsafe(24),
                             expires_at=utcnow() + timedelta(hours=settings.console.session_hours)))
    return token


def current_login(session: Session, token: Optional[str]) -> Optional[Login]:
    if not token:
        return None
    row = session.exec(select(StaffSession).where(StaffSession.token_hash == token_hash(token))).first()
    if row is None or row.expires_at < utcnow():
        return None
    user = session.get(StaffUser, row.user_id)
    if user is None or not user.active:
        return None
    return Login(user=user, csrf_token=row.csrf_token)


def end_session(session: Session, token: Optional[str]) -> None:
    if not token:
        return
    row = session.exec(select(StaffSession).where(StaffSession.token_hash == token_hash(token))).first()
    if row:
        session.delete(row)


def csrf_ok(expected: str, given: Optional[str]) -> bool:
    return bool(given) and secrets.compare_digest(expected.encode(), given.encode())
