"""Small jobs scripts/cluster.sh does in Python rather than bash (stdlib only, any python3).

  free-port              a free TCP port on 127.0.0.1
  port-busy PORT         exit 0 when something listens on 127.0.0.1:PORT, else 1
  probe URL              "CODE STATUS" of a JSON health URL ("200 ok", "503 starting"; "-" when
                         the body has no status), or "down ErrorName"; never through a proxy
  render SRC DST K=V...  copy SRC to DST with every @K@ replaced by V
"""
from __future__ import annotations

import json
import socket
import sys
import urllib.error
import urllib.request


def probe(url: str) -> str:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback only
    try:
        with opener.open(url, timeout=3) as r:
            code, body = r.status, r.read()
    except urllib.error.HTTPError as e:
        code, body = e.code, e.read()
    except Exception as e:
        return f"down {type(e).__name__}"
    try:
        status = json.loads(body).get("status") or "-"
    except Exception:
        status = "-"
    return f"{code} {status}"


def main(command: str, *args: str) -> int:
    if command == "free-port":
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            print(s.getsockname()[1])
    elif command == "port-busy":
        with socket.socket() as s:
            s.settimeout(1)
            return 0 if s.connect_ex(("127.0.0.1", int(args[0]))) == 0 else 1
    elif command == "probe":
        print(probe(args[0]))
    elif command == "render":
        source, target, *pairs = args
        with open(source, encoding="utf-8") as f:
            text = f.read()
        for pair in pairs:
            key, _, value = pair.partition("=")
            text = text.replace("@" + key + "@", value)
        with open(target, "w", encoding="utf-8") as f:
            f.write(text)
    else:
        print(__doc__, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
