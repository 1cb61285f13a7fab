#!/usr/bin/env bash
# Where a warm GET /contact on the local server spends its instructions: runs switchboard-local under
# callgrind with instrumentation off, sets up as bench/run.sh does (admin session, API key, CRM token, one
# contact), warms up, then collects exactly N requests (default 200) on one keep-alive connection and
# prints the heaviest functions.
#
#   bench/profile-local.sh target/debug/switchboard-local [N]     # any build; symbols make it readable
#
# Needs valgrind, curl and python3. The profile stays in $TMPDIR/switchboard-profile.*/local.out.

set -euo pipefail
BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
BIN=${1:?usage: bench/profile-local.sh SERVER_BINARY [REQUESTS]}
REQUESTS=${2:-200}
TMP=$(mktemp -d "${TMPDIR:-/tmp}/switchboard-profile.XXXXXX")
PORT=$(python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])')
BASE=http://127.0.0.1:$PORT

env -u SWITCHBOARD_TABLE -u SWITCHBOARD_TOKEN_SECRET -u APP_SERVER_SECRET_KEY -u AWS_LAMBDA_FUNCTION_NAME \
    SWITCHBOARD_ORG_ID=default SWITCHBOARD_ORG_API_KEY=bench-key \
    SWITCHBOARD_ORG_API_SECRET=bench-secret-0123456789abcdef0123456789 \
    SWITCHBOARD_ADMIN_USERNAME=admin SWITCHBOARD_ADMIN_PASSWORD=admin-password-1 RUST_LOG=warn \
    valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$TMP/local.out" \
    "$BIN" --port "$PORT" --data-dir "$TMP/data" >"$TMP/server.log" 2>&1 &
SERVER=$!
trap 'kill -TERM $SERVER 2>/dev/null; wait $SERVER 2>/dev/null || true' EXIT
for _ in $(seq 300); do
    curl -fs -o /dev/null "$BASE/is-alive" && break
    kill -0 $SERVER 2>/dev/null || { cat "$TMP/server.log" >&2; exit 1; }
    sleep 0.2
done

field() { python3 -c 'import json, sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }
post() { curl -fsS -X POST -H 'content-type: application/json' "${@:3}" -d "$2" "$BASE$1"; }
ACCESS=$(post /sessions '{"username":"admin","password":"admin-password-1"}' | field accessToken)
KEY=$(post /users/me/api-keys '{}' -H "authorization: Bearer $ACCESS" | field key)
JWT=$(post /apiKeyLogin "{\"platform\":\"switchboard\",\"apiKey\":\"$KEY\"}" | field jwtToken)
post "/contact?jwtToken=$JWT" '{"phoneNumber":"+16505550042","newContactName":"Contact 0042"}' >/dev/null
URL="$BASE/contact?jwtToken=$JWT&phoneNumber=%2B16505550042&overridingFormat=(***)%20***-****,***-***-****"
for _ in $(seq 20); do curl -fs -o /dev/null "$URL"; done

# One keep-alive connection, as wrk's: the per-connection costs (router clone, connection set-up) stay out.
args=()
for _ in $(seq "$REQUESTS"); do args+=(-o /dev/null "$URL"); done
callgrind_control -i on $SERVER >/dev/null
curl -fs "${args[@]}"
callgrind_control -i off $SERVER >/dev/null
kill -TERM $SERVER
wait $SERVER 2>/dev/null || true
trap - EXIT
echo "profile: $TMP/local.out ($REQUESTS requests)" >&2
TOP=${TOP:-60} "$BENCH_DIR/profile-diff.py" "$TMP/local.out"
