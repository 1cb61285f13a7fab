#!/usr/bin/env bash
# Property-based API testing against an OpenAPI file with Schemathesis (PyPI `schemathesis`, installed into
# .tools/schemathesis on first use): builds and starts switchboard-local on a free loopback port with a
# temporary data dir and a bootstrapped organization, prepares the credentials and ids the spec's operations
# need, runs Schemathesis (checks: no 5xx, documented status codes, content types, headers and response
# schemas) and stops the server (also on failure or Ctrl-C).
#
# docs/openapi-crm.yaml (the default): connects the admin to the CRM (session -> personal API key ->
# POST /apiKeyLogin -> jwtToken), creates one contact and one call log so that GET /contact and GET /callLog
# have something to match, and runs with that jwtToken. POST /unAuthorize is excluded: it revokes the
# jwtToken (every token of the connection), after which every other operation would only see 400. The Rust
# tests cover it (tests/src/crm.rs).
#
# docs/openapi-identity.yaml: runs with an admin token, and gives each operation that takes an id a real one
# (an account with a profile, a one-time token, a role, a session, an API key, a server-API user with a token
# the organization's SDK would sign); operations that remove or change what others use get an item of their
# own, and DELETE /sessions (log out everywhere) runs with a token of its own.
#
# docs/openapi-webhooks.yaml: runs with an admin token against webhooks that deliver to a loopback port
# nothing listens on (the server allows private targets for this spec: a ping fails at once, logged), with a
# real delivery id; removing and changing run on webhooks of their own.
#
# Any finding fails the run (non-zero exit). Environment knobs:
#   SCHEMATHESIS_VERSION       version to install (default below)
#   SCHEMATHESIS_MAX_EXAMPLES  test cases per operation and phase (default 50)
#   SCHEMATHESIS_SEED          fix the random seed to reproduce a run
#   SCHEMATHESIS_SPEC          the spec to test (default docs/openapi-crm.yaml)
# Extra arguments go to `schemathesis run` (e.g. `--include-operation-id findContact`).
# The server inherits the environment: with SWITCHBOARD_TABLE and AWS_ENDPOINT_URL_DYNAMODB set (plus the
# AWS_* variables of .tools/services.env) it uses that DynamoDB table (e.g. DynamoDB Local of
# scripts/services.sh; the local server creates the table on an emulator) instead of the embedded store.
set -euo pipefail
cd "$(dirname "$0")/.."

st_version=${SCHEMATHESIS_VERSION:-4.32.5}
max_examples=${SCHEMATHESIS_MAX_EXAMPLES:-50}
spec=${SCHEMATHESIS_SPEC:-docs/openapi-crm.yaml}
venv=.tools/schemathesis
if ! { [ -x "$venv/bin/schemathesis" ] &&
  [ "$("$venv/bin/python" -c 'from importlib.metadata import version; print(version("schemathesis"))' 2>/dev/null)" = "$st_version" ]; }; then
  echo "==> installing schemathesis==$st_version into $venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$st_version"
fi

export SWITCHBOARD_ORG_ID=default
export SWITCHBOARD_ORG_API_KEY=st-key
export SWITCHBOARD_ORG_API_SECRET=st-secret-0123456789abcdef0123456789
export SWITCHBOARD_ADMIN_USERNAME=admin
export SWITCHBOARD_ADMIN_PASSWORD=admin-password-1

# Deliveries to loopback, so the webhooks' pings are answered (refused) at once rather than refused at setup.
case "$spec" in
  *openapi-webhooks.yaml) export SWITCHBOARD_ALLOW_PRIVATE_TARGETS=1 ;;
esac

server_bin="$(scripts/local-bin.sh)"
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
work_dir=$(mktemp -d "${TMPDIR:-/tmp}/switchboard-schemathesis.XXXXXX")
server_log="$work_dir/server.log"
server_pid=""
# shellcheck disable=SC2317  # called by the EXIT trap
cleanup() {
  if [ -n "$server_pid" ]; then
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  rm -rf "$work_dir"
}
trap cleanup EXIT

NO_COLOR=1 "$server_bin" --port "$port" --data-dir "$work_dir/data" >"$server_log" 2>&1 &
server_pid=$!
base_url="http://127.0.0.1:$port"
for attempt in $(seq 1 100); do
  if python3 -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=1)' \
    "$base_url/is-alive" 2>/dev/null; then
    break
  fi
  if ! kill -0 "$server_pid" 2>/dev/null || [ "$attempt" = 100 ]; then
    echo "switchboard-local did not start:" >&2
    cat "$server_log" >&2
    exit 1
  fi
  sleep 0.2
done

# Sends JSON (POST unless METHOD says otherwise) and prints fields of the JSON answer (dotted paths,
# comma-separated; printed space-separated); fails loudly on a non-2xx answer or a missing field.
# usage: post_json PATH BODY FIELDS [BEARER [METHOD]]
post_json() {
  python3 - "$base_url$1" "$2" "$3" "${4:-}" "${5:-POST}" <<'PY'
import json, sys, urllib.error, urllib.request
url, body, fields, bearer, method = sys.argv[1:6]
headers = {"content-type": "application/json"}
if bearer:
    headers["authorization"] = "Bearer " + bearer
request = urllib.request.Request(url, data=body.encode() or None, headers=headers, method=method)
try:
    with urllib.request.urlopen(request, timeout=10) as response:
        answer = json.load(response)
except urllib.error.HTTPError as e:
    sys.exit(f"{method} {url} -> {e.code}: {e.read().decode(errors='replace')}")
values = []
for field in filter(None, fields.split(",")):
    value = answer
    for name in field.split("."):
        value = value.get(name) if isinstance(value, dict) else None
    if not value:
        sys.exit(f"{method} {url}: no {field} in {answer}")
    values.append(str(value))
print(" ".join(values))
PY
}

access_token=$(post_json /sessions \
  "{\"username\":\"$SWITCHBOARD_ADMIN_USERNAME\",\"password\":\"$SWITCHBOARD_ADMIN_PASSWORD\"}" accessToken)
config="$work_dir/schemathesis.toml"
excluded=()
# Warnings shown (a "validation mismatch" is not), and those that mean a broken spec or setup, which fail.
warnings='[warnings]
display = ["missing_auth", "missing_test_data", "base_url_mismatch", "missing_deserializer", "unused_openapi_auth",
  "unsupported_regex", "method_not_allowed", "unmatched_filter", "unresolvable_reference", "low_valid_rate",
  "rate_limited", "dictionary_mismatch", "timeout_units"]
fail-on = ["missing_deserializer", "unsupported_regex", "unmatched_filter", "unresolvable_reference",
  "dictionary_mismatch"]'
checks=not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance,response_headers_conformance

setup_crm() {
  api_key=$(post_json /users/me/api-keys '{}' key "$access_token")
  jwt_token=$(post_json /apiKeyLogin "{\"platform\":\"switchboard\",\"apiKey\":\"$api_key\"}" jwtToken)
  # Data for matches: one contact (the number of GET /contact's example) and one call log (a session id of
  # this run, so that a reused DynamoDB table does not already hold it), so that the match branches answer,
  # not only the "not found" ones.
  contact_id=$(post_json /contact \
    '{"phoneNumber":"+16505559876","newContactName":"Schemathesis Contact","newContactType":"Contact"}' \
    contact.id "$jwt_token")
  logged_session="st-$(date +%s)-$$"
  post_json /callLog "{\"logInfo\":{\"sessionId\":\"$logged_session\",\"direction\":\"Outbound\",\"from\":{\"phoneNumber\":\"+18885287464\"},\"to\":{\"phoneNumber\":\"+16505559876\"},\"startTime\":1713752379489,\"duration\":13,\"result\":\"Call connected\"},\"contactId\":\"$contact_id\",\"contactName\":\"Schemathesis Contact\",\"note\":\"first note\"}" \
    logId "$jwt_token" >/dev/null

  # The token goes in the jwtToken query parameter of every operation (App Connect's way) and, for any request
  # where Schemathesis leaves that optional parameter out, as a bearer token too. Dictionaries make half of the
  # generated values real ones: the API key in POST /apiKeyLogin (a login joins the existing connection, so the
  # token stays valid), numbers with and without a match in GET /contact, and logged session ids in
  # GET /callLog. POST /apiKeyLogin refuses every generated key but
  # those (400 Invalid API key), which Schemathesis would report as a "validation mismatch" warning: that one
  # is not shown; warnings that mean a broken spec or setup fail the run.
  cat >"$config" <<TOML
headers = { Authorization = "Bearer $jwt_token" }

$warnings

[parameters]
"query.jwtToken" = "$jwt_token"

[dictionaries.api-keys]
values = ["$api_key"]

[dictionaries.phone-numbers]
values = ["+16505559876", " 16505559876", "(650) 555-9876", "+16505550000", "+442079460958", "6505559876"]

[dictionaries.phone-formats]
values = ["(***) ***-****", "***-***-****,+1 *** *** ****", "(***) ***-*****", "*"]

[dictionaries.session-ids]
values = ["$logged_session", "$logged_session,0,unknown", "0,1,2,3,4,$logged_session", " $logged_session ,,$logged_session"]

[[operations]]
include-operation-id = "apiKeyLogin"
parameters = { "body.apiKey" = { dictionary = "api-keys", probability = 0.5 } }

[[operations]]
include-operation-id = "findContact"
parameters = { "query.phoneNumber" = { dictionary = "phone-numbers", probability = 0.5 }, "query.overridingFormat" = { dictionary = "phone-formats", probability = 0.5 } }

[[operations]]
include-operation-id = "findCallLogs"
parameters = { "query.sessionIds" = { dictionary = "session-ids", probability = 0.5 } }
TOML
  excluded=(--exclude-operation-id unAuthorize)
}

# One account, its id (and with `profile`, its profile id): usage: account USERNAME [profile]
account() {
  local body="{\"username\":\"$1\",\"password\":\"$1-password\"}"
  if [ "${2:-}" = profile ]; then
    body="{\"username\":\"$1\",\"password\":\"$1-password\",\"profile\":{\"name\":\"$1\"}}"
    post_json /accounts "$body" id,profile.id "$access_token"
  else
    post_json /accounts "$body" id "$access_token"
  fi
}

# An HS256 token as the organization's server SDK signs it, for user $1.
sdk_token() {
  python3 - "$1" "$SWITCHBOARD_ORG_API_KEY" "$SWITCHBOARD_ORG_ID" "$SWITCHBOARD_ORG_API_SECRET" <<'PY'
import base64, hashlib, hmac, json, sys, time
user, key, org, secret = sys.argv[1:5]
b64 = lambda b: base64.urlsafe_b64encode(b).rstrip(b"=").decode()
now = int(time.time())
head = b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
body = b64(json.dumps({"user_id": user, "api_key": key, "org_id": org, "iat": now, "exp": now + 3600}).encode())
signature = hmac.new(secret.encode(), f"{head}.{body}".encode(), hashlib.sha256).digest()
print(f"{head}.{body}.{b64(signature)}")
PY
}

setup_identity() {
  local run user user_profile bare patched gone doomed_profile token_id session refresh ended key_id victim server
  local note device
  run="st$(date +%s)$$"
  read -r user user_profile <<<"$(account "$run-user" profile)"
  bare=$(account "$run-bare")
  patched=$(account "$run-patched")
  gone=$(account "$run-gone")
  read -r _ doomed_profile <<<"$(account "$run-doomed" profile)"
  token_id=$(post_json "/accounts/$user/tokens" '{"type":"invite"}' id "$access_token")
  post_json "/accounts/$user/roles/st-role" '' '' "$access_token" PUT >/dev/null
  read -r session refresh <<<"$(post_json /sessions "{\"username\":\"$run-user\",\"password\":\"$run-user-password\"}" id,refreshToken)"
  ended=$(post_json /sessions "{\"username\":\"$run-user\",\"password\":\"$run-user-password\"}" id)
  key_id=$(post_json /users/me/api-keys '{}' id "$access_token")
  victim=$(post_json /sessions "{\"username\":\"$run-gone\",\"password\":\"$run-gone-password\"}" accessToken)
  server=$(sdk_token "$run-uid")
  note=$(post_json "/users/$user_profile/notifications" '{"title":"Hi","body":"Hello","category":"system"}' \
    id "$access_token")
  device=$(post_json /users/me/devices \
    "{\"deviceId\":\"$(python3 -c 'import uuid; print(uuid.uuid4())')\",\"platform\":\"ios\",\"provider\":\"expo\",\"token\":\"ExponentPushToken[$run]\"}" \
    deviceId "$access_token")
  cat >"$config" <<TOML
headers = { Authorization = "Bearer $access_token" }

$warnings

[parameters]
"path.accountId" = "$user"
"path.profileId" = "$user_profile"
"path.identityId" = "$user"
"path.tokenId" = "$token_id"
"path.role" = "st-role"
"path.sessionId" = "$session"
"path.keyId" = "$key_id"
"path.uid" = "$run-uid"
"path.id" = "$note"
"path.deviceId" = "$device"

[dictionaries.usernames]
values = ["$run-user", "$run-bare", "admin"]

[dictionaries.refresh-tokens]
values = ["$refresh"]

[dictionaries.api-keys]
values = ["$SWITCHBOARD_ORG_API_KEY"]

[[operations]]
include-operation-id = "createUser"
parameters = { "body.identityId" = "$bare" }

[[operations]]
include-operation-id = "removeAccount"
parameters = { "path.accountId" = "$gone" }

[[operations]]
include-operation-id = "deleteUser"
parameters = { "path.profileId" = "$doomed_profile" }

[[operations]]
include-operation-id = "removeSession"
parameters = { "path.sessionId" = "$ended" }

[[operations]]
include-operation-id = "removeAllSessions"
headers = { Authorization = "Bearer $victim" }

[[operations]]
include-operation-id = "refreshSession"
parameters = { "body.refreshToken" = { dictionary = "refresh-tokens", probability = 0.5 } }

[[operations]]
include-operation-id = "validateKey"
parameters = { "body.api_key" = { dictionary = "api-keys", probability = 0.5 } }

# Valid data the server refuses for reasons a JSON schema cannot say: a username with control, format or
# bidi characters (Unicode categories), an update that changes nothing (seed 003: 400 Failed to update user),
# a user_info.userId that differs from the path's uid, a cursor the server did not sign (also of requests and
# sessions), a timeout written as a float ('5.0': JSON Schema calls it an integer, the server wants an integer
# literal; also a sign-in's).
[[operations]]
include-operation-id = "findAccounts"
parameters = { "query.username" = { dictionary = "usernames", probability = 0.5 } }
checks = { positive_data_acceptance = { expected-statuses = ["2xx", "400", "401", "403", "404"] } }

[[operations]]
include-operation-id = "addToken"
checks = { positive_data_acceptance = { expected-statuses = ["2xx", "400", "401", "403", "404"] } }

[[operations]]
include-operation-id = "signUp"
checks = { positive_data_acceptance = { expected-statuses = ["2xx", "400", "401", "403", "409"] } }

[[operations]]
include-operation-id = "updateAccount"
parameters = { "path.accountId" = "$patched" }
checks = { positive_data_acceptance = { expected-statuses = ["2xx", "400", "401", "403", "404", "409"] } }

[[operations]]
include-operation-id = "updateUser"
checks = { positive_data_acceptance = { expected-statuses = ["2xx", "400", "401", "403", "404", "409"] } }

[[operations]]
include-operation-id = "serverUpsertUser"
headers = { Authorization = "Bearer $server" }
checks = { positive_data_acceptance = { expected-statuses = ["2xx", "400", "401", "403", "409"] } }

[[operations]]
include-operation-id = "serverDeleteUser"
headers = { Authorization = "Bearer $server" }

[[operations]]
include-operation-id = "signIn"
checks = { positive_data_acceptance = { expected-statuses = ["2xx", "400", "401", "403", "404"] } }

# An issuer is registered once per organization; its URL must have a host (JSON Schema's uri format
# accepts 'http://').
[[operations]]
include-operation-id = "addIdentityProvider"
checks = { positive_data_acceptance = { expected-statuses = ["2xx", "400", "401", "403", "409"] } }

[[operations]]
include-operation-id = "updateIdentityProvider"
checks = { positive_data_acceptance = { expected-statuses = ["2xx", "400", "401", "403", "404", "409"] } }

# A search's page times its limit is at most 1,000 (JSON Schema cannot relate two parameters).
[[operations]]
include-operation-id = "findMembers"
checks = { positive_data_acceptance = { expected-statuses = ["2xx", "400", "401"] } }

[[operations]]
include-operation-id = "listSessions"
checks = { positive_data_acceptance = { expected-statuses = ["2xx", "400", "401", "403"] } }

[[operations]]
include-operation-id = "findRequests"
checks = { positive_data_acceptance = { expected-statuses = ["2xx", "400", "401", "403"] } }

# Avatar sync fetches the URL it is given: with no DNS on the test machines, and only public addresses
# allowed, every generated URL is a 400 (the fetch itself is tested in tests/src/avatar.rs).
[[operations]]
include-operation-id = "syncAvatar"
checks = { positive_data_acceptance = { expected-statuses = ["2xx", "400", "401", "403"] } }

# An uploaded file must be the image its part declares (the spec's example PNG sent as image/jpeg is a 400).
[[operations]]
include-operation-id = "uploadAvatar"
checks = { positive_data_acceptance = { expected-statuses = ["2xx", "400", "401", "403"] } }

# Push: a device token must have its provider's shape, a Web Push key must lie on the P-256 curve, and APNs
# and FCM need their SNS platform application (none locally); a badge written as a float is refused as above.
[[operations]]
include-operation-id = "registerDevice"
checks = { positive_data_acceptance = { expected-statuses = ["2xx", "400", "401", "403", "404", "409"] } }

# A quiet-hours timezone must be a real IANA zone name, which a JSON schema cannot list.
[[operations]]
include-operation-id = "updatePreferences"
checks = { positive_data_acceptance = { expected-statuses = ["2xx", "400", "401", "403", "409"] } }

[[operations]]
include-operation-id = "sendNotification"
checks = { positive_data_acceptance = { expected-statuses = ["2xx", "400", "401", "403", "404"] } }

[[operations]]
include-operation-id = "serverSendNotification"
headers = { Authorization = "Bearer $server" }
checks = { positive_data_acceptance = { expected-statuses = ["2xx", "400", "401", "403", "404"] } }
TOML
}

setup_webhooks() {
  local hook patched doomed delivery target='"url":"http://127.0.0.1:9/hook","events":["*"]'
  hook=$(post_json /webhooks "{$target}" id "$access_token")
  patched=$(post_json /webhooks "{$target}" id "$access_token")
  doomed=$(post_json /webhooks "{$target}" id "$access_token")
  delivery=$(post_json "/webhooks/$hook/ping" '' id "$access_token")
  cat >"$config" <<TOML
headers = { Authorization = "Bearer $access_token" }

$warnings

[parameters]
"path.webhookId" = "$hook"
"path.deliveryId" = "$delivery"

[[operations]]
include-operation-id = "updateWebhook"
parameters = { "path.webhookId" = "$patched" }
checks = { positive_data_acceptance = { expected-statuses = ["2xx", "400", "401", "403", "404", "409"] } }

# In the stateful phase too the pinned id would be used, long removed, instead of the id a create answered.
[[operations]]
include-operation-id = "deleteWebhook"
parameters = { "path.webhookId" = "$doomed" }
phases = { stateful = { enabled = false } }

# A URL must parse as an absolute http(s) URL with a host, which JSON Schema's string cannot say; an
# organization has at most 50 webhooks (409 once they are there).
[[operations]]
include-operation-id = "createWebhook"
checks = { positive_data_acceptance = { expected-statuses = ["2xx", "400", "401", "403", "409"] } }

# A cursor the server did not sign.
[[operations]]
include-operation-id = "listWebhookDeliveries"
checks = { positive_data_acceptance = { expected-statuses = ["2xx", "400", "401", "403"] } }
TOML
}

case "$spec" in
  # Every check, also that the spec's valid data is accepted and its invalid data refused.
  *openapi-identity.yaml) setup_identity && checks=all ;;
  *openapi-webhooks.yaml) setup_webhooks && checks=all ;;
  *) setup_crm ;;
esac

seed_args=()
if [ -n "${SCHEMATHESIS_SEED:-}" ]; then
  seed_args=(--seed "$SCHEMATHESIS_SEED")
fi

# One worker: Schemathesis's threads call ast.parse concurrently (Hypothesis describing lambdas), which on
# CPython 3.11.7 here sometimes fails with "SystemError: AST constructor recursion depth mismatch"
# (CPython gh-106905), a Schemathesis "Runtime Error" unrelated to the server. A run takes seconds anyway.
echo "==> schemathesis $st_version: $spec against $base_url ${excluded[*]}"
status=0
"$venv/bin/schemathesis" --config-file "$config" run "$spec" \
  --url "$base_url" \
  "${excluded[@]}" \
  --checks "$checks" \
  --max-examples "$max_examples" \
  --workers 1 \
  --request-timeout 10 \
  --generation-database none \
  --no-color \
  "${seed_args[@]}" "$@" || status=$?
if [ "$status" != 0 ]; then
  # A 5xx is logged with its cause (never sent to the client); a panic says where.
  echo "switchboard-local errors and panics (last 20):" >&2
  grep -E "ERROR|panicked" "$server_log" | tail -n 20 >&2 || echo "(none)" >&2
  echo "switchboard-local log (last 10 lines):" >&2
  tail -n 10 "$server_log" >&2
  exit "$status"
fi
