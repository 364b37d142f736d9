#!/usr/bin/env bash
# The production topology on loopback, with no containers, from Debian packages and PyPI alone:
# a private PostgreSQL cluster, a Chroma server (`chroma run`), N `policybot serve` workers (one
# port each, one shared data dir) and Debian's nginx balancing them. Everything it makes lives
# in the state dir, POLICYBOT_CLUSTER_DIR (default /tmp/policybot-cluster): data, logs, pids,
# ports, the nginx config. Nothing is written to /etc.
#
#   scripts/cluster.sh up [--workers N] [--port P]   start what is not running (idempotent);
#                                                    the last line printed is the base URL
#   scripts/cluster.sh status                        each part with its pid, port and health
#   scripts/cluster.sh down                          stop everything it started (data is kept)
#
# Settings: the workers inherit this environment (WECHAT_*, POLICYBOT_ADMIN_*, LLM_*, …) and
# the KEY=VALUE lines of the file named by POLICYBOT_CLUSTER_ENV (e.g. /etc/policybot.env), if
# set. The script itself sets DATABASE_URL, CHROMA_URL, POLICYBOT_DATA_DIR, POLICYBOT_WORKER_ID,
# PROMETHEUS_MULTIPROC_DIR and adds 127.0.0.1/32 to POLICYBOT_TRUSTED_PROXIES (nginx is there).
# POLICYBOT_VENV=/path/to/venv uses that virtualenv; otherwise .venv is built as scripts/run.sh
# builds it. Missing Debian packages (postgresql, nginx) are installed when run as root.
# Progress goes to stderr, the result (the URL, the status table) to stdout. docs/operations.md.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
STATE=$(realpath -m "${POLICYBOT_CLUSTER_DIR:-/tmp/policybot-cluster}")
PY=${PYTHON:-python3}
WAIT_READY=${POLICYBOT_CLUSTER_TIMEOUT:-240}  # seconds for the first worker to index and be ready

say() { echo "cluster: $*" >&2; }
die() { echo "cluster: $*" >&2; exit 1; }
is_root() { [ "$(id -u)" = 0 ]; }

HELPER=$ROOT/scripts/cluster_helper.py
free_port() { "$PY" "$HELPER" free-port; }
port_busy() { "$PY" "$HELPER" port-busy "$1"; }
probe() { "$PY" "$HELPER" probe "$1"; }  # "200 ok", "503 starting", "down ConnectionRefusedError"

# pid from a pid file when that process is alive and its command line contains $2
alive() {
  local file=$1 word=$2 pid
  [ -f "$file" ] || return 1
  pid=$(head -1 "$file" 2>/dev/null) || return 1
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q -- "$word" || return 1
  echo "$pid"
}

# wait until URL answers 200 with a wanted status (regex); give up when pid dies or time runs out
wait_health() {
  local what=$1 url=$2 want=$3 timeout=$4 pidfile=${5:-} word=${6:-} deadline got
  deadline=$(( $(date +%s) + timeout ))
  while :; do
    got=$(probe "$url")
    if [[ $got =~ ^200\ ($want)$ ]]; then return 0; fi
    if [ -n "$pidfile" ] && ! alive "$pidfile" "$word" >/dev/null; then
      die "$what exited; see $STATE/logs/"
    fi
    [ "$(date +%s)" -lt "$deadline" ] || die "$what not healthy after ${timeout}s (last: $got); see $STATE/logs/"
    sleep 0.5
  done
}

# start a detached command (own session, stdin closed, output to a log); its pid in a pid file
spawn() {
  local pidfile=$1 logfile=$2; shift 2
  # shellcheck disable=SC2016  # the inner bash expands them: its own pid, then the command
  setsid bash -c 'echo $$ >"$0"; exec "$@"' "$pidfile" "$@" >>"$logfile" 2>&1 </dev/null &
  for _ in $(seq 50); do [ -s "$pidfile" ] && return 0; sleep 0.1; done
  die "could not start $*"
}

stop_pid() {  # pidfile word [signal] [seconds]
  local file=$1 word=$2 sig=${3:-TERM} secs=${4:-20} pid
  if pid=$(alive "$file" "$word"); then
    kill -"$sig" "$pid" 2>/dev/null || true
    for _ in $(seq $((secs * 10))); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid" 2>/dev/null || true; fi
  fi
  rm -f "$file"
}

save_state() {
  cat >"$STATE/cluster.env.tmp" <<EOF
PG_PORT=${PG_PORT:-}
PGDIR=${PGDIR:-}
CHROMA_PORT=${CHROMA_PORT:-}
NGINX_PORT=${NGINX_PORT:-}
WORKERS=${WORKERS:-}
WORKER_PORTS="${WORKER_PORTS:-}"
EOF
  mv "$STATE/cluster.env.tmp" "$STATE/cluster.env"
}

load_state() {
  PG_PORT="" PGDIR="" CHROMA_PORT="" NGINX_PORT="" WORKERS="" WORKER_PORTS=""
  # shellcheck disable=SC1091
  [ -f "$STATE/cluster.env" ] && . "$STATE/cluster.env"
  return 0
}

# ------------------------------------------------------------------ what must be installed
ensure_packages() {
  local need=()
  ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
  command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || need+=(nginx)
  [ ${#need[@]} -eq 0 ] && return 0
  is_root || die "please install these Debian packages: ${need[*]}"
  say "installing ${need[*]} (Debian packages)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get -o DPkg::Lock::Timeout=300 update -qq >&2
  apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends "${need[@]}" >&2
}

ensure_venv() {  # the same logic as scripts/run.sh, or POLICYBOT_VENV as it is
  if [ -n "${POLICYBOT_VENV:-}" ]; then
    VENV=$POLICYBOT_VENV
    [ -x "$VENV/bin/policybot" ] || die "POLICYBOT_VENV=$VENV has no bin/policybot"
    return 0
  fi
  VENV=$ROOT/.venv
  if [ ! -x "$VENV/bin/policybot" ] || [ "$ROOT/pyproject.toml" -nt "$VENV/.installed" ]; then
    say "building $VENV"
    "$PY" -m venv "$VENV"
    "$VENV/bin/pip" install -q --upgrade pip >&2
    "$VENV/bin/pip" install -q -e "$ROOT" >&2
    touch "$VENV/.installed"
  fi
}

# ------------------------------------------------------------------ the parts

# shellcheck disable=SC2012  # Debian's version directories: plain names
pg_bin() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1; }

as_pg() { if is_root; then runuser -u postgres -- "$@"; else "$@"; fi; }

pg_up() {
  local bin pid
  bin=$(pg_bin)
  if [ -z "$PGDIR" ]; then
    PGDIR=$STATE/pg
    # PostgreSQL runs as the postgres user, which must reach the state dir (a pytest tmp dir
    # is private to root): otherwise the cluster lives in a directory of its own under /tmp
    if is_root && ! runuser -u postgres -- test -x "$STATE"; then
      PGDIR=/tmp/policybot-cluster-pg-$(echo "$STATE" | md5sum | cut -c1-12)
    fi
  fi
  if pid=$(alive "$STATE/pids/postgres.pid" postgres); then
    say "postgres already running (pid $pid, port $PG_PORT)"
    return 0
  fi
  if [ -z "$PG_PORT" ] || port_busy "$PG_PORT"; then PG_PORT=$(free_port); fi
  mkdir -p "$PGDIR"
  if is_root; then chown postgres "$PGDIR"; fi
  chmod 755 "$PGDIR"
  if [ ! -f "$PGDIR/data/PG_VERSION" ]; then
    say "initdb $PGDIR/data"
    as_pg "$bin/initdb" -D "$PGDIR/data" -U postgres --auth=trust -E UTF8 --no-locale >/dev/null
  fi
  say "starting postgres on 127.0.0.1:$PG_PORT"
  as_pg "$bin/pg_ctl" -D "$PGDIR/data" -l "$PGDIR/postgres.log" -w -t 60 \
    -o "-p $PG_PORT -k $PGDIR -c listen_addresses=127.0.0.1 -c max_connections=300" start >/dev/null
  head -1 "$PGDIR/data/postmaster.pid" >"$STATE/pids/postgres.pid"
  if ! "$bin/psql" -h 127.0.0.1 -p "$PG_PORT" -U postgres -tAc \
      "SELECT 1 FROM pg_database WHERE datname = 'policybot'" | grep -q 1; then
    "$bin/createdb" -h 127.0.0.1 -p "$PG_PORT" -U postgres -E UTF8 -T template0 policybot
  fi
  save_state
}

chroma_up() {
  local pid
  if pid=$(alive "$STATE/pids/chroma.pid" chroma); then
    say "chroma already running (pid $pid, port $CHROMA_PORT)"
    return 0
  fi
  if [ -z "$CHROMA_PORT" ] || port_busy "$CHROMA_PORT"; then CHROMA_PORT=$(free_port); fi
  mkdir -p "$STATE/chroma"
  say "starting chroma on 127.0.0.1:$CHROMA_PORT"
  ANONYMIZED_TELEMETRY=False spawn "$STATE/pids/chroma.pid" "$STATE/logs/chroma.log" \
    "$VENV/bin/chroma" run --path "$STATE/chroma/db" --host 127.0.0.1 --port "$CHROMA_PORT"
  save_state
  wait_health chroma "http://127.0.0.1:$CHROMA_PORT/api/v2/heartbeat" "-" 60 "$STATE/pids/chroma.pid" chroma
}

worker_env() {  # the settings every worker runs with, exported into this (sub)shell
  if [ -n "${POLICYBOT_CLUSTER_ENV:-}" ]; then
    [ -f "$POLICYBOT_CLUSTER_ENV" ] || die "POLICYBOT_CLUSTER_ENV=$POLICYBOT_CLUSTER_ENV: no such file"
    set -a
    # shellcheck disable=SC1090
    . "$POLICYBOT_CLUSTER_ENV"
    set +a
  fi
  export DATABASE_URL="postgresql+psycopg://postgres@127.0.0.1:$PG_PORT/policybot"
  export CHROMA_URL="http://127.0.0.1:$CHROMA_PORT"
  export POLICYBOT_DATA_DIR="$STATE/data"
  export POLICYBOT_TRUSTED_PROXIES="${POLICYBOT_TRUSTED_PROXIES:+$POLICYBOT_TRUSTED_PROXIES,}127.0.0.1/32"
  export PROMETHEUS_MULTIPROC_DIR="$STATE/metrics"
  export ANONYMIZED_TELEMETRY=False
}

worker_up() {  # index port
  local i=$1 port=$2
  (
    worker_env
    export POLICYBOT_WORKER_ID="w$i"
    # pg_stat_activity names the worker behind each connection
    export DATABASE_URL="$DATABASE_URL?application_name=policybot-w$i"
    cd "$STATE"
    spawn "$STATE/pids/worker-$i.pid" "$STATE/logs/worker-$i.log" \
      "$VENV/bin/policybot" serve --host 127.0.0.1 --port "$port"
  )
}

workers_up() {
  local ports=() old=() i pid port started=()
  read -r -a old <<<"${WORKER_PORTS:-}"
  mkdir -p "$STATE/data" "$STATE/metrics"
  local any=0
  for f in "$STATE"/pids/worker-*.pid; do
    [ -e "$f" ] && alive "$f" policybot >/dev/null && any=1
  done
  if [ $any = 0 ]; then  # no worker writes there now: start the counters afresh
    rm -rf "$STATE/metrics" && mkdir -p "$STATE/metrics"
    if "$VENV/bin/policybot" migrate --help >/dev/null 2>&1; then
      say "policybot migrate"
      (worker_env; cd "$STATE"; "$VENV/bin/policybot" migrate >&2)
    fi
  fi
  for i in $(seq "$WORKERS"); do
    port=${old[$((i - 1))]:-}
    if pid=$(alive "$STATE/pids/worker-$i.pid" policybot); then
      say "worker w$i already running (pid $pid, port $port)"
    else
      if [ -z "$port" ] || port_busy "$port"; then port=$(free_port); fi
      started+=("$i:$port")
    fi
    ports+=("$port")
  done
  WORKER_PORTS="${ports[*]}"
  save_state
  for f in "$STATE"/pids/worker-*.pid; do  # fewer workers than before: stop the extra ones
    [ -e "$f" ] || continue
    i=${f##*/worker-}; i=${i%.pid}
    if [ "$i" -gt "$WORKERS" ]; then say "stopping worker w$i"; stop_pid "$f" policybot; fi
  done
  [ ${#started[@]} -eq 0 ] && return 0
  # the first one alone while the database is empty: it creates the tables and indexes the
  # corpus; the others then only load what it wrote
  local first=${started[0]} rest=("${started[@]:1}")
  if [ $any = 0 ]; then
    say "starting worker w${first%%:*} on 127.0.0.1:${first##*:} (first start indexes the corpus)"
    worker_up "${first%%:*}" "${first##*:}"
    wait_health "worker w${first%%:*}" "http://127.0.0.1:${first##*:}/healthz" "ok|degraded" "$WAIT_READY" \
      "$STATE/pids/worker-${first%%:*}.pid" policybot
  else
    rest=("${started[@]}")
  fi
  for item in "${rest[@]}"; do
    say "starting worker w${item%%:*} on 127.0.0.1:${item##*:}"
    worker_up "${item%%:*}" "${item##*:}"
  done
  for item in "${rest[@]}"; do
    wait_health "worker w${item%%:*}" "http://127.0.0.1:${item##*:}/healthz" "ok|degraded" "$WAIT_READY" \
      "$STATE/pids/worker-${item%%:*}.pid" policybot
  done
}

nginx_bin() { command -v nginx 2>/dev/null || echo /usr/sbin/nginx; }

nginx_conf() {  # scripts/cluster-nginx.conf into the state dir; /etc/nginx is never read
  local d=$STATE/nginx user="" port servers="" tmp
  mkdir -p "$d"
  tmp=$d/tmp
  for port in $WORKER_PORTS; do servers+="        server 127.0.0.1:$port max_fails=1 fail_timeout=3s;"$'\n'; done
  if is_root; then  # the master runs as root, its workers as nobody: they buffer request bodies
    user="user nobody nogroup;"
    chmod 755 "$d"
    # a state dir private to root: the temporary files go elsewhere
    runuser -u nobody -- test -x "$d" || tmp=/tmp/policybot-cluster-nginx-$(echo "$STATE" | md5sum | cut -c1-12)
  fi
  mkdir -p "$tmp"
  if is_root; then chown -R nobody:nogroup "$tmp"; fi
  "$PY" "$HELPER" render "$ROOT/scripts/cluster-nginx.conf" "$d/nginx.conf.tmp" "USER=$user" \
    "STATE=$STATE" "TMP=$tmp" "PORT=$NGINX_PORT" "SERVERS=${servers%$'\n'}"
  mv "$d/nginx.conf.tmp" "$d/nginx.conf"
}

nginx_up() {
  local bin pid want_port=$1
  bin=$(nginx_bin)
  if pid=$(alive "$STATE/pids/nginx.pid" nginx) && [ "$want_port" = "$NGINX_PORT" ]; then
    nginx_conf
    "$bin" -t -q -p "$STATE/nginx/" -c "$STATE/nginx/nginx.conf" -e "$STATE/logs/nginx-error.log"
    kill -HUP "$pid"  # the worker list may have changed: reload, no dropped connection
    say "nginx already running (pid $pid, port $NGINX_PORT): configuration reloaded"
    return 0
  fi
  stop_pid "$STATE/pids/nginx.pid" nginx QUIT 10
  NGINX_PORT=$want_port
  save_state
  nginx_conf
  "$bin" -t -q -p "$STATE/nginx/" -c "$STATE/nginx/nginx.conf" -e "$STATE/logs/nginx-error.log"
  say "starting nginx on 127.0.0.1:$NGINX_PORT"
  spawn "$STATE/pids/nginx.pid" "$STATE/logs/nginx.log" \
    "$bin" -p "$STATE/nginx/" -c "$STATE/nginx/nginx.conf" -e "$STATE/logs/nginx-error.log"
}

# ------------------------------------------------------------------ the commands

cmd_up() {
  local workers="" port=""
  while [ $# -gt 0 ]; do
    case $1 in
      --workers) workers=$2; shift 2 ;;
      --workers=*) workers=${1#*=}; shift ;;
      --port) port=$2; shift 2 ;;
      --port=*) port=${1#*=}; shift ;;
      *) die "unknown option: $1 (up [--workers N] [--port P])" ;;
    esac
  done
  mkdir -p "$STATE/pids" "$STATE/logs"
  chmod 755 "$STATE" 2>/dev/null || true
  load_state
  WORKERS=${workers:-${WORKERS:-${POLICYBOT_CLUSTER_WORKERS:-2}}}
  [[ $WORKERS =~ ^[1-9][0-9]*$ ]] || die "--workers must be a positive number"
  if [ -z "$port" ]; then port=${NGINX_PORT:-${POLICYBOT_CLUSTER_PORT:-8080}}; fi
  [[ $port =~ ^[0-9]+$ ]] || die "--port must be a number"
  if [ "$port" = 0 ]; then
    port=$(free_port)
  elif [ "$port" != "${NGINX_PORT:-}" ] || ! alive "$STATE/pids/nginx.pid" nginx >/dev/null; then
    if port_busy "$port"; then die "port $port is in use (--port P, or --port 0 for a free one)"; fi
  fi
  ensure_packages
  ensure_venv
  pg_up
  chroma_up
  workers_up
  nginx_up "$port"
  wait_health "nginx" "http://127.0.0.1:$NGINX_PORT/healthz" "ok" 60 "$STATE/pids/nginx.pid" nginx
  say "up: $WORKERS worker(s) behind nginx; logs in $STATE/logs; stop with: $0 down"
  echo "http://127.0.0.1:$NGINX_PORT"
}

cmd_status() {
  load_state
  local bad=0 pid i port health
  row() { printf '%-10s %-8s %-7s %-9s %s\n' "$@"; }
  row part pid port state health
  if pid=$(alive "$STATE/pids/postgres.pid" postgres); then
    if "$(pg_bin)/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT"; then health=ready; else health="not ready"; bad=1; fi
    row postgres "$pid" "$PG_PORT" running "$health"
  else row postgres - "${PG_PORT:--}" stopped -; bad=1; fi
  if pid=$(alive "$STATE/pids/chroma.pid" chroma); then
    health=$(probe "http://127.0.0.1:$CHROMA_PORT/api/v2/heartbeat")
    [[ $health == 200* ]] && health="heartbeat ok" || bad=1
    row chroma "$pid" "$CHROMA_PORT" running "$health"
  else row chroma - "${CHROMA_PORT:--}" stopped -; bad=1; fi
  i=0
  for port in $WORKER_PORTS; do
    i=$((i + 1))
    if pid=$(alive "$STATE/pids/worker-$i.pid" policybot); then
      health=$(probe "http://127.0.0.1:$port/healthz")
      [[ $health == "200 ok" ]] || bad=1
      row "worker w$i" "$pid" "$port" running "healthz $health"
    else row "worker w$i" - "$port" stopped -; bad=1; fi
  done
  if pid=$(alive "$STATE/pids/nginx.pid" nginx); then
    health=$(probe "http://127.0.0.1:$NGINX_PORT/healthz")
    [[ $health == "200 ok" ]] || bad=1
    row nginx "$pid" "$NGINX_PORT" running "healthz $health  http://127.0.0.1:$NGINX_PORT"
  else row nginx - "${NGINX_PORT:--}" stopped -; bad=1; fi
  return $bad
}

cmd_down() {
  load_state
  [ -d "$STATE/pids" ] || { say "nothing to stop in $STATE"; return 0; }
  say "stopping nginx"
  stop_pid "$STATE/pids/nginx.pid" nginx QUIT 10
  for f in "$STATE"/pids/worker-*.pid; do
    [ -e "$f" ] || continue
    say "stopping ${f##*/}"
    stop_pid "$f" policybot TERM 20 &
  done
  wait
  say "stopping chroma"
  stop_pid "$STATE/pids/chroma.pid" chroma TERM 15
  if alive "$STATE/pids/postgres.pid" postgres >/dev/null && [ -n "$PGDIR" ]; then
    say "stopping postgres"
    as_pg "$(pg_bin)/pg_ctl" -D "$PGDIR/data" -m fast -w -t 30 stop >/dev/null || \
      stop_pid "$STATE/pids/postgres.pid" postgres INT 30
  fi
  rm -f "$STATE/pids/postgres.pid"
  case $PGDIR in "$STATE"/*|"") say "down (data kept in $STATE)" ;; *) say "down (data kept in $STATE and $PGDIR)" ;; esac
}

case ${1:-} in
  up) shift; cmd_up "$@" ;;
  down) shift; cmd_down "$@" ;;
  status) shift; cmd_status "$@" ;;
  *) echo "usage: $0 up [--workers N] [--port P] | status | down" >&2; exit 2 ;;
esac
