#!/usr/bin/env bash
# Sign-in flood (SPEC §7): 300 concurrent wrong-password `POST /auth/login` from distinct client
# addresses for 20 s against the release gateway, while one client keeps calling `GET /api/me` with
# an API token. Prints the gateway's peak resident memory (target < 256 MiB), how many sign-ins were
# refused with 429, and the latency of `/api/me` meanwhile (target p99 < 100 ms).
#
# Distinct addresses: the gateway trusts 127.0.0.1 as a proxy and each request names a client in
# X-Forwarded-For, drawn from 300 addresses; usernames are random, so only the per-address counters
# stop the flood and the gateway checks 5 passwords per address (1,500 argon2id verifications).
#
#   scripts/bench-signin.sh [DURATION_SECS] [CONNECTIONS]      (BENCH_BIN=DIR: a prebuilt gateway)
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${1:-20}
CONNECTIONS=${2:-300}
WORK=$(mktemp -d /tmp/bench-signin.XXXXXX)
GW_PORT=19410
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT

. scripts/bench-lib.sh
need wrk wrk
release_bin --bin gateway


export GATEWAY_DATA_DIR="$WORK/gw" GATEWAY_LISTEN="127.0.0.1:$GW_PORT" GATEWAY_LOG=warn \
  GATEWAY_TRUSTED_PROXIES=127.0.0.1 GATEWAY_METRICS_LISTEN=
"$BIN/gateway" users create bench --email bench@example.org --first-name Bench --last-name Mark >/dev/null
TOKEN=$("$BIN/gateway" tokens create bench --name bench)
ulimit -n 8192
"$BIN/gateway" serve & GW_PID=$!; PIDS+=($GW_PID)
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$GW_PORT/readyz" >/dev/null && break; sleep 0.1; done
rss_kib() { awk "/^$1:/ {print \$2}" "/proc/$GW_PID/status"; }
echo "gateway up: resident $(( $(rss_kib VmRSS) / 1024 )) MiB"

cat > "$WORK/flood.lua" <<'LUA'
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args)
  statuses = {}
  math.randomseed(os.time() + tonumber(tostring({}):sub(8), 16))
end
function request()
  local n = math.random(0, 299)
  local user = string.format("nobody%06d", math.random(0, 999999))
  local body = string.format('{"username":"%s","password":"wrong password"}', user)
  return wrk.format("POST", "/auth/login", {
    ["Content-Type"] = "application/json",
    ["X-Forwarded-For"] = string.format("198.18.%d.%d", math.floor(n / 256), n % 256),
  }, body)
end
function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end
function done(summary, latency, requests)
  local total = {}
  for _, t in ipairs(threads) do
    for status, n in pairs(t:get("statuses")) do total[status] = (total[status] or 0) + n end
  end
  for status, n in pairs(total) do io.write(string.format("sign-in answers %d: %d\n", status, n)) end
end
LUA

echo "flooding for ${DURATION}s: $CONNECTIONS concurrent wrong-password sign-ins, and GET /api/me on one connection"
wrk -t2 -c"$CONNECTIONS" -d"${DURATION}s" --timeout 30s -s "$WORK/flood.lua" \
  "http://127.0.0.1:$GW_PORT" > "$WORK/flood.txt" 2>&1 & FLOOD=$!
sleep 1
wrk -t1 -c1 -d"$(( DURATION - 2 ))s" --latency -H "Authorization: Bearer $TOKEN" \
  "http://127.0.0.1:$GW_PORT/api/me" > "$WORK/me.txt" 2>&1
wait $FLOOD
PEAK=$(rss_kib VmHWM)
NOW=$(rss_kib VmRSS)

echo
grep -E "Requests/sec|sign-in answers|Socket errors" "$WORK/flood.txt" | sed 's/^/  /'
echo "  GET /api/me meanwhile:"
grep -E "^ +(50|90|99)%|Requests/sec|Non-2xx" "$WORK/me.txt" | sed 's/^/    /'
REFUSED=$(awk '/sign-in answers 429:/ {print $4}' "$WORK/flood.txt")
P99=$(awk '$1 == "99%" {print $2}' "$WORK/me.txt")
echo
printf 'peak resident %d MiB (target < 256), now %d MiB; 429 answers: %s; /api/me p99: %s (target < 100ms)\n' \
  $(( PEAK / 1024 )) $(( NOW / 1024 )) "${REFUSED:-0}" "${P99:-?}"
