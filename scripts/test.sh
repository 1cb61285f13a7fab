#!/usr/bin/env bash
# The one test command: starts the test services (DynamoDB Local, moto, s3s-fs; installed on first use),
# runs every test of the workspace against them, and stops what it started.
# The outage test (tests/tests/outage.rs) starts and pauses a DynamoDB Local of its own, so the shared one
# keeps serving the other suites.
# Extra arguments go to `cargo test` (e.g. `scripts/test.sh -p switchboard-tests store_`); without any,
# the official ContactsManager SDK (scripts/sdk-test.sh), the smoke check (scripts/smoke-local.sh) and
# schemathesis (scripts/schemathesis.sh) also run against the local server.
set -euo pipefail
cd "$(dirname "$0")/.."

if scripts/services.sh env >/dev/null 2>&1; then
  started=""   # already running (e.g. a developer's own session): leave them be
else
  scripts/services.sh start >/dev/null
  started=yes
fi
cleanup() { [ -n "$started" ] && scripts/services.sh stop >/dev/null || true; }
trap cleanup EXIT

# shellcheck source=/dev/null
source .tools/services.env
# The official ContactsManager SDK, which tests/tests/webhook_sdk.rs drives.
scripts/sdk-venv.sh
cargo test --workspace "$@"
# The official ContactsManager SDK against the local server (skipped when cargo test got a filter).
if [ $# -eq 0 ]; then
  scripts/sdk-test.sh
  # The post-deploy smoke check (scripts/smoke.sh) against a fresh local server.
  scripts/smoke-local.sh
  # The CRM extension API, the identity routes and the webhook routes against their OpenAPI files, on the
  # embedded store and on DynamoDB Local.
  for spec in docs/openapi-crm.yaml docs/openapi-identity.yaml docs/openapi-webhooks.yaml; do
    SCHEMATHESIS_SPEC=$spec scripts/schemathesis.sh
    AWS_ENDPOINT_URL_DYNAMODB=$SWITCHBOARD_TEST_DYNAMODB_URL SWITCHBOARD_TABLE="schemathesis-$$-$(basename "$spec" .yaml)" \
      SCHEMATHESIS_SPEC=$spec scripts/schemathesis.sh
  done
fi
