#!/usr/bin/env bash
# What one brokered request costs the gateway in user space, counted rather than timed: the gateway
# runs under valgrind (callgrind: instructions; dhat: heap allocations) while h2load sends REQUESTS
# HTTP/1.1 requests over CONNECTIONS kept-alive connections through it to the bench upstream, after a
# warm-up that fills every cache. Counts are repeatable for the same binary whatever else the machine
# does, so two builds can be compared on a noisy machine; the kernel's share (loopback TCP) is not
# counted here (scripts/bench-broker.sh measures the whole).
#
#   TOOL=callgrind|dhat|both scripts/count-broker.sh [REQUESTS] [CONNECTIONS]
#
# Prints instructions per request (callgrind) and allocations and bytes allocated per request (dhat),
# each the difference between a run of REQUESTS and a run of none, so start-up and warm-up cancel.
# BENCH_BIN=DIR uses prebuilt binaries (DIR/gateway, DIR/examples/bench_upstream); OUT=DIR keeps the
# valgrind outputs (callgrind_annotate OUT/callgrind.out.N shows where the instructions go).
set -euo pipefail
cd "$(dirname "$0")/.."
REQUESTS=${1:-4000}
CONNECTIONS=${2:-4}
TOOL=${TOOL:-both}
case "$TOOL" in
  both) TOOLS="callgrind dhat" ;;
  callgrind | dhat) TOOLS=$TOOL ;;
  *) echo "TOOL must be callgrind, dhat or both" >&2; exit 2 ;;
esac
WORK=$(mktemp -d /tmp/count-broker.XXXXXX)
OUT=${OUT:-$WORK/out}
mkdir -p "$OUT"
UP_PORT=19410 GW_PORT=19412
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$WORK/gw"; }
trap cleanup EXIT

. scripts/bench-lib.sh
need valgrind valgrind
need h2load nghttp2-client

release_bin --bin gateway --example bench_upstream
"$BIN/examples/bench_upstream" "127.0.0.1:$UP_PORT" bench & PIDS+=($!)

export GATEWAY_DATA_DIR="$WORK/gw" GATEWAY_LISTEN="127.0.0.1:$GW_PORT" GATEWAY_LOG=error \
  GATEWAY_PROVIDERS_TEST_REGISTRATION=owner GATEWAY_PUBLIC_URL="http://127.0.0.1:$GW_PORT"
"$BIN/gateway" users create bench --email bench@example.org --first-name Bench --last-name Mark >/dev/null
TOKEN=$("$BIN/gateway" tokens create bench --name bench)
AUTH="Authorization: Bearer $TOKEN"
URL="http://127.0.0.1:$GW_PORT/ucloud/bench/storage/ping"

# One gateway run under valgrind TOOL, N measured requests after the warm-up; prints its total.
measure() {
  local tool=$1 n=$2 out=$OUT/$1.out.$2
  local args=(--tool="$tool")
  if [ "$tool" = callgrind ]; then args+=(--callgrind-out-file="$out"); else args+=(--dhat-out-file="$out"); fi
  # Pinned to one CPU (the last), so the gateway picks its one-CPU runtime as bench-broker.sh's
  # pinned gateway does; valgrind runs the threads one at a time anyway.
  taskset -c "$(($(nproc) - 1))" valgrind "${args[@]}" --log-file="$out.log" "$BIN/gateway" serve & local pid=$!
  for _ in $(seq 600); do curl -sf "http://127.0.0.1:$GW_PORT/readyz" >/dev/null && break; sleep 0.2; done
  if [ ! -f "$WORK/registered" ]; then
    curl -sf -H "$AUTH" -H 'content-type: application/json' \
      -d "{\"id\":\"bench\",\"domain\":\"127.0.0.1\",\"https\":false,\"port\":$UP_PORT,\"env\":\"test\"}" \
      "http://127.0.0.1:$GW_PORT/api/providers" >/dev/null
    curl -sf -X POST -H "$AUTH" "http://127.0.0.1:$GW_PORT/api/providers/bench/manifest/reload" >/dev/null
    touch "$WORK/registered"
  fi
  # Warm-up: every connection's first request, the caches' first fill.
  h2load --h1 -n $((CONNECTIONS * 4)) -c "$CONNECTIONS" -H "$AUTH" "$URL" >/dev/null
  if [ "$n" -gt 0 ]; then
    local res
    res=$(h2load --h1 -n "$n" -c "$CONNECTIONS" -H "$AUTH" "$URL")
    grep -q "status codes: $n 2xx" <<<"$res" || { echo "h2load saw errors:" >&2; grep "^requests:\|^status codes:" <<<"$res" >&2; exit 1; }
  fi
  kill -INT "$pid"; wait "$pid" 2>/dev/null || true
  if [ "$tool" = callgrind ]; then
    awk '/^summary:|^totals:/ {print $2; exit}' "$out"
  else
    # dhat's log: "Total:     1,234 bytes in 56 blocks"
    awk '/Total:/ {gsub(",", ""); print $3, $6; exit}' "$out.log"
  fi
}

for tool in $TOOLS; do
  echo "$tool: gateway with 0 and $REQUESTS requests over $CONNECTIONS connections (this takes a while)"
  base=$(measure "$tool" 0)
  full=$(measure "$tool" "$REQUESTS")
  if [ "$tool" = callgrind ]; then
    awk -v a="$base" -v b="$full" -v n="$REQUESTS" \
      'BEGIN {printf "callgrind: %.0f instructions per request (%d in the run, %d without requests)\n", (b - a) / n, b, a}'
  else
    read -r base_bytes base_blocks <<<"$base"
    read -r full_bytes full_blocks <<<"$full"
    awk -v ab="$base_bytes" -v an="$base_blocks" -v bb="$full_bytes" -v bn="$full_blocks" -v n="$REQUESTS" \
      'BEGIN {printf "dhat: %.1f allocations, %.0f bytes allocated per request\n", (bn - an) / n, (bb - ab) / n}'
  fi
done
echo "(valgrind outputs in $OUT)"
