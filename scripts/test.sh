#!/usr/bin/env bash
# Set up and pass the tests on a fresh machine: a virtualenv with the test extras, Debian's
# PostgreSQL server (started here on a private socket), Debian's nginx (the cluster's proxy) and
# Debian's chromium for Playwright
# (never `playwright install`). Then: the whole suite on SQLite, and the database-facing
# suite again on PostgreSQL.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}

if [ ! -x .venv/bin/pytest ] || [ pyproject.toml -nt .venv/.installed-test ]; then
  "$PY" -m venv .venv
  .venv/bin/pip install -q --upgrade pip
  .venv/bin/pip install -q -e ".[test]"
  touch .venv/.installed-test
fi

need_apt=()
command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need_apt+=(postgresql)
{ command -v nginx || [ -x /usr/sbin/nginx ]; } >/dev/null 2>&1 || need_apt+=(nginx)  # scripts/cluster.sh's proxy
if [ ${#need_apt[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
  else
    echo "test.sh: please install: ${need_apt[*]} (Debian packages)" >&2
  fi
fi

# A throwaway PostgreSQL cluster on a free loopback port, owned by the postgres user.
PG_URL=""
PG_PORT=$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
PG_BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)
if [ -n "$PG_BIN" ]; then
  PGDIR=$(mktemp -d /tmp/policybot-pg.XXXXXX)
  chmod 755 "$PGDIR"
  RUN=()
  if [ "$(id -u)" = 0 ]; then chown postgres "$PGDIR"; RUN=(runuser -u postgres --); fi
  "${RUN[@]}" "$PG_BIN/initdb" -D "$PGDIR/data" -U postgres --auth=trust -E UTF8 >/dev/null
  "${RUN[@]}" "$PG_BIN/pg_ctl" -D "$PGDIR/data" -l "$PGDIR/log" -w \
      -o "-p $PG_PORT -k $PGDIR -c listen_addresses=127.0.0.1 -c max_connections=300" start >/dev/null
  trap '"${RUN[@]}" "$PG_BIN/pg_ctl" -D "$PGDIR/data" -m immediate stop >/dev/null 2>&1 || true' EXIT
  PG_URL="postgresql+psycopg://postgres@127.0.0.1:$PG_PORT/postgres"
fi

export ANONYMIZED_TELEMETRY=False
export POLICYBOT_TEST_PG_URL="$PG_URL"
.venv/bin/python -m pytest -q "$@"
if [ -n "$PG_URL" ] && [ $# -eq 0 ]; then
  echo "--- again on PostgreSQL (tests marked 'db') ---"
  .venv/bin/python -m pytest -q --db=postgres -m db
fi
