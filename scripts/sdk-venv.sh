#!/usr/bin/env bash
# Installs the receivers' Python libraries into .tools/sdk-py unless those versions are already there: the
# official ContactsManager SDK (PyPI `contactsmanager`, unchanged) and the Standard Webhooks library (PyPI
# `standardwebhooks`). Used by sdk-test.sh and by the webhook signature tests (tests/tests/webhook_sdk.rs,
# tests/src/webhooks.rs), which the test command runs.
set -euo pipefail
cd "$(dirname "$0")/.."

py_version=${CONTACTSMANAGER_PY_VERSION:-1.3.0}
sw_version=${STANDARDWEBHOOKS_PY_VERSION:-1.3.0}
venv=.tools/sdk-py
if ! { [ -x "$venv/bin/python" ] &&
  "$venv/bin/python" - "$py_version" "$sw_version" 2>/dev/null <<'PY'; }; then
import sys
from importlib.metadata import version
sys.exit((version("contactsmanager"), version("standardwebhooks")) != tuple(sys.argv[1:3]))
PY
  echo "==> installing contactsmanager==$py_version standardwebhooks==$sw_version into $venv" >&2
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check \
    "contactsmanager==$py_version" "standardwebhooks==$sw_version"
fi
