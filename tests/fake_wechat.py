"""A fake WeChat API server on localhost, for tests (WECHAT_API_BASE points here).

It speaks just enough of the real API (token, custom-service send, template send, menu, media) and records
every call. Tests script failures by queueing error codes: `fake.fail_next("/cgi-bin/message/custom/send", 45015)`.
"""
from __future__ import annotations

import json
import threading
import time
from collections import defaultdict, deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse


TEMPLATE_SEND = "/cgi-bin/message/template/send"


class FakeWeChat:
    def __init__(self) -> None:
        self.calls: list[dict] = []
        self.failures: dict[str, deque] = defaultdict(deque)
        self.token_counter = 0
        self.token_delay = 0.0  # seconds a token fetch takes (widens the window of a refresh race)
        self.valid_tokens: set[str] = set()
        self.lock = threading.Lock()
        self.media: dict[str, bytes] = {}
        self.msgid_counter = 200000000
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    # -- control ---------------------------------------------------------
    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> "FakeWeChat":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()

    def fail_next(self, path: str, errcode: int, times: int = 1) -> None:
        with self.lock:
            for _ in range(times):
                self.failures[path].append(errcode)

    def expire_tokens(self) -> None:
        with self.lock:
            self.valid_tokens.clear()

    def reset(self) -> None:
        with self.lock:
            self.calls.clear()
            self.failures.clear()

    def sent_messages(self, touser: str | None = None) -> list[dict]:
        out = [c["json"] for c in self.calls if c["path"] == "/cgi-bin/message/custom/send" and c["ok"]]
        return [m for m in out if touser is None or m.get("touser") == touser]

    def templates_sent(self, touser: str | None = None) -> list[dict]:
        """Accepted template messages (their payloads, each with the `msgid` this fake answered)."""
        out = [dict(c["json"], msgid=c["msgid"]) for c in self.calls if c["path"] == TEMPLATE_SEND and c["ok"]]
        return [m for m in out if touser is None or m.get("touser") == touser]

    # -- server ----------------------------------------------------------
    def _handler(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def _reply(self, payload: dict | bytes, content_type="application/json") -> None:
                body = payload if isinstance(payload, bytes) else json.dumps(payload, ensure_ascii=False).encode()
                self.send_response(200)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _handle(self, method: str) -> None:
                url = urlparse(self.path)
                query = {k: v[0] for k, v in parse_qs(url.query).items()}
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                try:
                    data = json.loads(raw) if raw else None
                except ValueError:
                    data = None
                call = {"method": method, "path": url.path, "query": query, "json": data, "ok": False}
                if url.path == "/cgi-bin/token" and fake.token_delay:
                    time.sleep(fake.token_delay)
                with fake.lock:
                    fake.calls.append(call)
                    if url.path == "/cgi-bin/token":
                        fake.token_counter += 1
                        token = f"TOKEN{fake.token_counter}"
                        fake.valid_tokens.add(token)
                        call["ok"] = True
                        return self._reply({"access_token": token, "expires_in": 7200})
                    if query.get("access_token") not in fake.valid_tokens:
                        return self._reply({"errcode": 40001, "errmsg": "invalid credential"})
                    queued = fake.failures.get(url.path)
                    if queued:
                        code = queued.popleft()
                        if code in (40001, 42001):
                            fake.valid_tokens.discard(query.get("access_token"))
                        return self._reply({"errcode": code, "errmsg": f"fake error {code}"})
                    call["ok"] = True
                    if url.path == "/cgi-bin/media/get":
                        blob = fake.media.get(query.get("media_id", ""), b"\x89PNG\r\n\x1a\nfake")
                        return self._reply(blob, content_type="image/png")
                    if url.path == TEMPLATE_SEND:
                        fake.msgid_counter += 1
                        call["msgid"] = fake.msgid_counter
                        return self._reply({"errcode": 0, "errmsg": "ok", "msgid": fake.msgid_counter})
                return self._reply({"errcode": 0, "errmsg": "ok"})

            def do_GET(self):
                self._handle("GET")

            def do_POST(self):
                self._handle("POST")

        return Handler
