"""The console's login throttle and the accounts' audit trail.

Why: without a throttle a console password can be guessed as fast as bcrypt allows (issue 14,
defect 5: 25 wrong passwords in a row, 25 × 401). Why in the database, not in memory: behind
nginx the requests are spread over several workers, and a counter per process would multiply
the allowance by the number of workers (and a restart would reset it).

How an attempt goes — a login, or the current password on the password page:

- `begin` records the attempt as a failure and commits it *before* the password is checked, then
  looks only at the failures recorded before it. Guesses sent in parallel (bcrypt takes a
  quarter of a second, every worker has dozens of threads) thus count against each other;
  checking first and recording after the check would let a whole burst through.
- Locked: the row is removed again (knocking on a locked door does not extend the lock) and the
  caller answers 429 with `Retry-After` and `refusal()`, without checking the password at all.
- `failed` keeps the row and audits the failure, and the lock it may have started;
  `succeeded` marks the row and clears the account's failures — not the address's: logging into
  one's own account must not reset an address that is guessing at others.

The rules: an account name (stripped, lowercased, whether or not such an account exists, so the
answer tells nothing about which names exist) is locked when POLICYBOT_CONSOLE_LOGIN_MAX_FAILURES
failures fall within POLICYBOT_CONSOLE_LOGIN_WINDOW seconds; a client address (bot.web.client_ip:
X-Forwarded-For only from trusted proxies) when POLICYBOT_CONSOLE_LOGIN_MAX_FAILURES_PER_IP do,
whatever the names. The lock lasts POLICYBOT_CONSOLE_LOGIN_LOCKOUT seconds from the failure that
reached the limit; failures still inside the window when it ends count again, so one more wrong
password then locks again. Rows older than window + lockout can no longer matter and are pruned
on every attempt. The audit rows (StaffEvent) are kept; they never hold a password.
"""
from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Optional, Sequence

from sqlalchemy import delete, text
from sqlmodel import Session, select

from core.clock import CHINA
from core.config import Settings
from storage.db import session_scope
from storage.models import LoginAttempt, StaffEvent, utcnow

log = logging.getLogger("policybot.console")

NAME_LEN = 64  # StaffUser names are at most 64 characters; longer input is cut, never refused
ACTION_LABELS = {"login": "登录", "login_failed": "登录失败", "locked": "锁定",
                 "password_changed": "修改密码", "password_failed": "修改密码失败（当前密码错误）"}
SCOPE_LABELS = {"account": "该账号", "ip": "该地址"}
PG_LOCK_KEY = 0x70625468  # "pbTh": the transaction-scoped advisory lock that orders the attempts


def account_key(name: str) -> str:
    """What the account limit counts by: 'Admin ', 'admin' and 'ADMIN' are one name."""
    return name.strip().lower()[:NAME_LEN]


@dataclass
class Attempt:
    id: int
    account: str
    ip: str
    locked_until: Optional[datetime] = None
    locked_by: str = ""  # "account" | "ip"

    @property
    def locked(self) -> bool:
        return self.locked_until is not None


def _spans(settings: Settings) -> tuple[timedelta, timedelta]:
    return timedelta(seconds=settings.console.login_window), timedelta(seconds=settings.console.login_lockout)


def lock_end(times: Sequence[datetime], limit: int, window: timedelta, lockout: timedelta) -> Optional[datetime]:
    """The end of the last lock these failure times (ascending) started: `limit` of them within
    `window` lock for `lockout` from the one that reached the limit. None: they started none."""
    end = None
    for i in range(limit - 1, len(times)):
        if times[i] - times[i - limit + 1] < window:
            end = times[i] + lockout
    return end


def _lock(s: Session, settings: Settings, attempt: Attempt, upto: int, now: datetime) -> tuple[Optional[datetime], str]:
    """The lock in force now, judged by the failures with an id up to `upto`: (until, scope)."""
    window, lockout = _spans(settings)
    scopes = [("account", LoginAttempt.account == attempt.account, settings.console.login_max_failures)]
    if attempt.ip:
        scopes.append(("ip", LoginAttempt.ip == attempt.ip, settings.console.login_max_failures_per_ip))
    found: tuple[Optional[datetime], str] = (None, "")
    for scope, where, limit in scopes:
        times = s.exec(select(LoginAttempt.at)
                       .where(where, LoginAttempt.success == False,  # noqa: E712
                              LoginAttempt.at > now - window - lockout, LoginAttempt.id <= upto)
                       .order_by(LoginAttempt.at, LoginAttempt.id)).all()
        end = lock_end(times, limit, window, lockout)
        if end is not None and end > now and (found[0] is None or end > found[0]):
            found = (end, scope)
    return found


def begin(settings: Settings, account: str, ip: str) -> Attempt:
    """Record an attempt (a failure until `succeeded`), committed before any password check;
    then whether the failures before it lock its account name or address (`Attempt.locked`)."""
    now = utcnow()
    window, lockout = _spans(settings)
    with session_scope(settings.db_url) as s:
        if s.get_bind().dialect.name == "postgresql":
            # ids in commit order, so that "the failures before it" are all visible: a sequence
            # hands out ids before commit (SQLite's single writer gives this order anyway)
            s.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": PG_LOCK_KEY})
        s.exec(delete(LoginAttempt).where(LoginAttempt.at < now - window - lockout))
        row = LoginAttempt(account=account_key(account), ip=ip[:NAME_LEN], at=now)
        s.add(row)
        s.commit()  # every worker counts it from here on
        attempt = Attempt(id=row.id, account=row.account, ip=row.ip)
        attempt.locked_until, attempt.locked_by = _lock(s, settings, attempt, attempt.id - 1, now)
        if attempt.locked:
            s.exec(delete(LoginAttempt).where(LoginAttempt.id == attempt.id))
            log.info("console: login for %r from %s refused: %s locked until %s", attempt.account,
                     attempt.ip, attempt.locked_by, attempt.locked_until.isoformat(timespec="seconds"))
    return attempt


def failed(s: Session, settings: Settings, attempt: Attempt, actor: str, action: str = "login_failed",
           detail: str = "") -> Optional[datetime]:
    """A wrong password: audited, the attempt stays a failure. Returns the lock it started, if any
    (audited as 'locked')."""
    audit(s, actor, action, attempt.ip, detail)
    until, scope = _lock(s, settings, attempt, attempt.id, utcnow())
    if until is None:
        return None
    limit = settings.console.login_max_failures if scope == "account" else settings.console.login_max_failures_per_ip
    audit(s, actor, "locked", attempt.ip, f"{SCOPE_LABELS[scope]}在 {settings.console.login_window} 秒内失败 "
                                          f"{limit} 次，锁定至 {_clock(until, utcnow())}")
    log.warning("console: %s %s locked until %s after %d failures", scope,
                attempt.account if scope == "account" else attempt.ip, until.isoformat(timespec="seconds"), limit)
    return until


def succeeded(s: Session, attempt: Attempt, actor: str, action: str = "login", detail: str = "") -> None:
    """The right password: the attempt is a success, the account's failures are forgotten."""
    s.exec(delete(LoginAttempt).where(LoginAttempt.account == attempt.account,
                                      LoginAttempt.success == False,  # noqa: E712
                                      LoginAttempt.id != attempt.id))
    row = s.get(LoginAttempt, attempt.id)
    if row is not None:
        row.success = True
        s.add(row)
    audit(s, actor, action, attempt.ip, detail)


def audit(s: Session, actor: str, action: str, ip: str, detail: str = "") -> None:
    """One row of the accounts' audit trail (in the caller's transaction)."""
    s.add(StaffEvent(actor=actor.strip()[:NAME_LEN], action=action, ip=ip[:NAME_LEN], detail=detail))


# ---------------------------------------------------------------- what the caller is told

def _clock(until: datetime, now: datetime) -> str:
    """China time, rounded up to the minute (trying at the minute shown works); the date too when
    it is not today."""
    local = until.astimezone(CHINA)
    if local.second or local.microsecond:
        local = local.replace(second=0, microsecond=0) + timedelta(minutes=1)
    if local.date() != now.astimezone(CHINA).date():
        return f"{local.month}月{local.day}日 {local:%H:%M}"
    return f"{local:%H:%M}"


def retry_after(until: datetime, now: Optional[datetime] = None) -> int:
    """Seconds for the Retry-After header (at least 1)."""
    return max(1, math.ceil((until - (now or utcnow())).total_seconds()))


def refusal(until: datetime, now: Optional[datetime] = None) -> str:
    now = now or utcnow()
    minutes = max(1, math.ceil((until - now).total_seconds() / 60))
    return f"登录失败次数过多，请于 {_clock(until, now)}（约 {minutes} 分钟后）再试。"
