#!/usr/bin/env bash
# scripts/smoke.sh against a fresh local server, as scripts/test.sh runs it: switchboard-local on free
# loopback ports with a temporary data dir and a bootstrapped admin, a webhook receiver for the ping step,
# and afterwards a check that the ping (signed) reached it. Stops what it started.
set -euo pipefail
cd "$(dirname "$0")/.."

export SWITCHBOARD_ORG_ID=default
export SWITCHBOARD_ORG_API_KEY=smoke-test-key
export SWITCHBOARD_ORG_API_SECRET=smoke-test-secret-0123456789abcdef0123
export SWITCHBOARD_ADMIN_USERNAME=admin
export SWITCHBOARD_ADMIN_PASSWORD=smoke-admin-password

server_bin="$(scripts/local-bin.sh)"
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
port=$(free_port)
s3_port=$(free_port)
hook_port=$(free_port)
data_dir=$(mktemp -d "${TMPDIR:-/tmp}/switchboard-smoke-local.XXXXXX")
pids=()
# shellcheck disable=SC2317  # called by the EXIT trap
cleanup() {
  local pid
  # `|| true`: under `set -e` the killed process's status would end the trap before the rest.
  for pid in "${pids[@]}"; do
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  rm -rf "$data_dir"
}
trap cleanup EXIT

# The receiver answers 204 and writes each request's path and signature header, one line each.
python3 - "$hook_port" "$data_dir/hooks" <<'PY' &
import sys
from http.server import BaseHTTPRequestHandler, HTTPServer
class Receiver(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("content-length", 0)))
        with open(sys.argv[2], "a") as hooks:
            print(self.path, self.headers.get("x-contactsmanager-signature", "-"), body[:200], file=hooks)
        self.send_response(204)
        self.end_headers()
    def log_message(self, *args):
        pass
HTTPServer(("127.0.0.1", int(sys.argv[1])), Receiver).serve_forever()
PY
pids+=($!)

# Loopback webhooks need SWITCHBOARD_ALLOW_PRIVATE_TARGETS (never set in production).
NO_COLOR=1 SWITCHBOARD_ALLOW_PRIVATE_TARGETS=1 "$server_bin" --port "$port" --s3-port "$s3_port" \
  --data-dir "$data_dir/server" >"$data_dir/server.log" 2>&1 &
pids+=($!)
url="http://127.0.0.1:$port"
for _ in $(seq 1 100); do
  curl -sf -o /dev/null "$url/is-alive" && break
  kill -0 "${pids[1]}" 2>/dev/null || { cat "$data_dir/server.log" >&2; exit 1; }
  sleep 0.2
done

if ! SMOKE_WEBHOOK_URL="http://127.0.0.1:$hook_port/hook" scripts/smoke.sh "$url"; then
  echo "switchboard-local log (last 40 lines):" >&2
  tail -n 40 "$data_dir/server.log" >&2
  exit 1
fi
# The ping, and nothing else (the webhook was created disabled), reached the receiver, signed.
hooks=$(cat "$data_dir/hooks" 2>/dev/null || true)
if [ "$(printf '%s\n' "$hooks" | grep -c '^/hook t=')" -ne 1 ] || ! grep -q '"ping"' <<<"$hooks"; then
  echo "the receiver did not get exactly one signed ping: $hooks" >&2
  exit 1
fi
