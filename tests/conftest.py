"""Shared fixtures: a real policybot server (uvicorn subprocess) over HTTP, and a fake WeChat API.

`live_server(**env)` starts the real app on a free port with its own data dir and returns a
`LiveServer`; the session-wide `server` fixture is one such server with WeChat credentials set
and the simulator on. With `--db=postgres` (or POLICYBOT_TEST_PG_URL set and `--db=postgres`)
every server gets a fresh PostgreSQL database instead of SQLite.
"""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import pytest

from tests.fake_wechat import FakeWeChat

ROOT = Path(__file__).resolve().parents[1]

TEST_TOKEN = "policybot-test-token"
TEST_AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"  # 43 chars
TEST_APPID = "wx0123456789abcdef"
TEST_SECRET = "test-secret"
ADMIN_USER = "admin"
ADMIN_PASSWORD = "admin-pass-123"


def pytest_addoption(parser):
    parser.addoption("--db", default="sqlite", choices=["sqlite", "postgres"],
                     help="database backend for the live servers")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _fresh_pg_database(base_url: str) -> str:
    """Create an empty database on the test PostgreSQL server; return its SQLAlchemy URL."""
    import psycopg

    name = "pbtest_" + uuid.uuid4().hex[:12]
    plain = base_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(plain, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    head, _, _ = base_url.rpartition("/")
    return f"{head}/{name}"


def fresh_database_url(config: pytest.Config) -> str | None:
    """None (SQLite in the data dir) unless the run is `--db=postgres`: then an empty database of
    its own on the test PostgreSQL server (the test is skipped without POLICYBOT_TEST_PG_URL)."""
    if config.getoption("--db") != "postgres":
        return None
    pg = os.environ.get("POLICYBOT_TEST_PG_URL")
    if not pg:
        pytest.skip("--db=postgres needs POLICYBOT_TEST_PG_URL")
    return _fresh_pg_database(pg)


def database_settings(config: pytest.Config, data_dir: Path, **fields):
    """`Settings` on a fresh database of the run's backend with its tables created, for tests that
    call the code in-process (a real session per message, as the router does)."""
    from core.config import Settings
    from storage.db import init_db

    settings = Settings(data_dir=data_dir, database_url=fresh_database_url(config), **fields)
    settings.ensure_dirs()
    init_db(settings.db_url)
    return settings


def knowledge_base(settings):
    """The real KnowledgeBase on `settings`, the bundled corpus indexed."""
    from knowledge.service import KnowledgeBase

    kb = KnowledgeBase(settings)
    kb.ensure_indexed()
    return kb


class LiveServer:
    def __init__(self, env: dict[str, str], data_dir: Path):
        self.port = _free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.data_dir = data_dir
        self.env = env
        self.proc: subprocess.Popen | None = None
        self.log_path = data_dir / "server.log"

    @property
    def database_url(self) -> str:
        """The server's own database: its PostgreSQL one, else the SQLite file in its data dir."""
        return self.env.get("DATABASE_URL") or f"sqlite:///{self.data_dir / 'data' / 'policybot.db'}"

    def start(self, timeout: float = 120) -> "LiveServer":
        self.data_dir.mkdir(parents=True, exist_ok=True)
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "bot.app:create_app", "--factory",
             "--host", "127.0.0.1", "--port", str(self.port), "--log-level", "warning",
             "--no-proxy-headers"],  # as `policybot serve`: the app alone decides on X-Forwarded-*
            cwd=str(self.data_dir), env=self.env, stdout=log, stderr=subprocess.STDOUT,
        )
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited early:\n{self.log()}")
            try:
                if httpx.get(self.base_url + "/healthz", timeout=2).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise TimeoutError(f"server not ready in {timeout}s:\n{self.log()}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def client(self, **kw) -> httpx.Client:
        return httpx.Client(base_url=self.base_url, timeout=30, **kw)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def kill(self) -> None:
        """SIGKILL: no shutdown hooks, no flush — what a crash looks like."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()


@pytest.fixture(scope="session")
def fake_wechat():
    fake = FakeWeChat().start()
    yield fake
    fake.stop()


@pytest.fixture(scope="session")
def live_server(request, tmp_path_factory, fake_wechat):
    """Factory: live_server(name="x", **env) -> a started LiveServer (stopped at session end)."""
    started: list[LiveServer] = []

    def make(name: str = "srv", data_dir: Path | None = None, **env_overrides: str) -> LiveServer:
        data_dir = data_dir or tmp_path_factory.mktemp(name)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("WECHAT_", "LLM_", "POLICYBOT_", "DATABASE_URL", "CHROMA_URL"))}
        env.update({
            "PYTHONPATH": str(ROOT),
            "POLICYBOT_DATA_DIR": str(data_dir / "data"),
            "WECHAT_API_BASE": fake_wechat.base_url,
            "ANONYMIZED_TELEMETRY": "False",
        })
        if "DATABASE_URL" not in env_overrides and (url := fresh_database_url(request.config)):
            env["DATABASE_URL"] = url
        env.update({k: str(v) for k, v in env_overrides.items() if v is not None})
        for k in [k for k, v in env_overrides.items() if v is None]:
            env.pop(k, None)
        srv = LiveServer(env, data_dir).start()
        started.append(srv)
        return srv

    yield make
    for srv in started:
        srv.stop()


@pytest.fixture(scope="session")
def server(live_server) -> LiveServer:
    """The shared server: WeChat safe-mode credentials, simulator on, an admin account."""
    return live_server(
        "main",
        WECHAT_TOKEN=TEST_TOKEN,
        WECHAT_AES_KEY=TEST_AES_KEY,
        WECHAT_APPID=TEST_APPID,
        WECHAT_SECRET=TEST_SECRET,
        POLICYBOT_SIMULATOR="1",
        POLICYBOT_ADMIN_USER=ADMIN_USER,
        POLICYBOT_ADMIN_PASSWORD=ADMIN_PASSWORD,
    )


@pytest.fixture
def http(server):
    with server.client() as c:
        yield c


@pytest.fixture
def wx(server):
    """Plays the WeChat platform (tests/wechat_util.py) against `server` — a module's own `server`
    where the module overrides that fixture, as `http` does."""
    from tests.wechat_util import platform_for  # wechat_util imports this module's constants

    return platform_for(server)


CHROMIUM = "/usr/bin/chromium"  # Debian's (scripts/test.sh installs it; never `playwright install`)
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]


@pytest.fixture(scope="module")
def browser():
    """Debian's chromium driven by Playwright, one per test module. Missing chromium is a failure,
    not a skip: the pages are part of the product."""
    assert os.path.exists(CHROMIUM), "Debian chromium is missing: scripts/test.sh installs it (apt-get install chromium)"
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()
