#!/usr/bin/env bash
# Property-based API test: schemathesis (PyPI) against the OpenAPI document a started gateway
# serves at /openapi.json. Bounded (a few hundred examples, fixed seed) and checked for: no 5xx,
# every status documented, every content type and body as documented.
#
# Installs schemathesis into a venv under the cargo target dir (reused across runs), builds the
# gateway, starts `gateway serve` on a temporary data dir (SQLite) with an admin and an API token,
# runs, and stops it. `.ci/run` calls this after scripts/test.
#
#   scripts/schemathesis.sh [extra schemathesis arguments]
set -euo pipefail
cd "$(dirname "$0")/.."

SCHEMATHESIS_VERSION=4.32.5
EXAMPLES="${SCHEMATHESIS_EXAMPLES:-10}"   # per operation: about a thousand requests in all, seconds
SEED="${SCHEMATHESIS_SEED:-20261202}"
target="${CARGO_TARGET_DIR:-target}"
venv="$target/schemathesis-venv"

step() { printf '\n==> %s\n' "$*"; }

step "schemathesis $SCHEMATHESIS_VERSION"
if ! "$venv/bin/schemathesis" --version 2>/dev/null | grep -q "$SCHEMATHESIS_VERSION"; then
  if ! python3 -c 'import ensurepip, venv' 2>/dev/null; then
    [ "$(id -u)" = 0 ] || { echo "python3's venv is missing: apt-get install python3-venv"; exit 1; }
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
  fi
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION"
fi
"$venv/bin/schemathesis" --version

step "gateway"
cargo build --locked -p gateway --bin gateway
gateway="$target/debug/gateway"
data="$(mktemp -d)"
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
export GATEWAY_DATA_DIR="$data" GATEWAY_LISTEN="127.0.0.1:$port" GATEWAY_METRICS_LISTEN="" \
  GATEWAY_LOG="${GATEWAY_LOG:-warn}" GATEWAY_DATABASE_URL=""
unset GATEWAY_CONFIG
pid=""
cleanup() {
  if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  rm -rf "$data"
}
trap cleanup EXIT

"$gateway" migrate >/dev/null
printf 'schemathesis-password-%s\n' "$RANDOM$RANDOM" | "$gateway" users create --admin \
  --email st-operator@example.org --first-name Schema --last-name Thesis --password-stdin st-operator >/dev/null
token="$("$gateway" tokens create --name schemathesis st-operator)"
"$gateway" serve &
pid=$!
ready() { python3 -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=2)' \
  "http://127.0.0.1:$port/readyz" 2>/dev/null; }
for _ in $(seq 1 100); do
  ready && break
  kill -0 "$pid" 2>/dev/null || { echo "the gateway did not start"; exit 1; }
  sleep 0.2
done
ready || { echo "the gateway is not ready"; exit 1; }

step "schemathesis run (seed $SEED, $EXAMPLES examples per operation)"
# The operator's own account is left alone: suspending or disabling it would only turn every later
# call into a 403.
"$venv/bin/schemathesis" run "http://127.0.0.1:$port/openapi.json" \
  --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance \
  --header "Authorization: Bearer $token" \
  --phases examples,coverage,fuzzing \
  --max-examples "$EXAMPLES" --seed "$SEED" \
  --request-timeout 10 --workers 1 --no-shrink \
  --warnings off \
  "$@"
