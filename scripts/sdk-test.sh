#!/usr/bin/env bash
# The official ContactsManager server SDK (PyPI `contactsmanager`), unchanged, against Switchboard's server
# API: builds and starts switchboard-local on a free loopback port with a temporary data dir and a
# bootstrapped organization, runs tests/sdk/python_sdk.py against it, and stops it.
# (The Node SDK, npm `@contactsmanager/server`, is not served by the npm registry reachable here.)
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/sdk-venv.sh
py_version=$(.tools/sdk-py/bin/python -c 'import contactsmanager; print(contactsmanager.__version__)')
venv=.tools/sdk-py

export SWITCHBOARD_ORG_ID=default
export SWITCHBOARD_ORG_API_KEY=sdk-test-key
export SWITCHBOARD_ORG_API_SECRET=sdk-test-secret-0123456789abcdef0123
export SWITCHBOARD_ADMIN_USERNAME=admin
export SWITCHBOARD_ADMIN_PASSWORD=admin-password-1

server_bin="$(scripts/local-bin.sh)"
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
data_dir=$(mktemp -d "${TMPDIR:-/tmp}/switchboard-sdk-test.XXXXXX")
server_pid=""
# shellcheck disable=SC2317  # called by the EXIT trap
cleanup() {
  # `|| true`: under `set -e` the killed server's status would end the trap before the rest.
  if [ -n "$server_pid" ]; then
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  rm -rf "$data_dir" "$data_dir.log"
}
trap cleanup EXIT

NO_COLOR=1 "$server_bin" --port "$port" --data-dir "$data_dir" >"$data_dir.log" 2>&1 &
server_pid=$!
export SWITCHBOARD_URL="http://127.0.0.1:$port"
for _ in $(seq 1 100); do
  python3 -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=1)' \
    "$SWITCHBOARD_URL/is-alive" 2>/dev/null && break
  kill -0 "$server_pid" 2>/dev/null || { cat "$data_dir.log" >&2; exit 1; }
  sleep 0.2
done

echo "==> contactsmanager $py_version against $SWITCHBOARD_URL"
if ! "$venv/bin/python" tests/sdk/python_sdk.py; then
  echo "switchboard-local log (last 40 lines):" >&2
  tail -n 40 "$data_dir.log" >&2
  exit 1
fi
