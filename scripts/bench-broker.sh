#!/usr/bin/env bash
# Broker benchmark: the same upstream reached directly, through nginx (proxy_pass, upstream keepalive,
# one worker) and through the gateway (authenticated user, service-token cache hit), one after the
# other with the same CPU pinning: wrk and the upstream on CPU 0, the proxy under test on CPU 1.
# Prints req/s, p50/p99 latency and the proxy's CPU time per request.
#
#   scripts/bench-broker.sh [DURATION_SECS] [CONNECTIONS]      (BENCH_BIN=DIR: use prebuilt binaries)
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${1:-10}
CONNECTIONS=${2:-32}
WORK=$(mktemp -d /tmp/bench-broker.XXXXXX)
UP_PORT=19400 NGINX_PORT=19401 GW_PORT=19402
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT

need() { command -v "$1" >/dev/null || { echo "installing $2 from Debian"; apt-get install -y -qq "$2" >/dev/null; }; }
need wrk wrk
need nginx nginx
need taskset util-linux

# BENCH_BIN: a folder holding prebuilt `gateway` and `examples/bench_upstream` (to compare two builds).
if [ -n "${BENCH_BIN:-}" ]; then
  BIN=$BENCH_BIN
else
  echo "building release binaries"
  cargo build -q --release -p gateway --bin gateway --example bench_upstream
  BIN=${CARGO_TARGET_DIR:-target}/release
fi

taskset -c 0 "$BIN/examples/bench_upstream" "127.0.0.1:$UP_PORT" bench & PIDS+=($!)

cat > "$WORK/nginx.conf" <<NGINX
worker_processes 1;
daemon off;
pid $WORK/nginx.pid;
error_log $WORK/nginx-error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  upstream provider { server 127.0.0.1:$UP_PORT; keepalive 64; }
  server {
    listen 127.0.0.1:$NGINX_PORT;
    location / {
      proxy_pass http://provider;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }
  }
}
NGINX
taskset -c 1 nginx -c "$WORK/nginx.conf" & PIDS+=($!)

METRICS_PORT=19403
# The bench user registers its own test provider; metrics are served on their own listener.
export GATEWAY_DATA_DIR="$WORK/gw" GATEWAY_LISTEN="127.0.0.1:$GW_PORT" GATEWAY_LOG=warn \
  GATEWAY_PROVIDERS_TEST_REGISTRATION=owner GATEWAY_METRICS_LISTEN="127.0.0.1:$METRICS_PORT"
"$BIN/gateway" users create bench --email bench@example.org --first-name Bench --last-name Mark >/dev/null
TOKEN=$("$BIN/gateway" tokens create bench --name bench)
taskset -c 1 "$BIN/gateway" serve & GW_PID=$!; PIDS+=($GW_PID)
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$GW_PORT/readyz" >/dev/null && break; sleep 0.1; done
curl -sf -H "Authorization: Bearer $TOKEN" -H 'content-type: application/json' \
  -d "{\"id\":\"bench\",\"domain\":\"127.0.0.1\",\"https\":false,\"port\":$UP_PORT,\"env\":\"test\"}" \
  "http://127.0.0.1:$GW_PORT/api/providers" >/dev/null
curl -sf -X POST -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$GW_PORT/api/providers/bench/manifest/reload" >/dev/null
for port in $UP_PORT $NGINX_PORT; do curl -sf "http://127.0.0.1:$port/ucloud/bench/storage/ping" >/dev/null; done
curl -sf -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$GW_PORT/ucloud/bench/storage/ping" >/dev/null

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
TICK=$(getconf CLK_TCK)

# run NAME URL PID [HEADER]: prints "name req/s p50 p99 cpu_us_per_req"
run() {
  local name=$1 url=$2 pid=$3; shift 3
  local before after out rps reqs p50 p99 cpu
  before=$( [ "$pid" = - ] && echo 0 || cpu_ticks "$pid")
  out=$(taskset -c 0 wrk -t1 -c"$CONNECTIONS" -d"${DURATION}s" --latency "$@" "$url")
  after=$( [ "$pid" = - ] && echo 0 || cpu_ticks "$pid")
  rps=$(awk '/^Requests\/sec/ {print $2}' <<<"$out")
  reqs=$(awk '/requests in/ {print $1}' <<<"$out")
  p50=$(awk '$1=="50%" {print $2}' <<<"$out")
  p99=$(awk '$1=="99%" {print $2}' <<<"$out")
  if grep -q "Non-2xx" <<<"$out"; then echo "$name: wrk saw non-2xx answers:"; echo "$out"; exit 1; fi
  if [ "$pid" = - ]; then cpu=-; else cpu=$(awk -v t=$((after - before)) -v hz="$TICK" -v n="$reqs" 'BEGIN {printf "%.1f", t / hz * 1e6 / n}'); fi
  printf '%-28s %10s %10s %10s %14s\n' "$name" "$rps" "$p50" "$p99" "$cpu"
  echo "$rps" > "$WORK/rps-$name"
}

NGINX_WORKER=$(pgrep -f "nginx: worker process" | head -n1)
printf '\n%-28s %10s %10s %10s %14s\n' "target ($CONNECTIONS conns, ${DURATION}s)" "req/s" "p50" "p99" "proxy CPU us/req"
run direct "http://127.0.0.1:$UP_PORT/ucloud/bench/storage/ping" -
run nginx "http://127.0.0.1:$NGINX_PORT/ucloud/bench/storage/ping" "$NGINX_WORKER"
run gateway "http://127.0.0.1:$GW_PORT/ucloud/bench/storage/ping" "$GW_PID" -H "Authorization: Bearer $TOKEN"
awk -v g="$(cat "$WORK/rps-gateway")" -v n="$(cat "$WORK/rps-nginx")" 'BEGIN {printf "\ngateway / nginx req/s: %.2f  (target >= 1.00)\n", g / n}'
{ curl -sf "http://127.0.0.1:$METRICS_PORT/metrics" || curl -s "http://127.0.0.1:$GW_PORT/metrics"; } \
  | grep -E 'service_token_cache_total' || true
