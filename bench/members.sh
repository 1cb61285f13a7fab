#!/usr/bin/env bash
# The member directory at scale: fresh test services, MEMBERS (default 100000) members with profiles seeded
# on DynamoDB Local through the domain, then searches timed (median and p99 of 20 each) and the table's
# item count. About 10 minutes on 2 cores; figures in bench/README.md.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/services.sh stop >/dev/null 2>&1 || true
scripts/services.sh start >/dev/null
trap 'scripts/services.sh stop >/dev/null 2>&1 || true' EXIT
# shellcheck disable=SC1091
source .tools/services.env
MEMBERS="${MEMBERS:-100000}" cargo test -p switchboard-tests --test integration \
  members_scale:: -- --nocapture 2>&1 | grep -E "seeded|query|test result|panicked"
