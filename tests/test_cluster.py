"""scripts/cluster.sh: the production topology on loopback, driven through its nginx.

One stack for the module, as an operator starts it: `cluster.sh up --workers 2` in a fresh
state dir (its own PostgreSQL cluster, a Chroma server, two `policybot serve` workers, Debian's
nginx), the WeChat settings inherited from the environment. Through nginx: /healthz, a
question, a form and a complaint over signed /wechat, each reaching both workers; /metrics
summed over the workers; Chroma killed and started again. `down` at the end must leave no
process behind. Not marked `db`: it runs once, in the SQLite pass (it has a PostgreSQL of its own).
"""
from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import ROOT, TEST_AES_KEY, TEST_APPID, TEST_SECRET, TEST_TOKEN
from tests.test_complaints_wechat import NUMBER_RE, file_complaint
from tests.wechat_util import Platform, new_openid

SCRIPT = ROOT / "scripts" / "cluster.sh"
ADMIN_TOKEN = "cluster-admin-token-123"
QUESTION = "济源的培训每课时不能少于多少分钟？"


def _can_run() -> str | None:
    if sys.platform != "linux":
        return "cluster.sh runs on Debian"
    have_pg = any(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    have_nginx = shutil.which("nginx") or Path("/usr/sbin/nginx").exists()
    if os.geteuid() != 0 and not (have_pg and have_nginx):
        return "needs Debian's postgresql and nginx (or root to install them)"
    return None


class Cluster:
    def __init__(self, state: Path, env: dict[str, str]):
        self.state, self.env = state, env
        self.url = ""

    def run(self, *args: str, timeout: float = 360) -> subprocess.CompletedProcess:
        return subprocess.run(["bash", str(SCRIPT), *args], env=self.env, capture_output=True, text=True,
                              timeout=timeout)

    def settings(self) -> dict[str, str]:
        out = {}
        for line in (self.state / "cluster.env").read_text().splitlines():
            key, _, value = line.partition("=")
            out[key] = value.strip('"')
        return out

    def pid(self, name: str) -> int:
        return int((self.state / "pids" / f"{name}.pid").read_text().split()[0])

    def worker_urls(self) -> list[str]:
        return [f"http://127.0.0.1:{p}" for p in self.settings()["WORKER_PORTS"].split()]

    def logs(self) -> str:
        out = []
        for log in sorted((self.state / "logs").glob("*.log")):
            out.append(f"--- {log.name}\n" + log.read_text(errors="replace")[-3000:])
        return "\n".join(out)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie that nobody reaps is gone for our purposes
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return False


@contextmanager
def running_cluster(fake_wechat, workers: int = 2, **settings: str) -> Iterator[Cluster]:
    """`cluster.sh up --workers N` in a fresh state dir with the test WeChat settings (and
    `settings` on top, as an operator's environment); `down` at the end must leave no process."""
    reason = _can_run()
    assert reason is None, reason  # scripts/test.sh runs as root on Debian, with postgresql and nginx
    state = Path(tempfile.mkdtemp(prefix="policybot-cluster-test-", dir="/tmp"))
    state.chmod(0o755)  # PostgreSQL runs as the postgres user and must reach its data dir
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("WECHAT_", "LLM_", "POLICYBOT_", "DATABASE_URL", "CHROMA_URL", "PROMETHEUS_"))}
    env.update({
        "PYTHONPATH": str(ROOT),
        "POLICYBOT_CLUSTER_DIR": str(state),
        "POLICYBOT_VENV": sys.prefix,  # this test run's virtualenv: nothing is built
        "ANONYMIZED_TELEMETRY": "False",
        # inherited by the workers, as an operator's settings would be
        "WECHAT_TOKEN": TEST_TOKEN, "WECHAT_AES_KEY": TEST_AES_KEY, "WECHAT_APPID": TEST_APPID,
        "WECHAT_SECRET": TEST_SECRET, "WECHAT_API_BASE": fake_wechat.base_url,
        "POLICYBOT_ADMIN_TOKEN": ADMIN_TOKEN,
        "POLICYBOT_REPLY_DEADLINE": "20",  # a loaded test machine: the reply stays passive
        **settings,
    })
    c = Cluster(state, env)
    up = c.run("up", "--workers", str(workers), "--port", "0")
    pids: list[int] = []
    try:
        assert up.returncode == 0, f"{up.stdout}\n{up.stderr}\n{c.logs()}"
        c.url = up.stdout.strip().splitlines()[-1]
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+", c.url), up.stdout
        pids = [c.pid(n) for n in ("postgres", "chroma", "nginx", *(f"worker-{i}" for i in range(1, workers + 1)))]
        yield c
    finally:
        down = c.run("down", timeout=120)
        if pids:
            deadline = time.time() + 10
            while time.time() < deadline and any(_alive(p) for p in pids):
                time.sleep(0.2)
            left = [p for p in pids if _alive(p)]
            for p in left:
                os.kill(p, signal.SIGKILL)
            assert down.returncode == 0, down.stderr
            assert not left, f"still running after down: {left}\n{down.stderr}"
        shutil.rmtree(state, ignore_errors=True)


@pytest.fixture(scope="module")
def cluster(fake_wechat):
    with running_cluster(fake_wechat) as c:
        yield c


def _health(url: str) -> dict:
    r = httpx.get(url + "/healthz", timeout=10)
    assert r.status_code == 200, r.text
    return r.json()


def test_status_names_every_part_with_its_pid_and_port(cluster):
    status = cluster.run("status", timeout=60)
    assert status.returncode == 0, status.stdout + status.stderr
    rows = {line.split()[0] + (" " + line.split()[1] if line.startswith("worker") else ""): line
            for line in status.stdout.splitlines()[1:]}
    assert set(rows) == {"postgres", "chroma", "worker w1", "worker w2", "nginx"}, status.stdout
    assert all("running" in row for row in rows.values()), status.stdout
    assert str(cluster.pid("nginx")) in rows["nginx"] and cluster.url in rows["nginx"]
    assert "healthz 200 ok" in rows["worker w1"] and "healthz 200 ok" in rows["worker w2"]


def test_up_again_changes_nothing(cluster):
    before = {n: cluster.pid(n) for n in ("postgres", "chroma", "worker-1", "worker-2", "nginx")}
    again = cluster.run("up", timeout=120)
    assert again.returncode == 0, again.stderr
    assert again.stdout.strip().splitlines()[-1] == cluster.url
    assert {n: cluster.pid(n) for n in before} == before


def test_question_form_and_complaint_through_nginx_reach_both_workers(cluster):
    assert _health(cluster.url) == {"status": "ok", "checks": {"database": "ok", "chroma": "ok"}}
    served = set()
    with httpx.Client(base_url=cluster.url, timeout=60) as c:
        for _ in range(4):
            r = c.post("/api/ask", json={"question": QUESTION})
            assert r.status_code == 200, r.text
            body = r.json()
            assert not body["refused"] and "40分钟" in body["answer"], body
            assert body["sources"] and body["sources"][0]["file"] == "002_a412a878726be6d2"
            served.add(r.headers["X-Policybot-Worker"].split(":")[0])
    assert served == {"w1", "w2"}

    wx = Platform(cluster.url, TEST_TOKEN, TEST_AES_KEY, TEST_APPID)
    log = cluster.state / "logs" / "nginx-access.log"
    seen = len(log.read_text().splitlines())
    assert "40分钟" in wx.say(new_openid("ocq"), QUESTION)
    who = new_openid("ocf")
    assert "企业在哪个地区" in wx.say(who, "以工代训自测")
    assert "企业规模" in wx.say(who, "1")  # the form's state was written by the other worker
    confirm = file_complaint(wx, new_openid("occ"))
    number = NUMBER_RE.search(confirm).group(1)
    lines = [line for line in log.read_text().splitlines()[seen:] if '"POST /wechat' in line]
    upstreams = {m.group(1) for line in lines if (m := re.search(r"upstream=(\S+)", line))}
    assert len(lines) >= 10 and len(upstreams) == 2, lines

    import psycopg

    port = cluster.settings()["PG_PORT"]
    with psycopg.connect(f"postgresql://postgres@127.0.0.1:{port}/policybot") as conn:
        assert conn.execute("SELECT count(*) FROM ticket WHERE number = %s", (number,)).fetchone()[0] == 1


def _samples(text: str, name: str) -> list:
    return [s for family in text_string_to_metric_families(text) for s in family.samples if s.name == name]


def _refused(text: str) -> float:
    return sum(s.value for s in _samples(text, "policybot_answers_total") if s.labels["outcome"] == "refused")


def test_metrics_add_up_every_worker(cluster):
    with httpx.Client(base_url=cluster.url, timeout=60) as c:
        before = c.get("/metrics")
        assert before.status_code == 200 and before.headers["content-type"].startswith("text/plain")
        asks = sum(s.value for s in _samples(before.text, "policybot_http_requests_total")
                   if s.labels["route"] == "/api/ask")
        for _ in range(4):  # two on each worker
            assert c.post("/api/ask", json={"question": QUESTION}).status_code == 200
        refused = c.post("/api/ask", json={"question": "给我讲个笑话"}).json()
        assert refused["refused"] is True
        after = c.get("/metrics").text
        now = sum(s.value for s in _samples(after, "policybot_http_requests_total")
                  if s.labels["route"] == "/api/ask" and s.labels["status"] == "200")
        assert now >= asks + 5  # whichever worker was scraped, all five are counted
        assert _refused(after) == _refused(before.text) + 1
        assert _samples(after, "policybot_http_request_duration_seconds_bucket")
        assert _samples(after, "policybot_push_queue_depth")[0].value == 0
        assert {s.labels["stage"] for s in _samples(after, "policybot_tickets_overdue")} == {"accept", "answer"}
        # from outside (nginx says so in X-Forwarded-For): only with the admin token
        outside = {"X-Forwarded-For": "203.0.113.7"}
        denied = c.get("/metrics", headers=outside)
        assert denied.status_code == 403 and "无权查看监控指标" in denied.json()["detail"]
        assert c.get("/metrics", headers={**outside, "Authorization": f"Bearer {ADMIN_TOKEN}"}).status_code == 200


def test_chroma_down_answers_from_bm25_and_recovers(cluster):
    os.kill(cluster.pid("chroma"), signal.SIGKILL)
    with httpx.Client(base_url=cluster.url, timeout=60) as c:
        for _ in range(4):  # both workers, each noticing on its own
            r = c.post("/api/ask", json={"question": QUESTION})
            assert r.status_code == 200
            body = r.json()
            assert not body["refused"] and "40分钟" in body["answer"] and body["sources"], body
    for url in cluster.worker_urls() + [cluster.url]:
        health = _health(url)
        assert health["status"] == "degraded", health
        assert health["checks"] == {"database": "ok", "chroma": "down"}
        assert len(health["reasons"]) == 1 and health["reasons"][0].startswith("chroma: ")

    up = cluster.run("up", timeout=120)  # starts again only what is not running
    assert up.returncode == 0, up.stderr + cluster.logs()
    assert "starting chroma" in up.stderr and "starting worker" not in up.stderr
    deadline = time.time() + 15
    while time.time() < deadline:
        if all(_health(u)["status"] == "ok" for u in cluster.worker_urls()):
            break
        time.sleep(0.5)
    assert [_health(u)["status"] for u in cluster.worker_urls()] == ["ok", "ok"]
    with httpx.Client(base_url=cluster.url, timeout=60) as c:
        for _ in range(2):
            assert "40分钟" in c.post("/api/ask", json={"question": QUESTION}).json()["answer"]
    text = httpx.get(cluster.url + "/metrics", timeout=30).text
    assert _samples(text, "policybot_vector_store_up")[0].value == 1
