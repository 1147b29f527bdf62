#!/usr/bin/env bash
# Charge race against two gateway replicas on one PostgreSQL database (SPEC §10): one wrk per
# replica, every request a new charge of 1 unit to the same wallet, all at once. Prints charges/s
# (both replicas together) and p50/p99 latency per replica, then checks that the wallet's balance is
# exactly the grant minus the charges answered 200: a lost or doubled charge fails the run.
#
#   scripts/bench-charges.sh [DURATION_SECS] [CONNECTIONS_PER_REPLICA]
#   BENCH_BIN=DIR            use prebuilt binaries (DIR/gateway), e.g. a release build
#   BENCH_DATABASE_URL=URL   a PostgreSQL server to create the bench database on
#                            (default postgres://postgres@127.0.0.1:5432/postgres)
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${1:-10}
CONNECTIONS=${2:-16}
ADMIN_URL=${BENCH_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}
WORK=$(mktemp -d /tmp/bench-charges.XXXXXX)
DB=bench_charges_$$
PORT_A=19410 PORT_B=19411 UP_PORT=19412
GRANT=1000000000
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  psql -q "$ADMIN_URL" -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT

. scripts/bench-lib.sh
need wrk wrk
need psql postgresql-client
need jq jq

release_bin --bin gateway

psql -q "$ADMIN_URL" -c "CREATE DATABASE $DB" >/dev/null
DATABASE_URL="${ADMIN_URL%/*}/$DB"

# Both replicas: the same database, key-encryption key and public URL; their own data dirs.
export GATEWAY_DATABASE_URL=$DATABASE_URL GATEWAY_LOG=warn GATEWAY_PROVIDERS_TEST_REGISTRATION=owner \
  GATEWAY_KEY_ENCRYPTION_KEY=$(head -c 32 /dev/urandom | base64) GATEWAY_PUBLIC_URL=http://bench.gateway.test \
  GATEWAY_METRICS_LISTEN=""
GATEWAY_DATA_DIR="$WORK/a" "$BIN/gateway" users create bench --email bench@example.org --first-name Bench --last-name Mark >/dev/null
TOKEN=$(GATEWAY_DATA_DIR="$WORK/a" "$BIN/gateway" tokens create bench --name bench)
GATEWAY_DATA_DIR="$WORK/a" GATEWAY_LISTEN="127.0.0.1:$PORT_A" "$BIN/gateway" serve & PIDS+=($!)
GATEWAY_DATA_DIR="$WORK/b" GATEWAY_LISTEN="127.0.0.1:$PORT_B" "$BIN/gateway" serve & PIDS+=($!)
for port in $PORT_A $PORT_B; do
  for _ in $(seq 300); do curl -sf "http://127.0.0.1:$port/readyz" >/dev/null && break; sleep 0.1; done
  curl -sf "http://127.0.0.1:$port/readyz" >/dev/null || { echo "replica on $port not ready" >&2; exit 1; }
done

# A test provider (nothing listens on its port: charges never call it) and a wallet to charge.
REFRESH=$(curl -sf -H "Authorization: Bearer $TOKEN" -H 'content-type: application/json' \
  -d "{\"id\":\"bench\",\"domain\":\"127.0.0.1\",\"https\":false,\"port\":$UP_PORT,\"env\":\"test\"}" \
  "http://127.0.0.1:$PORT_A/api/providers" | jq -r .refreshToken)
GATEWAY_DATA_DIR="$WORK/a" "$BIN/gateway" wallets grant --user bench --provider bench --units $GRANT >/dev/null
ACCESS=$(curl -sf -d grant_type=refresh_token --data-urlencode "refresh_token=$REFRESH" \
  "http://127.0.0.1:$PORT_A/oauth/token" | jq -r .access_token)

cat > "$WORK/charge.lua" <<'LUA'
local token, prefix = os.getenv("BENCH_ACCESS"), os.getenv("BENCH_PREFIX")
local counter = 0
request = function()
  counter = counter + 1
  local body = string.format('{"chargeId":"%s-%d","owner":{"username":"bench"},"units":1}', prefix, counter)
  return wrk.format("POST", "/api/accounting/charge",
    { ["Authorization"] = "Bearer " .. token, ["Content-Type"] = "application/json" }, body)
end
LUA

# One wrk per replica, at the same time.
WRK=()
for name in a b; do
  port=$PORT_A; [ $name = b ] && port=$PORT_B
  BENCH_ACCESS=$ACCESS BENCH_PREFIX=$name wrk -t1 -c"$CONNECTIONS" -d"${DURATION}s" --latency \
    -s "$WORK/charge.lua" "http://127.0.0.1:$port" >"$WORK/wrk-$name.txt" & WRK+=($!)
done
for p in "${WRK[@]}"; do wait "$p"; done

total_rps=0 total_ok=0
for name in a b; do
  out="$WORK/wrk-$name.txt"
  rps=$(awk '/^Requests\/sec/ {print $2}' "$out")
  reqs=$(awk '/requests in/ {print $1}' "$out")
  bad=$(awk '/Non-2xx or 3xx responses/ {print $5}' "$out"); bad=${bad:-0}
  errors=$(awk '/Socket errors/ {print}' "$out")
  p50=$(awk '$1 == "50%" {print $2}' "$out")
  p99=$(awk '$1 == "99%" {print $2}' "$out")
  printf "replica %s: %8.0f charges/s  p50 %8s  p99 %8s  non-2xx %s %s\n" "$name" "$rps" "$p50" "$p99" "$bad" "$errors"
  total_rps=$(awk -v a="$total_rps" -v b="$rps" 'BEGIN {print a + b}')
  total_ok=$((total_ok + reqs - bad))
done
printf "both:      %8.0f charges/s  (%d connections per replica, %s s)\n" "$total_rps" "$CONNECTIONS" "$DURATION"

# wrk counts requests it sent as it stopped but never saw answered; the wallet is the truth.
BALANCE=$(curl -sf -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$PORT_B/api/wallets" | jq '.[0].balance')
CHARGED=$(psql -tA "$DATABASE_URL" -c "SELECT COALESCE(SUM(units), 0) FROM charges WHERE provider_id = 'bench'")
echo "units charged: $CHARGED (wrk saw $total_ok answered 200); balance $BALANCE of $GRANT"
if [ $((GRANT - CHARGED)) -ne "$BALANCE" ]; then
  echo "MISMATCH: the balance is not the grant minus the recorded charges" >&2
  exit 1
fi
echo "balance exact: grant - charges = balance"
