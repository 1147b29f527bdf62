#!/usr/bin/env bash
# Broker benchmark: the same upstream reached directly, through nginx (proxy_pass, upstream keepalive,
# one worker) and through the gateway (authenticated user, service-token cache hit), one after the
# other with the same CPU pinning: the load generator and the upstream on CPU 0, the proxy under test
# on CPU 1. Prints req/s, p50/p99 latency, the proxy's CPU time per request (utime+stime from
# /proc/PID/stat before and after) and the ratio gateway/nginx.
#
#   MODE=all|h1|h1-1|https|h2|h2c scripts/bench-broker.sh [DURATION_SECS] [CONNECTIONS]
#
#   h1     HTTP/1.1, CONNECTIONS connections (default 32), wrk
#   h1-1   HTTP/1.1, one connection: latency (p50/p99), wrk
#   https  HTTP/1.1 over TLS, CONNECTIONS connections, wrk; gateway and nginx both terminate TLS
#          with a server certificate of the dev CA (`gateway certs dev`)
#   h2     HTTP/2 over TLS (ALPN h2), CONNECTIONS connections x 8 streams, h2load
#   h2c    HTTP/2 cleartext with prior knowledge, same shape, h2load
#   all    every mode above, in that order (the default)
#
# BENCH_BIN=DIR uses prebuilt binaries (DIR/gateway, DIR/examples/bench_upstream), to compare builds.
# SYSCALLS=1 also counts each proxy's system calls per request (perf's syscall tracepoints), by name.
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${1:-10}
CONNECTIONS=${2:-32}
MODE=${MODE:-all}
STREAMS=${STREAMS:-8}
case "$MODE" in
  all) MODES="h1 h1-1 https h2 h2c" ;;
  h1 | h1-1 | https | h2 | h2c) MODES=$MODE ;;
  *) echo "MODE must be all, h1, h1-1, https, h2 or h2c" >&2; exit 2 ;;
esac
WORK=$(mktemp -d /tmp/bench-broker.XXXXXX)
UP_PORT=19400 NGINX_PORT=19401 GW_PORT=19402 METRICS_PORT=19403 NGINX_TLS_PORT=19404
NGINX_H2_PORT=19405 NGINX_H2C_PORT=19406
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT

. scripts/bench-lib.sh
need wrk wrk
need nginx nginx
need h2load nghttp2-client
need taskset util-linux
[ "${SYSCALLS:-0}" = 0 ] || need perf linux-perf

release_bin --bin gateway --example bench_upstream

taskset -c 0 "$BIN/examples/bench_upstream" "127.0.0.1:$UP_PORT" bench & PIDS+=($!)

# The dev CA and a server certificate for 127.0.0.1, made by the gateway itself; both proxies use it.
"$BIN/gateway" certs dev --out "$WORK/certs" --host 127.0.0.1 >/dev/null
CERT=$WORK/certs/server.pem KEY=$WORK/certs/server-key.pem CA=$WORK/certs/ca.pem

cat > "$WORK/nginx.conf" <<NGINX
worker_processes 1;
daemon off;
pid $WORK/nginx.pid;
error_log $WORK/nginx-error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  upstream provider { server 127.0.0.1:$UP_PORT; keepalive 64; }
  ssl_certificate $CERT;
  ssl_certificate_key $KEY;
  ssl_protocols TLSv1.2 TLSv1.3;
  ssl_session_cache shared:SSL:1m;
  keepalive_requests 1000000;
  server {
    listen 127.0.0.1:$NGINX_PORT;
    listen 127.0.0.1:$NGINX_TLS_PORT ssl;
    listen 127.0.0.1:$NGINX_H2_PORT ssl http2;
    listen 127.0.0.1:$NGINX_H2C_PORT http2;
    location / {
      proxy_pass http://provider;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }
  }
}
NGINX
taskset -c 1 nginx -c "$WORK/nginx.conf" & PIDS+=($!)

# The bench user registers its own test provider; metrics are served on their own listener.
export GATEWAY_DATA_DIR="$WORK/gw" GATEWAY_LISTEN="127.0.0.1:$GW_PORT" GATEWAY_LOG=error \
  GATEWAY_PROVIDERS_TEST_REGISTRATION=owner GATEWAY_METRICS_LISTEN="127.0.0.1:$METRICS_PORT"
"$BIN/gateway" users create bench --email bench@example.org --first-name Bench --last-name Mark >/dev/null
TOKEN=$("$BIN/gateway" tokens create bench --name bench)
AUTH="Authorization: Bearer $TOKEN"

GW_PID=
# start_gateway plain|tls: (re)starts the gateway on GW_PORT, HTTP or HTTPS, pinned to CPU 1.
start_gateway() {
  if [ -n "$GW_PID" ]; then kill "$GW_PID"; wait "$GW_PID" 2>/dev/null || true; fi
  if [ "$1" = tls ]; then
    GW_URL="https://127.0.0.1:$GW_PORT"
    GATEWAY_TLS_CERT=$CERT GATEWAY_TLS_KEY=$KEY GATEWAY_PUBLIC_URL=$GW_URL \
      taskset -c 1 "$BIN/gateway" serve & GW_PID=$!
  else
    GW_URL="http://127.0.0.1:$GW_PORT"
    GATEWAY_PUBLIC_URL=$GW_URL taskset -c 1 "$BIN/gateway" serve & GW_PID=$!
  fi
  PIDS+=($GW_PID)
  for _ in $(seq 100); do curl -sf --cacert "$CA" "$GW_URL/readyz" >/dev/null && break; sleep 0.1; done
  [ "${2:-}" = first ] || curl -sSf --http1.1 --cacert "$CA" -H "$AUTH" "$GW_URL/ucloud/bench/storage/ping" >/dev/null
}

start_gateway plain first
curl -sf -H "$AUTH" -H 'content-type: application/json' \
  -d "{\"id\":\"bench\",\"domain\":\"127.0.0.1\",\"https\":false,\"port\":$UP_PORT,\"env\":\"test\"}" \
  "http://127.0.0.1:$GW_PORT/api/providers" >/dev/null
curl -sf -X POST -H "$AUTH" "http://127.0.0.1:$GW_PORT/api/providers/bench/manifest/reload" >/dev/null
curl -sf -H "$AUTH" "http://127.0.0.1:$GW_PORT/ucloud/bench/storage/ping" >/dev/null
for url in "http://127.0.0.1:$UP_PORT" "http://127.0.0.1:$NGINX_PORT" "https://127.0.0.1:$NGINX_TLS_PORT"; do
  curl -sf --cacert "$CA" "$url/ucloud/bench/storage/ping" >/dev/null
done

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
sys_ticks() { awk '{print $15}' "/proc/$1/stat"; }
TICK=$(getconf CLK_TCK)
NGINX_WORKER=$(pgrep -f "nginx: worker process" | head -n1)
PATH_=/ucloud/bench/storage/ping

# to_us VALUE: wrk's and h2load's latencies (12.3us, 1.2ms, 1s) in µs.
to_us() {
  awk -v v="$1" 'BEGIN { n = v + 0; u = v; sub(/^[0-9.]+/, "", u);
    f = (u == "us") ? 1 : (u == "ms") ? 1000 : (u == "s") ? 1e6 : 1; printf "%.0f", n * f }'
}

# load TOOL CONNS URL [HEADER]: runs wrk or h2load, sets RPS, REQS, P50, P99 (µs; h2load: mean, sd).
load() {
  local tool=$1 conns=$2 url=$3; shift 3
  local out
  if [ "$tool" = wrk ]; then
    local hdr=(); [ $# -gt 0 ] && hdr=(-H "$1")
    out=$(taskset -c 0 wrk -t1 -c"$conns" -d"${DURATION}s" --latency "${hdr[@]}" "$url")
    if grep -q "Non-2xx\|Socket errors" <<<"$out"; then
      echo "wrk saw errors:" >&2; grep "Non-2xx\|Socket errors" <<<"$out" >&2; FAILED=1
    fi
    RPS=$(awk '/^Requests\/sec/ {print $2}' <<<"$out")
    REQS=$(awk '/requests in/ {print $1}' <<<"$out")
    P50=$(to_us "$(awk '$1=="50%" {print $2}' <<<"$out")")
    P99=$(to_us "$(awk '$1=="99%" {print $2}' <<<"$out")")
  else
    local hdr=(); [ $# -gt 0 ] && hdr=(-H "$1")
    out=$(taskset -c 0 h2load -t1 -c"$conns" -m"$STREAMS" -D"$DURATION" --warm-up-time=1 "${hdr[@]}" "$url" 2>&1)
    local bad; bad=$(awk '/^requests:/ {n += $10 + $12} /^status codes:/ {n += $5 + $7 + $9} END {print n + 0}' <<<"$out")
    if [ "$bad" != 0 ] || ! grep -q "^status codes:" <<<"$out"; then
      echo "h2load saw errors:" >&2; grep "^requests:\|^status codes:" <<<"$out" >&2; FAILED=1
    fi
    grep -q "Application protocol: h2" <<<"$out" || { echo "h2load did not speak h2:" >&2; echo "$out" >&2; FAILED=1; }
    RPS=$(awk '/^finished in/ {gsub(",", ""); print $4}' <<<"$out")
    REQS=$(awk '/^requests:/ {print $8}' <<<"$out")
    P50=$(to_us "$(awk '$1=="time" && $2=="for" && $3=="request:" {print $6}' <<<"$out")")
    P99=$(to_us "$(awk '$1=="time" && $2=="for" && $3=="request:" {print $7}' <<<"$out")")
  fi
}

# run NAME TOOL CONNS URL PID [HEADER]: one row "name req/s p50 p99 cpu_us_per_req".
run() {
  local name=$1 tool=$2 conns=$3 url=$4 pid=$5; shift 5
  local before after cpu sys_before sys_after sys
  FAILED=0
  local perf=
  before=$( [ "$pid" = - ] && echo 0 || cpu_ticks "$pid")
  sys_before=$( [ "$pid" = - ] && echo 0 || sys_ticks "$pid")
  if [ "${SYSCALLS:-0}" != 0 ] && [ "$pid" != - ]; then
    perf stat -x, -o "$WORK/perf-$MODE_NOW-$name" -e 'syscalls:sys_enter_*' -p "$pid" & perf=$!
    sleep 0.5
  fi
  load "$tool" "$conns" "$url" "$@"
  after=$( [ "$pid" = - ] && echo 0 || cpu_ticks "$pid")
  sys_after=$( [ "$pid" = - ] && echo 0 || sys_ticks "$pid")
  if [ -n "$perf" ]; then kill -INT "$perf"; wait "$perf" 2>/dev/null || true; fi
  per_req() { awk -v t="$1" -v hz="$TICK" -v n="$REQS" 'BEGIN {printf "%.1f", (n > 0 ? t / hz * 1e6 / n : 0)}'; }
  if [ "$pid" = - ]; then cpu=- sys=-; else cpu=$(per_req $((after - before))) sys=$(per_req $((sys_after - sys_before))); fi
  # Errors answered fast are no throughput: a run with any is reported as failed, 0 req/s.
  if [ "$FAILED" = 1 ]; then RPS=0 P50=0 P99=0 cpu=0 sys=0; name="$name(FAILED)"; fi
  printf '%-10s %-8s %12s %10s %10s %12s %8s\n' "$MODE_NOW" "$name" "$RPS" "$P50" "$P99" "$cpu" "$sys"
  name=${name%(FAILED)}
  echo "$RPS $P50 $P99 $cpu" > "$WORK/res-$MODE_NOW-$name"
  if [ -n "$perf" ]; then
    # perf's CSV: count,,event,...; the calls made at least once per hundred requests.
    awk -F, -v n="$REQS" '$3 ~ /sys_enter_/ && $1 + 0 > 0 {
        sub(/.*sys_enter_/, "", $3); c = $1 / n; total += c; if (c >= 0.01) row = row sprintf(" %s %.2f", $3, c) }
      END {printf "%21s syscalls/req %.2f:%s\n", "", total, row}' "$WORK/perf-$MODE_NOW-$name"
  fi
}

ratio() {
  read -r grps gp50 _ gcpu < "$WORK/res-$MODE_NOW-gateway"
  read -r nrps np50 _ ncpu < "$WORK/res-$MODE_NOW-nginx"
  awk -v m="$MODE_NOW" -v g="$grps" -v n="$nrps" -v gp="$gp50" -v np="$np50" -v gc="$gcpu" -v nc="$ncpu" \
    'BEGIN {printf "%-10s gateway/nginx: req/s %.2f  p50 %.2f  cpu/req %.2f\n", m,
      (n > 0 ? g / n : 0), (np > 0 ? gp / np : 0), (nc > 0 ? gc / nc : 0)}' \
    >> "$WORK/ratios"
}

printf '\n%-10s %-8s %12s %10s %10s %12s %8s\n' "mode" "target" "req/s" "p50 us" "p99 us" "CPU us/req" "of it sys"
for MODE_NOW in $MODES; do
  case $MODE_NOW in
    h1)
      [ "${GW_URL#https}" = "$GW_URL" ] || start_gateway plain
      run direct wrk "$CONNECTIONS" "http://127.0.0.1:$UP_PORT$PATH_" -
      run nginx wrk "$CONNECTIONS" "http://127.0.0.1:$NGINX_PORT$PATH_" "$NGINX_WORKER"
      run gateway wrk "$CONNECTIONS" "$GW_URL$PATH_" "$GW_PID" "$AUTH" ;;
    h1-1)
      [ "${GW_URL#https}" = "$GW_URL" ] || start_gateway plain
      run direct wrk 1 "http://127.0.0.1:$UP_PORT$PATH_" -
      run nginx wrk 1 "http://127.0.0.1:$NGINX_PORT$PATH_" "$NGINX_WORKER"
      run gateway wrk 1 "$GW_URL$PATH_" "$GW_PID" "$AUTH" ;;
    https)
      [ "${GW_URL#https}" != "$GW_URL" ] || start_gateway tls
      run nginx wrk "$CONNECTIONS" "https://127.0.0.1:$NGINX_TLS_PORT$PATH_" "$NGINX_WORKER"
      run gateway wrk "$CONNECTIONS" "$GW_URL$PATH_" "$GW_PID" "$AUTH" ;;
    h2)
      [ "${GW_URL#https}" != "$GW_URL" ] || start_gateway tls
      run nginx h2 "$CONNECTIONS" "https://127.0.0.1:$NGINX_H2_PORT$PATH_" "$NGINX_WORKER"
      run gateway h2 "$CONNECTIONS" "$GW_URL$PATH_" "$GW_PID" "$AUTH" ;;
    h2c)
      [ "${GW_URL#https}" = "$GW_URL" ] || start_gateway plain
      run nginx h2c "$CONNECTIONS" "http://127.0.0.1:$NGINX_H2C_PORT$PATH_" "$NGINX_WORKER"
      run gateway h2c "$CONNECTIONS" "$GW_URL$PATH_" "$GW_PID" "$AUTH" ;;
  esac
  ratio
done
echo
cat "$WORK/ratios"
echo "(targets: h1 req/s >= 1.00 and cpu/req <= 1.00; h1-1 p50 <= 1.10; https, h2 req/s >= 1.00)"
echo "(h1/h1-1/https latencies from wrk: p50, p99; h2/h2c from h2load: mean, sd)"
{ curl -sf "http://127.0.0.1:$METRICS_PORT/metrics" || true; } | grep -E 'service_token_cache_total' | grep -v '^#' || true
