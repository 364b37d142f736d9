"""CHROMA_URL by setting only: the app indexes into and answers from a real Chroma server.

The server is the `chroma run` command that ships with the chromadb package, on loopback.
"""
from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import _free_port

pytestmark = pytest.mark.db


@pytest.fixture(scope="module")
def chroma_server(tmp_path_factory):
    chroma = Path(sys.executable).with_name("chroma")
    assert chroma.exists(), "the chroma command comes with chromadb, a dependency: reinstall the project"
    port = _free_port()
    path = tmp_path_factory.mktemp("chroma-server")
    log = open(path / "chroma.log", "wb")
    proc = subprocess.Popen([str(chroma), "run", "--path", str(path / "db"), "--host", "127.0.0.1",
                             "--port", str(port)], stdout=log, stderr=subprocess.STDOUT,
                            env={"ANONYMIZED_TELEMETRY": "False", "PATH": "/usr/bin:/bin"})
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            if httpx.get(url + "/api/v2/heartbeat", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.3)
    else:
        proc.kill()
        pytest.fail("chroma server did not start:\n" + (path / "chroma.log").read_text(errors="replace"))
    yield url
    proc.terminate()
    proc.wait(10)


def test_app_uses_the_chroma_server(live_server, chroma_server):
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    srv = live_server("chroma-url", CHROMA_URL=chroma_server)
    with srv.client() as c:
        body = c.post("/api/ask", json={"question": "济源的培训每课时不能少于多少分钟？"}).json()
    assert not body["refused"]
    assert "40分钟" in body["answer"]
    assert body["sources"][0]["file"] == "002_a412a878726be6d2"

    port = int(chroma_server.rsplit(":", 1)[1])
    client = chromadb.HttpClient(host="127.0.0.1", port=port,
                                 settings=ChromaSettings(anonymized_telemetry=False))
    counts = {c.name: c.count() for c in client.list_collections()}
    assert counts and max(counts.values()) > 100, counts
    # nothing was written to an embedded Chroma under the data dir
    assert not (srv.data_dir / "data" / "chroma").exists()
