#!/usr/bin/env bash
# Benchmarks the CRM extension routes of the local server (embedded redb store) with wrk and prints one
# Markdown table row per route: req/s, p50 and p99 latency, and the wrk command used.
#
#   bench/run.sh                       # build (release) if needed, then measure; table on stdout
#   BENCH_BIN=target/release/switchboard-local bench/run.sh   # use an existing binary, no cargo
#
# Settings (environment):
#   BENCH_DURATION=20s      measured run per route (wrk -d)
#   BENCH_WARMUP=3s         unmeasured run before each measured one (0 to skip)
#   BENCH_CONNECTIONS=16    wrk -c
#   BENCH_THREADS=2         wrk -t
#   BENCH_CONTACTS=100      contacts created before measuring (+1650555NNNN, NNNN from 0000)
#   BENCH_DUP_POOL=100      distinct sessionIds in the duplicate-heavy POST /callLog run
#   BENCH_ROUTES="get-contact post-calllog post-calllog-dup"   which runs, in order (also: soak)
#   BENCH_SOAK=2m, BENCH_SOAK_EVERY=10, BENCH_SOAK_GROWTH_MB=150   the soak run: length, sampling, RSS bound
#   BENCH_BIN=PATH          server binary; unset = `cargo build --release -p switchboard-local` first
#   BENCH_PIN="0 1"         pin the server to CPU 0 (one tokio worker) and wrk to CPU 1 with taskset, so
#                           neither preempts the other; unset = both float over every CPU
#   CARGO_TARGET_DIR        where that build goes (default: <repo>/target)
#
# Everything stays on 127.0.0.1: a free port from python3, a temporary data directory, and a trap that
# stops the server and removes the directory however the script ends. Progress and wrk's own reports go
# to stderr. Exit status 1 if any run had errors or an unexpected response.

set -euo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$BENCH_DIR")

DURATION=${BENCH_DURATION:-20s}
WARMUP=${BENCH_WARMUP:-3s}
CONNECTIONS=${BENCH_CONNECTIONS:-16}
THREADS=${BENCH_THREADS:-2}
CONTACTS=${BENCH_CONTACTS:-100}
DUP_POOL=${BENCH_DUP_POOL:-100}
ROUTES=${BENCH_ROUTES:-get-contact post-calllog post-calllog-dup}
BIN=${BENCH_BIN:-}
PIN=${BENCH_PIN:-}
SERVER_CPU=()
WRK_CPU=()
if [[ -n $PIN ]]; then
    read -r server_cpu wrk_cpu <<<"$PIN"
    SERVER_CPU=(taskset -c "$server_cpu")
    WRK_CPU=(taskset -c "$wrk_cpu")
fi

ADMIN_USERNAME="admin"
ADMIN_PASSWORD="admin-password-1"
# The number every GET looks up; must be one of the created contacts.
LOOKUP_INDEX=42

log() { printf '[bench] %s\n' "$*" >&2; }
die() {
    log "error: $*"
    exit 1
}

for tool in wrk curl python3; do
    command -v "$tool" >/dev/null || die "$tool not found (wrk: apt-get install -y wrk)"
done
((LOOKUP_INDEX < CONTACTS)) || die "BENCH_CONTACTS must be more than $LOOKUP_INDEX"

# "20s" / "1m" / "20" -> whole seconds, for the time limit around each wrk run.
seconds() {
    local d=$1
    case $d in
        *ms) echo 1 ;;
        *s) echo "${d%s}" ;;
        *m) echo $((${d%m} * 60)) ;;
        *h) echo $((${d%h} * 3600)) ;;
        *) echo "$d" ;;
    esac
}

TMP=$(mktemp -d "${TMPDIR:-/tmp}/switchboard-bench.XXXXXX")
SERVER_PID=
CHILD_PID=
# shellcheck disable=SC2317 # invoked by the EXIT trap
cleanup() {
    local status=$?
    if [[ -n $CHILD_PID ]]; then
        kill -TERM "$CHILD_PID" 2>/dev/null || true
        wait "$CHILD_PID" 2>/dev/null || true
    fi
    if [[ -n $SERVER_PID ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
        kill -TERM "$SERVER_PID" 2>/dev/null || true
        for _ in $(seq 50); do
            kill -0 "$SERVER_PID" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
    fi
    if ((status != 0)) && [[ -s $TMP/server.log ]]; then
        log "server log (last 20 lines):"
        tail -n 20 "$TMP/server.log" >&2 || true
    fi
    rm -rf "$TMP"
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- server ----------------------------------------------------------------------------------------------

if [[ -z $BIN ]]; then
    target=${CARGO_TARGET_DIR:-$ROOT/target}
    log "cargo build --release -p switchboard-local (target $target; a cold release build takes minutes)"
    (cd "$ROOT" && CARGO_TARGET_DIR=$target cargo build --release -p switchboard-local) >&2
    BIN=$target/release/switchboard-local
fi
[[ -x $BIN ]] || die "no server binary at $BIN"

PORT=$(python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()')
BASE=http://127.0.0.1:$PORT

log "starting $BIN on 127.0.0.1:$PORT, data in $TMP/data"
# Unset whatever would send the server to DynamoDB or change its secrets, address or log format.
env -u SWITCHBOARD_TABLE -u SWITCHBOARD_DATA_DIR -u SWITCHBOARD_ADDR -u SWITCHBOARD_TOKEN_SECRET \
    -u APP_SERVER_SECRET_KEY -u AWS_LAMBDA_FUNCTION_NAME \
    SWITCHBOARD_ORG_ID=default \
    SWITCHBOARD_ORG_API_KEY=bench-key \
    SWITCHBOARD_ORG_API_SECRET=bench-secret-0123456789abcdef0123456789 \
    SWITCHBOARD_ADMIN_USERNAME=$ADMIN_USERNAME \
    SWITCHBOARD_ADMIN_PASSWORD=$ADMIN_PASSWORD \
    RUST_LOG=warn \
    "${SERVER_CPU[@]}" "$BIN" --port "$PORT" --data-dir "$TMP/data" >"$TMP/server.log" 2>&1 &
SERVER_PID=$!

for _ in $(seq 300); do
    curl -fsS -o /dev/null --max-time 1 "$BASE/is-alive" 2>/dev/null && break
    kill -0 "$SERVER_PID" 2>/dev/null || die "server exited during start-up"
    sleep 0.1
done
curl -fsS -o /dev/null --max-time 2 "$BASE/is-alive" || die "server not answering on $BASE after 30 s"

# --- setup over HTTP ---------------------------------------------------------------------------------------

# api METHOD PATH [BODY [HEADER...]]: prints the response body; fails unless the status is 2xx.
api() {
    local method=$1 path=$2 body=${3:-} status
    local args=(-sS --max-time 10 -X "$method" -o "$TMP/response" -w '%{http_code}')
    if [[ -n $body ]]; then
        args+=(-H 'content-type: application/json' --data-binary "$body")
    fi
    local header
    for header in "${@:4}"; do
        args+=(-H "$header")
    done
    status=$(curl "${args[@]}" "$BASE$path") || die "$method $path: curl failed"
    [[ $status == 2?? ]] || die "$method $path: HTTP $status: $(head -c 500 "$TMP/response")"
    cat "$TMP/response"
}

# json EXPR: evaluates a Python expression over the JSON on stdin, bound to `j`; prints the result.
json() {
    python3 -c 'import json, sys
j = json.load(sys.stdin)
v = eval(sys.argv[1])
print(json.dumps(v) if isinstance(v, (dict, list, bool)) or v is None else v)' "$1"
}

log "signing in, creating an API key and a CRM connection"
ACCESS=$(api POST /sessions "{\"username\":\"$ADMIN_USERNAME\",\"password\":\"$ADMIN_PASSWORD\"}" | json 'j["accessToken"]')
KEY=$(api POST /users/me/api-keys '{}' "authorization: Bearer $ACCESS" | json 'j["key"]')
JWT=$(api POST /apiKeyLogin "{\"platform\":\"switchboard\",\"apiKey\":\"$KEY\"}" | json 'j["jwtToken"]')
[[ -n $JWT && $JWT != None ]] || die "no jwtToken from /apiKeyLogin"

log "creating $CONTACTS contacts"
for ((i = 0; i < CONTACTS; i++)); do
    n=$(printf '%04d' "$i")
    ok=$(api POST "/contact?jwtToken=$JWT" \
        "{\"phoneNumber\":\"+1650555$n\",\"newContactName\":\"Contact $n\",\"newContactType\":\"Contact\"}" |
        json 'j["successful"]')
    [[ $ok == true ]] || die "POST /contact for +1650555$n: successful=$ok"
done

LOOKUP=$(printf '%04d' "$LOOKUP_INDEX")
GET_PATH="/contact?jwtToken=$JWT&phoneNumber=%2B1650555$LOOKUP&overridingFormat=(***)%20***-****,***-***-****"
found=$(api GET "$GET_PATH" | json '[j["successful"], [c["name"] for c in j["contact"]]]')
[[ $found == "[true, [\"Contact $LOOKUP\", \"Create new contact...\"]]" ]] ||
    die "GET /contact sample: expected one hit plus the placeholder, got $found"
log "GET /contact sample: $found"

NONCE=$(date +%s)
sample_log() { # sample_log SESSION_ID -> the response body
    api POST "/callLog?jwtToken=$JWT" "{\"logInfo\":{\"sessionId\":\"$1\",\"direction\":\"Inbound\",\"from\":{\"phoneNumber\":\"+1650555$LOOKUP\"},\"to\":{\"phoneNumber\":\"+16505550100\"},\"startTime\":1795150800000,\"duration\":42,\"result\":\"Call connected\"},\"contactId\":\"c1\",\"contactName\":\"Ada\",\"contactType\":\"Contact\",\"note\":\"bench\"}"
}
first=$(sample_log "sample-$NONCE")
[[ $first == *'"successful":true'* ]] || die "POST /callLog sample: $first"
again=$(sample_log "sample-$NONCE")
[[ $again == *'"successful":false'* && $again == *'Existing log for session'* ]] ||
    die "POST /callLog duplicate sample: $again"
log "POST /callLog sample: $first"
log "POST /callLog same session again: $again"

# matched SESSION_ID...: fails unless GET /callLog finds every one (at most 5 per request, as App Connect).
matched() {
    local ids
    ids=$(
        IFS=,
        echo "$*"
    )
    local all
    all=$(api GET "/callLog?jwtToken=$JWT&sessionIds=$ids" | json 'all(l["matched"] for l in j["logs"]) and len(j["logs"]) > 0')
    [[ $all == true ]]
}

# bounded SECONDS COMMAND...: runs COMMAND with a time limit, in the background so that a signal to this
# script is handled at once (the trap stops it) rather than after the command ends.
bounded() {
    local limit=$1 rc=0
    shift
    timeout --kill-after=5 "$limit" "$@" &
    CHILD_PID=$!
    wait "$CHILD_PID" || rc=$?
    CHILD_PID=
    return "$rc"
}

# --- measurement --------------------------------------------------------------------------------------------

FAILED=0
ROWS=()

# measure NAME DISPLAY_ROUTE URL_PATH SCRIPT [SCRIPT_ARGS...]: warm-up (optional), measured run, checks,
# table row. R holds the fields of the script's "BENCH k=v ..." line.
declare -A R
measure() {
    local name=$1 route=$2 path=$3 script=$4
    shift 4
    local script_args=("$@")
    local limit=$(($(seconds "$DURATION") + 60))
    local cmd=("${WRK_CPU[@]}" wrk "-t$THREADS" "-c$CONNECTIONS" "-d$DURATION" --latency -s "$script" "$BASE$path")
    if ((${#script_args[@]})); then
        cmd+=(-- "${script_args[@]}")
    fi

    if [[ $WARMUP != 0 && $WARMUP != 0s && $name != post-calllog-dup ]]; then
        local warm=("${cmd[@]}")
        warm[${#WRK_CPU[@]} + 3]="-d$WARMUP"
        if [[ $name == post-calllog ]]; then
            warm[${#warm[@]} - 1]="w$NONCE" # its own sessionIds, never reused by the measured run
        fi
        log "$name: warm-up $WARMUP"
        bounded $(($(seconds "$WARMUP") + 60)) "${warm[@]}" >/dev/null || die "$name: warm-up failed"
    fi

    log "$name: ${cmd[*]//$JWT/\$JWT}"
    bounded "$limit" "${cmd[@]}" >"$TMP/$name.out" || die "$name: wrk failed"
    sed "s/$JWT/\$JWT/g" "$TMP/$name.out" >&2
    local line
    line=$(grep '^BENCH ' "$TMP/$name.out" | tail -n 1) || die "$name: no BENCH line from $script"
    R=()
    local kv fields
    read -ra fields <<<"${line#BENCH }"
    for kv in "${fields[@]}"; do
        R[${kv%%=*}]=${kv#*=}
    done

    local problems=()
    ((R[non2xx] == 0)) || problems+=("${R[non2xx]} non-2xx responses")
    local errors=$((R[connect] + R[read] + R[write] + R[timeout]))
    ((errors == 0)) || problems+=("$errors socket errors (connect ${R[connect]}, read ${R[read]}, write ${R[write]}, timeout ${R[timeout]})")
    ((R[requests] > 0)) || problems+=("no requests completed")
    case $name in
        get-contact) check_get_contact ;;
        post-calllog) check_post_calllog ;;
        post-calllog-dup) check_post_calllog_dup ;;
    esac

    local shown_cmd="wrk -t$THREADS -c$CONNECTIONS -d$DURATION --latency -s bench/${script##*/}"
    shown_cmd+=" 'http://127.0.0.1:\$PORT${path//$JWT/\$JWT}'"
    if ((${#script_args[@]})); then
        shown_cmd+=" -- ${script_args[*]}"
    fi
    local row
    row=$(awk -v route="$route" -v rps="${R[rps]}" -v p50="${R[p50_us]}" -v p99="${R[p99_us]}" -v cmd="$shown_cmd" \
        'BEGIN { printf "| %s | %.0f | %.2f ms | %.2f ms | `%s` |", route, rps, p50 / 1000, p99 / 1000, cmd }')
    if ((${#problems[@]})); then
        FAILED=1
        local p
        for p in "${problems[@]}"; do
            log "$name: PROBLEM: $p"
        done
        row="$row (**invalid: ${problems[0]}**)"
    else
        log "$name: OK, ${R[requests]} requests"
    fi
    ROWS+=("$row")
}

# Per-route response checks; append to `problems`.
check_get_contact() {
    # Every response is 2xx (checked above) and the same request; one more sample after the load.
    local found
    found=$(api GET "$GET_PATH" | json '[j["successful"], [c["name"] for c in j["contact"]]]')
    [[ $found == "[true, [\"Contact $LOOKUP\", \"Create new contact...\"]]" ]] ||
        problems+=("GET /contact after the run: $found")
}
check_post_calllog() {
    ((R[successful_other] == 0)) || problems+=("${R[successful_other]} responses without \"successful\":true")
    ((R[successful_true] == R[requests])) ||
        problems+=("successful:true ${R[successful_true]} != requests ${R[requests]}")
    # Two of each wrk thread's logs (call-log.lua numbers thread t's requests from (t - 1) * 7 + 1).
    local ids=() t
    for ((t = 1; t <= THREADS; t++)); do
        ids+=("u$NONCE-$t-$(((t - 1) * 7 + 10))" "u$NONCE-$t-$(((t - 1) * 7 + 100))")
    done
    matched "${ids[@]}" ||
        problems+=("logs created during the run not found by GET /callLog")
}
check_post_calllog_dup() {
    # Each of the DUP_POOL ids is created exactly once, however many connections race on it.
    ((R[successful_true] == DUP_POOL)) ||
        problems+=("successful:true ${R[successful_true]}, expected exactly $DUP_POOL (one per sessionId)")
    matched "d$NONCE-dup-0" "d$NONCE-dup-1" "d$NONCE-dup-$((DUP_POOL - 1))" ||
        problems+=("duplicate-run logs not found by GET /callLog")
}

# soak: GET /contact and new POST /callLog at once for BENCH_SOAK (default 2m), the server's RSS and the
# store file's size every BENCH_SOAK_EVERY seconds; fails if RSS grows by more than BENCH_SOAK_GROWTH_MB
# (default 150) after the first minute. A table of the samples goes to stdout.
soak() {
    local total every growth
    total=$(seconds "${BENCH_SOAK:-2m}")
    every=${BENCH_SOAK_EVERY:-10}
    growth=${BENCH_SOAK_GROWTH_MB:-150}
    local limit=$((total + 60))
    log "soak: ${total}s of GET /contact (wrk -t1 -c8) and new POST /callLog (wrk -t1 -c4) at once"
    bounded "$limit" "${WRK_CPU[@]}" wrk -t1 -c8 "-d${total}s" --latency -s "$BENCH_DIR/report.lua" \
        "$BASE$GET_PATH" >"$TMP/soak-get.out" &
    local get_pid=$!
    bounded "$limit" "${WRK_CPU[@]}" wrk -t1 -c4 "-d${total}s" --latency -s "$BENCH_DIR/call-log.lua" \
        "$BASE/callLog?jwtToken=$JWT" -- unique "s$NONCE" >"$TMP/soak-post.out" &
    local post_pid=$!
    local samples=() t rss file baseline=
    for ((t = 0; t <= total; t += every)); do
        rss=$(awk '/^VmRSS:/ { printf "%.0f", $2 / 1024 }' "/proc/$SERVER_PID/status")
        file=$(du -sm "$TMP/data" | cut -f1)
        samples+=("| ${t} s | $rss | $file |")
        ((t >= 60)) && [[ -z $baseline ]] && baseline=$rss
        if [[ -n $baseline ]] && ((rss - baseline > growth)); then
            FAILED=1
            log "soak: PROBLEM: RSS $rss MB at ${t}s, more than $growth MB over the $baseline MB of the first minute"
        fi
        ((t + every <= total)) && sleep "$every"
    done
    wait "$get_pid" "$post_pid" || die "soak: wrk failed"
    local rps_get rps_post
    rps_get=$(grep '^BENCH ' "$TMP/soak-get.out" | tail -n 1 | tr ' ' '\n' | sed -n 's/^rps=//p')
    rps_post=$(grep '^BENCH ' "$TMP/soak-post.out" | tail -n 1 | tr ' ' '\n' | sed -n 's/^rps=//p')
    echo "| Time | RSS (MB) | Data directory (MB) |"
    echo "|---:|---:|---:|"
    printf '%s\n' "${samples[@]}"
    echo
    printf 'GET /contact %.0f req/s and POST /callLog %.0f req/s at once.\n\n' "$rps_get" "$rps_post"
}

for name in $ROUTES; do
    case $name in
        get-contact)
            measure get-contact 'GET /contact (hit)' "$GET_PATH" "$BENCH_DIR/report.lua"
            ;;
        post-calllog)
            measure post-calllog 'POST /callLog (new log each)' "/callLog?jwtToken=$JWT" \
                "$BENCH_DIR/call-log.lua" unique "u$NONCE"
            ;;
        post-calllog-dup)
            measure post-calllog-dup "POST /callLog (duplicates, $DUP_POOL ids)" "/callLog?jwtToken=$JWT" \
                "$BENCH_DIR/call-log.lua" dup "$DUP_POOL" "d$NONCE"
            ;;
        soak) soak ;;
        *) die "unknown route run $name (BENCH_ROUTES: get-contact post-calllog post-calllog-dup soak)" ;;
    esac
done

kill -0 "$SERVER_PID" 2>/dev/null || die "the server died during the benchmark"

if ((${#ROWS[@]})); then
    echo "| Route | Req/s | p50 | p99 | Command |"
    echo "|---|---:|---:|---:|---|"
    printf '%s\n' "${ROWS[@]}"
    echo
fi
echo "$(nproc) CPUs, $CONNECTIONS connections, $THREADS wrk threads, $DURATION per route, $(date -u +%Y-%m-%d)," \
    "wrk and server on the same machine. Server: $(basename "$BIN"), embedded redb store, RUST_LOG=warn."
exit "$FAILED"
